import { now } from "@drover/shared/clock";
import type { Job, Node } from "../../db/schema.ts";
import { suits } from "../../scheduler/placement.ts";
import { formatMwsDate } from "../conventions/dates.ts";
import { mwsJobState } from "./job-states.ts";

import { constants } from "node:os";

const MB = 1024 * 1024;
// A process killed by a signal completes with 128 + the signal's number, as shells report it.
const signalNumbers = constants.signals as Record<string, number>;
const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : Math.round(ms / 1000));

/** The MWS name of a drover job id. */
export const mwsJobId = (id: number) => `drover.${id}`;

/** Accepts "drover.12" or "12". */
export function parseMwsJobId(text: string): number {
  const m = /^(?:drover\.)?(\d{1,15})$/.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** What the job view needs of the cluster's nodes: the partitions a job may use. */
export type NodePartitions = Pick<Node, "id" | "partition" | "features" | "arch" | "os">[];

/**
 * Renders a job as MWS 3.4.1.4 shows it: every field of the seed's sample (README: "MWS job
 * fields"), null or empty where drover has nothing to say. `nodes` give its partition lists.
 */
export function mwsJobView(job: Job, nodes: NodePartitions = [], reservationStarts: Map<string, Date> = new Map()) {
  const at = now();
  const state = mwsJobState(job, at);
  const activeMs = job.startedAt ? (job.endedAt?.getTime() ?? at) - job.startedAt.getTime() - job.suspendedMs : 0;
  const extra = job.extra as {
    commandFile?: string; commandLineArguments?: string; templateList?: string[]; submitHost?: string; vmUsagePolicy?: string; processorsPerTask?: number; tasksPerNodeRequested?: number;
  };
  const hosts = job.allocatedNodes.map((a) => ({ id: a.node }));
  // MWS counts tasks of processorsPerTask processors each (see job-submission.ts)
  const perTask = extra.processorsPerTask ?? 1;
  const tasks = Math.round(job.cpus / perTask);
  const mbPerTask = (bytesPerProcessor: number) => Math.round((bytesPerProcessor * perTask) / MB);
  const usable = nodes.filter((n) => suits({ features: job.features, partition: job.partition, arch: job.arch, os: job.os }, n) && (!job.hosts.length || job.hosts.includes(n.id)));
  const partitions = [...new Set(usable.map((n) => n.partition))].sort();
  const masterPartition = nodes.find((n) => n.id === job.allocatedNodes[0]?.node)?.partition ?? "";
  return {
    id: mwsJobId(job.id),
    name: job.name,
    user: job.owner,
    group: job.group || null,
    state,
    commandFile: extra.commandFile ?? job.argv[0],
    commandLineArguments: extra.commandLineArguments ?? job.argv.slice(1).join(" "),
    initialWorkingDirectory: job.workingDirectory,
    environmentVariables: job.environment,
    variables: job.variables,
    flags: job.flags,
    holds: job.holds,
    hosts: job.hosts,
    allocatedNodes: hosts,
    masterHost: job.allocatedNodes[0]?.node ?? null,
    submitDate: formatMwsDate(job.submittedAt),
    startDate: formatMwsDate(job.startedAt),
    completionDate: formatMwsDate(job.endedAt),
    // when a queued job is planned to start: its deferred start, or the scheduler's plan for
    // the first job that cannot start now (EASY backfill)
    earliestStartDate: job.state === "queued" ? formatMwsDate(plannedStartOf(job, at)) : null,
    earliestStartDateRequested: formatMwsDate(job.earliestStartAt),
    durationRequested: seconds(job.walltimeMs),
    activeDuration: Math.max(0, Math.round(activeMs / 1000)),
    suspendDuration: Math.round((job.suspendedMs + (job.suspendedAt ? at - job.suspendedAt.getTime() : 0)) / 1000),
    startCount: job.startCount,
    // processors × seconds they were held, as Moab accounts it
    dedicatedProcessorSeconds: job.cpus * Math.max(0, Math.round(activeMs / 1000)),
    // time spent waiting in the queue: until the start, or until now while still queued
    effectiveQueueDuration: Math.max(0, Math.round(((job.startedAt?.getTime() ?? (job.state === "queued" ? at : job.endedAt?.getTime() ?? at)) - job.submittedAt.getTime()) / 1000)),
    expectedState: state,
    queueStatus: queueStatusOf(state),
    completionCode: job.exitCode ?? (job.signal ? 128 + (signalNumbers[job.signal] ?? 0) : null),
    blockReason: job.state === "queued" ? blockReasonOf(job) : null,
    userPriority: (job.extra as { userPriority?: number }).userPriority ?? job.priority,
    memoryRequested: Math.round((job.memoryBytes * job.cpus) / MB),
    requirements: [
      {
        allocatedNodes: hosts,
        allocatedPartition: masterPartition,
        genericResources: job.gres,
        nodeAccessPolicy: job.nodeAccess ?? "SHARED",
        preferredNodeFeatures: [],
        requiredArchitecture: job.arch ?? "",
        requiredClass: "",
        requiredDiskPerTask: mbPerTask(job.diskBytes),
        requiredMemoryPerTask: mbPerTask(job.memoryBytes),
        requiredNetwork: "",
        requiredNodeCountMinimum: job.tasksPerNode ? Math.ceil(job.cpus / job.tasksPerNode) : job.hosts.length || 1,
        requiredNodeDisk: 0,
        requiredNodeFeatures: job.features,
        requiredNodeMemory: 0,
        requiredNodeProcessors: 0,
        requiredNodeSwap: 0,
        requiredPartition: job.partition ?? "",
        requiredProcessorCountMinimum: tasks,
        requiredProcessorsPerTask: perTask,
        requiredSwapPerTask: mbPerTask(job.swapBytes),
        tasksPerNode: extra.tasksPerNodeRequested ?? (job.tasksPerNode ? Math.round(job.tasksPerNode / perTask) : 0),
      },
    ],
    // where its output goes: the paths it asked for, else its directory's files on its master node
    standardOutputFilePath: job.stdoutFile ?? job.stdoutPath,
    standardErrorFilePath: job.stderrFile ?? job.stderrPath,
    rmStandardOutputFilePath: job.stdoutPath,
    rmStandardErrorFilePath: job.stderrPath,
    // a job reads nothing: its standard input is /dev/null
    rmStandardInputFilePath: job.startCount ? "/dev/null" : null,
    messages: job.messages.map((message, index) => ({ index, message })),
    templateList: extra.templateList ?? [],
    submitHost: extra.submitHost ?? null,
    os: job.os,
    vmUsagePolicy: extra.vmUsagePolicy ?? null,
    // the partitions it may run in: asked for, and of the nodes that suit it
    partitionAccessList: job.partition ? [job.partition] : ["ALL"],
    effectivePartitionAccessList: partitions,
    // the queue order: priority, then submission (drover has no system or run-time priorities of its own)
    startPriority: job.priority,
    systemPriority: 0,
    runPriority: ["STARTING", "RUNNING", "SUSPENDED"].includes(state) ? job.priority : 0,
    bypass: job.bypass,
    rmName: "drover",
    rmExtension: null,
    sourceRmJobId: null,
    destinationRmJobId: null,
    allocatedVMs: [],
    virtualContainers: [],
    genericAttributes: [],
    latestCompletedDateRequested: null,
    account: job.account,
    qos: job.qos,
    qosRequested: job.qos,
    queue: job.queue,
    // the reservation it asked for; the start of the one it runs in (or asked for)
    reservationRequested: job.reservationRequested,
    reservationStartDate: formatMwsDate(reservationStarts.get(job.reservationId ?? job.reservationRequested ?? "") ?? null),
    emailNotifyTypes: job.mailEvents,
    emailNotifyUsers: job.mailTo,
    // drover: jobs that must complete successfully first (from templates or drover's own API)
    dependencies: job.dependsOn.map(mwsJobId),
  };
}

function plannedStartOf(job: Job, at: number): Date | null {
  const deferred = job.earliestStartAt && job.earliestStartAt.getTime() > at && !job.executeRequestedAt ? job.earliestStartAt : null;
  if (deferred && job.plannedStartAt) return deferred > job.plannedStartAt ? deferred : job.plannedStartAt;
  return deferred ?? job.plannedStartAt;
}

/** Moab's queue status: ACTIVE on nodes, ELIGIBLE to start, BLOCKED from starting, COMPLETED. */
function queueStatusOf(state: string): string {
  if (["STARTING", "RUNNING", "SUSPENDED"].includes(state)) return "ACTIVE";
  if (state === "IDLE") return "ELIGIBLE";
  if (["HOLD", "DEFERRED", "BLOCKED"].includes(state)) return "BLOCKED";
  return "COMPLETED";
}

function blockType(job: Job): string {
  if (job.holds.length) return "HOLD";
  if (job.earliestStartAt && job.earliestStartAt.getTime() > now()) return "DEFERRED";
  if (job.reason?.startsWith("dependency") || job.reason?.startsWith("waiting for dependencies")) return "DEPENDENCY";
  return "NORESOURCE";
}

export type MwsJobView = ReturnType<typeof mwsJobView>;

/** Why a queued job is not running, in Moab's form; null when nothing holds it back yet. */
function blockReasonOf(job: Job): { type: string; message: string } | null {
  if (job.holds.length) return { type: "HOLD", message: `held (${job.holds.join(", ")})` };
  if (job.earliestStartAt && job.earliestStartAt.getTime() > now() && !job.executeRequestedAt) {
    return { type: "DEFERRED", message: `deferred until ${formatMwsDate(job.earliestStartAt)}` };
  }
  return job.reason ? { type: blockType(job), message: job.reason } : null;
}

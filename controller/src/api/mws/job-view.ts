import { now } from "@drover/shared/clock";
import type { Job } from "../../db/schema.ts";
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

/** Renders a job as MWS 3.4.1.4 shows it. */
export function mwsJobView(job: Job) {
  const at = now();
  const state = mwsJobState(job, at);
  const activeMs = job.startedAt ? (job.endedAt?.getTime() ?? at) - job.startedAt.getTime() - job.suspendedMs : 0;
  const extra = job.extra as { commandFile?: string; commandLineArguments?: string; templateList?: string[]; submitHost?: string };
  const hosts = job.allocatedNodes.map((a) => ({ id: a.node }));
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
    userPriority: job.priority,
    memoryRequested: Math.round((job.memoryBytes * job.cpus) / MB),
    requirements: [
      {
        requiredProcessorCountMinimum: job.cpus,
        tasksPerNode: job.tasksPerNode ?? 0,
        requiredNodeCountMinimum: job.tasksPerNode ? job.cpus / job.tasksPerNode : job.hosts.length || 1,
        requiredMemoryPerTask: Math.round(job.memoryBytes / MB),
        requiredNodeFeatures: job.features,
        allocatedNodes: hosts,
      },
    ],
    standardOutputFilePath: job.stdoutPath,
    standardErrorFilePath: job.stderrPath,
    messages: job.messages.map((message, index) => ({ index, message })),
    templateList: extra.templateList ?? [],
    submitHost: extra.submitHost ?? null,
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

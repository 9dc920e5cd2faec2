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
  const extra = job.extra as { commandFile?: string; commandLineArguments?: string };
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
    earliestStartDateRequested: formatMwsDate(job.earliestStartAt),
    durationRequested: seconds(job.walltimeMs),
    activeDuration: Math.max(0, Math.round(activeMs / 1000)),
    suspendDuration: Math.round((job.suspendedMs + (job.suspendedAt ? at - job.suspendedAt.getTime() : 0)) / 1000),
    startCount: job.startCount,
    completionCode: job.exitCode ?? (job.signal ? 128 + (signalNumbers[job.signal] ?? 0) : null),
    blockReason: job.state === "queued" && job.reason ? { type: blockType(job), message: job.reason } : null,
    userPriority: job.priority,
    memoryRequested: Math.round(job.memoryBytes / MB),
    requirements: [
      {
        requiredProcessorCountMinimum: job.cpus,
        requiredMemoryPerTask: Math.round(job.memoryBytes / MB),
        requiredNodeFeatures: job.features,
        allocatedNodes: hosts,
      },
    ],
    standardOutputFilePath: job.stdoutPath,
    standardErrorFilePath: job.stderrPath,
    messages: job.messages.map((message, index) => ({ index, message })),
  };
}

function blockType(job: Job): string {
  if (job.holds.length) return "HOLD";
  if (job.reason?.startsWith("dependency") || job.reason?.startsWith("waiting for dependencies")) return "DEPENDENCY";
  return "NORESOURCE";
}

export type MwsJobView = ReturnType<typeof mwsJobView>;

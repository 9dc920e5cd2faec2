import type { Job } from "../../db/schema.ts";

/**
 * drover's job state → MWS (Moab) job state. A queued job is shown as what holds it back:
 * HOLD (holds set), DEFERRED (start date in the future), BLOCKED (a dependency failed),
 * else IDLE. Failed jobs are COMPLETED with a non-zero completionCode, as in Moab.
 */
export const mwsStateOf: Record<string, string> = {
  dispatching: "STARTING",
  running: "RUNNING",
  suspended: "SUSPENDED",
  completed: "COMPLETED",
  failed: "COMPLETED",
  cancelled: "REMOVED",
  lost: "VACATED",
};

export function mwsJobState(job: Pick<Job, "state" | "holds" | "earliestStartAt" | "reason">, at: number): string {
  if (job.state !== "queued") return mwsStateOf[job.state] ?? "UNKNOWN";
  if (job.holds.length) return "HOLD";
  if (job.earliestStartAt && job.earliestStartAt.getTime() > at) return "DEFERRED";
  if (job.reason?.startsWith("dependency ")) return "BLOCKED";
  return "IDLE";
}

/** MWS's /rest/jobs/active holds jobs not yet ended; /rest/jobs/complete the ended ones. */
export const activeStates = ["queued", "dispatching", "running", "suspended"] as const;
export const completeStates = ["completed", "failed", "cancelled", "lost"] as const;

import type { Job } from "../../db/schema.ts";

// drover's job states in wr's words, in one table (and wr's FailReason texts).

export const wrStates = ["delayed", "ready", "reserved", "running", "lost", "buried", "dependent", "complete"] as const;
export type WrState = (typeof wrStates)[number] | "deleted";

/**
 * A job's wr state: a queued job is delayed while its retry waits, dependent while a dependency
 * has not completed, else ready; dispatching is reserved (sent to a node, not started);
 * running and suspended are running; completed is complete; failed and cancelled are buried
 * (no retries left, or killed on request); lost is lost (its node stopped answering).
 */
export function wrJobState(job: Pick<Job, "state" | "retryAt">, at: number, waitingOnDependency: boolean): WrState {
  switch (job.state) {
    case "queued":
      if (job.retryAt && job.retryAt.getTime() > at) return "delayed";
      return waitingOnDependency ? "dependent" : "ready";
    case "dispatching":
      return "reserved";
    case "running":
    case "suspended":
      return "running";
    case "completed":
      return "complete";
    case "lost":
      return "lost";
    default:
      return "buried";
  }
}

/** wr's "deletable": neither on a node nor complete. */
export const isDeletable = (state: WrState) => !["reserved", "running", "complete", "deleted"].includes(state);

/** Why the job's last run failed, in wr's words ("" when it did not). */
export function wrFailReason(job: Pick<Job, "state" | "endCause" | "exitCode" | "reason" | "startCount">, state: WrState): string {
  if (state === "complete" || state === "reserved" || state === "running" || state === "ready" || state === "dependent") {
    // a job queued again after its node was lost says so until it runs
    return (state === "ready" || state === "dependent") && job.endCause === "lost" ? "lost contact with runner" : "";
  }
  switch (job.endCause) {
    case "cancelled":
      return "killed by user request";
    case "lost":
      return "lost contact with runner";
    case "memory":
      return "command used too much RAM";
    case "walltime":
      return "command used too much time";
    case "stopped":
      return "runner received a signal to stop";
    case "runtime":
      return job.reason ?? "the container runtime is missing";
    case "start":
    case "setup":
      return job.reason?.startsWith("working directory") ? "working directory does not exist" : "command failed to start";
  }
  if (job.state === "cancelled") return "killed by user request";
  if (job.exitCode === 127) return "command not found";
  if (job.exitCode === 126) return "command permission problem";
  if (job.startCount > 0 && (job.exitCode !== 0 || job.endCause === "signal")) return "command exited non-zero";
  return job.startCount > 0 ? "" : "command failed to start";
}

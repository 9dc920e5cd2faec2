import type { Job } from "../../db/schema.ts";

// drover's job states in caesar-rest's words (one table), with the status texts caesar writes.

export const caesarStates = ["PENDING", "STARTED", "RUNNING", "SUCCESS", "FAILURE", "TIMED-OUT", "ABORTED", "CANCELED"] as const;
export type CaesarState = (typeof caesarStates)[number];

/**
 * queued is PENDING; sent to its node (inputs being placed) STARTED; running or suspended
 * RUNNING; completed SUCCESS; cancelled CANCELED; failed for its walltime TIMED-OUT, because it
 * could not be set up (an input file gone, a missing program or runtime) ABORTED, else FAILURE;
 * lost (its node stopped answering) FAILURE.
 */
export function caesarState(job: Pick<Job, "state" | "endCause">): CaesarState {
  switch (job.state) {
    case "queued":
      return "PENDING";
    case "dispatching":
      return "STARTED";
    case "running":
    case "suspended":
      return "RUNNING";
    case "completed":
      return "SUCCESS";
    case "cancelled":
      return "CANCELED";
    default:
      if (job.endCause === "walltime") return "TIMED-OUT";
      if (job.endCause === "setup" || job.endCause === "start" || job.endCause === "runtime") return "ABORTED";
      return "FAILURE";
  }
}

/** True once the job can change no more. */
export const caesarEnded = (state: CaesarState) => !["PENDING", "STARTED", "RUNNING"].includes(state);

/** The status in words, as caesar writes them. */
export function caesarStatus(job: Pick<Job, "state" | "endCause" | "exitCode" | "signal" | "reason">, state: CaesarState): string {
  switch (state) {
    case "PENDING":
      return "Task pending to be executed";
    case "STARTED":
      return "Task started in background";
    case "RUNNING":
      return "Task running in background";
    case "SUCCESS":
      return "Process terminated with success";
    case "TIMED-OUT":
      return "Task exceeded time limits";
    case "CANCELED":
      return "Job canceled by user";
    case "ABORTED":
      return `Job could not be set up: ${job.reason ?? "unknown reason"}`;
    case "FAILURE":
      if (job.state === "lost") return "Job terminated due to node failure";
      if (job.endCause === "memory") return "Job terminated due to experienced out of memory error";
      if (job.signal) return `Process terminated with SIG ${job.signal}`;
      return `Process terminated with return code ${job.exitCode ?? -1}`;
  }
}

/** The exit status caesar shows: the exit code; 124 when timed out, 126 when aborted, -1 before the end or when cancelled. */
export function caesarExitStatus(job: Pick<Job, "exitCode" | "signal">, state: CaesarState): number {
  if (state === "TIMED-OUT") return 124;
  if (state === "ABORTED") return 126;
  if (!caesarEnded(state) || state === "CANCELED") return -1;
  return job.exitCode ?? -1;
}

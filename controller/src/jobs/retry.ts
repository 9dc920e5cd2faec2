import type { JobFinished } from "@drover/proto/service";
import type { Job } from "../db/schema.ts";

// Retries (wr's retries and "delayed" state): a job whose run failed is queued again, after a
// delay that doubles with every failure, while it has retries left; then it ends failed (wr:
// buried).

/** Exit codes that mean retrying cannot help: the shell did not find the command (127) or could not run it (126). */
const HOPELESS_EXIT_CODES = new Set([126, 127]);

/** How long a job waits before its next try after `failuresBefore` earlier failures: base × 2^n, at most 60 × base (30 min for 30 s), plus up to base of jitter. */
export function retryDelayMs(failuresBefore: number, baseMs: number, random: () => number = Math.random): number {
  return Math.min(baseMs * 2 ** failuresBefore, baseMs * 60) + Math.floor(random() * baseMs);
}

/** True when the run ended badly (a non-zero exit, a signal, a limit, or it could not start). */
export function runFailed(ev: JobFinished): boolean {
  return !(ev.exitCode === 0 && !ev.signal && !ev.failReason && ev.started);
}

/** True when a failed run is tried again: the job retries failures, was not cancelled, is not hopeless, and has retries left. */
export function shouldRetry(job: Pick<Job, "retries" | "failures" | "cancelRequestedAt" | "retryFailures">, ev: JobFinished): boolean {
  if (!job.retryFailures || job.cancelRequestedAt || ev.returned || !runFailed(ev)) return false;
  if (ev.cause === "runtime" || ev.cause === "setup" || ev.cause === "cancelled" || ev.cause === "stopped" || ev.cause === "lost") return false;
  if (ev.exitCode !== undefined && HOPELESS_EXIT_CODES.has(ev.exitCode)) return false;
  return job.failures < job.retries;
}

import { and, eq, sql } from "drizzle-orm";
import { SignalJob_Kind, type JobFinished, type JobOutput, type JobSignalled, type JobStarted } from "@drover/proto/service";
import { jobs } from "../db/schema.ts";
import { recordJobEvent, type Tx } from "./job-events.ts";
import { settlePendingActions } from "./pending-actions.ts";

// Agents deliver these at least once (they replay their spool after a reconnect), so each
// one is idempotent: it applies only to the attempt it names, and only once.

const TAIL_LIMIT = 64 * 1024;
const clip = (s: string) => (s.length > TAIL_LIMIT ? s.slice(-TAIL_LIMIT) : s);

/** The process of a dispatched job started on the node. */
export async function applyJobStarted(tx: Tx, nodeId: string, ev: JobStarted): Promise<void> {
  const id = Number(ev.jobId);
  const rows = await tx
    .update(jobs)
    .set({
      state: "running",
      pid: ev.pid,
      startCount: sql`${jobs.startCount} + 1`,
      startedAt: new Date(Number(ev.startedAtMs)),
      stdoutPath: ev.stdoutPath,
      stderrPath: ev.stderrPath,
      reason: null,
    })
    .where(and(eq(jobs.id, id), eq(jobs.attempt, ev.attempt), eq(jobs.nodeId, nodeId), eq(jobs.state, "dispatching")))
    .returning({ id: jobs.id });
  if (rows.length) await recordJobEvent(tx, id, "started", { node: nodeId, pid: ev.pid, attempt: ev.attempt });
  await settlePendingActions(tx, id, ev.attempt, ["DISPATCH"]);
}

/** The agent stopped or continued a job's process group as asked. */
export async function applyJobSignalled(tx: Tx, ev: JobSignalled): Promise<void> {
  const type = ev.kind === SignalJob_Kind.SUSPEND ? "SUSPEND" : ev.kind === SignalJob_Kind.RESUME ? "RESUME" : undefined;
  if (type) await settlePendingActions(tx, Number(ev.jobId), ev.attempt, [type]);
}

/** New output tails of a running job. */
export async function applyJobOutput(tx: Tx, nodeId: string, ev: JobOutput): Promise<void> {
  await tx
    .update(jobs)
    .set({ stdoutTail: clip(ev.stdoutTail), stderrTail: clip(ev.stderrTail) })
    .where(and(eq(jobs.id, Number(ev.jobId)), eq(jobs.attempt, ev.attempt), eq(jobs.nodeId, nodeId)));
}

/**
 * A job's process ended (or could not start). Applies to the attempt it names while the job
 * is on the node, and also when the job was declared lost or requeued meanwhile but not yet
 * dispatched again: the result that exists wins, so the job never runs twice.
 * Returns the final state, or undefined when the event was stale or a repeat.
 */
export async function applyJobFinished(tx: Tx, nodeId: string, ev: JobFinished): Promise<string | undefined> {
  const id = Number(ev.jobId);
  const [job] = await tx
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, id), eq(jobs.attempt, ev.attempt)))
    .for("update");
  if (!job) return undefined;
  // whatever was asked of this run, its end answers it
  await settlePendingActions(tx, id, ev.attempt);
  const onThisNode = job.nodeId === nodeId && ["dispatching", "running", "suspended"].includes(job.state);
  const lostHere = (job.state === "lost" || job.state === "queued") && job.allocatedNodes[0]?.node === nodeId;
  if (!onThisNode && !lostHere) return undefined;

  if (ev.returned && onThisNode && !job.cancelRequestedAt) {
    // it waited in a busy node's backlog and was handed back unstarted: it queues again, and
    // from now on waits here for a free processor (no job bounces between backlogs)
    await tx
      .update(jobs)
      .set({ state: "queued", nodeId: null, allocatedNodes: [], reason: null, requeueRequestedAt: null, backlogReturnedAt: new Date(Number(ev.endedAtMs)) })
      .where(eq(jobs.id, id));
    await recordJobEvent(tx, id, "returned", { node: nodeId, attempt: ev.attempt });
    return "queued";
  }

  // a sister node of a multi-node job was lost: the master's processes were stopped for it and
  // the job is requeued while it has retries left, else it ends lost (below)
  const sisterLost = job.sisterLostReason && !job.cancelRequestedAt && onThisNode;
  const retriesLeft = job.attempt <= job.retries;
  if ((job.requeueRequestedAt || (sisterLost && retriesLeft)) && !job.cancelRequestedAt && onThisNode) {
    // MWS requeue, or a lost sister node with retries left: the process was stopped; the job
    // waits in the queue again
    const onRequest = !!job.requeueRequestedAt;
    const note = onRequest
      ? `requeued on request; attempt ${ev.attempt} on ${nodeId} was stopped`
      : `lost: ${job.sisterLostReason}; requeued, retry ${job.attempt} of ${job.retries}`;
    await tx
      .update(jobs)
      .set({
        state: "queued",
        nodeId: null,
        allocatedNodes: [],
        pid: null,
        reason: null,
        startedAt: null,
        endedAt: null,
        suspendedAt: null,
        requeueRequestedAt: null,
        sisterLostReason: null,
        stdoutTail: clip(ev.stdoutTail),
        stderrTail: clip(ev.stderrTail),
        messages: sql`${jobs.messages} || ${JSON.stringify([note])}::jsonb`,
      })
      .where(eq(jobs.id, id));
    await recordJobEvent(tx, id, onRequest ? "requeued" : "lost", { node: nodeId, attempt: ev.attempt, requeued: true });
    return "queued";
  }

  const exitedCleanly = ev.exitCode === 0 && !ev.signal && !ev.failReason && ev.started;
  const state = job.cancelRequestedAt ? "cancelled" : sisterLost ? "lost" : exitedCleanly ? "completed" : "failed";
  const reason =
    state === "cancelled"
      ? "cancelled on request"
      : state === "lost"
        ? `lost: ${job.sisterLostReason}`
        : ev.failReason ||
        (ev.signal ? `killed by ${ev.signal}` : ev.exitCode !== undefined && ev.exitCode !== 0 ? `exited with code ${ev.exitCode}` : null);
  const suspendedMs = job.suspendedAt ? job.suspendedMs + Math.max(0, Number(ev.endedAtMs) - job.suspendedAt.getTime()) : job.suspendedMs;
  await tx
    .update(jobs)
    .set({
      state,
      nodeId,
      reason,
      exitCode: ev.exitCode ?? null,
      signal: ev.signal || null,
      startedAt: ev.started ? new Date(Number(ev.startedAtMs)) : job.startedAt,
      endedAt: new Date(Number(ev.endedAtMs)),
      walltimeUsedMs: Number(ev.walltimeMs),
      cpuTimeMs: Number(ev.cpuTimeMs),
      peakRssBytes: Number(ev.peakRssBytes),
      stdoutTail: clip(ev.stdoutTail),
      stderrTail: clip(ev.stderrTail),
      suspendedAt: null,
      suspendedMs,
      messages: reason ? sql`${jobs.messages} || ${JSON.stringify([reason])}::jsonb` : undefined,
    })
    .where(eq(jobs.id, id));
  await recordJobEvent(tx, id, state, {
    node: nodeId,
    attempt: ev.attempt,
    exitCode: ev.exitCode ?? null,
    signal: ev.signal || null,
    reason,
  });
  return state;
}

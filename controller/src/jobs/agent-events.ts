import { and, eq, inArray, sql } from "drizzle-orm";
import { SignalJob_Kind, type JobFinished, type JobOutput, type JobSignalled, type JobStarted } from "@drover/proto/service";
import { jobEvents, jobs, type Job } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import { recordJobEvent, type Tx } from "./job-events.ts";
import { settlePendingActions, settlePendingActionsOf } from "./pending-actions.ts";

// Agents deliver these at least once (they replay their spool after a reconnect), so each
// one is idempotent: it applies only to the attempt it names, and only once.

const TAIL_LIMIT = 64 * 1024;
const clip = (s: string) => (s.length > TAIL_LIMIT ? s.slice(-TAIL_LIMIT) : s);

/** The processes of dispatched jobs started on the node (a burst of JobStarted, in one statement). */
export async function applyJobsStarted(tx: Tx, nodeId: string, events: JobStarted[]): Promise<void> {
  if (!events.length) return;
  const values = sql.join(
    events.map(
      (ev) =>
        sql`(${Number(ev.jobId)}::bigint, ${ev.attempt}::int, ${ev.pid}::int, ${new Date(Number(ev.startedAtMs)).toISOString()}::timestamptz, ${ev.stdoutPath}::text, ${ev.stderrPath}::text)`,
    ),
    sql`, `,
  );
  const started = rowsOf<{ id: number | string; attempt: number; pid: number }>(
    await tx.execute(sql`
      update jobs j set state = 'running', pid = v.pid, start_count = j.start_count + 1, started_at = v.started_at,
        stdout_path = v.out, stderr_path = v.err, reason = null
      from (values ${values}) as v(id, attempt, pid, started_at, out, err)
      where j.id = v.id and j.attempt = v.attempt and j.node_id = ${nodeId} and j.state = 'dispatching'
      returning j.id, v.attempt, v.pid`),
  );
  if (started.length) {
    await tx.insert(jobEvents).values(started.map((r) => ({ jobId: Number(r.id), kind: "started", data: { node: nodeId, pid: r.pid, attempt: r.attempt } })));
  }
  await settlePendingActionsOf(
    tx,
    events.map((ev) => ({ jobId: Number(ev.jobId), attempt: ev.attempt })),
    ["DISPATCH"],
  );
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
  const [job] = await tx
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, Number(ev.jobId)), eq(jobs.attempt, ev.attempt)))
    .for("update");
  return job ? finishLockedJob(tx, nodeId, ev, job) : undefined;
}

/** applyJobFinished for a job already read and locked for this attempt. */
async function finishLockedJob(tx: Tx, nodeId: string, ev: JobFinished, job: Job): Promise<string | undefined> {
  const id = job.id;
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

  const final = finalOutcome(job, nodeId, ev, !!sisterLost);
  await tx
    .update(jobs)
    .set({ ...final.set, messages: final.reason ? sql`${jobs.messages} || ${JSON.stringify([final.reason])}::jsonb` : undefined })
    .where(eq(jobs.id, id));
  await recordJobEvent(tx, id, final.state, final.event);
  return final.state;
}

/** How a job ends when its process ended on its node (or never started): the columns to set. */
function finalOutcome(job: Job, nodeId: string, ev: JobFinished, sisterLost: boolean) {
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
  return {
    state,
    reason,
    set: {
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
    },
    event: { node: nodeId, attempt: ev.attempt, exitCode: ev.exitCode ?? null, signal: ev.signal || null, reason },
  };
}

/**
 * A burst of JobFinished from one node. The common case — a job's process ended on the node
 * the job is on, nothing else asked of it — is written for all of them in one statement; the
 * rest (requeue, hand-back, lost sister node, a result for a job declared lost) one by one.
 */
export async function applyJobsFinished(tx: Tx, nodeId: string, events: JobFinished[]): Promise<void> {
  const unique = [...new Map(events.map((ev) => [`${ev.jobId}.${ev.attempt}`, ev])).values()];
  if (!unique.length) return;
  const found = await tx
    .select()
    .from(jobs)
    .where(inArray(jobs.id, unique.map((ev) => Number(ev.jobId))))
    .for("update");
  const byId = new Map(found.map((j) => [j.id, j]));
  const plain: { job: Job; ev: JobFinished }[] = [];
  const other: { job: Job; ev: JobFinished }[] = [];
  for (const ev of unique) {
    const job = byId.get(Number(ev.jobId));
    if (!job || job.attempt !== ev.attempt) continue; // stale or unknown: nothing to do
    const onThisNode = job.nodeId === nodeId && ["dispatching", "running", "suspended"].includes(job.state);
    if (onThisNode && !ev.returned && !job.requeueRequestedAt && !job.sisterLostReason) plain.push({ job, ev });
    else other.push({ job, ev });
  }
  for (const { job, ev } of other) await finishLockedJob(tx, nodeId, ev, job);
  if (!plain.length) return;
  await settlePendingActionsOf(
    tx,
    plain.map(({ ev }) => ({ jobId: Number(ev.jobId), attempt: ev.attempt })),
  );
  const outcomes = plain.map(({ job, ev }) => ({ id: job.id, ...finalOutcome(job, nodeId, ev, false) }));
  const ts = (d: Date | null) => (d ? d.toISOString() : null);
  const values = sql.join(
    outcomes.map(
      ({ id, set, reason }) =>
        sql`(${id}::bigint, ${set.state}::text, ${set.reason}::text, ${set.exitCode}::int, ${set.signal}::text, ${ts(set.startedAt)}::timestamptz,
          ${ts(set.endedAt)}::timestamptz, ${set.walltimeUsedMs}::bigint, ${set.cpuTimeMs}::bigint, ${set.peakRssBytes}::bigint,
          ${set.stdoutTail}::text, ${set.stderrTail}::text, ${set.suspendedMs}::bigint, ${JSON.stringify(reason ? [reason] : [])}::jsonb)`,
    ),
    sql`, `,
  );
  await tx.execute(sql`
    update jobs j set state = v.state, node_id = ${nodeId}, reason = v.reason, exit_code = v.exit_code, signal = v.signal,
      started_at = v.started_at, ended_at = v.ended_at, walltime_used_ms = v.walltime, cpu_time_ms = v.cpu, peak_rss_bytes = v.rss,
      stdout_tail = v.out, stderr_tail = v.err, suspended_at = null, suspended_ms = v.suspended_ms, messages = j.messages || v.msg
    from (values ${values}) as v(id, state, reason, exit_code, signal, started_at, ended_at, walltime, cpu, rss, out, err, suspended_ms, msg)
    where j.id = v.id`);
  await tx.insert(jobEvents).values(outcomes.map((o) => ({ jobId: o.id, kind: o.state, data: o.event })));
}

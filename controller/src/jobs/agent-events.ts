import { and, eq, inArray, sql } from "drizzle-orm";
import { SignalJob_Kind, type JobFinished, type JobOutput, type JobProgress, type JobSignalled, type JobStarted } from "@drover/proto/service";
import { jobs, type Job } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import { anyId, prepared, recordset } from "../db/recordset.ts";
import { now } from "@drover/shared/clock";
import { memoryAfterMemoryKill } from "./learning.ts";
import { retryDelayMs, runFailed, shouldRetry } from "./retry.ts";
import { recordWarnings } from "../scheduler/warnings.ts";
import { recordJobEvent, recordJobEvents, startRecorded, type NewJobEvent, type Tx } from "./job-events.ts";
import { settlePendingActions, settlePendingActionsOf } from "./pending-actions.ts";

// Agents deliver these at least once (they replay their spool after a reconnect), so each
// one is idempotent: it applies only to the attempt it names, and only once.

const TAIL_LIMIT = 64 * 1024;
// (Postgres text cannot hold NUL characters: a job that prints one must not stop its node's events)
const clip = (s: string) => (s.length > TAIL_LIMIT ? s.slice(-TAIL_LIMIT) : s).replaceAll("\0", "\uFFFD");

/** The processes of dispatched jobs started on their nodes (the JobStarted of many bursts, in one statement). */
async function applyJobsStarted(tx: Tx, events: { nodeId: string; ev: JobStarted }[]): Promise<void> {
  if (!events.length) return;
  const rows = events.map(({ nodeId, ev }) => ({
    id: Number(ev.jobId),
    attempt: ev.attempt,
    node: nodeId,
    pid: ev.pid,
    started_at: new Date(Number(ev.startedAtMs)).toISOString(),
    out: ev.stdoutPath,
    err: ev.stderrPath,
  }));
  const started = rowsOf<{ id: number | string; attempt: number; pid: number; node: string }>(
    await tx.execute(prepared(sql`
      update jobs j set state = 'running', pid = v.pid, start_count = j.start_count + 1, started_at = v.started_at,
        stdout_path = v.out, stderr_path = v.err, reason = null
      from ${recordset(rows, "id bigint, attempt int, node text, pid int, started_at timestamptz, out text, err text")}
      where j.id = v.id and ${anyId("j.id", rows.map((r) => r.id))} and j.attempt = v.attempt and j.node_id = v.node and j.state = 'dispatching'
      returning j.id, v.attempt, v.pid, v.node`)),
  );
  await recordJobEvents(
    tx,
    started.map((r) => ({ jobId: Number(r.id), kind: "started", data: { node: r.node, pid: r.pid, attempt: r.attempt } })),
  );
}

/** The agent stopped or continued a job's process group as asked. */
async function applyJobSignalled(tx: Tx, ev: JobSignalled): Promise<void> {
  const type = ev.kind === SignalJob_Kind.SUSPEND ? "SUSPEND" : ev.kind === SignalJob_Kind.RESUME ? "RESUME" : undefined;
  if (type) await settlePendingActions(tx, Number(ev.jobId), ev.attempt, [type]);
}

/** New output tails of a running job. */
async function applyJobOutput(tx: Tx, nodeId: string, ev: JobOutput): Promise<void> {
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
/** How agent events are applied: the first retry delay of a failed job with retries left. */
export interface EventOptions {
  retryDelayMs?: number;
}

export async function applyJobFinished(tx: Tx, nodeId: string, ev: JobFinished, opts: EventOptions = {}): Promise<string | undefined> {
  const [job] = await tx
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, Number(ev.jobId)), eq(jobs.attempt, ev.attempt)))
    .for("update");
  return job ? finishLockedJob(tx, nodeId, ev, job, opts) : undefined;
}

/** applyJobFinished for a job already read and locked for this attempt. */
async function finishLockedJob(tx: Tx, nodeId: string, ev: JobFinished, job: Job, opts: EventOptions = {}): Promise<string | undefined> {
  const id = job.id;
  // whatever was asked of this run, its end answers it
  await settlePendingActions(tx, id, ev.attempt);
  const onThisNode = job.nodeId === nodeId && ["dispatching", "running", "suspended"].includes(job.state);
  const lostHere = (job.state === "lost" || job.state === "queued") && job.allocatedNodes[0]?.node === nodeId;
  if (!onThisNode && !lostHere) return undefined;

  if (ev.returned && onThisNode && !job.cancelRequestedAt) {
    // it waited in a busy node's backlog and was handed back unstarted: it queues again; the job
    // that waited too long from now on waits here for a free processor (no job bounces between
    // backlogs), those handed back behind it may be sent to a backlog again
    await tx
      .update(jobs)
      .set({ state: "queued", nodeId: null, allocatedNodes: [], reason: null, requeueRequestedAt: null, ...(ev.overdue ? { backlogReturnedAt: new Date(Number(ev.endedAtMs)) } : {}) })
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

  if (onThisNode && shouldRetry(job, ev)) return retryLater(tx, nodeId, ev, job, opts.retryDelayMs ?? 30_000);

  const final = finalOutcome(job, nodeId, ev, !!sisterLost);
  if (nodeWarning(nodeId, ev)) await recordWarnings(tx, [nodeWarning(nodeId, ev)!]);
  const uncounted = ev.started && job.state !== "running" && job.state !== "suspended" && !(await startRecorded(tx, id, ev.attempt));
  if (uncounted) await recordJobEvent(tx, id, "started", { node: nodeId, pid: null, attempt: ev.attempt });
  await tx
    .update(jobs)
    .set({
      ...final.set,
      messages: final.reason || final.notes.length ? sql`${jobs.messages} || ${JSON.stringify([...(final.reason ? [final.reason] : []), ...final.notes])}::jsonb` : undefined,
      startCount: uncounted ? sql`${jobs.startCount} + 1` : undefined,
    })
    .where(eq(jobs.id, id));
  await recordJobEvent(tx, id, final.state, final.event);
  return final.state;
}

/**
 * A failed run of a job with retries left: the job waits in the queue again until its retry
 * delay has passed (wr's "delayed"), keeping what the run showed (exit code, output, peak
 * memory). A run stopped for using too much memory retries with more (memoryAfterMemoryKill);
 * one that ran past a walltime that only planned the queue retries with an hour more.
 */
async function retryLater(tx: Tx, nodeId: string, ev: JobFinished, job: Job, baseDelayMs: number): Promise<string> {
  const end = finalOutcome(job, nodeId, ev, false);
  const retryAt = new Date(now() + retryDelayMs(job.failures, baseDelayMs));
  const per = Math.max(job.cpus, 1);
  const memoryBytes = ev.cause === "memory" ? Math.ceil(memoryAfterMemoryKill(Number(ev.peakRssBytes), job.memoryBytes * per) / per) : job.memoryBytes;
  const ranLonger = !job.walltimeEnforced && job.walltimeMs !== null && Number(ev.walltimeMs) > job.walltimeMs;
  const walltimeMs = ranLonger ? Number(ev.walltimeMs) + 3_600_000 : job.walltimeMs;
  const note = `${end.reason ?? "failed"}; retry ${job.failures + 1} of ${job.retries} after ${retryAt.toISOString()}`;
  const { state: _state, nodeId: _node, ...shown } = end.set;
  await tx
    .update(jobs)
    .set({
      ...shown,
      state: "queued",
      nodeId: null,
      allocatedNodes: [],
      failures: job.failures + 1,
      retryAt,
      memoryBytes,
      walltimeMs,
      suspendedAt: null,
      messages: sql`${jobs.messages} || ${JSON.stringify([note, ...end.notes])}::jsonb`,
    })
    .where(eq(jobs.id, job.id));
  await recordJobEvent(tx, job.id, "delayed", { ...end.event, retryAt: retryAt.toISOString(), memoryBytes, walltimeMs });
  return "queued";
}

/** A node that could not start a job (a missing program, container runtime or directory) is worth a warning. */
function nodeWarning(nodeId: string, ev: JobFinished): string | undefined {
  return ev.cause === "start" || ev.cause === "runtime" ? `node ${nodeId} could not start a job: ${ev.failReason}` : undefined;
}

/** How a job ends when its process ended on its node (or never started): the columns to set. */
function finalOutcome(job: EndingJob, nodeId: string, ev: JobFinished, sisterLost: boolean) {
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
  const endCause = state === "cancelled" ? "cancelled" : state === "lost" ? "lost" : ev.cause || (ev.started ? "exit" : "start");
  return {
    state,
    reason,
    notes: ev.behaviourNotes,
    set: {
      state,
      nodeId,
      reason,
      endCause,
      exitCode: ev.exitCode ?? null,
      signal: ev.signal || null,
      startedAt: ev.started ? new Date(Number(ev.startedAtMs)) : job.startedAt,
      endedAt: new Date(Number(ev.endedAtMs)),
      walltimeUsedMs: Number(ev.walltimeMs),
      cpuTimeMs: Number(ev.cpuTimeMs),
      peakRssBytes: Number(ev.peakRssBytes),
      stdoutTail: clip(ev.stdoutTail),
      stderrTail: clip(ev.stderrTail),
      outputFiles: ev.outputs.map((o) => ({ path: o.path, sizeBytes: Number(o.sizeBytes) })),
      suspendedAt: null,
      suspendedMs,
    },
    event: { node: nodeId, attempt: ev.attempt, exitCode: ev.exitCode ?? null, signal: ev.signal || null, reason },
  };
}

/** What one burst of a node's messages says about its jobs (see AgentSession). */
export interface JobEventBurst {
  started: JobStarted[];
  outputs: JobOutput[];
  finished: JobFinished[];
  signalled: JobSignalled[];
  /** progress lines the jobs printed (README, "Progress") */
  progress?: JobProgress[];
}

const runKey = (ev: { jobId: bigint; attempt: number }) => `${ev.jobId}.${ev.attempt}`;

/** What deciding how a job ends needs to know of it. */
type EndingJob = Pick<
  Job,
  "id" | "nodeId" | "state" | "attempt" | "requeueRequestedAt" | "sisterLostReason" | "cancelRequestedAt" | "suspendedAt" | "suspendedMs" | "startedAt" | "retries" | "failures" | "retryFailures"
>;

/** Reads and locks the jobs a burst of ends is about (the columns an end needs only). */
async function lockEndingJobs(tx: Tx, ids: number[]): Promise<EndingJob[]> {
  if (!ids.length) return [];
  type Row = { id: number | string; node_id: string | null; state: string; attempt: number; requeue_requested_at: string | Date | null; sister_lost_reason: string | null; cancel_requested_at: string | Date | null; suspended_at: string | Date | null; suspended_ms: number | string; started_at: string | Date | null; retries: number; failures: number; retry_failures: boolean };
  const rows = rowsOf<Row>(
    await tx.execute(prepared(sql`
      select id, node_id, state, attempt, requeue_requested_at, sister_lost_reason, cancel_requested_at, suspended_at, suspended_ms, started_at, retries, failures, retry_failures
      from jobs where ${anyId("id", ids)}
      for update`)),
  );
  const date = (v: string | Date | null) => (v === null ? null : new Date(v));
  return rows.map((r) => ({
    id: Number(r.id),
    nodeId: r.node_id,
    state: r.state,
    attempt: Number(r.attempt),
    requeueRequestedAt: date(r.requeue_requested_at),
    sisterLostReason: r.sister_lost_reason,
    cancelRequestedAt: date(r.cancel_requested_at),
    suspendedAt: date(r.suspended_at),
    suspendedMs: Number(r.suspended_ms),
    startedAt: date(r.started_at),
    retries: Number(r.retries),
    failures: Number(r.failures),
    retryFailures: r.retry_failures,
  }));
}

/**
 * Applies a burst of job events from one node, each kind in bulk. A job's own events keep their
 * order (it starts, shows output, then ends); one burst never holds two attempts of one job.
 * The common end — a job's process ended on the node the job is on, nothing else asked of it —
 * is written for all such jobs in one statement, and a job that started and ended within the
 * burst (a short one) is written once, as ended; the rest (requeue, hand-back, lost sister
 * node, a result for a job declared lost) one by one.
 */
export async function applyJobEvents(tx: Tx, nodeId: string, burst: JobEventBurst, opts: EventOptions = {}): Promise<void> {
  await applyJobEventsOfNodes(tx, [{ nodeId, burst }], opts);
}

/**
 * applyJobEvents for the bursts of many nodes at once (at most one burst a node): the common
 * starts and ends of all of them in one statement each — 10,000 agents' bursts were 10,000 times
 * a handful of statements, one after another, in the writer's transaction.
 */
export async function applyJobEventsOfNodes(tx: Tx, bursts: { nodeId: string; burst: JobEventBurst }[], opts: EventOptions = {}): Promise<void> {
  const finishes = bursts.flatMap(({ nodeId, burst }) => [...new Map(burst.finished.map((ev) => [runKey(ev), ev])).values()].map((ev) => ({ nodeId, ev })));
  const found = await lockEndingJobs(tx, [...new Set(finishes.map(({ ev }) => Number(ev.jobId)))]);
  const byId = new Map(found.map((j) => [j.id, j]));
  const plain: { nodeId: string; job: EndingJob; ev: JobFinished }[] = [];
  const other: { nodeId: string; id: number; ev: JobFinished }[] = [];
  for (const { nodeId, ev } of finishes) {
    const job = byId.get(Number(ev.jobId));
    if (!job || job.attempt !== ev.attempt) continue; // stale or unknown: nothing to do
    const onThisNode = job.nodeId === nodeId && ["dispatching", "running", "suspended"].includes(job.state);
    const retry = job.retryFailures && job.retries > job.failures && runFailed(ev);
    if (onThisNode && !ev.returned && !job.requeueRequestedAt && !job.sisterLostReason && !retry) plain.push({ nodeId, job, ev });
    else other.push({ nodeId, id: job.id, ev });
  }
  const plainDispatching = new Set(plain.filter(({ job }) => job.state === "dispatching").map(({ nodeId, ev }) => `${nodeId}/${runKey(ev)}`));
  // a job that started and ended since the last burst is written once, as ended
  const startedAndEnded = new Map<string, JobStarted>();
  const started: { nodeId: string; ev: JobStarted }[] = [];
  for (const { nodeId, burst } of bursts) {
    for (const ev of burst.started) {
      if (plainDispatching.has(`${nodeId}/${runKey(ev)}`)) startedAndEnded.set(`${nodeId}/${runKey(ev)}`, ev);
      else started.push({ nodeId, ev });
    }
  }
  await applyJobsStarted(tx, started);
  for (const { nodeId, burst } of bursts) for (const output of burst.outputs) await applyJobOutput(tx, nodeId, output);
  const progress = bursts.flatMap(({ burst }) => burst.progress ?? []);
  if (progress.length) await recordProgress(tx, progress);
  for (const { nodeId, id, ev } of other) {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, id)); // locked above
    if (job) await finishLockedJob(tx, nodeId, ev, job, opts);
  }
  await finishPlainJobs(tx, plain, startedAndEnded);
  for (const { burst } of bursts) for (const signalled of burst.signalled) await applyJobSignalled(tx, signalled);
}

/**
 * Progress a job reported, as "progress" events at the time the agent read them (a job that
 * was removed meanwhile has none recorded: the burst never fails over it).
 */
async function recordProgress(tx: Tx, progress: JobProgress[]): Promise<void> {
  const rows = progress.map((p) => ({ job_id: Number(p.jobId), at: new Date(Number(p.atMs)).toISOString(), data: { message: p.message, attempt: p.attempt } }));
  await tx.execute(sql`
    insert into job_events (job_id, kind, data, at)
    select v.job_id, 'progress', v.data, v.at from ${recordset(rows, "job_id bigint, at timestamptz, data jsonb")}
    where exists (select 1 from jobs where jobs.id = v.job_id)`);
}

/** The common ends of a burst, in one statement (see applyJobEvents). */
async function finishPlainJobs(tx: Tx, plain: { nodeId: string; job: EndingJob; ev: JobFinished }[], startedAndEnded: Map<string, JobStarted>): Promise<void> {
  if (!plain.length) return;
  await settlePendingActionsOf(
    tx,
    plain.map(({ ev }) => ({ jobId: Number(ev.jobId), attempt: ev.attempt })),
  );
  const ts = (d: Date | null) => (d ? d.toISOString() : null);
  const events: NewJobEvent[] = [];
  const rows = plain.map(({ nodeId, job, ev }) => {
    const { state, set, reason, event, notes } = finalOutcome(job, nodeId, ev, false);
    // a process that started and ended since the last burst: its start is recorded here
    const start = startedAndEnded.get(`${nodeId}/${runKey(ev)}`);
    const startedNow = job.state === "dispatching" && ev.started;
    if (startedNow) events.push({ jobId: job.id, kind: "started", data: { node: nodeId, pid: start?.pid ?? null, attempt: ev.attempt } });
    events.push({ jobId: job.id, kind: state, data: event });
    return {
      id: job.id,
      node: nodeId,
      state,
      reason: set.reason,
      exit_code: set.exitCode,
      signal: set.signal,
      started_at: ts(set.startedAt),
      ended_at: ts(set.endedAt),
      walltime: set.walltimeUsedMs,
      cpu: set.cpuTimeMs,
      rss: set.peakRssBytes,
      out: set.stdoutTail,
      err: set.stderrTail,
      suspended_ms: set.suspendedMs,
      msg: [...(reason ? [reason] : []), ...notes],
      cause: set.endCause,
      pid: start?.pid ?? null,
      starts: startedNow ? 1 : 0,
      out_path: start?.stdoutPath ?? null,
      err_path: start?.stderrPath ?? null,
      outputs: set.outputFiles,
    };
  });
  await recordWarnings(tx, plain.map(({ nodeId, ev }) => nodeWarning(nodeId, ev)).filter((w): w is string => !!w));
  await tx.execute(prepared(sql`
    update jobs j set state = v.state, node_id = v.node, reason = v.reason, exit_code = v.exit_code, signal = v.signal,
      started_at = v.started_at, ended_at = v.ended_at, walltime_used_ms = v.walltime, cpu_time_ms = v.cpu, peak_rss_bytes = v.rss,
      stdout_tail = v.out, stderr_tail = v.err, suspended_at = null, suspended_ms = v.suspended_ms, messages = j.messages || v.msg,
      pid = coalesce(v.pid, j.pid), start_count = j.start_count + v.starts,
      stdout_path = coalesce(v.out_path, j.stdout_path), stderr_path = coalesce(v.err_path, j.stderr_path), end_cause = v.cause, output_files = v.outputs
    from ${recordset(
      rows,
      `id bigint, node text, state text, reason text, exit_code int, signal text, started_at timestamptz, ended_at timestamptz, walltime bigint,
       cpu bigint, rss bigint, out text, err text, suspended_ms bigint, msg jsonb, pid int, starts int, out_path text, err_path text, cause text, outputs jsonb`,
    )}
    where j.id = v.id and ${anyId("j.id", rows.map((r) => r.id))}`));
  await recordJobEvents(tx, events);
}

import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { JobRef } from "@drover/proto/service";
import { SignalJob_Kind } from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { jobs, nodes, type Job } from "../db/schema.ts";
import { signalMessage } from "../jobs/control-job.ts";
import { recordJobEvent, startRecorded, type Tx } from "../jobs/job-events.ts";
import { dropPendingActions, openPendingActions, settlePendingActions } from "../jobs/pending-actions.ts";

const log = logger("nodes");

/**
 * Ends a job's stay on a node that no longer vouches for it. When the node's agent said it
 * never got the job (`neverReached`), it simply goes back to the queue. Otherwise it may have
 * run, even if its start was never confirmed: it is lost, and requeued only while it has
 * retries left (counted in dispatches), so a job without retries never runs twice.
 */
async function releaseJob(tx: Tx, job: Job, why: string, neverReached: boolean): Promise<void> {
  await dropPendingActions(tx, job.id);
  if (job.state === "dispatching" && neverReached) {
    await tx.update(jobs).set({ state: "queued", nodeId: null, reason: `requeued: ${why} before the job started` }).where(eq(jobs.id, job.id));
    await recordJobEvent(tx, job.id, "requeued", { reason: why, attempt: job.attempt });
    return;
  }
  if (job.cancelRequestedAt) {
    await tx.update(jobs).set({ state: "cancelled", reason: `cancelled; ${why}`, endedAt: new Date(now()) }).where(eq(jobs.id, job.id));
    await recordJobEvent(tx, job.id, "cancelled", { reason: why });
    return;
  }
  const retriesLeft = job.attempt <= job.retries;
  const note = retriesLeft ? `lost: ${why}; requeued` : `lost: ${why}`;
  await tx
    .update(jobs)
    .set(
      retriesLeft
        ? { state: "queued", nodeId: null, reason: `lost (${why}); requeued, retry ${job.attempt} of ${job.retries}`, suspendedAt: null, endCause: "lost" }
        : { state: "lost", reason: `lost: ${why}`, endedAt: new Date(now()), suspendedAt: null, endCause: "lost" },
    )
    .where(eq(jobs.id, job.id));
  await tx
    .update(jobs)
    .set({ messages: sql`${jobs.messages} || ${JSON.stringify([note])}::jsonb` })
    .where(eq(jobs.id, job.id));
  await recordJobEvent(tx, job.id, "lost", { reason: why, attempt: job.attempt, requeued: retriesLeft });
}

/**
 * A node stopped answering: it goes down and every job it is the master of is released. A
 * multi-node job that merely had processors there cannot go on either: its master is asked to
 * stop it, and the job is requeued or lost when the master confirms.
 */
export async function markNodeLost(core: Core, nodeId: string, why: string): Promise<void> {
  core.nodeCache?.forget();
  const { released, stopping } = await core.db.transaction(async (tx) => {
    await tx
      .update(nodes)
      .set({ state: "down", stateReason: why, stateChangedAt: new Date(now()) })
      .where(and(eq(nodes.id, nodeId), sql`${nodes.state} <> 'drained'`));
    // its time up ends here (totalUpTime)
    await tx.update(nodes).set({ upMs: sql`${nodes.upMs} + coalesce(floor(extract(epoch from (now() - ${nodes.upSince})) * 1000)::bigint, 0)`, upSince: null }).where(eq(nodes.id, nodeId));
    const onNode = await tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.nodeId, nodeId), inArray(jobs.state, ["dispatching", "running", "suspended"])))
      .for("update");
    for (const job of onNode) await releaseJob(tx, job, why, false);
    const spanning = await tx
      .select()
      .from(jobs)
      .where(
        and(
          inArray(jobs.state, ["dispatching", "running", "suspended"]),
          sql`${jobs.nodeId} <> ${nodeId}`,
          sql`${jobs.allocatedNodes} @> ${JSON.stringify([{ node: nodeId }])}::jsonb`,
          isNull(jobs.sisterLostReason),
        ),
      )
      .for("update");
    for (const job of spanning) {
      const reason = `node ${nodeId}, one of the job's nodes, was lost (${why})`;
      await tx.update(jobs).set({ sisterLostReason: reason }).where(eq(jobs.id, job.id));
      await recordJobEvent(tx, job.id, "sister-node-lost", { node: nodeId, master: job.nodeId, attempt: job.attempt });
      await openPendingActions(tx, [{ type: "CANCEL", requester: "drover", jobId: job.id, attempt: job.attempt, hosts: [job.nodeId!] }]);
    }
    return { released: onNode.length, stopping: spanning };
  });
  for (const job of stopping) core.links.send(job.nodeId!, signalMessage(job, SignalJob_Kind.CANCEL, `node ${nodeId}, one of the job's nodes, was lost`));
  log.warn("node lost", { node: nodeId, reason: why, jobs: released, spanningJobsStopped: stopping.length });
  core.kick();
}

/**
 * After an agent (re)registers, makes the database and the node agree:
 * - jobs the node runs that are still meant to run there are kept (or taken back from "lost"
 *   or the queue when they were not dispatched again meanwhile);
 * - jobs the node runs that have been cancelled, or dispatched elsewhere since, are killed;
 * - jobs the database places on the node that the node does not know are released.
 * Jobs whose end is still in the agent's spool are left for that event.
 */
export async function reconcileNode(core: Core, nodeId: string, running: JobRef[], finishing: JobRef[]): Promise<void> {
  const toSignal: { job: Pick<Job, "id" | "attempt">; kind: SignalJob_Kind; reason: string }[] = [];
  await core.db.transaction(async (tx) => {
    const reported = new Map(running.map((r) => [Number(r.jobId), r]));
    const finishingIds = new Set(finishing.map((r) => Number(r.jobId)));
    const ids = [...reported.keys()];
    const mentioned = ids.length ? await tx.select().from(jobs).where(inArray(jobs.id, ids)).for("update") : [];
    const byId = new Map(mentioned.map((j) => [j.id, j]));
    for (const [id, ref] of reported) {
      const job = byId.get(id);
      const sameRun = job && job.attempt === ref.attempt;
      const stillHere = sameRun && job.nodeId === nodeId && ["dispatching", "running", "suspended"].includes(job.state);
      const takeBack = sameRun && (job.state === "lost" || (job.state === "queued" && job.allocatedNodes[0]?.node === nodeId));
      if (stillHere || takeBack) {
        // A run whose start was not stored: one still dispatching (its controller died before
        // storing the start) waits for the start report in the agent's spool, which then counts
        // and describes it (pid, output paths); one taken back from "lost" (or the queue) had its
        // start report read and acknowledged while it was lost, and one suspended cannot wait:
        // their start counts here.
        const started = job.state === "running" || job.state === "suspended" || (await startRecorded(tx, id, job.attempt));
        const countStart = !started && (takeBack || ref.suspended);
        const state = ref.suspended ? "suspended" : started || countStart ? "running" : "dispatching";
        if (job.state !== state || takeBack) {
          await tx
            .update(jobs)
            .set({ state, nodeId, reason: null, endedAt: null, startCount: countStart ? sql`${jobs.startCount} + 1` : undefined })
            .where(eq(jobs.id, id));
          if (countStart) await recordJobEvent(tx, id, "started", { node: nodeId, pid: null, attempt: job.attempt });
          await recordJobEvent(tx, id, "reconciled", { node: nodeId, state, was: job.state });
        }
        // the node's own account of the job (started; suspended or not) is adopted above, so
        // nothing about starting, suspending or resuming this run is in flight any more
        await settlePendingActions(tx, id, job.attempt, ["SUSPEND", "RESUME"]);
        if (job.cancelRequestedAt) toSignal.push({ job, kind: SignalJob_Kind.CANCEL, reason: "cancelled while the node was away" });
        else if (job.sisterLostReason) toSignal.push({ job, kind: SignalJob_Kind.CANCEL, reason: job.sisterLostReason });
      } else {
        toSignal.push({ job: { id, attempt: ref.attempt }, kind: SignalJob_Kind.CANCEL, reason: "this run is stale: the job ended or runs elsewhere" });
      }
    }
    const onNode = await tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.nodeId, nodeId), inArray(jobs.state, ["dispatching", "running", "suspended"])))
      .for("update");
    for (const job of onNode) {
      if (reported.get(job.id)?.attempt === job.attempt || finishingIds.has(job.id)) continue;
      // the agent listed everything it runs and every end it still holds: it never got this one
      // if it was still being dispatched
      await releaseJob(tx, job, `node ${nodeId} no longer runs it`, true);
    }
  });
  for (const s of toSignal) core.links.send(nodeId, signalMessage(s.job, s.kind, s.reason));
  core.kick();
}

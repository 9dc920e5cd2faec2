import { and, eq, sql } from "drizzle-orm";
import { create, SignalJob_Kind, ControllerMessageSchema } from "@drover/proto/service";
import { conflict, forbidden, invalid } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { jobs, type Job } from "../db/schema.ts";
import { getJob } from "./find-jobs.ts";
import { schedulePass } from "../scheduler/schedule-pass.ts";
import { recordJobEvent } from "./job-events.ts";
import { openPendingActions, type PendingActionType } from "./pending-actions.ts";
import { isOnNode, isTerminal } from "./states.ts";

/** The message that asks a node's agent to signal a job's process group. */
export function signalMessage(job: Pick<Job, "id" | "attempt">, kind: SignalJob_Kind, reason: string) {
  return create(ControllerMessageSchema, {
    body: { case: "signal", value: { jobId: BigInt(job.id), attempt: job.attempt, kind, reason } },
  });
}

/**
 * Cancels a job. A queued job ends at once; a job on a node is signalled and ends when its
 * agent reports the process gone (if the node is disconnected, when it reconnects).
 * Returns the job as it is after the request.
 */
export async function cancelJob(core: Core, principal: Principal, id: number): Promise<Job> {
  const job = await getJob(core.db, principal, id);
  if (isTerminal(job.state)) throw invalid(`Job ${id} has already ended (${job.state}); there is nothing to cancel`);
  const updated = await core.db.transaction(async (tx) => {
    if (job.state === "queued") {
      const [row] = await tx
        .update(jobs)
        .set({ state: "cancelled", endedAt: new Date(now()), reason: `cancelled by ${principal.username}`, cancelRequestedAt: new Date(now()) })
        .where(and(eq(jobs.id, id), eq(jobs.state, "queued")))
        .returning();
      if (row) await recordJobEvent(tx, id, "cancelled", { by: principal.username });
      return row;
    }
    const [row] = await tx
      .update(jobs)
      .set({ cancelRequestedAt: new Date(now()) })
      .where(eq(jobs.id, id))
      .returning();
    await recordJobEvent(tx, id, "cancel-requested", { by: principal.username });
    if (row && isOnNode(row.state)) await openPendingActions(tx, [actionOn(row, "CANCEL", principal)]);
    return row;
  });
  if (!updated) return cancelJob(core, principal, id); // it was dispatched meanwhile: cancel it on its node
  if (isOnNode(updated.state) && updated.nodeId) {
    core.links.send(updated.nodeId, signalMessage(updated, SignalJob_Kind.CANCEL, `cancelled by ${principal.username}`));
  }
  if (updated.state === "cancelled") core.kick(); // dependants may now be decided
  return updated;
}

/** Stops a running job's process group (SIGSTOP); it keeps its resources. */
export async function suspendJob(core: Core, principal: Principal, id: number): Promise<Job> {
  const job = await getJob(core.db, principal, id);
  if (job.state !== "running") throw invalid(`Job ${id} is ${job.state}; only a running job can be suspended`);
  if (!(await core.links.reachable(job.nodeId!))) throw conflict(`Job ${id}'s node ${job.nodeId} is not connected; try again when it is`);
  const [row] = await core.db.transaction(async (tx) => {
    const rows = await tx
      .update(jobs)
      .set({ state: "suspended", suspendedAt: new Date(now()) })
      .where(and(eq(jobs.id, id), eq(jobs.state, "running"), eq(jobs.attempt, job.attempt)))
      .returning();
    if (rows.length) {
      await recordJobEvent(tx, id, "suspended", { by: principal.username });
      await openPendingActions(tx, [actionOn(rows[0]!, "SUSPEND", principal)]);
    }
    return rows;
  });
  if (!row) throw conflict(`Job ${id} changed state meanwhile; look at it again`);
  core.links.send(row.nodeId!, signalMessage(row, SignalJob_Kind.SUSPEND, `suspended by ${principal.username}`));
  return row;
}

/** Continues a suspended job (SIGCONT). */
export async function resumeJob(core: Core, principal: Principal, id: number): Promise<Job> {
  const job = await getJob(core.db, principal, id);
  if (job.state !== "suspended") throw invalid(`Job ${id} is ${job.state}; only a suspended job can be resumed`);
  if (!(await core.links.reachable(job.nodeId!))) throw conflict(`Job ${id}'s node ${job.nodeId} is not connected; try again when it is`);
  const pausedMs = job.suspendedAt ? now() - job.suspendedAt.getTime() : 0;
  const [row] = await core.db.transaction(async (tx) => {
    const rows = await tx
      .update(jobs)
      .set({ state: "running", suspendedAt: null, suspendedMs: job.suspendedMs + Math.max(0, pausedMs) })
      .where(and(eq(jobs.id, id), eq(jobs.state, "suspended"), eq(jobs.attempt, job.attempt)))
      .returning();
    if (rows.length) {
      await recordJobEvent(tx, id, "resumed", { by: principal.username });
      await openPendingActions(tx, [actionOn(rows[0]!, "RESUME", principal)]);
    }
    return rows;
  });
  if (!row) throw conflict(`Job ${id} changed state meanwhile; look at it again`);
  core.links.send(row.nodeId!, signalMessage(row, SignalJob_Kind.RESUME, `resumed by ${principal.username}`));
  return row;
}

/** Hold types (Moab): USER is the owner's own; SYSTEM and BATCH are set and released by admins. */
export const holdTypes = ["USER", "SYSTEM", "BATCH"] as const;
export type HoldType = (typeof holdTypes)[number];

/** Expands ALL and checks who may touch which hold. */
function checkHolds(principal: Principal, requested: string[], verb: string): HoldType[] {
  const out = new Set<HoldType>();
  for (const h of requested) {
    const upper = h.toUpperCase();
    if (upper === "ALL") holdTypes.forEach((t) => out.add(t));
    else if ((holdTypes as readonly string[]).includes(upper)) out.add(upper as HoldType);
    else throw invalid(`Unknown hold type "${h}"; use USER, SYSTEM, BATCH or ALL`);
  }
  if (principal.role !== "admin") {
    const explicit = requested.map((h) => h.toUpperCase()).filter((h) => h !== "ALL" && h !== "USER");
    if (explicit.length) throw forbidden(`Only an administrator may ${verb} ${explicit.join(", ")} holds`);
    // ALL, for a user, means the holds a user may touch
    return [...out].filter((h) => h === "USER");
  }
  return [...out];
}

/** Adds holds to a queued job: it will not be scheduled until they are released. */
export async function holdJob(core: Core, principal: Principal, id: number, requested: string[]): Promise<Job> {
  const job = await getJob(core.db, principal, id);
  const add = checkHolds(principal, requested.length ? requested : ["USER"], "set");
  if (job.state !== "queued") throw invalid(`Job ${id} is ${job.state}; only a queued job can be held (requeue it first)`);
  const holds = [...new Set([...job.holds, ...add])];
  return core.db.transaction(async (tx) => {
    const [row] = await tx
      .update(jobs)
      .set({ holds, reason: `held (${holds.join(", ")})`, messages: appendMessage(`hold ${add.join(", ")} set by ${principal.username}`) })
      .where(and(eq(jobs.id, id), eq(jobs.state, "queued")))
      .returning();
    if (!row) throw conflict(`Job ${id} was dispatched meanwhile; it can no longer be held`);
    await recordJobEvent(tx, id, "held", { by: principal.username, holds: add });
    return row;
  });
}

/** Releases holds (all the caller may release when none are named, as MWS says). */
export async function unholdJob(core: Core, principal: Principal, id: number, requested: string[]): Promise<Job> {
  const job = await getJob(core.db, principal, id);
  const release = checkHolds(principal, requested.length ? requested : ["ALL"], "release");
  const holds = job.holds.filter((h) => !release.includes(h as HoldType));
  const released = job.holds.filter((h) => release.includes(h as HoldType));
  const row = await core.db.transaction(async (tx) => {
    const [row] = await tx
      .update(jobs)
      .set({
        holds,
        reason: holds.length ? `held (${holds.join(", ")})` : null,
        messages: released.length ? appendMessage(`hold ${released.join(", ")} released by ${principal.username}`) : undefined,
      })
      .where(eq(jobs.id, id))
      .returning();
    if (released.length) await recordJobEvent(tx, id, "released", { by: principal.username, holds: released });
    return row!;
  });
  core.kick();
  return row;
}

/**
 * Sends a job back to the queue. A job on a node is stopped (SIGTERM, grace, SIGKILL) and
 * queued again when its agent confirms the process ended; its attempt count moves on.
 */
export async function requeueJob(core: Core, principal: Principal, id: number): Promise<Job> {
  const job = await getJob(core.db, principal, id);
  if (job.state === "queued") throw invalid(`Job ${id} is already queued`);
  if (isTerminal(job.state)) throw invalid(`Job ${id} has ended (${job.state}); submit it again instead`);
  if (job.cancelRequestedAt) throw conflict(`Job ${id} is being cancelled; it cannot be requeued`);
  const [row] = await core.db.transaction(async (tx) => {
    const rows = await tx
      .update(jobs)
      .set({ requeueRequestedAt: new Date(now()), messages: appendMessage(`requeue requested by ${principal.username}`) })
      .where(and(eq(jobs.id, id), eq(jobs.attempt, job.attempt)))
      .returning();
    if (rows.length) {
      await recordJobEvent(tx, id, "requeue-requested", { by: principal.username });
      if (rows[0]!.nodeId) await openPendingActions(tx, [actionOn(rows[0]!, "REQUEUE", principal)]);
    }
    return rows;
  });
  if (!row) throw conflict(`Job ${id} changed meanwhile; look at it again`);
  if (row.nodeId) core.links.send(row.nodeId, signalMessage(row, SignalJob_Kind.CANCEL, `requeued by ${principal.username}`));
  return row;
}

/**
 * MWS execute: the job goes ahead of the queue and its earliest start date no longer holds it
 * back; it starts at once when a node has room, else as soon as one has. Holds still apply.
 */
export async function executeJob(core: Core, principal: Principal, id: number): Promise<Job> {
  const job = await getJob(core.db, principal, id);
  if (job.state !== "queued") throw invalid(`Job ${id} is ${job.state}; only a queued job can be executed`);
  if (job.holds.length) throw invalid(`Job ${id} is held (${job.holds.join(", ")}); release the holds first`);
  const [row] = await core.db
    .update(jobs)
    .set({ executeRequestedAt: new Date(now()), messages: appendMessage(`execute requested by ${principal.username}`) })
    .where(and(eq(jobs.id, id), eq(jobs.state, "queued")))
    .returning();
  if (!row) throw conflict(`Job ${id} was dispatched meanwhile`);
  await schedulePass(core);
  return getJob(core.db, principal, id);
}

/** A pending action on a job's nodes, master first. */
function actionOn(job: Job, type: PendingActionType, principal: Principal) {
  const hosts = job.allocatedNodes.length ? job.allocatedNodes.map((a) => a.node) : job.nodeId ? [job.nodeId] : [];
  return { type, requester: principal.username, jobId: job.id, attempt: job.attempt, hosts };
}

/** Appends a message to a job's messages (they are never removed). */
export function appendMessage(...messages: string[]) {
  return sql`${jobs.messages} || ${JSON.stringify(messages)}::jsonb`;
}

/**
 * Confirms that a lost job (its node stopped answering while it was there) is really gone
 * (wr's DELETE state=lost): it ends failed, saying so. (A lost job with retries left was
 * already queued again when its node was declared lost.)
 */
export async function confirmLost(core: Core, principal: Principal, id: number): Promise<Job | undefined> {
  const job = await getJob(core.db, principal, id);
  if (job.state !== "lost") return undefined;
  const [row] = await core.db.transaction(async (tx) => {
    const rows = await tx
      .update(jobs)
      .set({ state: "failed", endCause: "lost", messages: sql`${jobs.messages} || ${JSON.stringify([`lost confirmed by ${principal.username}`])}::jsonb` })
      .where(and(eq(jobs.id, id), eq(jobs.state, "lost")))
      .returning();
    if (rows.length) await recordJobEvent(tx, id, "failed", { by: principal.username, reason: "lost confirmed" });
    return rows;
  });
  if (row) core.kick();
  return row;
}

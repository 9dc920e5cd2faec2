import { and, eq } from "drizzle-orm";
import { create, SignalJob_Kind, ControllerMessageSchema } from "@drover/proto/service";
import { conflict, invalid } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { jobs, type Job } from "../db/schema.ts";
import { getJob } from "./find-jobs.ts";
import { recordJobEvent } from "./job-events.ts";
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
  if (!core.links.isConnected(job.nodeId!)) throw conflict(`Job ${id}'s node ${job.nodeId} is not connected; try again when it is`);
  const [row] = await core.db.transaction(async (tx) => {
    const rows = await tx
      .update(jobs)
      .set({ state: "suspended", suspendedAt: new Date(now()) })
      .where(and(eq(jobs.id, id), eq(jobs.state, "running"), eq(jobs.attempt, job.attempt)))
      .returning();
    if (rows.length) await recordJobEvent(tx, id, "suspended", { by: principal.username });
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
  if (!core.links.isConnected(job.nodeId!)) throw conflict(`Job ${id}'s node ${job.nodeId} is not connected; try again when it is`);
  const pausedMs = job.suspendedAt ? now() - job.suspendedAt.getTime() : 0;
  const [row] = await core.db.transaction(async (tx) => {
    const rows = await tx
      .update(jobs)
      .set({ state: "running", suspendedAt: null, suspendedMs: job.suspendedMs + Math.max(0, pausedMs) })
      .where(and(eq(jobs.id, id), eq(jobs.state, "suspended"), eq(jobs.attempt, job.attempt)))
      .returning();
    if (rows.length) await recordJobEvent(tx, id, "resumed", { by: principal.username });
    return rows;
  });
  if (!row) throw conflict(`Job ${id} changed state meanwhile; look at it again`);
  core.links.send(row.nodeId!, signalMessage(row, SignalJob_Kind.RESUME, `resumed by ${principal.username}`));
  return row;
}

import { and, eq, inArray, sql } from "drizzle-orm";
import { now } from "@drover/shared/clock";
import type { Principal } from "../auth/principal.ts";
import type { Db } from "../db/connect.ts";
import { jobs, nodes, pendingActions } from "../db/schema.ts";
import type { Tx } from "./job-events.ts";
import { anyId, prepared, recordset } from "../db/recordset.ts";

// MWS 3.7: operations drover has asked an agent to carry out and that the agent has not yet
// confirmed. A row is written in the transaction that decides the operation and deleted in the
// transaction that applies the agent's confirmation, so the list is exactly what is in flight.
// A DISPATCH needs no row: a job is dispatching exactly until its node confirms the start (or
// reports the end), so every dispatching job is listed as one.

export const pendingActionTypes = ["DISPATCH", "CANCEL", "SUSPEND", "RESUME", "REQUEUE"] as const;
export type PendingActionType = (typeof pendingActionTypes)[number];

/** How long an agent normally takes to confirm; past it the action shows as FAILED (it stays listed). */
const MAX_DURATION_S: Record<PendingActionType, number> = {
  DISPATCH: 60,
  // a process is sent SIGTERM, given its grace period, then SIGKILL
  CANCEL: 120,
  REQUEUE: 120,
  SUSPEND: 30,
  RESUME: 30,
};

export interface NewPendingAction {
  type: PendingActionType;
  requester: string;
  jobId: number;
  attempt: number;
  hosts: string[];
}

/** Records operations sent (or about to be sent) to agents. */
export async function openPendingActions(tx: Tx, actions: NewPendingAction[]): Promise<void> {
  if (!actions.length) return;
  const startedAt = new Date(now()).toISOString();
  await tx.execute(prepared(sql`
    insert into pending_actions (type, requester, job_id, attempt, hosts, started_at, max_duration_s)
    select v.type, v.requester, v.job_id, v.attempt, v.hosts, v.started_at, v.max_duration_s
    from ${recordset(
      actions.map((a) => ({ type: a.type, requester: a.requester, job_id: a.jobId, attempt: a.attempt, hosts: a.hosts, started_at: startedAt, max_duration_s: MAX_DURATION_S[a.type] })),
      "type text, requester text, job_id bigint, attempt int, hosts jsonb, started_at timestamptz, max_duration_s int",
    )}`));
}

/**
 * The agent confirmed what it was asked about a job's attempt: those actions leave the list.
 * Without `types`, every action on the job up to that attempt is settled (its process ended).
 */
export async function settlePendingActions(tx: Tx, jobId: number, attempt: number, types?: PendingActionType[]): Promise<void> {
  await settlePendingActionsOf(tx, [{ jobId, attempt }], types);
}

/** settlePendingActions for many runs at once (a burst of agent events), in one statement. */
export async function settlePendingActionsOf(tx: Tx, runs: { jobId: number; attempt: number }[], types?: PendingActionType[]): Promise<void> {
  if (!runs.length) return;
  await tx.execute(prepared(sql`
    delete from pending_actions p using ${recordset(runs.map((r) => ({ job_id: r.jobId, attempt: r.attempt })), "job_id bigint, attempt int")}
    where p.job_id = v.job_id and ${anyId("p.job_id", runs.map((r) => r.jobId))} and p.attempt <= v.attempt
    ${types ? sql`and p.type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})` : sql``}`));
}

/** A job left its node without a confirmation (lost, released): nothing about it is in flight any more. */
export async function dropPendingActions(tx: Tx, jobId: number): Promise<void> {
  await tx.delete(pendingActions).where(eq(pendingActions.jobId, jobId));
}

export interface PendingAction {
  /** unique among the actions listed (MWS shows it as the id) */
  key: string;
  type: PendingActionType;
  requester: string;
  jobId: number;
  attempt: number;
  hosts: string[];
  startedAt: Date;
  maxDurationS: number;
  /** RUNNING while the agent works on it; PENDING while its node is down; FAILED past maxDurationS */
  state: "RUNNING" | "PENDING" | "FAILED";
  /** what the action waits for, in words */
  substate: string;
  failureDetails: string;
}

const waitingFor: Record<PendingActionType, string> = {
  DISPATCH: "to confirm that the job's process started",
  CANCEL: "to confirm that the job's processes ended",
  REQUEUE: "to confirm that the job's processes ended",
  SUSPEND: "to confirm that the job's processes stopped",
  RESUME: "to confirm that the job's processes continued",
};

/** The actions in flight on the principal's jobs (all of them for admins), oldest first. */
export async function listPendingActions(db: Db, principal: Principal): Promise<PendingAction[]> {
  const own = principal.role === "admin" ? undefined : eq(jobs.owner, principal.username);
  const [stored, dispatching] = await Promise.all([
    db.select({ action: pendingActions }).from(pendingActions).innerJoin(jobs, eq(jobs.id, pendingActions.jobId)).where(own),
    db
      .select({ id: jobs.id, attempt: jobs.attempt, allocatedNodes: jobs.allocatedNodes, dispatchedAt: jobs.dispatchedAt, submittedAt: jobs.submittedAt })
      .from(jobs)
      .where(and(eq(jobs.state, "dispatching"), own)),
  ]);
  const actions = [
    ...stored.map(({ action: a }) => ({ ...a, key: `${a.type.toLowerCase()}-${a.id}`, type: a.type as PendingActionType })),
    ...dispatching.map((j) => ({
      key: `dispatch-${j.id}`,
      type: "DISPATCH" as const,
      requester: "drover",
      jobId: j.id,
      attempt: j.attempt,
      hosts: j.allocatedNodes.map((a) => a.node),
      startedAt: j.dispatchedAt ?? j.submittedAt,
      maxDurationS: MAX_DURATION_S.DISPATCH,
    })),
  ].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.key.localeCompare(b.key));
  const hostIds = [...new Set(actions.map((a) => a.hosts[0]).filter((h): h is string => !!h))];
  const nodeStates = new Map<string, string>();
  if (hostIds.length) {
    for (const n of await db.select({ id: nodes.id, state: nodes.state }).from(nodes).where(inArray(nodes.id, hostIds))) nodeStates.set(n.id, n.state);
  }
  const at = now();
  return actions.map((a) => {
    const node = a.hosts[0] ?? "";
    const overdue = at - a.startedAt.getTime() > a.maxDurationS * 1000;
    const nodeDown = nodeStates.get(node) === "down";
    const state = nodeDown ? "PENDING" : overdue ? "FAILED" : "RUNNING";
    return {
      key: a.key,
      type: a.type,
      requester: a.requester,
      jobId: a.jobId,
      attempt: a.attempt,
      hosts: a.hosts,
      startedAt: a.startedAt,
      maxDurationS: a.maxDurationS,
      state,
      substate: nodeDown ? `waiting for node ${node} to reconnect` : `waiting for node ${node} ${waitingFor[a.type]}`,
      failureDetails: state === "FAILED" ? `node ${node} has not confirmed within ${a.maxDurationS} s` : "",
    };
  });
}

import { asc, eq, inArray, sql } from "drizzle-orm";
import { now } from "@drover/shared/clock";
import type { Principal } from "../auth/principal.ts";
import type { Db } from "../db/connect.ts";
import { jobs, nodes, pendingActions } from "../db/schema.ts";
import type { Tx } from "./job-events.ts";
import { prepared, recordset } from "../db/recordset.ts";

// MWS 3.7: operations drover has asked an agent to carry out and that the agent has not yet
// confirmed. A row is written in the transaction that decides the operation and deleted in the
// transaction that applies the agent's confirmation, so the list is exactly what is in flight.

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
    where p.job_id = v.job_id and p.attempt <= v.attempt
    ${types ? sql`and p.type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})` : sql``}`));
}

/** A job left its node without a confirmation (lost, released): nothing about it is in flight any more. */
export async function dropPendingActions(tx: Tx, jobId: number): Promise<void> {
  await tx.delete(pendingActions).where(eq(pendingActions.jobId, jobId));
}

export interface PendingAction {
  id: number;
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
  const rows = await db
    .select({ action: pendingActions, owner: jobs.owner })
    .from(pendingActions)
    .innerJoin(jobs, eq(jobs.id, pendingActions.jobId))
    .where(principal.role === "admin" ? undefined : eq(jobs.owner, principal.username))
    .orderBy(asc(pendingActions.id));
  const hostIds = [...new Set(rows.map((r) => r.action.hosts[0]).filter((h): h is string => !!h))];
  const nodeStates = new Map<string, string>();
  if (hostIds.length) {
    for (const n of await db.select({ id: nodes.id, state: nodes.state }).from(nodes).where(inArray(nodes.id, hostIds))) nodeStates.set(n.id, n.state);
  }
  const at = now();
  return rows.map(({ action: a }) => {
    const type = a.type as PendingActionType;
    const node = a.hosts[0] ?? "";
    const overdue = at - a.startedAt.getTime() > a.maxDurationS * 1000;
    const nodeDown = nodeStates.get(node) === "down";
    const state = nodeDown ? "PENDING" : overdue ? "FAILED" : "RUNNING";
    return {
      ...a,
      type,
      state,
      substate: nodeDown ? `waiting for node ${node} to reconnect` : `waiting for node ${node} ${waitingFor[type]}`,
      failureDetails: state === "FAILED" ? `node ${node} has not confirmed within ${a.maxDurationS} s` : "",
    };
  });
}

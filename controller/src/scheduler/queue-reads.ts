import { sql } from "drizzle-orm";
import type { Job, Node } from "../db/schema.ts";
import { jsonValue, rowsOf } from "../db/migrate.ts";
import { prepared } from "../db/recordset.ts";
import type { Tx } from "../jobs/job-events.ts";
import type { PlanReservation, Release } from "./queue-plan.ts";
import type { AclRule, ReservedShare } from "../db/schema.ts";
import { describeAcl } from "../reservations/acl.ts";

// (Each starts its query when called — no await before it — so that a pass can send several in
// a known order on its transaction's connection.)
// The reads of every scheduling pass, written out (building them with drizzle's query builder on
// every pass cost more than running them). The queue reads stay unprepared: a plan made once
// for every queue length and limit walked far more of the queue than one made for the case.

/** What a pass needs of a queued job to place it (its command and environment are read as it is dispatched). */
export type Candidate = Pick<
  Job,
  "id" | "cpus" | "memoryBytes" | "hosts" | "features" | "partition" | "tasksPerNode" | "dependsOn" | "afterGroups" | "reason" | "backlogReturnedAt" | "walltimeMs" | "plannedStartAt" | "diskBytes" | "swapBytes" | "arch" | "os"
  | "owner" | "nodeAccess" | "gres" | "qos" | "queue" | "account" | "reservationRequested"
>;

const CANDIDATE_COLUMNS = sql.raw(
  "id, cpus, memory_bytes, hosts, features, partition, tasks_per_node, depends_on, after_groups, reason, backlog_returned_at, walltime_ms, planned_start_at, disk_bytes, swap_bytes, arch, os, owner, node_access, gres, qos, queue, account, reservation_requested",
);
// a job it depends on has not completed; or a job of a dependency group it waits for has not
// (jobs added to such a group later count too: the check is made on every pass)
export const UNMET_DEPENDENCY = sql.raw(`(
  (depends_on <> '[]'::jsonb and exists (select 1 from jsonb_array_elements_text(depends_on) as d(id) join jobs dep on dep.id = d.id::bigint where dep.state <> 'completed'))
  or (after_groups <> '[]'::jsonb and exists (select 1 from jobs member
        where member.dep_groups <> '[]'::jsonb and member.dep_groups ?| array(select jsonb_array_elements_text(jobs.after_groups))
          and member.state <> 'completed' and member.id <> jobs.id)))`);

type CandidateRow = {
  id: number | string;
  cpus: number;
  memory_bytes: number | string;
  hosts: unknown;
  features: unknown;
  partition: string | null;
  tasks_per_node: number | null;
  depends_on: unknown;
  after_groups: unknown;
  reason: string | null;
  backlog_returned_at: string | Date | null;
  walltime_ms: number | string | null;
  planned_start_at: string | Date | null;
  disk_bytes: number | string;
  swap_bytes: number | string;
  arch: string | null;
  os: string | null;
  owner: string;
  node_access: string | null;
  gres: unknown;
  qos: string | null;
  queue: string | null;
  account: string | null;
  reservation_requested: string | null;
};
const toCandidate = (r: CandidateRow): Candidate => ({
  id: Number(r.id),
  cpus: r.cpus,
  memoryBytes: Number(r.memory_bytes),
  hosts: jsonValue<string[]>(r.hosts),
  features: jsonValue<string[]>(r.features),
  partition: r.partition,
  tasksPerNode: r.tasks_per_node,
  dependsOn: jsonValue<number[]>(r.depends_on),
  afterGroups: jsonValue<string[]>(r.after_groups),
  reason: r.reason,
  backlogReturnedAt: r.backlog_returned_at === null ? null : new Date(r.backlog_returned_at),
  walltimeMs: r.walltime_ms === null ? null : Number(r.walltime_ms),
  plannedStartAt: r.planned_start_at === null ? null : new Date(r.planned_start_at),
  diskBytes: Number(r.disk_bytes),
  swapBytes: Number(r.swap_bytes),
  arch: r.arch,
  os: r.os,
  owner: r.owner,
  nodeAccess: r.node_access,
  gres: jsonValue<Record<string, number>>(r.gres),
  qos: r.qos,
  queue: r.queue,
  account: r.account,
  reservationRequested: r.reservation_requested,
});

/**
 * Queued jobs that may run now (no holds, start time reached or execution asked for, every
 * dependency completed), in queue order: priority, then FIFO. executeFirst: only those someone
 * asked to execute (MWS execute), which go ahead of the queue.
 */
export function readRunnable(tx: Tx, opts: { executeFirst: boolean; at: Date; limit: number }): Promise<Candidate[]> {
  return tx
    .execute(prepared(sql`
      select ${CANDIDATE_COLUMNS} from jobs
      where state = 'queued' and holds = '[]'::jsonb
        and (earliest_start_at is null or earliest_start_at <= ${opts.at.toISOString()}::timestamptz or execute_requested_at is not null)
        and (retry_at is null or retry_at <= ${opts.at.toISOString()}::timestamptz)
        and not ${UNMET_DEPENDENCY}
        ${opts.executeFirst ? sql.raw("and execute_requested_at is not null") : sql.raw("")}
      order by priority desc, queue_position asc
      limit ${opts.limit}::int`))
    .then((r) => rowsOf<CandidateRow>(r).map(toCandidate));
}

/** The head of the queued jobs held back by a dependency that has not completed. */
export function readWaitingOnDependencies(tx: Tx, limit: number): Promise<Candidate[]> {
  return tx
    .execute(sql`
      select ${CANDIDATE_COLUMNS} from jobs
      where state = 'queued' and holds = '[]'::jsonb and (depends_on <> '[]'::jsonb or after_groups <> '[]'::jsonb) and ${UNMET_DEPENDENCY}
      order by priority desc, queue_position asc
      limit ${limit}::int`)
    .then((r) => rowsOf<CandidateRow>(r).map(toCandidate));
}

export type PlacedNode = Pick<
  Node,
  "id" | "cores" | "memoryBytes" | "features" | "partition" | "state" | "arch" | "os" | "diskBytes" | "swapBytes" | "availableDiskBytes" | "availableSwapBytes" | "gres" | "controllerId"
>;

/** Every registered node (connected or not, up or not), with what placement needs of it. */
export function readNodes(tx: Tx): Promise<PlacedNode[]> {
  type Row = {
    id: string; cores: number; memory_bytes: number | string; features: unknown; partition: string; state: string; arch: string; os: string;
    disk_bytes: number | string; swap_bytes: number | string; available_disk_bytes: number | string | null; available_swap_bytes: number | string | null; gres: unknown;
    controller_id: string | null;
  };
  const num = (v: number | string | null) => (v === null ? null : Number(v));
  return tx
    .execute(prepared(sql`select id, cores, memory_bytes, features, partition, state, arch, os, disk_bytes, swap_bytes, available_disk_bytes, available_swap_bytes, gres, controller_id from nodes`))
    .then((r) =>
      rowsOf<Row>(r).map((n) => ({
        id: n.id, cores: n.cores, memoryBytes: Number(n.memory_bytes), features: jsonValue<string[]>(n.features), partition: n.partition, state: n.state, arch: n.arch, os: n.os,
        diskBytes: Number(n.disk_bytes), swapBytes: Number(n.swap_bytes), availableDiskBytes: num(n.available_disk_bytes), availableSwapBytes: num(n.available_swap_bytes),
        gres: jsonValue<Record<string, number>>(n.gres), controllerId: n.controller_id,
      })),
    );
}

/**
 * What the jobs on nodes (dispatched, running, suspended) hold there, grouped by node and by
 * when they are expected to end: start (or now, for one not started yet) + walltime + time
 * spent suspended; null when unknown (no walltime, or suspended now). Some of the holding
 * jobs' ids come along for the reasons.
 */
export function readAllocations(tx: Tx, at: Date): Promise<Release[]> {
  type Row = {
    node: string; ends_at: number | string | null; reservation: string | null; cpus: number | string; memory: number | string; ids: unknown;
    jobs: number | string; first_owner: string; last_owner: string; exclusive: boolean; single_user: string | null; gres: unknown;
  };
  return tx
    .execute(prepared(sql`
      select a->>'node' as node, e.ends_at, j.reservation_id as reservation, sum((a->>'cpus')::int) as cpus,
             sum(coalesce((a->>'memoryBytes')::bigint, j.memory_bytes)) as memory,
             jsonb_path_query_array(jsonb_agg(j.id order by j.id), '$[0 to 5]') as ids,
             count(*) as jobs, min(j.owner) as first_owner, max(j.owner) as last_owner, bool_or(j.node_access = 'SINGLEJOB') as exclusive,
             max(j.owner) filter (where j.node_access = 'SINGLEUSER') as single_user,
             coalesce(jsonb_agg(j.gres) filter (where j.gres <> '{}'::jsonb), '[]'::jsonb) as gres
      from jobs j
      cross join jsonb_array_elements(j.allocated_nodes) a
      cross join lateral (select ${expectedEnd(at.toISOString())} as ends_at) e
      where j.state in ('dispatching', 'running', 'suspended')
      group by 1, 2, 3`))
    .then((r) =>
      rowsOf<Row>(r).map((x) => ({
        node: x.node,
        endsAt: x.ends_at === null ? null : Number(x.ends_at),
        cpus: Number(x.cpus),
        memoryBytes: Number(x.memory),
        jobIds: jsonValue<(number | string)[]>(x.ids).map(Number),
        // (two owners stand for all when they differ: access policies only ask whether the jobs there are all one owner's)
        use: { jobs: Number(x.jobs), owners: x.first_owner === x.last_owner ? [x.first_owner] : [x.first_owner, x.last_owner], exclusive: !!x.exclusive, singleUser: x.single_user },
        gres: sumGres(jsonValue<Record<string, number>[]>(x.gres)),
        reservation: x.reservation,
      })),
    );
}

/**
 * When a job on nodes is expected to end, in ms since the epoch: its start (or `at`, for one not
 * started yet) + walltime + time suspended; null when unknown (no walltime, or suspended now).
 */
export const expectedEnd = (at: string) =>
  sql`case when j.walltime_ms is null or j.state = 'suspended' then null
      else floor(extract(epoch from coalesce(j.started_at, ${at}::timestamptz)) * 1000) + j.walltime_ms + j.suspended_ms end`;

/** How many jobs of each user and QoS are on nodes (dispatched, running, suspended), by "owner\0qos". */
export function readRunningByQos(tx: Tx): Promise<Map<string, number>> {
  return tx
    .execute(prepared(sql`select owner, qos, count(*) as n from jobs where state in ('dispatching', 'running', 'suspended') and qos is not null group by owner, qos`))
    .then((r) => new Map(rowsOf<{ owner: string; qos: string; n: number | string }>(r).map((x) => [`${x.owner}\0${x.qos}`, Number(x.n)])));
}

/** The Unix accounts administrators mapped users to (users.unix_user), by user: usually none or few. */
export function readUnixUsers(tx: Tx): Promise<Map<string, string>> {
  return tx
    .execute(prepared(sql`select username, unix_user from users where unix_user is not null`))
    .then((r) => new Map(rowsOf<{ username: string; unix_user: string }>(r).map((u) => [u.username, u.unix_user])));
}

/** The generic resources of several jobs added up (undefined when none holds any). */
function sumGres(list: Record<string, number>[]): Record<string, number> | undefined {
  if (!list.length) return undefined;
  const sum: Record<string, number> = {};
  for (const g of list) for (const [k, v] of Object.entries(g)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

/** Of the given queued jobs, those still waiting for a dependency (a job, or a job of a dependency group). */
export async function waitingOnDependencies(tx: Pick<Tx, "execute">, ids: number[]): Promise<Set<number>> {
  if (!ids.length) return new Set();
  const rows = rowsOf<{ id: number | string }>(
    await tx.execute(sql`select id from jobs where id = any(${`{${ids.join(",")}}`}::bigint[]) and ${UNMET_DEPENDENCY}`),
  );
  return new Set(rows.map((r) => Number(r.id)));
}

/** What ACL rules need of queued jobs beyond a candidate's columns: their templates and their owners' groups. */
export async function readAclExtras(tx: Tx, ids: number[]): Promise<Map<number, { templates: string[]; groups: string[] }>> {
  if (!ids.length) return new Map();
  const rows = rowsOf<{ id: number | string; templates: unknown; groups: unknown }>(
    await tx.execute(sql`
      select j.id, coalesce(j.extra->'templateList', '[]'::jsonb) as templates, coalesce(u.groups, '[]'::jsonb) as groups
      from jobs j left join users u on u.username = j.owner
      where j.id = any(${`{${ids.join(",")}}`}::bigint[])`),
  );
  return new Map(rows.map((r) => [Number(r.id), { templates: jsonValue<string[]>(r.templates), groups: jsonValue<string[]>(r.groups) }]));
}

/** Reservations not released nor ended at `at`, as the plan sees them. */
export async function readPlanReservations(tx: Tx, at: Date): Promise<(PlanReservation & { owner: string; aclRules: AclRule[]; usedByJob: number | null })[]> {
  type Row = { id: string; owner: string; start_at: string | Date; end_at: string | Date | null; flags: unknown; acl_rules: unknown; holds: unknown; used_by_job: string | number | null };
  const rows = rowsOf<Row>(
    await tx.execute(prepared(sql`
      select id, owner, start_at, end_at, flags, acl_rules, holds, used_by_job from reservations
      where released_at is null and (end_at is null or end_at > ${at.toISOString()}::timestamptz)`)),
  );
  return rows.map((r) => {
    const flags = jsonValue<string[]>(r.flags);
    const aclRules = jsonValue<AclRule[]>(r.acl_rules);
    return {
      id: r.id,
      owner: r.owner,
      aclRules,
      startsAt: new Date(r.start_at).getTime(),
      endsAt: r.end_at === null ? Infinity : new Date(r.end_at).getTime(),
      holds: new Map(jsonValue<ReservedShare[]>(r.holds).map((h) => [h.node, { cpus: h.cpus, memoryBytes: h.memoryBytes, gres: h.gres ?? {} }])),
      singleUse: flags.includes("SINGLEUSE"),
      // (a SINGLEUSE one already used admits no one: its job's run is the one it was for)
      acl: describeAcl(aclRules),
      usedByJob: r.used_by_job === null ? null : Number(r.used_by_job),
    };
  });
}

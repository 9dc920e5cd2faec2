import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { invalid, notFound } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Db } from "../db/connect.ts";
import { reservations, type AclRule, type Reservation, type ReservedShare } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import type { Tx } from "../jobs/job-events.ts";
import { SCHEDULER_LOCK } from "../scheduler/lock.ts";
import { readNodes, type PlacedNode } from "../scheduler/queue-reads.ts";
import { suits } from "../scheduler/placement.ts";
import { admission, aclRuleId, mergeAclRules } from "./acl.ts";
import { jobsOnNodes, type JobOnNode } from "./jobs-on-nodes.ts";

/**
 * Flags drover honours (Moab's meanings):
 * - DEDICATEDRESOURCE: whole nodes, shared with no other reservation and no job its ACL does not admit;
 * - SPACEFLEX: drover moves it to another node that suits it when one of its nodes goes down or is drained before it ends;
 * - ACLOVERLAP: jobs its ACL admits may hold its resources as it is created (they do not conflict);
 * - SINGLEUSE: released once the first job that ran in it ends;
 * - REQFULL: all resources or none (what drover always does).
 */
export const RESERVATION_FLAGS = ["DEDICATEDRESOURCE", "SPACEFLEX", "ACLOVERLAP", "SINGLEUSE", "REQFULL"];

/** A reservation as asked for, checked by the dialect (dates, names, numbers). */
export interface ReservationRequest {
  idPrefix?: string;
  owner: string;
  startAt: number;
  /** null: it never ends */
  endAt: number | null;
  /** the nodes named by a host list expression, or none: drover picks by the requirements */
  hosts: string[];
  hostListExpression: string;
  /** tasks of `perTask` each (requirements.taskCount), or whole nodes (requirements.nodeCount) */
  taskCount?: number;
  nodeCount?: number;
  features: string[];
  arch?: string;
  os?: string;
  partition?: string;
  /** one task's share (resources PROCS, MEM, other names: generic resources); none: whole nodes */
  perTask?: { cpus: number; memoryBytes: number; gres: Record<string, number> };
  flags: string[];
  aclRules: AclRule[];
  variables: Record<string, string>;
  /** jobs whose use of its nodes does not conflict with it (Moab's excludeJobs): drover job ids */
  excludeJobs?: number[];
  /** what the client sent as requirements and resources, shown back */
  requirements: Record<string, unknown>;
  resources: Record<string, number>;
  details: Record<string, unknown>;
  /** a materialised standing reservation: its id (the prefix) and definition */
  standing?: { id: string; signature: string };
}

const PREFIX = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const MB = 1024 * 1024;
const iso = (ms: number | null) => (ms === null ? "never" : new Date(ms).toISOString());

/** A live reservation: not released, not ended. */
const live = (at: number) => and(isNull(reservations.releasedAt), sql`(${reservations.endAt} is null or ${reservations.endAt} > ${new Date(at).toISOString()}::timestamptz)`);

/** Reservations not released nor ended, by id. */
export async function listReservations(db: Db | Tx): Promise<Reservation[]> {
  return db.select().from(reservations).where(live(now())).orderBy(asc(reservations.prefix), asc(reservations.seq));
}

/** One live reservation, or 404. */
export async function getReservation(db: Db | Tx, id: string): Promise<Reservation> {
  const [row] = await db.select().from(reservations).where(and(eq(reservations.id, id), live(now()))).limit(1);
  if (!row) throw notFound(`The resource with id '${id}' was not found`);
  return row;
}

/** What is left of a node in a window: its totals minus what others hold there then. */
interface NodeRoom {
  node: PlacedNode;
  cpus: number;
  memoryBytes: number;
  gres: Record<string, number>;
  /** what holds the rest, in words */
  holders: string[];
}

/**
 * Each registered node's room in [start, end): minus the reservations overlapping the window
 * and the jobs on nodes that may still run at its start (a job without a walltime may run for
 * ever). Jobs `ignore` admits do not count (ACLOVERLAP).
 */
async function roomInWindow(tx: Tx, startAt: number, endAt: number | null, ignore?: (j: JobOnNode) => boolean, skipReservation?: string): Promise<Map<string, NodeRoom>> {
  const [nodeRows, others, onNodes] = await Promise.all([
    readNodes(tx),
    tx.select().from(reservations).where(and(
      live(now()),
      sql`${reservations.startAt} < ${endAt === null ? "infinity" : new Date(endAt).toISOString()}::timestamptz`,
      sql`(${reservations.endAt} is null or ${reservations.endAt} > ${new Date(startAt).toISOString()}::timestamptz)`,
    )),
    jobsOnNodes(tx),
  ]);
  const room = new Map<string, NodeRoom>(nodeRows.map((n) => [n.id, { node: n, cpus: n.cores, memoryBytes: n.memoryBytes, gres: { ...n.gres }, holders: [] }]));
  const take = (node: string, share: Omit<ReservedShare, "node">, who: string) => {
    const r = room.get(node);
    if (!r) return;
    r.cpus -= share.cpus;
    r.memoryBytes -= share.memoryBytes;
    for (const [k, v] of Object.entries(share.gres)) r.gres[k] = (r.gres[k] ?? 0) - v;
    r.holders.push(who);
  };
  for (const o of others) {
    if (o.id === skipReservation) continue;
    for (const h of o.holds) take(h.node, h, `reservation ${o.id} holds ${h.cpus} processor${h.cpus === 1 ? "" : "s"} there from ${iso(o.startAt.getTime())} to ${iso(o.endAt?.getTime() ?? null)}`);
  }
  for (const j of onNodes) {
    if (j.endsAt !== null && j.endsAt <= startAt) continue;
    if (ignore?.(j)) continue;
    for (const a of j.allocation) {
      take(a.node, { cpus: a.cpus, memoryBytes: a.memoryBytes, gres: j.gres }, `job ${j.id} holds ${a.cpus} processor${a.cpus === 1 ? "" : "s"} there ${j.endsAt === null ? "with no walltime (it may run for ever)" : `until ${iso(j.endsAt)}`}`);
    }
  }
  return room;
}

const wholeOf = (n: PlacedNode): Omit<ReservedShare, "node"> => ({ cpus: n.cores, memoryBytes: n.memoryBytes, gres: { ...n.gres } });
const fits = (r: NodeRoom, share: Omit<ReservedShare, "node">) => r.cpus >= share.cpus && r.memoryBytes >= share.memoryBytes && Object.entries(share.gres).every(([k, v]) => (r.gres[k] ?? 0) >= v);
/** Whether nothing at all holds any of the node in the window. */
const untouched = (r: NodeRoom) => r.holders.length === 0;

/** Picks what the reservation holds on which nodes, or throws a 400 saying what is in the way. */
export function chooseHolds(req: ReservationRequest, room: Map<string, NodeRoom>, avoid: Set<string> = new Set()): ReservedShare[] {
  const whole = !req.perTask || req.flags.includes("DEDICATEDRESOURCE");
  const dedicated = req.flags.includes("DEDICATEDRESOURCE");
  if (req.hosts.length) {
    const holds: ReservedShare[] = [];
    const problems: string[] = [];
    const tasksEach = Math.max(1, Math.ceil((req.taskCount ?? req.hosts.length) / req.hosts.length));
    for (const host of req.hosts) {
      const r = room.get(host);
      if (!r) {
        problems.push(`${host} is not a node of this cluster`);
        continue;
      }
      const share = whole ? wholeOf(r.node) : { cpus: req.perTask!.cpus * tasksEach, memoryBytes: req.perTask!.memoryBytes * tasksEach, gres: scale(req.perTask!.gres, tasksEach) };
      const ok = whole || dedicated ? untouched(r) : fits(r, share);
      if (!ok) problems.push(`${host}: ${r.holders.join("; ") || `it has ${r.cpus} processors and ${Math.round(r.memoryBytes / MB)} MB`}`);
      else holds.push({ node: host, ...share });
    }
    if (problems.length) throw invalid(`The reservation cannot be made: ${problems.join(". ")}`);
    return holds;
  }
  const suited = [...room.values()]
    .filter((r) => r.node.state === "up" && !avoid.has(r.node.id))
    .filter((r) => suits({ features: req.features, partition: req.partition ?? null, arch: req.arch ?? null, os: req.os ?? null }, r.node))
    .sort((a, b) => a.node.id.localeCompare(b.node.id));
  const want = req.features.length || req.partition || req.arch || req.os ? " that suit it" : "";
  if (whole) {
    const count = req.nodeCount ?? req.taskCount ?? 1;
    const free = suited.filter(untouched);
    if (free.length < count) {
      throw invalid(`The reservation cannot be made: it needs ${count} whole node${count > 1 ? "s" : ""}${want} free from ${iso(req.startAt)} to ${iso(req.endAt)}; ${free.length} ${free.length === 1 ? "is" : "are"} (of ${suited.length} up${want})${holdersText(suited)}`);
    }
    return free.slice(0, count).map((r) => ({ node: r.node.id, ...wholeOf(r.node) }));
  }
  // tasks of perTask each, on as few nodes as they fit (the freest first)
  const perTask = req.perTask!;
  let tasks = req.taskCount ?? 1;
  const holds: ReservedShare[] = [];
  for (const r of [...suited].sort((a, b) => b.cpus - a.cpus)) {
    let n = 0;
    while (n < tasks && r.cpus - perTask.cpus * (n + 1) >= 0 && r.memoryBytes - perTask.memoryBytes * (n + 1) >= 0 && Object.entries(perTask.gres).every(([k, v]) => (r.gres[k] ?? 0) - v * (n + 1) >= 0)) n++;
    if (!n) continue;
    holds.push({ node: r.node.id, cpus: perTask.cpus * n, memoryBytes: perTask.memoryBytes * n, gres: scale(perTask.gres, n) });
    tasks -= n;
    if (!tasks) return holds;
  }
  throw invalid(`The reservation cannot be made: ${req.taskCount ?? 1} task(s) of ${perTask.cpus} processors and ${Math.round(perTask.memoryBytes / MB)} MB do not fit in what the nodes${want} have free from ${iso(req.startAt)} to ${iso(req.endAt)}${holdersText(suited)}`);
}

function holdersText(rooms: NodeRoom[]): string {
  const busy = rooms.filter((r) => r.holders.length).slice(0, 5);
  return busy.length ? ` (${busy.map((r) => `${r.node.id}: ${r.holders.slice(0, 3).join("; ")}`).join(". ")})` : "";
}

const scale = (gres: Record<string, number>, n: number) => Object.fromEntries(Object.entries(gres).map(([k, v]) => [k, v * n]));

/**
 * Creates a reservation when its resources are free for its whole window (no other reservation,
 * no job on a node that may still run at its start); a 400 names what is in the way. Runs under
 * the scheduler's lock, so that no pass starts a job on the nodes meanwhile.
 */
export async function createReservation(db: Db, req: ReservationRequest, createdBy: string): Promise<Reservation> {
  for (const f of req.flags) if (!RESERVATION_FLAGS.includes(f)) throw invalid(`Invalid field "flags": drover does not honour the flag ${f} (it honours ${RESERVATION_FLAGS.join(", ")})`);
  if (req.flags.includes("DEDICATEDRESOURCE") && req.flags.includes("ACLOVERLAP")) throw invalid(`Invalid field "flags": DEDICATEDRESOURCE shares its nodes with nothing, ACLOVERLAP lets admitted jobs stay; give one of them`);
  const prefix = req.idPrefix || "system";
  if (!PREFIX.test(prefix)) throw invalid(`Invalid field "idPrefix": "${prefix}" must begin with a letter and hold letters, digits, _ and - (at most 32)`);
  if (req.endAt !== null && req.endAt <= req.startAt) throw invalid(`The reservation ends (${iso(req.endAt)}) before it starts (${iso(req.startAt)})`);
  if (req.endAt !== null && req.endAt <= now()) throw invalid(`The reservation would end (${iso(req.endAt)}) before now`);
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SCHEDULER_LOCK})`);
    const start = Math.max(req.startAt, now());
    const overlap = req.flags.includes("ACLOVERLAP");
    const excluded = new Set(req.excludeJobs ?? []);
    const room = await roomInWindow(tx, start, req.endAt, (j) => excluded.has(j.id) || (overlap && admission({ owner: req.owner, aclRules: req.aclRules }, j) !== undefined));
    const holds = chooseHolds(req, room);
    const [{ seq }] = rowsOf<{ seq: number }>(await tx.execute(sql`select coalesce(max(seq), 0) + 1 as seq from reservations where prefix = ${prefix}`)) as [{ seq: number }];
    const id = `${prefix}.${seq}`;
    // (Moab's own rule: a job that asks for the reservation by id may use it)
    const rules = mergeAclRules([{ type: "RESERVATION_ID", value: id, comparator: "LEXIGRAPHIC_EQUAL", affinity: "NEUTRAL" }], req.aclRules);
    const [row] = await tx
      .insert(reservations)
      .values({
        id, prefix, seq: Number(seq), owner: req.owner, createdBy, startAt: new Date(req.startAt), endAt: req.endAt === null ? null : new Date(req.endAt),
        flags: req.flags, aclRules: rules, holds, hostListExpression: req.hostListExpression, requirements: req.requirements, resources: req.resources,
        partition: req.partition ?? "", variables: req.variables, details: req.details, standing: req.standing?.id ?? null, standingSignature: req.standing?.signature ?? null,
      })
      .returning();
    return row!;
  });
}

/** MWS 3.11.3: the variables, added to, removed from or replaced. */
export async function changeVariables(db: Db, id: string, mode: "add" | "remove" | "set", variables: Record<string, string>): Promise<Reservation> {
  return db.transaction(async (tx) => {
    const r = await lockLive(tx, id);
    const next = mode === "set" ? { ...variables } : { ...r.variables };
    if (mode === "add") Object.assign(next, variables);
    if (mode === "remove") for (const k of Object.keys(variables)) delete next[k];
    const [row] = await tx.update(reservations).set({ variables: next }).where(eq(reservations.id, id)).returning();
    return row!;
  });
}

async function lockLive(tx: Tx, id: string): Promise<Reservation> {
  const [row] = await tx.select().from(reservations).where(and(eq(reservations.id, id), live(now()))).for("update").limit(1);
  if (!row) throw notFound(`The resource with id '${id}' was not found`);
  return row;
}

const standingRefusal = (r: Reservation) => invalid(`Reservation ${r.id} is made by standing reservation ${r.standing}: its ACL rules come from that definition (DROVER_HOME/etc/standing-reservations.yaml) and cannot be changed here`);

/** (MWS 3.1: ACL rules cannot be added to, changed on or removed from standing reservations) */
function refuseStanding(standingIds: Set<string>, id: string): void {
  if (standingIds.has(id)) throw invalid(`${id} is a standing reservation: its ACL comes from its definition in DROVER_HOME/etc/standing-reservations.yaml and cannot be changed over REST`);
}

/** MWS 3.1.2: rules with the type and value of an existing one replace it. standingIds: the standing reservations defined now. */
export async function putAclRules(db: Db, id: string, rules: AclRule[], standingIds: Set<string> = new Set()): Promise<Reservation> {
  refuseStanding(standingIds, id);
  return db.transaction(async (tx) => {
    const r = await lockLive(tx, id);
    if (r.standing) throw standingRefusal(r);
    const [row] = await tx.update(reservations).set({ aclRules: mergeAclRules(r.aclRules, rules) }).where(eq(reservations.id, id)).returning();
    return row!;
  });
}

/** MWS 3.1.3: removes the rule TYPE:VALUE; 404 when it has none such. */
export async function deleteAclRule(db: Db, id: string, ruleId: string, standingIds: Set<string> = new Set()): Promise<Reservation> {
  refuseStanding(standingIds, id);
  return db.transaction(async (tx) => {
    const r = await lockLive(tx, id);
    if (r.standing) throw standingRefusal(r);
    const rules = r.aclRules.filter((x) => aclRuleId(x).toLowerCase() !== ruleId.toLowerCase());
    if (rules.length === r.aclRules.length) throw notFound(`Reservation ${id} has no ACL rule ${ruleId} (its rules: ${r.aclRules.map(aclRuleId).join(", ") || "none"})`);
    const [row] = await tx.update(reservations).set({ aclRules: rules }).where(eq(reservations.id, id)).returning();
    return row!;
  });
}

/** MWS 3.11.4: releases it; its resources are free at once. */
export async function releaseReservation(db: Db, id: string): Promise<Reservation> {
  return db.transaction(async (tx) => {
    await lockLive(tx, id);
    const [row] = await tx.update(reservations).set({ releasedAt: new Date(now()) }).where(eq(reservations.id, id)).returning();
    return row!;
  });
}

/** Moves a reservation's holds off nodes in `gone` onto others that suit it (SPACEFLEX); false when none has room. */
export async function moveOffNodes(tx: Tx, r: Reservation, gone: Set<string>, req: ReservationRequest): Promise<boolean> {
  const keep = r.holds.filter((h) => !gone.has(h.node));
  const lost = r.holds.filter((h) => gone.has(h.node));
  if (!lost.length) return true;
  const room = await roomInWindow(tx, Math.max(r.startAt.getTime(), now()), r.endAt?.getTime() ?? null, undefined, r.id);
  // what it still holds is not free to it twice
  for (const h of keep) room.delete(h.node);
  try {
    const moved = chooseHolds({ ...req, hosts: [], taskCount: lost.length && req.perTask ? Math.max(1, Math.round(lost.reduce((s, h) => s + h.cpus, 0) / req.perTask.cpus)) : undefined, nodeCount: req.perTask ? undefined : lost.length }, room, new Set([...gone, ...keep.map((h) => h.node)]));
    await tx.update(reservations).set({ holds: [...keep, ...moved] }).where(eq(reservations.id, r.id));
    return true;
  } catch (e) {
    if (e instanceof Error && "kind" in e) return false;
    throw e;
  }
}

/** The request a stored reservation was made from (to pick nodes for it again). */
export function requestOf(r: Reservation): ReservationRequest {
  const req = r.requirements as { taskCount?: number; nodeCount?: number; featureList?: string[]; architecture?: string; os?: string };
  const res = r.resources;
  const gres = Object.fromEntries(Object.entries(res).filter(([k]) => !["PROCS", "MEM", "DISK", "SWAP"].includes(k)));
  return {
    owner: r.owner, startAt: r.startAt.getTime(), endAt: r.endAt?.getTime() ?? null, hosts: [], hostListExpression: r.hostListExpression,
    taskCount: req.taskCount || undefined, nodeCount: req.nodeCount || undefined, features: req.featureList ?? [], arch: req.architecture || undefined, os: req.os || undefined,
    partition: r.partition || undefined,
    perTask: res.PROCS ? { cpus: res.PROCS, memoryBytes: (res.MEM ?? 0) * MB, gres } : undefined,
    flags: r.flags, aclRules: r.aclRules, variables: r.variables, requirements: r.requirements, resources: r.resources, details: r.details,
  };
}


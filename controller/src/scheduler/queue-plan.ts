import { gresText, hasGres, place, placeInBacklog, suits, takeShare, wanted, type Allocation, type NodeCapacity, type NodeUse, type PlacementRequest } from "./placement.ts";

// EASY backfill over one pass of the queue (what Slurm's sched/backfill and Moab do with one
// reservation): jobs start in queue order; the first that cannot start gets a planned start
// from the running jobs' walltimes, and a later job may start ahead of it only when it is sure
// to end before that time or uses nothing the planned job will need then.

/** A queued job as the plan sees it, in queue order. */
export interface PlanJob extends PlacementRequest {
  id: number;
  /** a limit on how many such jobs may be on nodes at once (a QoS's per user): counted under key */
  runLimit?: { key: string; max: number; what: string };
  walltimeMs: number | null;
  /** false: not sent to a node's backlog (a spanning job, or one a backlog handed back) */
  mayWaitInBacklog: boolean;
  /** the reservations whose ACL admits it, with the affinity of the rule that does */
  admitted?: Map<string, string>;
  /** the reservation it must run in (MWS reservationRequested) */
  reservation?: string | null;
}

/** A reservation as the plan sees it: what it holds on which nodes, from when to when. */
export interface PlanReservation {
  id: string;
  startsAt: number;
  /** Infinity: it never ends */
  endsAt: number;
  holds: Map<string, Share>;
  /** SINGLEUSE: once a job runs in it, no other may */
  singleUse: boolean;
  /** its ACL in words, for reasons */
  acl: string;
}

/** Processors, memory and generic resources on one node. */
export interface Share {
  cpus: number;
  memoryBytes: number;
  gres: Record<string, number>;
}

/** Processors and memory that running (or dispatched) jobs hold on a node, and when they end. */
export interface Release {
  node: string;
  cpus: number;
  memoryBytes: number;
  /** the expected end (start + walltime); null when unknown (no walltime, suspended) */
  endsAt: number | null;
  /** some of the jobs holding them, for the reasons */
  jobIds: number[];
  /** those jobs as the nodes' access policies see them (see NodeUse); absent: shared, owners unknown */
  use?: NodeUse;
  /** the generic resources they hold there */
  gres?: Record<string, number>;
  /** the reservation those jobs run in */
  reservation?: string | null;
}

/** A registered node (connected or not), as a job could use it when idle. */
export interface RegisteredNode {
  id: string;
  cores: number;
  memoryBytes: number;
  features: string[];
  partition?: string;
  arch?: string;
  os?: string;
  /** its jobs' file system's size and its swap (what an idle node could offer at most) */
  diskBytes?: number;
  swapBytes?: number;
  /** the generic resources it offers */
  gres?: Record<string, number>;
}

export type Decision =
  | { job: PlanJob; placed: Allocation[]; backlog: boolean; reservation?: string }
  | { job: PlanJob; reason: string; plannedStart: number | null; bypassed?: number };

/** What a node has left beside the planned job at its start (generic resources too). */
interface Spare {
  cpus: number;
  memoryBytes: number;
  gres: Record<string, number>;
}

interface Reservation {
  job: PlanJob;
  /** when it can start (Infinity: only once jobs without a walltime end) */
  at: number;
  /** per node: what is left at that time beside the planned job, for jobs that would still run then */
  spare: Map<string, Spare>;
}

const MB = 1024 * 1024;
/** How the reason of a job that no node can ever run begins. */
export const NEVER_RUNNABLE = "no node can ever run it";
const list = (ids: number[], more: boolean) => `${ids.join(", ")}${more ? ", …" : ""}`;

/** What place() would need, with every capacity copied (place() takes from what it is given). */
const copy = (nodes: NodeCapacity[]) => nodes.map((n) => ({ ...n, use: n.use && { ...n.use, owners: [...n.use.owners] } }));

/** Who is on each node at `at`: the jobs of the releases that have not ended by then. */
export function useAt(releases: Release[], at: number): Map<string, NodeUse> {
  const byNode = new Map<string, NodeUse>();
  for (const r of releases) {
    if (!r.use || (r.endsAt !== null && r.endsAt <= at)) continue;
    const u = byNode.get(r.node) ?? { jobs: 0, owners: [], exclusive: false, singleUser: null };
    u.jobs += r.use.jobs;
    for (const o of r.use.owners) if (!u.owners.includes(o)) u.owners.push(o);
    u.exclusive ||= r.use.exclusive;
    u.singleUser ??= r.use.singleUser;
    byNode.set(r.node, u);
  }
  return byNode;
}

/**
 * Why no node can ever run the job (even with all registered nodes idle), or undefined when
 * some could. Such a job is not planned and holds nobody back.
 */
export function neverRunnable(job: PlacementRequest, registered: RegisteredNode[]): string | undefined {
  if (!registered.length) return undefined; // nothing registered yet: it waits for nodes to join
  // (the answer depends on what the job asks and the nodes registered only: asked once per kind
  // of request while the scheduler's copy of the nodes stands — an idle copy of 10,000 nodes was
  // made for every job that had to wait)
  const key = JSON.stringify([job.cpus, job.memoryBytes, job.hosts, job.features, job.partition, job.tasksPerNode, job.arch ?? null, job.os ?? null, job.diskBytes ?? 0, job.swapBytes ?? 0, job.gres ?? {}]);
  let answers = neverRunnableAnswers.get(registered);
  if (!answers) neverRunnableAnswers.set(registered, (answers = new Map()));
  if (answers.has(key)) return answers.get(key);
  const answer = neverRunnableNow(job, registered);
  if (answers.size < 10_000) answers.set(key, answer);
  return answer;
}

const neverRunnableAnswers = new WeakMap<RegisteredNode[], Map<string, string | undefined>>();

function neverRunnableNow(job: PlacementRequest, registered: RegisteredNode[]): string | undefined {
  const idle = registered.map((n) => ({
    id: n.id, freeCpus: n.cores, freeMemoryBytes: n.memoryBytes, features: n.features, partition: n.partition, arch: n.arch, os: n.os,
    freeDiskBytes: n.diskBytes || undefined, freeSwapBytes: n.swapBytes ?? undefined, freeGres: n.gres,
  }));
  const result = place(job, idle);
  if ("allocation" in result) return undefined;
  const featured = registered.filter((n) => suits(job, n));
  if (!featured.length) {
    if (!job.partition && !job.arch && !job.os) return `${NEVER_RUNNABLE}: no node has the features ${job.features.join(", ")}`;
    return `${NEVER_RUNNABLE}: no node ${wanted(job)}`;
  }
  if (!featured.some((n) => hasGres(job, n.gres))) return `${NEVER_RUNNABLE}: no node${job.features.length || job.partition ? ` ${wanted(job)}` : ""} has ${gresText(job.gres)}`;
  const unknown = job.hosts.filter((h) => !registered.some((n) => n.id === h));
  if (unknown.length) return `${NEVER_RUNNABLE}: no node is named ${unknown.join(", ")}`;
  const cores = featured.reduce((s, n) => s + n.cores, 0);
  if (job.cpus > cores) return `${NEVER_RUNNABLE}: it needs ${job.cpus} processors and the nodes${job.features.length ? " with its features" : ""} have ${cores} in all`;
  const mostMemory = Math.max(...featured.map((n) => n.memoryBytes));
  if (job.memoryBytes > mostMemory) return `${NEVER_RUNNABLE}: it needs ${Math.round(job.memoryBytes / MB)} MB per processor and the largest node has ${Math.round(mostMemory / MB)} MB`;
  const most = (f: (n: RegisteredNode) => number | undefined) => Math.max(...featured.map((n) => f(n) ?? Infinity));
  if ((job.diskBytes ?? 0) > most((n) => n.diskBytes || undefined)) return `${NEVER_RUNNABLE}: it needs ${Math.round(job.diskBytes! / MB)} MB of disk per processor and the largest node has ${Math.round(most((n) => n.diskBytes) / MB)} MB`;
  if ((job.swapBytes ?? 0) > most((n) => n.swapBytes)) return `${NEVER_RUNNABLE}: it needs ${Math.round(job.swapBytes! / MB)} MB of swap per processor and the largest node has ${Math.round(most((n) => n.swapBytes) / MB)} MB`;
  if (job.tasksPerNode) return `${NEVER_RUNNABLE}: it needs ${Math.ceil(job.cpus / job.tasksPerNode)} nodes with ${job.tasksPerNode} processors and ${Math.round((job.tasksPerNode * job.memoryBytes) / MB)} MB each`;
  return `${NEVER_RUNNABLE}: no set of nodes has ${job.cpus} processors with ${Math.round(job.memoryBytes / MB)} MB each`;
}

/** The nodes free at `at`: free now plus everything released by then. */
function capacityAt(nodes: NodeCapacity[], releases: Release[], at: number): NodeCapacity[] {
  const byId = new Map(copy(nodes).map((n) => [n.id, n]));
  for (const r of releases) {
    if ((r.endsAt ?? Infinity) > at) continue;
    const n = byId.get(r.node);
    if (!n) continue;
    n.freeCpus += r.cpus;
    n.freeMemoryBytes += r.memoryBytes;
    for (const [name, count] of Object.entries(r.gres ?? {})) n.freeGres = { ...n.freeGres, [name]: (n.freeGres?.[name] ?? 0) + count };
  }
  // who is left on each node then (what access policies allow follows from it)
  const use = useAt(releases, at);
  for (const n of byId.values()) n.use = use.get(n.id);
  return [...byId.values()];
}

/**
 * The earliest time the job fits as running jobs end, and what the nodes have left beside it
 * then; undefined when it would not fit even once every job there has ended.
 */
function reserve(job: PlanJob, nodes: NodeCapacity[], releases: Release[], now: number, windows: ReservationWindows): Reservation | undefined {
  // when jobs overran their walltime, they are taken to end now
  const ends = releases.map((r) => (r.endsAt === null ? Infinity : Math.max(now, r.endsAt)));
  // reservations free their nodes as they end (and the one it asked for opens as it starts)
  const edges = windows.list.flatMap((w) => [w.startsAt, w.endsAt]).filter((t) => t > now && t < Infinity);
  const times = [...new Set([...ends, ...edges])].sort((a, b) => a - b);
  const clamped = releases.map((r) => (r.endsAt === null ? r : { ...r, endsAt: Math.max(now, r.endsAt) }));
  const fitsAt = (t: number) => {
    const cap = capacityAt(nodes, clamped, t);
    const view = windows.view(job, cap, t);
    if ("reason" in view) return undefined;
    const result = place(job, view.nodes);
    if (!("allocation" in result)) return undefined;
    // what is left is what the nodes have (not what the job may use of them) less what it takes
    const originals = new Set(cap);
    const copied = new Set(view.nodes.filter((n) => !originals.has(n)).map((n) => n.id));
    takeAllocation(cap, result.allocation.filter((a) => copied.has(a.node)), job);
    return cap;
  };
  let at: number;
  if (windows.list.length) {
    // with reservations, more free later does not hold (one may begin): the first time that fits
    const first = times.find((t) => fitsAt(t) !== undefined);
    if (first === undefined) return undefined;
    at = first;
  } else {
    if (!times.length || !fitsAt(times[times.length - 1]!)) return undefined;
    // more is free the later it is: the earliest fitting time by bisection
    let lo = 0;
    let hi = times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (fitsAt(times[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    at = times[lo]!;
  }
  const left = fitsAt(at)!;
  // With no planned start (it waits for jobs without a walltime) it is not known which of the
  // nodes it may use frees up first: nothing that would still run then may take any of them.
  const eligible = at === Infinity ? windows.eligible(job, nodes) : new Set<string>();
  const spareOf = (n: NodeCapacity): Spare => (eligible.has(n.id) ? { cpus: 0, memoryBytes: 0, gres: {} } : { cpus: n.freeCpus, memoryBytes: n.freeMemoryBytes, gres: { ...n.freeGres } });
  return { job, at, spare: new Map(left.map((n) => [n.id, spareOf(n)])) };
}

/** What holds the processors the job waits for, in words (for its reason). */
function holders(releases: Release[], eligible: Set<string>): string {
  const ids = releases.filter((r) => eligible.has(r.node)).flatMap((r) => r.jobIds);
  const unique = [...new Set(ids)].sort((a, b) => a - b);
  return unique.length ? `held by job${unique.length > 1 ? "s" : ""} ${list(unique.slice(0, 5), unique.length > 5)}` : "";
}

/** The node ids a job may run on (its features, its host list). */
function eligibleIds(job: PlacementRequest, nodes: NodeCapacity[]): Set<string> {
  return new Set(nodes.filter((n) => suits(job, n) && (!job.hosts.length || job.hosts.includes(n.id))).map((n) => n.id));
}

/**
 * Decides, for queued jobs in queue order, which start now (or wait in a node's backlog) and why
 * the others wait. `nodes` are the connected nodes that are up, with what is free on them now
 * (taken from as jobs are placed); `releases` what running jobs hold and when they end.
 */
export function planQueue(
  jobs: PlanJob[], nodes: NodeCapacity[], releases: Release[], registered: RegisteredNode[], now: number,
  opts: { reasons?: number; running?: Map<string, number>; reservations?: PlanReservation[] } = {},
): Decision[] {
  const decisions: Decision[] = [];
  const windows = new ReservationWindows(opts.reservations ?? [], releases);
  // jobs on nodes now under each run limit (PlanJob.runLimit), counted on as jobs are placed
  const running = new Map(opts.running ?? []);
  // who is on each node now, from what the running jobs hold (node access policies)
  const current = useAt(releases, -Infinity);
  for (const n of nodes) n.use ??= current.get(n.id);
  // once nothing can start any more, only the head of the rest needs a reason
  const reasonsWanted = opts.reasons ?? Infinity;
  let waitingSinceFull = 0;
  const nothingCanStart = () => !nodes.some((n) => n.freeCpus > 0 || (n.freeCpus === 0 && n.freeMemoryBytes > 0));
  const ends = [...releases];
  let reservation: Reservation | undefined;
  // nodes an earlier waiting job waits for: no later job is sent to their backlogs, where it
  // would start ahead of it
  const closed = new Set<string>();
  const takeFromSpare = (allocation: Allocation[], gres: Record<string, number> | undefined) => {
    for (const a of allocation) {
      const s = reservation?.spare.get(a.node);
      if (!s) continue;
      s.cpus -= a.cpus;
      s.memoryBytes -= a.memoryBytes;
      for (const [name, count] of Object.entries(gres ?? {})) s.gres[name] = (s.gres[name] ?? 0) - count;
    }
  };
  // the first job that waits, which later jobs that start now overtake (its bypass count)
  let overtaken: Extract<Decision, { reason: string }> | undefined;
  const started = (job: PlanJob, allocation: Allocation[], backlog: boolean) => {
    const inReservation = windows.took(job, allocation, now);
    decisions.push({ job, placed: allocation, backlog, ...(inReservation ? { reservation: inReservation } : {}) });
    if (overtaken) overtaken.bypassed = (overtaken.bypassed ?? 0) + 1;
    if (job.runLimit) running.set(job.runLimit.key, (running.get(job.runLimit.key) ?? 0) + 1);
    // a job started now (or soon) holds its share until its walltime runs out
    const endsAt = job.walltimeMs !== null && !backlog ? now + job.walltimeMs : null;
    const use = { jobs: 1, owners: job.owner === undefined ? [] : [job.owner], exclusive: job.nodeAccess === "SINGLEJOB", singleUser: job.nodeAccess === "SINGLEUSER" ? (job.owner ?? null) : null };
    for (const a of allocation) ends.push({ node: a.node, cpus: a.cpus, memoryBytes: a.memoryBytes, endsAt, jobIds: [job.id], use, gres: job.gres });
  };

  for (const job of jobs) {
    if (reservation && nothingCanStart() && ++waitingSinceFull > reasonsWanted) break;
    // over its limit it waits, holding nobody back (a limit is the user's, not the cluster's)
    if (job.runLimit && (running.get(job.runLimit.key) ?? 0) >= job.runLimit.max) {
      decisions.push({ job, reason: `waiting: ${job.runLimit.what} allows ${job.runLimit.max} of its user's jobs on nodes at once`, plannedStart: null });
      continue;
    }
    if (!reservation) {
      const here = windows.place(job, nodes, now);
      if ("allocation" in here) {
        started(job, here.allocation, false);
        continue;
      }
      const never = neverRunnable(job, registered);
      if (never) {
        decisions.push({ job, reason: never, plannedStart: null });
        continue;
      }
      if (job.mayWaitInBacklog && !job.reservation) {
        // (not onto a node a reservation that does not admit it holds at any time from now: it may start there any moment)
        const barred = windows.blocks(job, now, Infinity);
        const waiting = placeInBacklog(job, nodes, (n) => closed.has(n.id) || barred.has(n.id));
        if (waiting) {
          started(job, waiting.allocation, true);
          continue;
        }
      }
      const planned = reserve(job, nodes, ends, now, windows);
      if (!planned) {
        // it could run on registered nodes that are not connected (or not up) now: it holds
        // nobody back on the connected ones (nor does one kept off by a reservation for good)
        const why = "byReservation" in here && here.byReservation ? here.reason : `waiting for nodes that can run it to connect: ${here.reason.replace(/^waiting for resources: /, "")}`;
        decisions.push({ job, reason: why, plannedStart: null });
        continue;
      }
      reservation = planned;
      const eligible = windows.eligible(job, nodes);
      for (const id of eligible) closed.add(id);
      const held = holders(ends, eligible);
      const when = planned.at === Infinity
        ? "it starts when they end (they have no walltime, so no start can be planned)"
        : `planned to start ${new Date(planned.at).toISOString()}`;
      const decision: Extract<Decision, { reason: string }> = { job, reason: `${here.reason}${held ? `; ${held}` : ""}; first in the queue: ${when}`, plannedStart: planned.at === Infinity ? null : planned.at };
      decisions.push(decision);
      overtaken = decision;
      continue;
    }

    // Behind a planned job: this one may start only in what is free now, and only if it ends
    // before the planned start or leaves what the planned job needs untouched.
    const head = reservation.job.id;
    const endsBefore = job.walltimeMs !== null && reservation.at !== Infinity && now + job.walltimeMs <= reservation.at;
    let blockedBy = "";
    if (endsBefore) {
      const result = windows.place(job, nodes, now);
      if ("allocation" in result) {
        started(job, result.allocation, false);
        continue;
      }
      if (result.byReservation) blockedBy = result.reason;
    } else {
      const within = windows.view(job, nodes, now);
      if ("reason" in within) blockedBy = within.reason;
      const view = ("reason" in within ? [] : copy(within.nodes)).map((n) => {
        const s = reservation!.spare.get(n.id) ?? { cpus: n.freeCpus, memoryBytes: n.freeMemoryBytes, gres: { ...n.freeGres } };
        // (generic resources the planned job will need then are not taken now either)
        const gres = Object.fromEntries(Object.entries(n.freeGres ?? {}).map(([k, v]) => [k, Math.min(v, s.gres[k] ?? 0)]));
        return { ...n, freeCpus: Math.min(n.freeCpus, s.cpus), freeMemoryBytes: Math.min(n.freeMemoryBytes, s.memoryBytes), freeGres: gres };
      });
      const result = place(job, view);
      if ("allocation" in result) {
        takeAllocation(nodes, result.allocation, job);
        takeFromSpare(result.allocation, job.gres);
        started(job, result.allocation, false);
        continue;
      }
    }
    const never = neverRunnable(job, registered);
    if (never) {
      decisions.push({ job, reason: never, plannedStart: null });
      continue;
    }
    for (const id of windows.eligible(job, nodes)) closed.add(id);
    const plan = reservation.at === Infinity ? "" : ` (planned to start ${new Date(reservation.at).toISOString()})`;
    const why =
      job.walltimeMs === null
        ? "a job without a walltime never starts ahead of it"
        : reservation.at === Infinity || now + job.walltimeMs > reservation.at
          ? "it would not end before then"
          : "there is no room for it now";
    decisions.push({ job, reason: blockedBy || `waiting for job ${head} ahead of it${plan}: ${why}`, plannedStart: null });
  }
  return decisions;
}

/** Takes an allocation made on a view of the nodes from the nodes themselves. */
function takeAllocation(nodes: NodeCapacity[], allocation: Allocation[], job: PlanJob): void {
  for (const a of allocation) takeShare(nodes.find((x) => x.id === a.node)!, job, a.cpus, a.memoryBytes);
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The reservations during one plan: which nodes a job may not use over its run (those held by
 * reservations that do not admit it, less what jobs running in them already take), and where a
 * job that asked for one may run.
 */
class ReservationWindows {
  /** what jobs running in each reservation take on each node (it holds that much less for others) */
  private readonly inUse = new Map<string, Map<string, number>>();
  /** SINGLEUSE reservations a job has run in: closed to every other */
  private readonly used = new Set<string>();
  private readonly byId: Map<string, PlanReservation>;

  constructor(readonly list: PlanReservation[], releases: Release[]) {
    this.byId = new Map(list.map((r) => [r.id, r]));
    for (const r of releases) if (r.reservation && this.byId.has(r.reservation)) this.addUse(r.reservation, r.node, r.cpus);
  }

  private addUse(id: string, node: string, cpus: number) {
    const m = this.inUse.get(id) ?? new Map<string, number>();
    m.set(node, (m.get(node) ?? 0) + cpus);
    this.inUse.set(id, m);
  }

  private admits(job: PlanJob, r: PlanReservation): boolean {
    if (r.singleUse && this.used.has(r.id)) return false;
    return job.admitted?.has(r.id) ?? false;
  }

  /** What reservations that do not admit the job hold on each node at some moment of [from, until). */
  blocks(job: PlanJob, from: number, until: number): Map<string, Share & { by: PlanReservation[] }> {
    const blocked = new Map<string, Share & { by: PlanReservation[] }>();
    if (!this.list.length) return blocked;
    for (const r of this.list) {
      // (one that never ends is still there at the end of time)
      if (r.startsAt >= until || (r.endsAt <= from && r.endsAt !== Infinity) || this.admits(job, r)) continue;
      for (const [node, hold] of r.holds) {
        const used = r.startsAt <= from ? (this.inUse.get(r.id)?.get(node) ?? 0) : 0;
        const b = blocked.get(node) ?? { cpus: 0, memoryBytes: 0, gres: {}, by: [] };
        const share = hold.cpus ? Math.max(0, 1 - used / hold.cpus) : 1;
        b.cpus += Math.max(0, hold.cpus - used);
        b.memoryBytes += Math.round(hold.memoryBytes * share);
        for (const [k, v] of Object.entries(hold.gres)) b.gres[k] = (b.gres[k] ?? 0) + v;
        b.by.push(r);
        blocked.set(node, b);
      }
    }
    return blocked;
  }

  /**
   * The nodes as a job starting at `at` may use them: without what reservations that do not
   * admit it hold during its run; only its reservation's nodes when it asked for one (and only
   * once that has begun). Untouched nodes are the same objects; reduced ones are copies.
   */
  view(job: PlanJob, nodes: NodeCapacity[], at: number): { nodes: NodeCapacity[]; blocked: Map<string, Share & { by: PlanReservation[] }> } | { reason: string } {
    let base = nodes;
    if (job.reservation) {
      const r = this.byId.get(job.reservation);
      if (!r) return { reason: `waiting: reservation ${job.reservation} does not exist any more (released or ended); it will not start unless it is modified or cancelled` };
      if (!this.admits(job, r)) return { reason: `waiting: reservation ${r.id} does not admit it (${r.singleUse && this.used.has(r.id) ? "SINGLEUSE, and another job has used it" : `its ACL: ${r.acl}`})` };
      if (r.startsAt > at) return { reason: `waiting for reservation ${r.id}, which begins ${iso(r.startsAt)}` };
      if (r.endsAt <= at && r.endsAt !== Infinity) return { reason: `waiting: reservation ${r.id} has ended; it will not start unless it is modified or cancelled` };
      base = nodes.filter((n) => r.holds.has(n.id));
    }
    if (!this.list.length) return { nodes: base, blocked: new Map() };
    const blocked = this.blocks(job, at, job.walltimeMs === null ? Infinity : at + job.walltimeMs);
    // the nodes of the reservations that admit it, by affinity (POSITIVE first, NEGATIVE last)
    const prefer = new Map<string, number>();
    for (const [id, affinity] of job.admitted ?? []) {
      const r = this.byId.get(id);
      if (!r || r.startsAt > at || !this.admits(job, r)) continue;
      const weight = affinity === "POSITIVE" ? 1 : affinity === "NEGATIVE" ? -1 : 0;
      for (const node of r.holds.keys()) prefer.set(node, Math.max(prefer.get(node) ?? -1, weight));
    }
    job.prefer = prefer.size ? prefer : undefined;
    if (!blocked.size) return { nodes: base, blocked };
    const view = base.map((n) => {
      const b = blocked.get(n.id);
      if (!b) return n;
      const freeGres = { ...n.freeGres };
      for (const [k, v] of Object.entries(b.gres)) freeGres[k] = (freeGres[k] ?? 0) - v;
      return { ...n, use: n.use && { ...n.use, owners: [...n.use.owners] }, freeCpus: n.freeCpus - b.cpus, freeMemoryBytes: n.freeMemoryBytes - b.memoryBytes, freeGres };
    });
    return { nodes: view, blocked };
  }

  /** place() within the job's view; the allocation is taken from the nodes themselves. */
  place(job: PlanJob, nodes: NodeCapacity[], at: number): { allocation: Allocation[] } | { reason: string; byReservation?: boolean } {
    const within = this.view(job, nodes, at);
    if ("reason" in within) return { ...within, byReservation: true };
    if (within.nodes === nodes) return place(job, nodes);
    const originals = new Set(nodes);
    const copies = new Set(within.nodes.filter((n) => !originals.has(n)).map((n) => n.id));
    const result = place(job, within.nodes);
    if ("allocation" in result) {
      // nodes the view copied: take from the real ones too
      takeAllocation(nodes, result.allocation.filter((a) => copies.has(a.node)), job);
      return result;
    }
    if (job.reservation) return { reason: `waiting for room in reservation ${job.reservation}: ${result.reason.replace(/^waiting for resources: /, "")}`, byReservation: true };
    // would it fit but for the reservations? then they are why it waits
    const free = place(job, copy(nodes));
    if (!("allocation" in free) || !within.blocked.size) return result;
    const by = new Map<string, { r: PlanReservation; nodes: string[] }>();
    for (const [node, b] of within.blocked) for (const r of b.by) by.set(r.id, { r, nodes: [...(by.get(r.id)?.nodes ?? []), node] });
    const what = [...by.values()].slice(0, 3).map(({ r, nodes: ns }) => `reservation ${r.id} holds ${ns.slice(0, 4).join(", ")}${ns.length > 4 ? ", …" : ""} from ${iso(r.startsAt)}${r.endsAt === Infinity ? "" : ` to ${iso(r.endsAt)}`} (its ACL: ${r.acl})`);
    const runInto = [...by.values()].some(({ r }) => r.startsAt > at);
    return { reason: `waiting: ${what.join("; ")}, and does not admit it${runInto ? (job.walltimeMs === null ? "; without a walltime it could run into it" : "; its walltime would run into it") : ""}`, byReservation: true };
  }

  /** The nodes a job may run on (its features, its host list), but for those reservations bar it from for good. */
  eligible(job: PlanJob, nodes: NodeCapacity[]): Set<string> {
    const ids = eligibleIds(job, nodes);
    const r = job.reservation ? this.byId.get(job.reservation) : undefined;
    for (const id of ids) {
      if (job.reservation && !r?.holds.has(id)) ids.delete(id);
      else if (this.list.some((x) => x.endsAt === Infinity && x.holds.has(id) && !this.admits(job, x))) ids.delete(id);
    }
    return ids;
  }

  /** A job started: the reservation it runs in (the one it asked for, or an active one holding its master node that admits it), counted. */
  took(job: PlanJob, allocation: Allocation[], at: number): string | undefined {
    if (!this.list.length || !allocation.length) return undefined;
    const r = job.reservation
      ? this.byId.get(job.reservation)
      : this.list.find((x) => x.startsAt <= at && x.endsAt > at && this.admits(job, x) && x.holds.has(allocation[0]!.node));
    if (!r) return undefined;
    for (const a of allocation) if (r.holds.has(a.node)) this.addUse(r.id, a.node, a.cpus);
    if (r.singleUse) this.used.add(r.id);
    return r.id;
  }
}

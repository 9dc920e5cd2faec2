/** A node's capacity as the scheduler sees it during one pass. */
export interface NodeCapacity {
  id: string;
  freeCpus: number;
  freeMemoryBytes: number;
  features: string[];
  /** its partition (agent --partition); a job that names one runs only there */
  partition?: string;
  /** the node's processors and memory in all (a backlogged job must fit in them alone) */
  cores?: number;
  memoryBytes?: number;
  /** how many times its processors (and memory) the node's backlog may hold beyond what is free */
  backlogFactor?: number;
  /** its processor architecture and operating system, as the agent registered them */
  arch?: string;
  os?: string;
  /** free disk (its jobs' file system) and swap, as last sampled; undefined: not known */
  freeDiskBytes?: number;
  freeSwapBytes?: number;
  /** who is on it (see NodeUse): what node access policies need */
  use?: NodeUse;
  /** generic resources free on it ({"gpu": 1}) */
  freeGres?: Record<string, number>;
}

/** The jobs on a node, as its access policies see them. */
export interface NodeUse {
  jobs: number;
  /** the owners of those jobs */
  owners: string[];
  /** a SINGLEJOB job is there: nothing else may be */
  exclusive: boolean;
  /** the owner of a SINGLEUSER job there: only that owner's jobs may be */
  singleUser: string | null;
}

export interface PlacementRequest {
  /** processors (tasks) in all */
  cpus: number;
  /** memory per processor (MWS requiredMemoryPerTask); a job of 0 processors needs it once */
  memoryBytes: number;
  /** when given, the job takes every one of these nodes */
  hosts: string[];
  features: string[];
  /** the partition it must run in (a workflow environment's), or none */
  partition?: string | null;
  /** processors per node (MWS tasksPerNode, PBS ppn): cpus / tasksPerNode nodes exactly */
  tasksPerNode: number | null;
  /** the architecture and operating system its nodes must have (see archMatches, osMatches) */
  arch?: string | null;
  os?: string | null;
  /** free disk and swap it needs per processor (a job of 0 processors: once) */
  diskBytes?: number;
  swapBytes?: number;
  /** whose it is, and who else may use its nodes while it runs (Moab's node access policy; null: SHARED) */
  owner?: string;
  nodeAccess?: "SINGLEJOB" | "SINGLEUSER" | null;
  /** generic resources it holds on each of its nodes */
  gres?: Record<string, number>;
  /** nodes it prefers (above 0) or takes only as a last resort (below 0): reservations' ACL affinities */
  prefer?: Map<string, number>;
}

/** Whether a node has the generic resources free that the job holds on each node. */
export function hasGres(job: Pick<PlacementRequest, "gres">, free: Record<string, number> | undefined): boolean {
  // (for..in: no array made for every node a job is checked against)
  const gres = job.gres;
  for (const name in gres) if ((free?.[name] ?? 0) < gres[name]!) return false;
  return true;
}

/** The generic resources a job asks for, in words ("gpu=2, licence=1"). */
export const gresText = (gres: Record<string, number> | undefined) =>
  Object.entries(gres ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

/**
 * Whether the job may join the jobs on a node: not beside a SINGLEJOB job, nor beside another
 * user's SINGLEUSER job; a SINGLEJOB job only on a node without jobs, a SINGLEUSER job only where
 * every job is its owner's.
 */
export function mayShare(job: Pick<PlacementRequest, "owner" | "nodeAccess">, use: NodeUse | undefined): boolean {
  if (!use || use.jobs === 0) return true;
  if (use.exclusive || job.nodeAccess === "SINGLEJOB") return false;
  if (use.singleUser !== null && use.singleUser !== job.owner) return false;
  return job.nodeAccess !== "SINGLEUSER" || use.owners.every((o) => o === job.owner);
}

/** Takes a job's generic resources from what a node has free. */
export function takeGres(n: Pick<NodeCapacity, "freeGres">, gres: Record<string, number> | undefined): void {
  for (const [name, count] of Object.entries(gres ?? {})) {
    n.freeGres = { ...n.freeGres, [name]: (n.freeGres?.[name] ?? 0) - count };
  }
}

/** Takes a job's share of a node (processors and memory, the disk and swap it needs, its generic resources) from what the node has free. */
export function takeShare(n: NodeCapacity, job: PlacementRequest, cpus: number, memoryBytes: number): void {
  const each = Math.max(cpus, 1);
  n.freeCpus -= cpus;
  n.freeMemoryBytes -= memoryBytes;
  if (n.freeDiskBytes !== undefined) n.freeDiskBytes -= each * (job.diskBytes ?? 0);
  if (n.freeSwapBytes !== undefined) n.freeSwapBytes -= each * (job.swapBytes ?? 0);
  addUse(n, job);
  takeGres(n, job.gres);
}

/** A job placed on a node: counted in its use. */
export function addUse(n: Pick<NodeCapacity, "use">, job: Pick<PlacementRequest, "owner" | "nodeAccess">): void {
  const use = (n.use ??= { jobs: 0, owners: [], exclusive: false, singleUser: null });
  use.jobs++;
  if (job.owner !== undefined && !use.owners.includes(job.owner)) use.owners.push(job.owner);
  if (job.nodeAccess === "SINGLEJOB") use.exclusive = true;
  if (job.nodeAccess === "SINGLEUSER") use.singleUser = job.owner ?? null;
}

/** One node's share of a job; the first is the master, where the command runs. */
export interface Allocation {
  node: string;
  cpus: number;
  memoryBytes: number;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`;

/** Whether a node has every feature the job asks for, is in its partition if it names one, and has its architecture and OS. */
export function suits(job: Pick<PlacementRequest, "features" | "partition" | "arch" | "os">, node: Pick<NodeCapacity, "features" | "partition" | "arch" | "os">): boolean {
  return (
    job.features.every((f) => node.features.includes(f)) &&
    (!job.partition || node.partition === job.partition) &&
    (!job.arch || archMatches(job.arch, node.arch)) &&
    (!job.os || osMatches(job.os, node.os))
  );
}

// The names an architecture goes by (uname's, Debian's, Node's).
const ARCH_NAMES: Record<string, string> = { x64: "x86_64", amd64: "x86_64", "x86-64": "x86_64", arm64: "aarch64", armv8: "aarch64", ia32: "i686", x86: "i686", i386: "i686" };
const archName = (a: string) => ARCH_NAMES[a.toLowerCase()] ?? a.toLowerCase();

/** x86_64 matches a node registered as x64 or amd64, aarch64 one registered as arm64, and so on. */
export function archMatches(wantedArch: string, nodeArch: string | undefined): boolean {
  return nodeArch !== undefined && archName(wantedArch) === archName(nodeArch);
}

/**
 * "linux" matches every node (drover's agents run on Linux); any other name must be a word of
 * the node's operating system as registered ("ubuntu" matches "Ubuntu 24.04", "debian" matches
 * "Debian GNU/Linux 12"), case aside.
 */
export function osMatches(wantedOs: string, nodeOs: string | undefined): boolean {
  const want = wantedOs.trim().toLowerCase();
  if (want === "linux") return true;
  return nodeOs !== undefined && (nodeOs.toLowerCase() === want || nodeOs.toLowerCase().split(/[\s/()_-]+/).includes(want) || nodeOs.toLowerCase().startsWith(`${want} `));
}

/** The features, partition, architecture and OS a job asks for, in words. */
export const wanted = (job: Pick<PlacementRequest, "features" | "partition" | "arch" | "os">) =>
  [
    job.partition ? `in partition ${job.partition}` : "",
    job.features.length ? `with the features ${job.features.join(", ")}` : "",
    job.arch ? `of architecture ${job.arch}` : "",
    job.os ? `running ${job.os}` : "",
  ]
    .filter(Boolean)
    .join(" ");

/**
 * The nodes of one array of capacities by their free processors, for place()'s common case: a
 * pass gives place() the same array for every job it plans, and with 10,000 nodes a look at each
 * node for each job was most of the pass. Made on the array's second use (a copy made for one
 * look is looked through as it is). Within a pass capacities only shrink: a node met in a bucket
 * it has left is moved to its own (its place among equals kept, so that the node chosen is the
 * one a look at every node would choose: the freest that suits, the first of equals).
 */
class FreeIndex {
  private static readonly made = { free: new WeakMap<NodeCapacity[], FreeIndex | "seen">(), room: new WeakMap<NodeCapacity[], FreeIndex | "seen">() };
  /** the processors a node has for a job: free now, or (backlogs) free plus what its backlog may promise */
  private static readonly keyOf = {
    free: (n: NodeCapacity) => n.freeCpus,
    room: (n: NodeCapacity) => (n.cores === undefined || !(n.backlogFactor! > 0) ? -Infinity : n.freeCpus + Math.floor(n.cores * n.backlogFactor!)),
  };
  /** processors → nodes with that many, in the array's order; keys largest first */
  private readonly buckets = new Map<number, NodeCapacity[]>();
  private keys: number[] = [];
  private readonly position = new Map<NodeCapacity, number>();

  static of(nodes: NodeCapacity[], kind: "free" | "room" = "free"): FreeIndex | undefined {
    const made = FreeIndex.made[kind];
    const known = made.get(nodes);
    if (known instanceof FreeIndex) return known;
    if (known === undefined) {
      made.set(nodes, "seen");
      return undefined;
    }
    const index = new FreeIndex(nodes, FreeIndex.keyOf[kind]);
    made.set(nodes, index);
    return index;
  }

  private constructor(
    nodes: NodeCapacity[],
    private readonly key: (n: NodeCapacity) => number,
  ) {
    nodes.forEach((n, i) => {
      this.position.set(n, i);
      this.bucket(key(n)).push(n);
    });
  }

  private bucket(free: number): NodeCapacity[] {
    let b = this.buckets.get(free);
    if (!b) {
      this.buckets.set(free, (b = []));
      this.keys.push(free);
      this.keys.sort((x, y) => y - x);
    }
    return b;
  }

  /** Moves a node to the bucket of its free processors now, in its place among them. */
  private move(n: NodeCapacity): void {
    const b = this.bucket(this.key(n));
    const at = this.position.get(n)!;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.position.get(b[mid]!)! < at) lo = mid + 1;
      else hi = mid;
    }
    b.splice(lo, 0, n);
  }

  /** The node with the most processors (at least `cpus`) that `ok` takes; the first of equals. */
  freest(cpus: number, ok: (n: NodeCapacity) => boolean): NodeCapacity | undefined {
    for (let k = 0; k < this.keys.length; k++) {
      const free = this.keys[k]!;
      if (free < cpus) return undefined;
      const b = this.buckets.get(free)!;
      for (let i = 0; i < b.length; ) {
        const n = b[i]!;
        const now = this.key(n);
        if (now !== free) {
          b.splice(i, 1);
          this.move(n);
          // (a node that gained, which a pass does not do, sends the look back to the top)
          if (now > free) return this.freest(cpus, ok);
          continue;
        }
        if (ok(n)) return n;
        i++;
      }
    }
    return undefined;
  }
}

/**
 * Picks the nodes for a job, or says in words why none fit. Capacities are reduced in place
 * when placed.
 * - hosts given: each listed node gets tasksPerNode processors (or an even share of cpus);
 * - tasksPerNode given: cpus / tasksPerNode distinct nodes, each with tasksPerNode free;
 * - otherwise one node if any has room (the one with most free processors, spreading load),
 *   else the job spans nodes, taking the freest first, as Moab does with a processor count.
 */
export function place(job: PlacementRequest, nodes: NodeCapacity[]): { allocation: Allocation[] } | { reason: string } {
  const memory = (cpus: number) => Math.max(cpus, 1) * job.memoryBytes;
  const disk = (cpus: number) => Math.max(cpus, 1) * (job.diskBytes ?? 0);
  const swap = (cpus: number) => Math.max(cpus, 1) * (job.swapBytes ?? 0);
  // disk and swap are not held by jobs: a node must have them free when the job starts
  const fits = (n: NodeCapacity, cpus: number) =>
    n.freeCpus >= cpus && n.freeMemoryBytes >= memory(cpus) && (n.freeDiskBytes === undefined || n.freeDiskBytes >= disk(cpus)) && (n.freeSwapBytes === undefined || n.freeSwapBytes >= swap(cpus)) &&
    hasGres(job, n.freeGres);
  const take = (picked: { n: NodeCapacity; cpus: number }[]) => {
    for (const { n, cpus } of picked) takeShare(n, job, cpus, memory(cpus));
    return { allocation: picked.map(({ n, cpus }) => ({ node: n.id, cpus, memoryBytes: memory(cpus) })) };
  };

  const need = (cpus: number) =>
    `${cpus} free processors and ${mb(memory(cpus))} of free memory${job.diskBytes ? `, ${mb(disk(cpus))} of free disk` : ""}${job.swapBytes ? `, ${mb(swap(cpus))} of free swap` : ""}${
      Object.keys(job.gres ?? {}).length ? `, and ${gresText(job.gres)} free` : ""
    }`;

  // The common case first, in one pass over the nodes without copying or sorting them: a job for
  // one node goes on the freest node that suits it and has room (the first such, among equals, as
  // the sort below would pick). With 10,000 nodes the filters and sort below, made for every job,
  // were most of a pass.
  const oneNode = !job.hosts.length && !job.tasksPerNode;
  const index = oneNode && !job.prefer ? FreeIndex.of(nodes) : undefined;
  if (index) {
    const best = index.freest(job.cpus, (n) => fits(n, job.cpus) && suits(job, n) && mayShare(job, n.use));
    if (best) return take([{ n: best, cpus: job.cpus }]);
  } else if (oneNode) {
    const prefer = job.prefer;
    let best: NodeCapacity | undefined;
    let bestRank = 0;
    for (const n of nodes) {
      if (!fits(n, job.cpus) || !suits(job, n) || !mayShare(job, n.use)) continue;
      const rank = prefer ? (prefer.get(n.id) ?? 0) : 0;
      if (!best || rank > bestRank || (rank === bestRank && n.freeCpus > best.freeCpus)) {
        best = n;
        bestRank = rank;
      }
    }
    if (best) return take([{ n: best, cpus: job.cpus }]);
  }
  // (no node has room for a job of one processor or none: only why is left to say, and a look
  // for one node that suits does, where the lists below would be made for every waiting job)
  if (oneNode && job.cpus <= 1 && nodes.some((n) => suits(job, n) && mayShare(job, n.use))) return { reason: `waiting for resources: no connected node has ${need(job.cpus)}` };
  const suited = nodes.filter((n) => suits(job, n));
  if (suited.length === 0) {
    if (job.features.length || job.partition || job.arch || job.os) return { reason: `no connected node ${wanted(job)}` };
    return { reason: "no node is connected" };
  }
  const eligible = suited.filter((n) => mayShare(job, n.use));
  if (eligible.length === 0) {
    if (job.nodeAccess === "SINGLEJOB") return { reason: "waiting for a node to itself (SINGLEJOB): every node that suits it runs other jobs" };
    if (job.nodeAccess === "SINGLEUSER") return { reason: "waiting for nodes without other users' jobs (SINGLEUSER)" };
    return { reason: "waiting for resources: the nodes that suit it are taken by jobs that do not share them (SINGLEJOB, or another user's SINGLEUSER)" };
  }
  if (job.hosts.length) {
    const perHost = job.tasksPerNode ?? Math.max(1, Math.ceil(job.cpus / job.hosts.length));
    const picked: { n: NodeCapacity; cpus: number }[] = [];
    for (const h of job.hosts) {
      const n = eligible.find((e) => e.id === h);
      if (!n) return { reason: `requested host ${h} is not connected and up${job.features.length ? " with the required features" : ""}` };
      if (!fits(n, perHost)) return { reason: `waiting for resources: requested host ${h} does not have ${need(perHost)}` };
      picked.push({ n, cpus: perHost });
    }
    return take(picked);
  }

  if (oneNode && job.cpus <= 1) return { reason: `waiting for resources: no connected node has ${need(job.cpus)}` };
  const prefer = job.prefer;
  const byFreest = [...eligible].sort((a, b) => (prefer ? (prefer.get(b.id) ?? 0) - (prefer.get(a.id) ?? 0) : 0) || b.freeCpus - a.freeCpus);
  if (job.tasksPerNode) {
    const count = Math.ceil(job.cpus / job.tasksPerNode);
    const fitting = byFreest.filter((n) => fits(n, job.tasksPerNode!));
    if (fitting.length < count) {
      return { reason: `waiting for resources: needs ${count} nodes with ${need(job.tasksPerNode)} each; ${fitting.length} have them now` };
    }
    return take(fitting.slice(0, count).map((n) => ({ n, cpus: job.tasksPerNode! })));
  }

  // (no single node has room: the pass above found none)
  // a job of one processor or none (its memory alone) never spans nodes: it needs one node with room
  if (job.cpus <= 1) return { reason: `waiting for resources: no connected node has ${need(job.cpus)}` };
  const picked: { n: NodeCapacity; cpus: number }[] = [];
  let remaining = job.cpus;
  for (const n of byFreest) {
    const per = (free: number | undefined, each: number | undefined) => (free !== undefined && each ? Math.floor(free / each) : Infinity);
    const byMemory = job.memoryBytes > 0 ? Math.floor(n.freeMemoryBytes / job.memoryBytes) : Infinity;
    const cpus = hasGres(job, n.freeGres) ? Math.min(remaining, n.freeCpus, byMemory, per(n.freeDiskBytes, job.diskBytes), per(n.freeSwapBytes, job.swapBytes)) : 0;
    if (cpus > 0) {
      picked.push({ n, cpus });
      remaining -= cpus;
    }
    if (remaining === 0) return take(picked);
  }
  return { reason: `waiting for resources: the connected nodes do not have ${need(job.cpus)} between them` };
}

/**
 * Places a job in a node's backlog: on a node whose processors are all taken, to start there as
 * soon as enough of its running jobs end (the agent starts it, or hands it back if it waits too
 * long). Only single-node jobs qualify. The node's backlogFactor × its processors (and memory)
 * may be promised beyond what it has; the node with the most room left is chosen.
 */
export function placeInBacklog(job: PlacementRequest, nodes: NodeCapacity[], excluded?: (n: NodeCapacity) => boolean): { allocation: Allocation[] } | undefined {
  // spanning jobs (tasksPerNode below the count, or several hosts) never wait in a backlog, nor
  // jobs that do not share their nodes (the node's running jobs would have to end first)
  // (nor, for now, jobs of generic resources: the agent gives those out as jobs start)
  if ((job.tasksPerNode !== null && job.tasksPerNode < job.cpus) || job.hosts.length > 1 || job.nodeAccess || Object.keys(job.gres ?? {}).length) return undefined;
  const memory = Math.max(job.cpus, 1) * job.memoryBytes;
  const each = Math.max(job.cpus, 1);
  const ok = (n: NodeCapacity) => {
    const factor = n.backlogFactor ?? 0;
    if (n.cores === undefined || n.memoryBytes === undefined || factor <= 0) return false;
    if (job.hosts.length && job.hosts[0] !== n.id) return false;
    if (excluded?.(n) || !suits(job, n) || !mayShare(job, n.use)) return false;
    // the job alone must fit the node, and the promise must stay within the backlog allowance
    if (job.cpus > n.cores || memory > n.memoryBytes) return false;
    const room = n.freeCpus + Math.floor(n.cores * factor);
    const memoryRoom = n.freeMemoryBytes + Math.floor(n.memoryBytes * factor);
    if (room < job.cpus || memoryRoom < memory) return false;
    // (the disk and swap it needs must be free now: they are not held by the jobs it waits for)
    return (n.freeDiskBytes ?? Infinity) >= each * (job.diskBytes ?? 0) && (n.freeSwapBytes ?? Infinity) >= each * (job.swapBytes ?? 0);
  };
  // the node with the most room (free processors and backlog allowance), the first of equals:
  // through the index by room when the pass gives the same nodes again (see FreeIndex)
  const index = FreeIndex.of(nodes, "room");
  let best: NodeCapacity | undefined;
  if (index) best = index.freest(job.cpus, ok);
  else {
    let bestRoom = 0;
    for (const n of nodes) {
      if (!ok(n)) continue;
      const room = n.freeCpus + Math.floor(n.cores! * n.backlogFactor!);
      if (!best || room > bestRoom) {
        best = n;
        bestRoom = room;
      }
    }
  }
  if (!best) return undefined;
  best.freeCpus -= job.cpus;
  best.freeMemoryBytes -= memory;
  addUse(best, job);
  return { allocation: [{ node: best.id, cpus: job.cpus, memoryBytes: memory }] };
}

import { expect, test } from "bun:test";
import { neverRunnable, planQueue, type PlanJob, type RegisteredNode, type Release } from "../../../controller/src/scheduler/queue-plan.ts";
import type { NodeCapacity } from "../../../controller/src/scheduler/placement.ts";

const GB = 2 ** 30;
const NOW = 1_000_000;
const node = (id: string, cores: number, used = 0, extra: Partial<NodeCapacity> = {}): NodeCapacity => ({
  id,
  freeCpus: cores - used,
  freeMemoryBytes: 8 * GB,
  features: [],
  cores,
  memoryBytes: 8 * GB,
  backlogFactor: 0,
  ...extra,
});
const registered = (nodes: NodeCapacity[]) => nodes.map((n) => ({ id: n.id, cores: n.cores!, memoryBytes: n.memoryBytes!, features: n.features }));
let nextId = 1;
const job = (over: Partial<PlanJob> = {}): PlanJob => ({
  id: nextId++,
  cpus: 1,
  memoryBytes: 0,
  hosts: [],
  features: [],
  tasksPerNode: null,
  walltimeMs: null,
  mayWaitInBacklog: true,
  ...over,
});
const held = (node: string, cpus: number, endsAt: number | null, id = 900): Release => ({ node, cpus, memoryBytes: 0, endsAt, jobIds: [id] });
const startedIds = (d: ReturnType<typeof planQueue>) => d.filter((x) => "placed" in x).map((x) => x.job.id);

test("jobs start in the order given while they fit", () => {
  const nodes = [node("n1", 2)];
  const [a, b, c] = [job(), job(), job()];
  expect(startedIds(planQueue([a, b, c], nodes, [], registered(nodes), NOW))).toEqual([a.id, b.id]);
});

test("with no walltimes anywhere, nothing starts ahead of the first job that waits", () => {
  const nodes = [node("n1", 2, 1)];
  const big = job({ cpus: 2 });
  const small = job({ walltimeMs: 1000 });
  const d = planQueue([big, small], nodes, [held("n1", 1, null, 7)], registered(nodes), NOW);
  expect(startedIds(d)).toEqual([]);
  expect(d[0]).toMatchObject({ plannedStart: null });
  expect((d[0] as { reason: string }).reason).toMatch(/held by job 7; first in the queue: it starts when they end \(they have no walltime/);
});

test("the planned start is the earliest time enough processors free up, from the walltimes", () => {
  const nodes = [node("n1", 4, 4)];
  const releases = [held("n1", 1, NOW + 100), held("n1", 1, NOW + 200), held("n1", 2, NOW + 500)];
  const d = planQueue([job({ cpus: 2 })], nodes, releases, registered(nodes), NOW);
  expect(d[0]).toMatchObject({ plannedStart: NOW + 200 });
});

test("backfill: a job that ends before the planned start runs; one that would end after, or has no walltime, waits", () => {
  const nodes = [node("n1", 2, 1)];
  const big = job({ cpus: 2 });
  const fits = job({ walltimeMs: 500 });
  const tooLong = job({ walltimeMs: 5000 });
  const none = job();
  const d = planQueue([big, tooLong, none, fits], nodes, [held("n1", 1, NOW + 1000)], registered(nodes), NOW);
  expect(startedIds(d)).toEqual([fits.id]);
  const reasons = new Map(d.filter((x) => "reason" in x).map((x) => [x.job.id, (x as { reason: string }).reason]));
  expect(reasons.get(tooLong.id)).toMatch(/ahead of it \(planned to start .*\): it would not end before then/);
  expect(reasons.get(none.id)).toMatch(/a job without a walltime never starts ahead of it/);
});

test("a job that would run past the planned start may use what the planned job leaves over then", () => {
  // n1 frees 2 at +1000; n2 is busy until +5000 with 1 of 2; the planned 2-processor job takes n1
  const nodes = [node("n1", 2, 2), node("n2", 2, 1)];
  const releases = [held("n1", 2, NOW + 1000), held("n2", 1, NOW + 5000)];
  const big = job({ cpus: 2 });
  const long = job({ walltimeMs: 60_000 });
  const d = planQueue([big, long], nodes, releases, registered(nodes), NOW);
  expect(d[0]).toMatchObject({ plannedStart: NOW + 1000 });
  expect(d[1]).toMatchObject({ placed: [{ node: "n2", cpus: 1 }] });
});

test("with no planned start, nodes the waiting job may use are not taken; nodes it cannot use are", () => {
  const nodes = [node("n1", 2, 1, { features: ["gpu"] }), node("n2", 2, 1)];
  const releases = [held("n1", 1, null), held("n2", 1, null)];
  const gpu = job({ cpus: 2, features: ["gpu"] });
  const other = job();
  const alsoGpu = job({ features: ["gpu"] });
  const d = planQueue([gpu, other, alsoGpu], nodes, releases, registered(nodes), NOW);
  expect(startedIds(d)).toEqual([other.id]);
  expect(d.find((x) => x.job.id === other.id)).toMatchObject({ placed: [{ node: "n2" }] });
});

test("a multi-node job is planned across nodes as their jobs end, and backfill respects it", () => {
  const nodes = [node("n1", 2, 2), node("n2", 2, 1)];
  const releases = [held("n1", 2, NOW + 3000, 1), held("n2", 1, NOW + 1000, 2)];
  const wide = job({ cpus: 4, tasksPerNode: 2 });
  const short = job({ walltimeMs: 2000 });
  const long = job({ walltimeMs: 4000 });
  const d = planQueue([wide, long, short], nodes, releases, registered(nodes), NOW);
  expect(d[0]).toMatchObject({ plannedStart: NOW + 3000 });
  expect(startedIds(d)).toEqual([short.id]);
});

test("a job no registered node could ever run is not planned and holds nobody back", () => {
  const nodes = [node("n1", 2, 1)];
  const reg = registered(nodes);
  const cpus = job({ cpus: 64 });
  const memory = job({ memoryBytes: 100 * 2 ** 40 });
  const feature = job({ features: ["fpga"] });
  const small = job();
  const d = planQueue([cpus, memory, feature, small], nodes, [held("n1", 1, null)], reg, NOW);
  expect(startedIds(d)).toEqual([small.id]);
  expect(neverRunnable(cpus, reg)).toBe("no node can ever run it: it needs 64 processors and the nodes have 2 in all");
  expect(neverRunnable(memory, reg)).toBe("no node can ever run it: it needs 104857600 MB per processor and the largest node has 8192 MB");
  expect(neverRunnable(feature, reg)).toBe("no node can ever run it: no node has the features fpga");
  // four processors in all, but only one node with two
  const uneven = [{ id: "a", cores: 3, memoryBytes: GB, features: [] }, { id: "b", cores: 1, memoryBytes: GB, features: [] }];
  expect(neverRunnable(job({ cpus: 4, tasksPerNode: 2 }), uneven)).toBe("no node can ever run it: it needs 2 nodes with 2 processors and 0 MB each");
});

test("a backlog takes jobs in order, and none once a job before them waits for that node", () => {
  const nodes = [node("n1", 2, 2, { backlogFactor: 2 })];
  const a = job();
  const returned = job({ mayWaitInBacklog: false });
  const b = job();
  const d = planQueue([a, returned, b], nodes, [held("n1", 2, null)], registered(nodes), NOW);
  expect(d[0]).toMatchObject({ backlog: true });
  expect("reason" in d[1]!).toBe(true);
  expect((d[2] as { reason: string }).reason).toBe(`waiting for job ${returned.id} ahead of it: a job without a walltime never starts ahead of it`);
});

test("a job that names a partition runs only on that partition's nodes; one no node is in never runs", () => {
  const nodes = [node("n1", 4, 0, { partition: "default" }), node("n2", 1, 0, { partition: "hpc" })];
  const reg = nodes.map((n) => ({ id: n.id, cores: n.cores!, memoryBytes: n.memoryBytes!, features: n.features, partition: n.partition }));
  const [a, b] = [job({ partition: "hpc" }), job({ partition: "hpc" })];
  const decisions = planQueue([a, b], nodes, [], reg, NOW);
  expect(decisions.map((d) => ("placed" in d ? d.placed.map((p) => p.node) : d.reason))).toEqual([["n2"], expect.stringContaining("")]);
  expect(startedIds(decisions)).toEqual([a.id]);
  expect(neverRunnable(job({ partition: "gpu" }), reg)).toBe("no node can ever run it: no node in partition gpu");
});

test("a job of no processors (wr's cpus 0) takes one node's memory, never an empty allocation, and waits when no node has it", () => {
  // the memory fits on neither node now: the job waits (it once came back "placed" on no node at all)
  const nodes = [node("n1", 2, 0, { freeMemoryBytes: GB }), node("n2", 2, 0, { freeMemoryBytes: GB })];
  const zero = job({ cpus: 0, memoryBytes: 2 * GB });
  const d = planQueue([zero], nodes, [held("n1", 0, NOW + 1000, 5)], registered(nodes), NOW);
  expect(startedIds(d)).toEqual([]);
  expect((d[0] as { reason: string }).reason).toContain("waiting");
  // with room on one node it runs there, on exactly one node
  const roomy = [node("n1", 2, 2), node("n2", 2, 0)];
  const placed = planQueue([job({ cpus: 0, memoryBytes: GB })], roomy, [], registered(roomy), NOW)[0] as { placed: { node: string; cpus: number; memoryBytes: number }[] };
  expect(placed.placed).toEqual([{ node: "n2", cpus: 0, memoryBytes: GB }]);
});

test("node access: a SINGLEJOB job waits for a node without jobs, and then nothing joins it", () => {
  const nodes = [node("n1", 4, 1), node("n2", 4, 1)];
  const running: Release[] = [
    { node: "n1", cpus: 1, memoryBytes: 0, endsAt: NOW + 1000, jobIds: [5], use: { jobs: 1, owners: ["bob"], exclusive: false, singleUser: null } },
    { node: "n2", cpus: 1, memoryBytes: 0, endsAt: NOW + 2000, jobIds: [6], use: { jobs: 1, owners: ["bob"], exclusive: false, singleUser: null } },
  ];
  const alone = job({ cpus: 2, owner: "alice", nodeAccess: "SINGLEJOB", walltimeMs: 10_000 });
  const d = planQueue([alone], nodes, running, registered(nodes), NOW);
  expect(startedIds(d)).toEqual([]);
  expect((d[0] as { reason: string; plannedStart: number }).reason).toContain("a node to itself (SINGLEJOB)");
  // planned for when n1's job ends
  expect((d[0] as { plannedStart: number }).plannedStart).toBe(NOW + 1000);
  // on an empty node it starts, and a later job of the same owner goes to the other node
  const empty = [node("n1", 4), node("n2", 4)];
  const after = job({ owner: "alice" });
  const placed = planQueue([job({ cpus: 2, owner: "alice", nodeAccess: "SINGLEJOB" }), after], empty, [], registered(empty), NOW);
  const nodesOf = placed.map((x) => ("placed" in x ? x.placed.map((a) => a.node) : []));
  expect(nodesOf[0]!.length).toBe(1);
  expect(nodesOf[1]).toEqual([nodesOf[0]![0] === "n1" ? "n2" : "n1"]);
});

test("node access: beside a SINGLEUSER job only its owner's jobs run; a SINGLEUSER job avoids nodes with others' jobs", () => {
  const nodes = [node("n1", 4, 1), node("n2", 4, 1)];
  const running: Release[] = [
    { node: "n1", cpus: 1, memoryBytes: 0, endsAt: null, jobIds: [5], use: { jobs: 1, owners: ["alice"], exclusive: false, singleUser: "alice" } },
    { node: "n2", cpus: 1, memoryBytes: 0, endsAt: null, jobIds: [6], use: { jobs: 1, owners: ["bob"], exclusive: false, singleUser: null } },
  ];
  const bobs = job({ owner: "bob", cpus: 3 });
  const alices = job({ owner: "alice", cpus: 3, nodeAccess: "SINGLEUSER" });
  const d = planQueue([bobs, alices], nodes, running, registered(nodes), NOW);
  const on = (x: (typeof d)[number]) => ("placed" in x ? x.placed.map((a) => a.node) : ["waits"]);
  expect(on(d[0]!)).toEqual(["n2"]);
  expect(on(d[1]!)).toEqual(["n1"]);
  // and carol's job finds no node: n1 is alice's, n2 is full
  const carol = planQueue([job({ owner: "carol", cpus: 1 })], [node("n1", 4, 1)], [running[0]!], registered(nodes), NOW);
  expect(startedIds(carol)).toEqual([]);
});

test("generic resources are held per node like processors: a job waits for them, and none goes where they are taken", () => {
  const nodes = [node("n1", 4, 0, { freeGres: { gpu: 2 } }), node("n2", 4, 0, { freeGres: {} })];
  const reg: RegisteredNode[] = nodes.map((n) => ({ id: n.id, cores: 4, memoryBytes: 8 * GB, features: [], gres: (n.id === "n1" ? { gpu: 2 } : {}) as Record<string, number> }));
  const [a, b, c] = [job({ gres: { gpu: 1 } }), job({ gres: { gpu: 1 } }), job({ gres: { gpu: 1 }, walltimeMs: 1000 })];
  const d = planQueue([a, b, c], nodes, [], reg, NOW);
  const on = (x: (typeof d)[number]) => ("placed" in x ? x.placed.map((p) => p.node) : ["waits"]);
  expect(d.map(on)).toEqual([["n1"], ["n1"], ["waits"]]);
  expect((d[2] as { reason: string }).reason).toContain("gpu=1 free");
  // held by a running job until it ends: then planned on n1
  const held: Release[] = [{ node: "n1", cpus: 1, memoryBytes: 0, endsAt: NOW + 500, jobIds: [9], gres: { gpu: 2 } }];
  const later = planQueue([job({ gres: { gpu: 2 } })], [node("n1", 4, 1, { freeGres: { gpu: 0 } }), node("n2", 4)], held, reg, NOW);
  expect(later[0]).toMatchObject({ plannedStart: NOW + 500 });
  // more than any node has: never
  expect(neverRunnable({ ...job({ gres: { gpu: 3 } }) }, reg)).toBe("no node can ever run it: no node has gpu=3");
});

test("backfill leaves the planned job's generic resources alone: a later job that would still run then does not take its GPU", () => {
  // n1: 8 processors, 4 held by a job ending in 1 s; one GPU, free now. The head needs 6
  // processors and the GPU: planned for when that job ends, with 2 processors and no GPU to spare
  const nodes = [node("n1", 8, 4, { freeGres: { gpu: 1 } })];
  const reg: RegisteredNode[] = [{ id: "n1", cores: 8, memoryBytes: 8 * GB, features: [], gres: { gpu: 1 } }];
  const held: Release[] = [{ node: "n1", cpus: 4, memoryBytes: 0, endsAt: NOW + 1000, jobIds: [9] }];
  const head = job({ cpus: 6, gres: { gpu: 1 } });
  const wantsGpu = job({ cpus: 1, walltimeMs: 60_000, gres: { gpu: 1 } });
  const plain = job({ cpus: 1, walltimeMs: 60_000 });
  const d = planQueue([head, wantsGpu, plain], nodes, held, reg, NOW);
  expect(d[0]).toMatchObject({ plannedStart: NOW + 1000 });
  expect(startedIds(d)).toEqual([plain.id]);
});

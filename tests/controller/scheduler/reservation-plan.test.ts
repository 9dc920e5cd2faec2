import { expect, test } from "bun:test";
import { planQueue, type PlanJob, type PlanReservation, type Release } from "../../../controller/src/scheduler/queue-plan.ts";
import type { NodeCapacity } from "../../../controller/src/scheduler/placement.ts";

// The plan with reservations: reserved nodes are off limits to jobs their ACL does not admit
// for as long as the job would run into them; admitted jobs and those asking for them may use them.

const GB = 2 ** 30;
const NOW = 10_000_000;
const HOUR = 3_600_000;
const node = (id: string, cores: number, used = 0): NodeCapacity => ({ id, freeCpus: cores - used, freeMemoryBytes: 8 * GB, features: [], cores, memoryBytes: 8 * GB, backlogFactor: 0 });
const registered = (nodes: NodeCapacity[]) => nodes.map((n) => ({ id: n.id, cores: n.cores!, memoryBytes: n.memoryBytes!, features: n.features }));
let nextId = 1;
const job = (over: Partial<PlanJob> = {}): PlanJob => ({ id: nextId++, cpus: 1, memoryBytes: 0, hosts: [], features: [], tasksPerNode: null, walltimeMs: null, mayWaitInBacklog: false, ...over });
const whole = (n: NodeCapacity) => ({ cpus: n.cores!, memoryBytes: n.memoryBytes!, gres: {} });
const rsv = (id: string, nodes: NodeCapacity[], startsAt: number, endsAt = Infinity, over: Partial<PlanReservation> = {}): PlanReservation => ({
  id, startsAt, endsAt, holds: new Map(nodes.map((n) => [n.id, whole(n)])), singleUse: false, acl: "USER = ted", ...over,
});
const placedOn = (d: ReturnType<typeof planQueue>, j: PlanJob) => {
  const x = d.find((y) => y.job.id === j.id)!;
  return "placed" in x ? x.placed.map((a) => a.node) : undefined;
};
const reasonOf = (d: ReturnType<typeof planQueue>, j: PlanJob) => {
  const x = d.find((y) => y.job.id === j.id)!;
  return "reason" in x ? x.reason : "";
};

test("an active reservation keeps a job it does not admit off its node; an admitted one may use it", () => {
  const nodes = [node("n1", 4), node("n2", 4)];
  const r = rsv("system.1", [nodes[0]!], NOW - 1000);
  const other = job({ cpus: 4 });
  const again = job({ cpus: 4 });
  const admitted = job({ cpus: 4, admitted: new Map([["system.1", "POSITIVE"]]) });
  const d = planQueue([other, again, admitted], nodes, [], registered(nodes), NOW, { reservations: [r] });
  expect(placedOn(d, other)).toEqual(["n2"]);
  expect(reasonOf(d, again)).toContain("reservation system.1 holds n1");
  expect(placedOn(d, admitted)).toEqual(["n1"]);
});

test("a job whose walltime would run into a future reservation waits; a short one fits before it", () => {
  const nodes = [node("n1", 4)];
  const r = rsv("system.2", nodes, NOW + HOUR, NOW + 2 * HOUR);
  const long = job({ walltimeMs: 2 * HOUR });
  const short = job({ walltimeMs: HOUR / 2 });
  const d = planQueue([long, short], nodes, [], registered(nodes), NOW, { reservations: [r] });
  expect(reasonOf(d, long)).toContain("its walltime would run into it");
  // planned to start as the reservation ends
  expect(d.find((x) => x.job.id === long.id)).toMatchObject({ plannedStart: NOW + 2 * HOUR });
  expect(placedOn(d, short)).toEqual(["n1"]);
});

test("a job without a walltime never starts on a node with a reservation ahead", () => {
  const nodes = [node("n1", 4)];
  const d = planQueue([job()], nodes, [], registered(nodes), NOW, { reservations: [rsv("system.3", nodes, NOW + 10 * HOUR, NOW + 11 * HOUR)] });
  expect(d[0]).toMatchObject({ reason: expect.stringContaining("without a walltime it could run into it") });
});

test("a job that asked for a reservation runs only on its nodes, and only once it has begun", () => {
  const nodes = [node("n1", 4), node("n2", 4)];
  const active = rsv("grid.1", [nodes[1]!], NOW - 1);
  const later = rsv("grid.2", [nodes[0]!], NOW + HOUR);
  const inActive = job({ reservation: "grid.1", admitted: new Map([["grid.1", "NEUTRAL"]]) });
  const inLater = job({ reservation: "grid.2", admitted: new Map([["grid.2", "NEUTRAL"]]), walltimeMs: HOUR });
  const d = planQueue([inActive, inLater], nodes, [], registered(nodes), NOW, { reservations: [active, later] });
  expect(placedOn(d, inActive)).toEqual(["n2"]);
  expect(d.find((x) => x.job.id === inActive.id)).toMatchObject({ reservation: "grid.1" });
  expect(reasonOf(d, inLater)).toContain("waiting for reservation grid.2, which begins");
  expect(d.find((x) => x.job.id === inLater.id)).toMatchObject({ plannedStart: NOW + HOUR });
});

test("a job asking for a reservation its ACL does not admit, or one that is gone, waits saying so", () => {
  const nodes = [node("n1", 4)];
  const r = rsv("system.4", nodes, NOW - 1);
  const d = planQueue([job({ reservation: "system.4" }), job({ reservation: "system.99" })], nodes, [], registered(nodes), NOW, { reservations: [r] });
  expect("reason" in d[0]! && d[0].reason).toContain("does not admit it (its ACL: USER = ted)");
  expect("reason" in d[1]! && d[1].reason).toContain("does not exist any more");
});

test("a SINGLEUSE reservation takes one job; the next admitted one waits", () => {
  const nodes = [node("n1", 4)];
  const r = rsv("system.5", nodes, NOW - 1, Infinity, { singleUse: true });
  const admitted = () => job({ admitted: new Map([["system.5", "POSITIVE"]]) });
  const [a, b] = [admitted(), admitted()];
  const d = planQueue([a, b], nodes, [], registered(nodes), NOW, { reservations: [r] });
  expect(placedOn(d, a)).toEqual(["n1"]);
  expect(placedOn(d, b)).toBeUndefined();
});

test("a partial reservation holds only its share, less what its own jobs already take", () => {
  const nodes = [node("n1", 8, 2)];
  const r: PlanReservation = { ...rsv("system.6", [], NOW - 1), holds: new Map([["n1", { cpus: 4, memoryBytes: 0, gres: {} }]]) };
  // two of its four processors are taken by a job running in it: 8 − 2 used − (4 − 2) held = 4 free to others
  const inside: Release = { node: "n1", cpus: 2, memoryBytes: 0, endsAt: null, jobIds: [1], reservation: "system.6" };
  const four = job({ cpus: 4 });
  const one = job({ cpus: 1 });
  const d = planQueue([four, one], nodes, [inside], registered(nodes), NOW, { reservations: [r] });
  expect(placedOn(d, four)).toEqual(["n1"]);
  expect(placedOn(d, one)).toBeUndefined();
});

test("POSITIVE affinity draws a job to the reserved node, NEGATIVE keeps it there only as a last resort", () => {
  const nodes = [node("a", 4), node("b", 8)];
  const r = rsv("system.7", [nodes[0]!], NOW - 1);
  const positive = job({ admitted: new Map([["system.7", "POSITIVE"]]) });
  const negative = job({ admitted: new Map([["system.7", "NEGATIVE"]]) });
  const d = planQueue([positive, negative], nodes, [], registered(nodes), NOW, { reservations: [r] });
  expect(placedOn(d, positive)).toEqual(["a"]);
  expect(placedOn(d, negative)).toEqual(["b"]);
});

import { test } from "bun:test";
import { planQueue } from "../controller/src/scheduler/queue-plan.ts";
test("d", () => {
  const GB = 2 ** 30; const NOW = 10_000_000;
  const node = (id: string, cores: number) => ({ id, freeCpus: cores, freeMemoryBytes: 8 * GB, features: [], cores, memoryBytes: 8 * GB, backlogFactor: 0 });
  const nodes = [node("n1", 4), node("n2", 4)];
  const r = { id: "system.1", startsAt: NOW - 1000, endsAt: Infinity, holds: new Map([["n1", { cpus: 4, memoryBytes: 8 * GB, gres: {} }]]), singleUse: false, acl: "x" };
  const job = (id: number, over = {}) => ({ id, cpus: 4, memoryBytes: 0, hosts: [], features: [], tasksPerNode: null, walltimeMs: null, mayWaitInBacklog: false, ...over });
  const d = planQueue([job(1), job(2), job(3, { admitted: new Map([["system.1", "POSITIVE"]]) })], nodes, [], nodes.map((n) => ({ id: n.id, cores: 4, memoryBytes: 8 * GB, features: [] })), NOW, { reservations: [r] });
  console.log(JSON.stringify(d.map((x) => ({ id: x.job.id, ...("placed" in x ? { placed: x.placed } : { reason: x.reason }) })), null, 1));
});

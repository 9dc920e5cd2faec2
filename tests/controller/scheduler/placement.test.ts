// place() looks through the nodes by their free processors once it is given the same array
// again (a pass's case); its choices must be those of a look at every node.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { place, placeInBacklog, type NodeCapacity, type PlacementRequest } from "../../../controller/src/scheduler/placement.ts";

const GB = 2 ** 30;
const node = fc.record({
  freeCpus: fc.integer({ min: 0, max: 8 }),
  freeMemoryBytes: fc.integer({ min: 0, max: 16 }).map((g) => g * GB),
  features: fc.subarray(["gpu", "ssd"]),
  cores: fc.constant(8),
  memoryBytes: fc.constant(16 * GB),
  backlogFactor: fc.constantFrom(0, 0.5, 1),
});
const job = fc.record({
  cpus: fc.integer({ min: 0, max: 6 }),
  memoryBytes: fc.integer({ min: 0, max: 4 }).map((g) => g * GB),
  features: fc.subarray(["gpu", "ssd"], { maxLength: 1 }),
  tasksPerNode: fc.option(fc.constantFrom(1, 2), { freq: 8 }),
});

test("the same choices as a look at every node, job after job, as capacities shrink (and backlogs fill)", () => {
  fc.assert(
    fc.property(fc.array(node, { minLength: 1, maxLength: 40 }), fc.array(job, { minLength: 1, maxLength: 60 }), (nodes, jobs) => {
      const make = (): NodeCapacity[] => nodes.map((n, i) => ({ id: `n${i}`, ...n }));
      const shared = make(); // one array for every job: looked through by free processors from the second
      const fresh = make(); // a new array for every job: looked at node by node
      for (const j of jobs) {
        const request: PlacementRequest = { ...j, hosts: [] };
        const a = place({ ...request }, shared);
        const b = place({ ...request }, [...fresh]);
        expect(a).toEqual(b);
        // a job that finds no room waits in a backlog, as a pass has it (some nodes kept out)
        if (!("allocation" in a)) {
          const out = (n: NodeCapacity) => n.id.endsWith("3");
          expect(placeInBacklog({ ...request }, shared, out)).toEqual(placeInBacklog({ ...request }, [...fresh], out));
        }
      }
      expect(shared.map((n) => n.freeCpus)).toEqual(fresh.map((n) => n.freeCpus));
    }),
    { numRuns: 300 },
  );
});

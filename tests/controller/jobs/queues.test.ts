import { expect, test } from "bun:test";
import { applyQueue, parseQueueSettings } from "../../../controller/src/jobs/queues.ts";

test("queues.yaml: bad settings are refused naming them", () => {
  const bad: [string, string][] = [
    ["queues:\n  q:\n    maxWalltime: soon\n", "queues.q.maxWalltime"],
    ["queues:\n  q:\n    colour: red\n", 'queues.q: unknown setting "colour"'],
    ["queues:\n  a: { default: true }\n  b: { default: true }\n", "only one queue may be the default"],
    ["qos:\n  x:\n    maxRunningPerUser: 0\n", "qos.x.maxRunningPerUser must be a whole number of at least 1"],
    ["queues:\n  q: { defaultWalltime: 2h, maxWalltime: 1h }\n", "defaultWalltime is longer than maxWalltime"],
    ["partitions: {}\n", 'unknown section "partitions"'],
  ];
  for (const [text, why] of bad) expect(() => parseQueueSettings(text)).toThrow(why);
});

test("a queue fills and bounds the walltime and sets the partition; priorities add up", () => {
  const s = parseQueueSettings("queues:\n  q: { default: true, maxWalltime: 2h, partition: cs, priority: 3 }\nqos:\n  fast: { priority: 4 }\n");
  const spec = applyQueue(s, "alice", { argv: ["true"], qos: "fast", priority: 1 });
  expect(spec).toMatchObject({ queue: "q", qos: "fast", walltimeMs: 2 * 3_600_000, partition: "cs", priority: 8, extra: { priorityBoost: 7, userPriority: 1 } });
  expect(() => applyQueue(s, "alice", { argv: ["true"], partition: "other" })).toThrow("Queue q runs jobs in partition cs, not other");
  // nothing defined: nothing changes
  const none = parseQueueSettings("");
  expect(applyQueue(none, "alice", { argv: ["true"] })).toEqual({ argv: ["true"] });
});

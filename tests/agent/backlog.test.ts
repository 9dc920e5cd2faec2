import { expect, test } from "bun:test";
import { create, RunJobSchema } from "@drover/proto/service";
import { Backlog } from "../../agent/src/backlog.ts";

const entry = (jobId: number, priority = 0, since = 0) => ({ key: `${jobId}.1`, spec: create(RunJobSchema, { jobId: BigInt(jobId), attempt: 1, priority }), since });
const order = (b: Backlog) => b.takeFrom(() => true).map((e) => Number(e.spec.jobId));

test("the backlog keeps queue order: higher priority first, then the lower job id, whatever the arrival order", () => {
  const b = new Backlog();
  for (const e of [entry(5), entry(3), entry(9, 10), entry(4), entry(7, -1), entry(8, 10)]) b.add(e);
  expect(b.first()!.key).toBe("8.1");
  expect(order(b)).toEqual([8, 9, 3, 4, 5, 7]);
});

test("takeFrom hands back the first matching job and every job behind it", () => {
  const b = new Backlog();
  for (const e of [entry(1, 0, 100), entry(2, 0, 50), entry(3, 0, 200)]) b.add(e);
  const taken = b.takeFrom((e) => e.since < 80);
  expect(taken.map((e) => e.key)).toEqual(["2.1", "3.1"]);
  expect(b.size).toBe(1);
  expect(b.has("3.1")).toBe(false);
  b.delete("1.1");
  expect(b.size).toBe(0);
  expect(b.first()).toBeUndefined();
});

test("within a priority the queue position decides, not the job id (a job moved up in the queue)", () => {
  const b = new Backlog();
  const at = (jobId: number, queuePosition: number, priority = 0) => ({ key: `${jobId}.1`, spec: create(RunJobSchema, { jobId: BigInt(jobId), attempt: 1, priority, queuePosition: BigInt(queuePosition) }), since: 0 });
  for (const e of [at(1, 10), at(2, 11), at(3, 5), at(4, 12, 1)]) b.add(e);
  expect(order(b)).toEqual([4, 3, 1, 2]);
});

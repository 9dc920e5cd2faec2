import { expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Spool } from "../../agent/src/spool.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const finished = (jobId: bigint) => ({ case: "jobFinished" as const, value: { jobId, attempt: 1, exitCode: 0, started: true } });

test("appended messages reach the file at sync, and a new spool on the same directory has them in order", () => {
  const dir = tempDir("spool");
  const spool = new Spool(dir);
  spool.append(finished(1n));
  spool.append(finished(2n));
  expect(new Spool(dir).size).toBe(0); // not on disk before sync
  spool.sync();
  const again = new Spool(dir);
  expect(again.pendingAfter(0n).map((e) => e.seq)).toEqual([1n, 2n]);
  expect(again.unacknowledgedFinishes()).toEqual([{ jobId: 1n, attempt: 1 }, { jobId: 2n, attempt: 1 }]);
  // the bytes kept are the message's encoding
  const [first] = again.pendingAfter(0n);
  expect(first!.message.body.case).toBe("jobFinished");
  expect(first!.bytes.length).toBeGreaterThan(0);
});

test("an acknowledgement drops what it covers; a spool acknowledged entirely is emptied, and numbering goes on", () => {
  const dir = tempDir("spool");
  const spool = new Spool(dir);
  for (const id of [1n, 2n, 3n]) spool.append(finished(id));
  spool.sync();
  spool.ack(2n);
  expect(spool.pendingAfter(0n).map((e) => e.seq)).toEqual([3n]);
  expect(new Spool(dir).pendingAfter(0n).map((e) => e.seq)).toEqual([1n, 2n, 3n]); // the file still holds them until compaction
  spool.ack(3n);
  expect(spool.size).toBe(0);
  expect(statSync(join(dir, "spool.jsonl")).size).toBe(0);
  const next = spool.append(finished(4n));
  expect(next.seq).toBe(4n);
  spool.sync();
  expect(new Spool(dir).pendingAfter(0n).map((e) => e.seq)).toEqual([4n]);
});

test("pendingAfter gives only what a stream has not carried yet", () => {
  const spool = new Spool(tempDir("spool"));
  for (const id of [1n, 2n, 3n, 4n]) spool.append(finished(id));
  expect(spool.pendingAfter(2n).map((e) => e.seq)).toEqual([3n, 4n]);
  expect(spool.pendingAfter(4n)).toEqual([]);
});

test("a line cut short by a crash is skipped and what came before it is kept", () => {
  const dir = tempDir("spool");
  const spool = new Spool(dir);
  spool.append(finished(1n));
  spool.sync();
  const file = join(dir, "spool.jsonl");
  writeFileSync(file, readFileSync(file, "utf8") + '{"seq":"2","m":"CAIS');
  expect(new Spool(dir).pendingAfter(0n).map((e) => e.seq)).toEqual([1n]);
});

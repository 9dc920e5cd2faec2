import { expect, test } from "bun:test";
import { create, JobFinishedSchema } from "@drover/proto/service";
import { applyLearning, memoryAfterMemoryKill } from "../../../controller/src/jobs/learning.ts";
import { retryDelayMs, shouldRetry } from "../../../controller/src/jobs/retry.ts";

const MB = 1024 * 1024;
const GB = 1024 * MB;

test("override 0 takes the learned memory and time, 1 the larger, 2 what was given", () => {
  const spec = { argv: ["x"], reqGroup: "g", cpus: 2, memoryBytes: 512 * MB, walltimeMs: 3_600_000 };
  const learned = { memoryBytes: 300 * MB, walltimeMs: 5000 };
  expect(applyLearning({ ...spec, learnOverride: 0 }, learned)).toMatchObject({ memoryBytes: 150 * MB, walltimeMs: 5000, memoryGivenBytes: 512 * MB, walltimeGivenMs: 3_600_000 });
  expect(applyLearning({ ...spec, learnOverride: 1 }, learned)).toMatchObject({ memoryBytes: 512 * MB, walltimeMs: 3_600_000 });
  expect(applyLearning({ ...spec, learnOverride: 1 }, { memoryBytes: 2 * GB, walltimeMs: null })).toMatchObject({ memoryBytes: GB, walltimeMs: 3_600_000 });
  expect(applyLearning({ ...spec, learnOverride: 2 }, learned)).toMatchObject({ memoryBytes: 512 * MB, walltimeMs: 3_600_000 });
});

test("a job without a requirements group, or a group that learned nothing, keeps what it asked for", () => {
  const spec = { argv: ["x"], memoryBytes: 512 * MB };
  expect(applyLearning(spec, { memoryBytes: MB, walltimeMs: 1 })).toBe(spec);
  expect(applyLearning({ ...spec, reqGroup: "g" }, undefined)).toEqual({ ...spec, reqGroup: "g" });
});

test("after a memory kill a job gets twice its peak, at least 1 GB more, rounded up to 100 MB, never less than it had", () => {
  expect(memoryAfterMemoryKill(300 * MB, 100 * MB)).toBe(1300 * MB);
  expect(memoryAfterMemoryKill(2000 * MB, 100 * MB)).toBe(4000 * MB);
  expect(memoryAfterMemoryKill(10_000 * MB, 100 * MB)).toBe(13_000 * MB);
  expect(memoryAfterMemoryKill(50 * MB, 5000 * MB)).toBe(5000 * MB);
  expect(memoryAfterMemoryKill(1234 * MB, 0) % (100 * MB)).toBe(0);
});

test("the retry delay doubles from the base per failure, at most 60 times the base, plus up to the base of jitter", () => {
  expect(retryDelayMs(0, 30_000, () => 0)).toBe(30_000);
  expect(retryDelayMs(1, 30_000, () => 0)).toBe(60_000);
  expect(retryDelayMs(2, 30_000, () => 0.5)).toBe(135_000);
  expect(retryDelayMs(10, 30_000, () => 0)).toBe(1_800_000);
  expect(retryDelayMs(10, 30_000, () => 0.999)).toBeLessThan(1_830_000);
});

test("a failed run is retried while retries are left, unless it was cancelled, its command could not be found or run, or its container runtime is missing", () => {
  const job = { retries: 2, failures: 0, cancelRequestedAt: null, retryFailures: true };
  const end = (over: Record<string, unknown>) => create(JobFinishedSchema, { jobId: 1n, attempt: 1, started: true, exitCode: 1, cause: "exit", ...over });
  expect(shouldRetry(job, end({}))).toBe(true);
  expect(shouldRetry(job, end({ exitCode: 0 }))).toBe(false);
  expect(shouldRetry({ ...job, failures: 2 }, end({}))).toBe(false);
  expect(shouldRetry({ ...job, cancelRequestedAt: new Date() }, end({}))).toBe(false);
  expect(shouldRetry(job, end({ exitCode: 127 }))).toBe(false);
  expect(shouldRetry(job, end({ exitCode: 126 }))).toBe(false);
  expect(shouldRetry(job, end({ started: false, exitCode: undefined, cause: "runtime", failReason: "no docker" }))).toBe(false);
  expect(shouldRetry(job, end({ exitCode: undefined, signal: "SIGTERM", cause: "memory", failReason: "memory limit" }))).toBe(true);
  // an MWS job's retries only requeue it when its node is lost
  expect(shouldRetry({ ...job, retryFailures: false }, end({}))).toBe(false);
});

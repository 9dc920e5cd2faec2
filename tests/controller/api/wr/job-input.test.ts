import { expect, test } from "bun:test";
import { checkWrJob, defaultsFromQuery, parseMemoryMb, parseTimeMs, wrJobSpec } from "../../../../controller/src/api/wr/job-input.ts";
import { wrFailReason, wrJobState } from "../../../../controller/src/api/wr/job-states.ts";

test("memory takes a number and a binary unit", () => {
  expect(parseMemoryMb("5M")).toBe(5);
  expect(parseMemoryMb("3G")).toBe(3072);
  expect(parseMemoryMb("1.5GiB")).toBe(1536);
  expect(parseMemoryMb("512MB")).toBe(512);
  expect(parseMemoryMb("2048K")).toBe(2);
  for (const bad of ["5X", "512", "-1G", "0M", "G"]) expect(() => parseMemoryMb(bad)).toThrow(/memory value .* was not specified correctly/);
});

test("time takes Go durations", () => {
  expect(parseTimeMs("5s")).toBe(5000);
  expect(parseTimeMs("30m")).toBe(1_800_000);
  expect(parseTimeMs("1h30m")).toBe(5_400_000);
  expect(parseTimeMs("1.5h")).toBe(5_400_000);
  expect(parseTimeMs("250ms")).toBe(250);
  for (const bad of ["forever", "5", "1d", "s5", ""]) expect(() => parseTimeMs(bad)).toThrow(/time value .* was not specified correctly/);
});

test("URL defaults apply to every property a job leaves out; a job's own value wins; booleans add up", () => {
  const defaults = defaultsFromQuery({ rep_grp: "myid", cpus: "2", memory: "3G", time: "5s", dep_grps: "a,b", env: "A=1,B=2", cwd_matters: "true", on_exit: JSON.stringify([{ cleanup: true }]) });
  const { spec } = wrJobSpec(checkWrJob({ cmd: "sleep 5", cpus: 1, memory: "5M", cwd_matters: false }), defaults);
  expect(spec).toMatchObject({ group: "myid", cpus: 1, memoryBytes: 5 * 1024 * 1024, walltimeMs: 5000, depGroups: ["a", "b"], environment: { A: "1", B: "2" }, workingDirectory: "/tmp", behaviours: { onExit: [{ cleanup: true }] }, reqGroup: "sleep", walltimeEnforced: false });
  expect(spec.argv).toEqual(["bash", "-c", "sleep 5"]);
});

test("the defaults: rep group manually_added, 1G, 1h, no processors, the base name of the command as requirements group, a directory of its own under /tmp", () => {
  const { spec, rerun } = wrJobSpec(checkWrJob({ cmd: "/usr/bin/perl -e 1 | cat" }), {});
  expect(spec).toMatchObject({ group: "manually_added", cpus: 0, memoryBytes: 1024 * 1024 * 1024, walltimeMs: 3_600_000, reqGroup: "perl", scratchBase: "/tmp", retries: 0, priority: 0 });
  expect(spec.argv).toEqual(["bash", "-c", "set -o pipefail; /usr/bin/perl -e 1 | cat"]);
  expect(rerun).toBe(false);
});

test("every property is checked; unknown ones, mounts and cloud_* are refused by name", () => {
  expect(() => checkWrJob({ cmd: "x", colour: "red" })).toThrow(/unknown property "colour"/);
  expect(() => checkWrJob({ cmd: "x", mounts: [] })).toThrow(/drover does not provide mounts/);
  expect(() => checkWrJob({ cmd: "x", cloud_os: "ubuntu" })).toThrow(/cloud_os/);
  expect(() => checkWrJob({ cmd: 5 })).toThrow(/cmd must be a string/);
  expect(() => checkWrJob({ cmd: "x", retries: 1.5 })).toThrow(/retries must be a whole number/);
  expect(() => checkWrJob({ cmd: "x", on_exit: [{ delete: true }] })).toThrow(/is not a behaviour/);
  expect(() => checkWrJob({ cmd: "x", deps: "g1" })).toThrow(/deps must be a list of strings/);
  expect(() => wrJobSpec(checkWrJob({ cmd: "x", with_docker: "a", with_singularity: "b" }), {})).toThrow(/not both/);
  expect(() => wrJobSpec(checkWrJob({ cmd: "x", env: ["NOVALUE"] }), {})).toThrow(/env entry "NOVALUE"/);
  expect(() => wrJobSpec(checkWrJob({ cmd: "x", cwd: "relative" }), {})).toThrow(/cwd must be an absolute path/);
  expect(() => defaultsFromQuery({ cmd: "x" })).toThrow(/cmd cannot be given as a URL parameter/);
});

test("drover's states in wr's words", () => {
  const at = Date.now();
  const q = (over: object = {}) => ({ state: "queued", retryAt: null, ...over });
  expect(wrJobState(q(), at, false)).toBe("ready");
  expect(wrJobState(q(), at, true)).toBe("dependent");
  expect(wrJobState(q({ retryAt: new Date(at + 1000) }), at, false)).toBe("delayed");
  expect(wrJobState(q({ state: "dispatching" }), at, false)).toBe("reserved");
  expect(wrJobState(q({ state: "suspended" }), at, false)).toBe("running");
  expect(wrJobState(q({ state: "completed" }), at, false)).toBe("complete");
  expect(wrJobState(q({ state: "failed" }), at, false)).toBe("buried");
  expect(wrJobState(q({ state: "cancelled" }), at, false)).toBe("buried");
  expect(wrJobState(q({ state: "lost" }), at, false)).toBe("lost");
});

test("fail reasons in wr's own words", () => {
  const job = (over: object) => ({ state: "failed", endCause: "exit", exitCode: 1, reason: null, startCount: 1, ...over });
  expect(wrFailReason(job({}), "buried")).toBe("command exited non-zero");
  expect(wrFailReason(job({ exitCode: 127 }), "buried")).toBe("command not found");
  expect(wrFailReason(job({ exitCode: 126 }), "buried")).toBe("command permission problem");
  expect(wrFailReason(job({ endCause: "memory", exitCode: null }), "delayed")).toBe("command used too much RAM");
  expect(wrFailReason(job({ state: "cancelled", endCause: "cancelled" }), "buried")).toBe("killed by user request");
  expect(wrFailReason(job({ state: "lost", endCause: "lost" }), "lost")).toBe("lost contact with runner");
  expect(wrFailReason(job({ endCause: "runtime", reason: "the container runtime docker is not installed on node n1" }), "buried")).toBe("the container runtime docker is not installed on node n1");
  expect(wrFailReason(job({ state: "completed", exitCode: 0 }), "complete")).toBe("");
});

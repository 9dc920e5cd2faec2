import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, RunJobSchema } from "@drover/proto/service";
import { JobCgroup, JobCgroups } from "../../agent/src/cgroup.ts";
import { JobProcess } from "../../agent/src/job-process.ts";
import { tempDir } from "../helpers/temp-dir.ts";

// The kernel's side (memory.max enforced, the OOM kill) needs a cgroup v2 machine with a delegated
// subtree; this machine has cgroup v1, where the agent polls RSS (tested end to end in
// tests/e2e/failures.test.ts). Here: the agent's own steps, on a directory laid out like cgroupfs.
const fakeRoot = (delegated: string) => {
  const root = tempDir("cgroup");
  writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
  mkdirSync(join(root, "svc"));
  writeFileSync(join(root, "svc", "cgroup.controllers"), `${delegated}\n`);
  return root;
};

test("without cgroup v2 and its memory controller the agent says why and polls instead", () => {
  const root = tempDir("cgroup");
  expect(JobCgroups.setUp("abc", root, "0::/svc\n")).toContain("cgroup v2 with the memory controller is not mounted");
  expect(JobCgroups.setUp("abc", fakeRoot("cpu pids"), "0::/svc\n")).toContain("not delegated");
  expect(JobCgroups.setUp("abc", fakeRoot("memory"), "4:memory:/svc\n")).toContain("no cgroup v2 path");
});

test("with a delegated subtree the agent moves into <its cgroup>/drover-<instance>/agent and gives each job a cgroup with its limit", () => {
  const root = fakeRoot("cpu memory pids");
  const cgroups = JobCgroups.setUp("abc", root, "0::/svc\n");
  if (typeof cgroups === "string") throw new Error(cgroups);
  const own = join(root, "svc", "drover-abc");
  expect(readFileSync(join(own, "agent", "cgroup.procs"), "utf8")).toBe(String(process.pid));
  expect(readFileSync(join(root, "svc", "cgroup.subtree_control"), "utf8")).toBe("+memory");
  expect(readFileSync(join(own, "cgroup.subtree_control"), "utf8")).toBe("+memory");
  expect(readFileSync(join(own, "jobs", "cgroup.subtree_control"), "utf8")).toBe("+memory");
  const job = cgroups.create("12.1", 64 * 1024 * 1024);
  expect(job.procsFile).toBe(join(own, "jobs", "12.1", "cgroup.procs"));
  expect(readFileSync(join(job.dir, "memory.max"), "utf8")).toBe(String(64 * 1024 * 1024));
  expect(job.remove()).toBe(false); // not empty (a real cgroup directory would be: the kernel's files do not count)
});

test("the kernel's OOM kill is read from memory.events", () => {
  const dir = tempDir("cgroup");
  const cg = new JobCgroup(dir);
  writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n");
  expect(cg.oomKilled()).toBe(false);
  writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 1\n");
  expect(cg.oomKilled()).toBe(true);
  writeFileSync(join(dir, "memory.peak"), "1048576\n");
  expect(cg.peak()).toBe(1048576);
});

test("a job started into its cgroup gets its arguments verbatim (never parsed by the shell) and its pid is written there first", async () => {
  const root = fakeRoot("memory");
  const cgroups = JobCgroups.setUp("abc", root, "0::/svc\n");
  if (typeof cgroups === "string") throw new Error(cgroups);
  const data = tempDir("cgroup-job");
  const spec = create(RunJobSchema, { jobId: 5n, attempt: 1, argv: ["/bin/echo", "a  b", "$HOME;", "`id`"], cpus: 1, memoryBytes: 1024n * 1024n, hosts: ["n1"] });
  const job = new JobProcess(spec, join(data, "jobs"), join(data, "nodefiles"), 1000, cgroups);
  let pid = 0;
  const end = await job.run((p) => (pid = p));
  expect(end).toMatchObject({ started: true, exitCode: 0, failReason: "" });
  expect(end.stdoutTail).toBe("a  b $HOME; `id`\n");
  expect(readFileSync(join(root, "svc", "drover-abc", "jobs", "5.1", "cgroup.procs"), "utf8").trim()).toBe(String(pid));
});

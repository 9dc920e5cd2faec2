import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Jobs' memory limits enforced by the kernel (cgroup v2 memory.max), where the agent was given a
 * cgroup of its own to manage (systemd `Delegate=yes`, as scripts/install-agent sets). Under
 * `<its cgroup>/drover-<instance>` (instance: one per data directory, so agents sharing a cgroup
 * never share job cgroups) the agent moves itself into `agent` (a cgroup with children may hold
 * no processes) and makes one cgroup per job under `jobs`. Where this is not possible (cgroup v1,
 * no delegation, other processes in its cgroup) it polls the RSS of each job's process group.
 */
export class JobCgroups {
  private constructor(readonly jobsDir: string) {}

  /**
   * Sets up the agent's cgroups, or says why it cannot (then memory is polled).
   * root: the cgroup2 mount; selfCgroup: this process's /proc/self/cgroup text.
   */
  static setUp(instance: string, root = "/sys/fs/cgroup", selfCgroup = readText("/proc/self/cgroup")): JobCgroups | string {
    const controllers = readText(join(root, "cgroup.controllers"));
    if (!controllers.split(/\s+/).includes("memory")) return "cgroup v2 with the memory controller is not mounted at " + root;
    const path = /^0::(\/.*)$/m.exec(selfCgroup)?.[1];
    if (!path) return "this process has no cgroup v2 path";
    const dir = join(root, path);
    try {
      if (!readText(join(dir, "cgroup.controllers")).split(/\s+/).includes("memory")) return `the memory controller is not delegated to ${dir}`;
      const own = join(dir, `drover-${instance}`);
      const agentDir = join(own, "agent");
      mkdirSync(agentDir, { recursive: true });
      writeFileSync(join(agentDir, "cgroup.procs"), String(process.pid));
      writeFileSync(join(dir, "cgroup.subtree_control"), "+memory");
      writeFileSync(join(own, "cgroup.subtree_control"), "+memory");
      const jobsDir = join(own, "jobs");
      mkdirSync(jobsDir, { recursive: true });
      writeFileSync(join(jobsDir, "cgroup.subtree_control"), "+memory");
      // cgroups a previous agent process left (their jobs were killed with it) go, once empty
      for (const left of readdirSync(jobsDir, { withFileTypes: true })) {
        if (left.isDirectory()) new JobCgroup(join(jobsDir, left.name)).remove();
      }
      return new JobCgroups(jobsDir);
    } catch (e) {
      return `cannot manage ${dir}: ${(e as Error).message}`;
    }
  }

  /** A job's cgroup with its memory limit (0 = none) and no swap; the whole job is killed on OOM. */
  create(name: string, memoryBytes: number): JobCgroup {
    const dir = join(this.jobsDir, name);
    mkdirSync(dir, { recursive: true });
    if (memoryBytes > 0) {
      writeFileSync(join(dir, "memory.max"), String(memoryBytes));
      writeIfExists(join(dir, "memory.swap.max"), "0");
    }
    writeIfExists(join(dir, "memory.oom.group"), "1");
    return new JobCgroup(dir);
  }
}

/** One job's cgroup. */
export class JobCgroup {
  constructor(readonly dir: string) {}

  /** The file a process writes its pid to, to enter this cgroup (before it starts the job). */
  get procsFile(): string {
    return join(this.dir, "cgroup.procs");
  }

  /** Bytes in use now. */
  current(): number {
    return Number(readText(join(this.dir, "memory.current")) || 0);
  }

  /** The most bytes used (memory.peak, kernels ≥ 5.19), or 0 when unknown. */
  peak(): number {
    return Number(readText(join(this.dir, "memory.peak")) || 0);
  }

  /** True once the kernel killed a process here for exceeding memory.max. */
  oomKilled(): boolean {
    return /^oom_kill\s+[1-9]/m.test(readText(join(this.dir, "memory.events")));
  }

  /** Kills every process left in the cgroup, those that left the job's process group too (cgroup.kill, kernels ≥ 5.14). */
  kill(): void {
    try {
      writeIfExists(join(this.dir, "cgroup.kill"), "1");
    } catch {
      // gone already
    }
  }

  /** Removes the cgroup once its processes are gone; false while some remain. */
  remove(): boolean {
    try {
      rmdirSync(this.dir);
      return true;
    } catch {
      return !existsSync(this.dir);
    }
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function writeIfExists(path: string, value: string): void {
  if (existsSync(path)) writeFileSync(path, value);
}

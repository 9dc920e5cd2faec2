import { readdirSync, readFileSync } from "node:fs";
import { dlopen, FFIType } from "bun:ffi";

// A job's processes end with it, including those that left its process group (setsid, a double
// fork): every job carries a marker in its environment (JOB_MARKER=<the agent's jobs
// directory>, beside DROVER_JOB_ID and DROVER_JOB_ATTEMPT), and the agent is a child
// subreaper, so a process whose parent dies comes back to the agent instead of to init. The
// agent then kills those of jobs that ended (cancel, walltime, memory, the main process exiting)
// and reaps them. Where the job has a cgroup, cgroup.kill does it at once (cgroup.ts); the
// orphan guard kills marked processes if the agent itself dies.

export const JOB_MARKER = "DROVER_AGENT_JOBS";

type Libc = {
  symbols: {
    prctl: (option: number, a: number, b: number, c: number, d: number) => number;
    waitpid: (pid: number, status: null, options: number) => number;
  };
};
let libc: Libc | null | undefined;
function lib(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    libc = dlopen("libc.so.6", {
      prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
      waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    }) as unknown as Libc;
  } catch {
    libc = null;
  }
  return libc;
}

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

/** Makes this process a child subreaper (Linux prctl); false where that is not possible. */
export function becomeSubreaper(): boolean {
  return lib()?.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0;
}

/** The processes the agent started through Bun, until Bun has collected them (see `startedByBun`). */
const bunsOwn = new Set<number>();

/**
 * Registers a process the agent started (every Bun.spawn of the agent goes through here): Bun
 * collects it itself, and a sweep that took its exit status first would leave Bun's `exited`
 * failing with ECHILD and the job never ending. Bun collects a child when its event loop next
 * polls, which a busy loop (the controller and its embedded database in the same process) can
 * put off past two sweeps.
 */
export function startedByBun<T extends { pid: number; exited: Promise<unknown> }>(proc: T): T {
  bunsOwn.add(proc.pid);
  proc.exited.then(
    () => bunsOwn.delete(proc.pid),
    () => bunsOwn.delete(proc.pid),
  );
  return proc;
}

/** Collects an adopted child that has exited (never one Bun started: those Bun reaps itself). */
function reap(pid: number): boolean {
  return (lib()?.symbols.waitpid(pid, null, WNOHANG) ?? 0) > 0;
}

/** The direct children of this process (all threads), or undefined where the kernel does not list them. */
function ownChildren(): number[] | undefined {
  try {
    const out: number[] = [];
    for (const task of readdirSync("/proc/self/task")) {
      for (const pid of readFileSync(`/proc/self/task/${task}/children`, "utf8").split(/\s+/)) if (pid) out.push(Number(pid));
    }
    return out;
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
}

/** A process's state letter (R, S, Z…), or "" when it is gone. */
function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return "";
  }
}

/** The job a process belongs to ("ID.ATTEMPT") when it carries this agent's marker. */
function jobOf(pid: number, marker: string): string | undefined {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, "latin1");
  } catch {
    return undefined;
  }
  const vars = env.split("\0");
  if (!vars.includes(`${JOB_MARKER}=${marker}`)) return undefined;
  const id = vars.find((v) => v.startsWith("DROVER_JOB_ID="))?.slice(14);
  const attempt = vars.find((v) => v.startsWith("DROVER_JOB_ATTEMPT="))?.slice(19);
  return id && attempt ? `${id}.${attempt}` : "";
}

export class Escapees {
  /** adopted children seen dead in the last sweep (reaped when still there at the next) */
  private zombies = new Set<number>();
  private killed = new Set<number>();
  private lastFullScan = 0;

  /** True while processes it killed, or zombies it saw, wait to be collected by a later sweep. */
  get pending(): boolean {
    return this.killed.size > 0 || this.zombies.size > 0;
  }

  constructor(
    /** the marker value: this agent's jobs directory */
    private readonly marker: string,
    private readonly subreaper: boolean,
  ) {}

  /**
   * Kills the marked processes of jobs not in `running` (every marked one when `running` is
   * undefined: at start, those of a previous agent process) and reaps adopted children that died.
   * Returns how many it killed, by job.
   */
  sweep(running?: Set<string>, everywhere = false): Map<string, number> {
    const killedNow = new Map<string, number>();
    const children = this.subreaper ? ownChildren() : undefined;
    let pids = everywhere ? undefined : children;
    if (!pids) {
      // without a subreaper (or a children list) escapees go to init: a full scan, now and then
      if (!everywhere && Date.now() - this.lastFullScan < 2000) return killedNow;
      this.lastFullScan = Date.now();
      pids = allPids();
    }
    const zombies = new Set<number>();
    for (const pid of pids) {
      if (pid === process.pid) continue;
      const state = stateOf(pid);
      if (!state) continue;
      if (state === "Z") {
        if (!children?.includes(pid) || bunsOwn.has(pid)) continue;
        // dead and ours to collect: one we killed, or one still dead a sweep later (Bun collects
        // the processes it started at once)
        if (this.killed.has(pid) || this.zombies.has(pid)) {
          if (reap(pid)) this.killed.delete(pid);
        } else zombies.add(pid);
        continue;
      }
      const job = jobOf(pid, this.marker);
      if (job === undefined || (running && running.has(job))) continue;
      try {
        process.kill(pid, "SIGKILL");
        this.killed.add(pid);
        killedNow.set(job, (killedNow.get(job) ?? 0) + 1);
      } catch {
        // gone meanwhile
      }
    }
    this.zombies = zombies;
    return killedNow;
  }
}

/** The orphan guard's last words: kills every process carrying the marker (sh, for /proc). */
export const KILL_MARKED = `
for e in /proc/[0-9]*/environ; do
  if tr '\\000' '\\n' < "$e" 2>/dev/null | grep -qxF "${JOB_MARKER}=$1"; then p=\${e#/proc/}; kill -s KILL "\${p%/environ}" 2>/dev/null; fi
done
`;

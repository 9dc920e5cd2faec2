// CPU accounting from /proc for the benchmark scripts, in clock ticks (1/100 s on Linux).
import { readdirSync, readFileSync } from "node:fs";

/** A process's user + system ticks (its own, or — children — those of the children it reaped); part picks one. */
export function ticks(pid: number, children = false, part: "all" | "user" | "sys" = "all"): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const [u, s] = children ? [Number(f[13]), Number(f[14])] : [Number(f[11]), Number(f[12])];
    return part === "user" ? u : part === "sys" ? s : u + s;
  } catch {
    return 0;
  }
}

/** Processes whose /proc/PID/stat and comm satisfy `keep`. */
function processes(keep: (stat: string[], comm: string) => boolean): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return keep(readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" "), readFileSync(`/proc/${d}/comm`, "utf8").trim());
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The ticks of every process whose parent is `pid` (not yet reaped: the agent's helpers). */
export const childTicks = (pid: number) => processes((stat) => stat[1] === String(pid)).reduce((sum, p) => sum + ticks(p), 0);

/** The ticks of every Postgres process on the machine. */
export const postgresTicks = () => processes((_, comm) => comm.startsWith("postgres")).reduce((sum, p) => sum + ticks(p), 0);

/** All CPUs' idle and total ticks (first line of /proc/stat). */
export function machineTicks(): { idle: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
}

/** CPU time of every thread of a process, in ms, to the nanosecond (/proc/PID/task/N/schedstat). */
export function threadsCpuMs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // (a thread that ended meanwhile)
    }
  }
  return ns / 1e6;
}

import { readFileSync, readdirSync } from "node:fs";

const PAGE = 4096;

/**
 * The memory the processes of each of the given process groups use, in bytes (one pass over
 * /proc). Each process counts its proportional set size (Pss: pages it shares with others are
 * divided among them, as wr measures jobs), so a shell and the program it runs are not charged
 * twice for the same library pages; where the kernel has no smaps_rollup, its resident size.
 */
export function memoryByGroup(groups: Set<number>): Map<number, number> {
  const totals = new Map<number, number>();
  if (!groups.size) return totals;
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // fields after the ")" that ends the command name: state ppid pgrp … rss is field 24
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const pgid = Number(rest[2]);
      if (!groups.has(pgid)) continue;
      totals.set(pgid, (totals.get(pgid) ?? 0) + (pssOf(name) ?? Number(rest[21]) * PAGE));
    } catch {
      // the process ended while we looked
    }
  }
  return totals;
}

/** Pss of a process from /proc/PID/smaps_rollup, in bytes; undefined where the kernel has none. */
function pssOf(pid: string): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const m = /^Pss:\s+(\d+) kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Signals a whole process group; false when it no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

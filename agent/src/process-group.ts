import { readFileSync, readdirSync } from "node:fs";

const PAGE = 4096;

/** Resident memory of the processes of each process group, in bytes (one pass over /proc). */
export function rssByGroup(): Map<number, number> {
  const totals = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // fields after the ")" that ends the command name: state ppid pgrp … rss is field 24
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const pgid = Number(rest[2]);
      totals.set(pgid, (totals.get(pgid) ?? 0) + Number(rest[21]) * PAGE);
    } catch {
      // the process ended while we looked
    }
  }
  return totals;
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

import { loadavg } from "node:os";
import { readFileSync, statfsSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { SampleSchema, type Sample } from "@drover/proto/service";

type CpuTimes = { busy: number; total: number };

/** Per-core and total busy/total jiffies from /proc/stat (cheap: one small read). */
function readCpuTimes(): CpuTimes[] {
  const lines = readFileSync("/proc/stat", "utf8").split("\n").filter((l) => l.startsWith("cpu"));
  return lines.map((l) => {
    const f = l.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  });
}

function readMemory(): { total: number; available: number; swapFree: number } {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0) * 1024;
  return { total: kb("MemTotal"), available: kb("MemAvailable"), swapFree: kb("SwapFree") };
}

/** Free bytes of the file system holding `dir`, as an unprivileged user may use them. */
function diskFree(dir: string): number {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return 0;
  }
}

/** Produces CPU (total and per core, as busy fractions since the previous sample) and memory samples. */
export class Sampler {
  private previous = readCpuTimes();

  /** dir: where the node's jobs' directories are (its free disk is sampled) */
  constructor(private readonly dir = "/") {}

  sample(at = Date.now()): Sample {
    const current = readCpuTimes();
    const fraction = (i: number) => {
      const a = this.previous[i];
      const b = current[i];
      if (!a || !b || b.total <= a.total) return 0;
      return Math.min(1, Math.max(0, (b.busy - a.busy) / (b.total - a.total)));
    };
    const perCore = current.slice(1).map((_, i) => fraction(i + 1));
    // (before the previous reading is replaced: the total is measured against it too)
    const total = fraction(0);
    this.previous = current;
    const mem = readMemory();
    const [l1, l5, l15] = loadavg();
    return create(SampleSchema, {
      timestampMs: BigInt(at),
      cpuTotal: total,
      cpuPerCore: perCore,
      memoryUsedBytes: BigInt(mem.total - mem.available),
      memoryTotalBytes: BigInt(mem.total),
      load1: l1,
      load5: l5,
      load15: l15,
      diskFreeBytes: BigInt(diskFree(this.dir)),
      swapFreeBytes: BigInt(mem.swapFree),
    });
  }
}

import { loadavg } from "node:os";
import { readdirSync, readFileSync, statfsSync } from "node:fs";
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

/** Bytes received and sent on every network interface but loopback, from /proc/net/dev. */
export function readNetworkBytes(): number {
  try {
    let sum = 0;
    for (const line of readFileSync("/proc/net/dev", "utf8").split("\n").slice(2)) {
      const [name, rest] = line.split(":");
      if (!rest || name!.trim() === "lo") continue;
      const f = rest.trim().split(/\s+/).map(Number);
      sum += (f[0] ?? 0) + (f[8] ?? 0);
    }
    return sum;
  } catch {
    return 0;
  }
}

let disksSeen = { at: 0, names: new Set<string>() };

/** The whole disks (/sys/block, but loop and RAM devices), looked up again once a minute. */
function wholeDisks(): Set<string> {
  if (Date.now() - disksSeen.at > 60_000) disksSeen = { at: Date.now(), names: new Set(readdirSync("/sys/block").filter((d) => !/^(loop|ram|zram)/.test(d))) };
  return disksSeen.names;
}

/** Bytes read and written on the block devices (whole disks, not their partitions), from /proc/diskstats. */
export function readIoBytes(): number {
  try {
    const disks = wholeDisks();
    let sectors = 0;
    for (const line of readFileSync("/proc/diskstats", "utf8").split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !disks.has(f[2]!)) continue;
      sectors += Number(f[5]) + Number(f[9]);
    }
    // (diskstats counts 512-byte sectors whatever the device's own size)
    return sectors * 512;
  } catch {
    return 0;
  }
}

/** Produces CPU (total and per core, as busy fractions since the previous sample), memory, disk, network and I/O samples. */
export class Sampler {
  private previous = readCpuTimes();
  private traffic = { at: Date.now(), network: readNetworkBytes(), io: readIoBytes() };

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
    const traffic = { at, network: readNetworkBytes(), io: readIoBytes() };
    const seconds = (traffic.at - this.traffic.at) / 1000;
    const rate = (a: number, b: number) => (seconds > 0 && b >= a ? (b - a) / seconds : 0);
    const networkRate = rate(this.traffic.network, traffic.network);
    const ioRate = rate(this.traffic.io, traffic.io);
    this.traffic = traffic;
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
      networkBytesPerSecond: networkRate,
      ioBytesPerSecond: ioRate,
    });
  }
}

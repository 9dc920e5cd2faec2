// Writes one benchmark's figures into BENCHMARKS.md, replacing that benchmark's earlier section.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const FILE = join(import.meta.dir, "..", "BENCHMARKS.md");

// This machine is a VM whose speed varies from day to day (the same code measured 2.3 times
// faster on one day than on the day before), so every section says how fast the machine was:
// the CPU time its hypervisor took away during the run (steal), and a fixed piece of work timed
// as the figures are written.
const cpuAtStart = cpuTimes();

/** Total and stolen CPU ticks of the whole machine so far (/proc/stat). */
function cpuTimes(): { total: number; steal: number } {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return { total: 0, steal: 0 };
  }
}

/** Milliseconds one thread takes to hash 256 MiB with SHA-256 (the best of three). */
function calibration(): number {
  const data = new Uint8Array(2 ** 28).fill(7);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    new Bun.CryptoHasher("sha256").update(data).digest();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** How fast the machine was for this run, in words for the section's head. */
export function machineSpeed(): string {
  const now = cpuTimes();
  const steal = now.total > cpuAtStart.total ? (100 * (now.steal - cpuAtStart.steal)) / (now.total - cpuAtStart.total) : 0;
  return `CPU stolen by the hypervisor during the run ${steal.toFixed(1)} %; SHA-256 of 256 MiB in ${calibration().toFixed(0)} ms`;
}

export function writeBenchmarkSection(title: string, command: string, figures: Record<string, string>, notes: string[] = []): void {
  const head = "# Benchmarks\n\nFigures measured by the scripts under `scripts/`; each section names its command and machine.\n";
  let text = existsSync(FILE) ? readFileSync(FILE, "utf8") : head;
  const marker = `## ${title}`;
  const start = text.indexOf(marker);
  if (start >= 0) {
    const end = text.indexOf("\n## ", start + marker.length);
    text = text.slice(0, start) + (end >= 0 ? text.slice(end + 1) : "");
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}, Bun ${Bun.version}`;
  const section = [
    marker,
    "",
    `Command: \`${command}\`  `,
    `Machine: ${machine}  `,
    `Speed: ${machineSpeed()}  `,
    `Date: ${new Date().toISOString().slice(0, 10)}`,
    "",
    "| measure | result |",
    "| --- | --- |",
    ...Object.entries(figures).map(([k, v]) => `| ${k} | ${v} |`),
    "",
    ...notes,
    "",
  ].join("\n");
  writeFileSync(FILE, text.trimEnd() + "\n\n" + section);
}

// Benchmark (not a test): the memory of the one-node cluster (`drover start`: controller, the
// embedded database, a local agent) — its peak (VmHWM) over a first start on a fresh home and
// over a second start, and its steady RSS 30 s after it answers; then, on the second start, 300
// `/bin/true` jobs (three MWS arrays of 100): how long until all ended, the CPU the process
// spent on them, its RSS after. Runs dist/drover (bash scripts/build first) unless --source is
// given (bun controller/src/cli.ts start).
//
//   bun scripts/bench-start-memory.ts [--source] [--write]
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { writeBenchmarkSection } from "./bench-report.ts";
import { ticks } from "./cpu-ticks.ts";
import { procStatusMb as status, startOneNodeCluster } from "./one-node-cluster.ts";

const source = process.argv.includes("--source");
const write = process.argv.includes("--write");
const home = mkdtempSync(join(tmpdir(), "drover-start-mem-"));
const figures: Record<string, string> = {};

/** 300 `/bin/true` jobs through the MWS API, three arrays of 100 at once; waits until none is active. */
async function runJobs(url: string, pid: number, label: string): Promise<void> {
  const auth = { Authorization: `Basic ${btoa("admin:memory-bench")}` };
  const cpu0 = ticks(pid);
  const t0 = performance.now();
  const batch = JSON.stringify(Array.from({ length: 100 }, () => ({ commandLine: "/bin/true" })));
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${url}/rest/jobs`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: batch });
    if (res.status !== 201) throw new Error(`submitting jobs: ${res.status} ${await res.text()}`);
  }
  for (;;) {
    const active = (await (await fetch(`${url}/rest/jobs/active`, { headers: auth })).json()) as { totalCount: number };
    if (active.totalCount === 0) break;
    if (performance.now() - t0 > 600_000) throw new Error(`${active.totalCount} jobs still active after 10 minutes`);
    await Bun.sleep(200);
  }
  const seconds = (performance.now() - t0) / 1000;
  figures[`${label}: 300 /bin/true jobs (3 arrays of 100) all ended after`] = `${seconds.toFixed(1)} s (${(300 / seconds).toFixed(0)} jobs/s)`;
  const cpuMs = (ticks(pid) - cpu0) * 10;
  figures[`${label}: CPU the process spent on them`] = `${(cpuMs / 1000).toFixed(1)} s (${(cpuMs / 300).toFixed(0)} ms a job)`;
  figures[`${label}: RSS after them / peak RSS (VmHWM) by then`] = `${status(pid, "VmRSS").toFixed(0)} MB / ${status(pid, "VmHWM").toFixed(0)} MB`;
}

async function run(label: string, withJobs = false): Promise<void> {
  const { proc, url, readyMs, stop } = await startOneNodeCluster({ home, password: "memory-bench", source });
  await Bun.sleep(30_000);
  figures[`${label}: ready after`] = `${(readyMs / 1000).toFixed(1)} s`;
  figures[`${label}: peak RSS (VmHWM)`] = `${status(proc.pid, "VmHWM").toFixed(0)} MB`;
  figures[`${label}: RSS 30 s after it answers`] = `${status(proc.pid, "VmRSS").toFixed(0)} MB`;
  if (withJobs) await runJobs(url, proc.pid, label);
  await stop();
}

try {
  await run("first start (fresh home)");
  await run("second start", true);
} finally {
  rmSync(home, { recursive: true, force: true });
}
for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
console.log(`${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`);
if (write) {
  writeBenchmarkSection(`The one-node cluster's memory (${source ? "from the sources" : "dist/drover"})`, `bun scripts/bench-start-memory.ts${source ? " --source" : ""} --write`, figures, [
    "`drover start`: the controller, the embedded database (PGlite) and the local agent in one process, idle, then (second start) taking 300 jobs.",
    "Targets (issue 22): under 150 MB steady and under 300 MB at any moment, first start included. Before: 317 MB steady, 1.17 GB at the first start (PGlite's initdb).",
  ]);
}

// Benchmark (not a test): the memory of the one-node cluster (`drover start`: controller, the
// embedded database, a local agent) — its peak (VmHWM) over a first start on a fresh home and
// over a second start, and its steady RSS 30 s after it answers. Runs dist/drover (bash
// scripts/build first) unless --source is given (bun controller/src/cli.ts start).
//
//   bun scripts/bench-start-memory.ts [--source] [--write]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { freePort } from "../tests/helpers/cluster.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const source = process.argv.includes("--source");
const write = process.argv.includes("--write");
const ROOT = join(import.meta.dir, "..");
const status = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const home = mkdtempSync(join(tmpdir(), "drover-start-mem-"));
const figures: Record<string, string> = {};

async function run(label: string): Promise<void> {
  const [http, grpc] = [await freePort(), await freePort()];
  const argv = source ? [process.execPath, "controller/src/cli.ts", "start"] : ["./dist/drover", "start"];
  const proc = Bun.spawn(argv, { cwd: ROOT, env: { ...process.env, DROVER_HOME: home, DROVER_HTTP_PORT: String(http), DROVER_GRPC_PORT: String(grpc), DROVER_LOG_LEVEL: "warn", DROVER_ADMIN_PASSWORD: "memory-bench" }, stdout: "ignore", stderr: "inherit" });
  const t0 = performance.now();
  for (;;) {
    if ((await fetch(`http://127.0.0.1:${http}/health`).catch(() => undefined))?.ok) break;
    if (performance.now() - t0 > 120_000) throw new Error("drover start did not answer");
    await Bun.sleep(100);
  }
  const ready = performance.now() - t0;
  await Bun.sleep(30_000);
  figures[`${label}: ready after`] = `${(ready / 1000).toFixed(1)} s`;
  figures[`${label}: peak RSS (VmHWM)`] = `${status(proc.pid, "VmHWM").toFixed(0)} MB`;
  figures[`${label}: RSS 30 s after it answers`] = `${status(proc.pid, "VmRSS").toFixed(0)} MB`;
  proc.kill("SIGTERM");
  await proc.exited;
}

try {
  await run("first start (fresh home)");
  await run("second start");
} finally {
  rmSync(home, { recursive: true, force: true });
}
for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
console.log(`${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`);
if (write) {
  writeBenchmarkSection(`The one-node cluster's memory (${source ? "from the sources" : "dist/drover"})`, `bun scripts/bench-start-memory.ts${source ? " --source" : ""} --write`, figures, [
    "`drover start`: the controller, the embedded database (PGlite) and the local agent in one process, idle.",
    "Targets (issue 22): under 150 MB steady and under 300 MB at any moment, first start included. Before: 317 MB steady, 1.17 GB at the first start (PGlite's initdb).",
  ]);
}

// Soak (not a test): minutes of mixed load (scripts/soak-load.ts) on a controller with two
// agents as processes, real Postgres; the controller's and agents' RSS and open files sampled
// every 10 s, their slope after the first fifth (warm-up) reported.
//
//   bun scripts/soak.ts [MINUTES] [--write]      (default 10; --write updates BENCHMARKS.md)
import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "./bench-database.ts";
import { runSoak, slope } from "./soak-load.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const minutes = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 10);
const db = await freshDatabase();
const c = new Cluster({ databaseUrl: db.url, env: { DROVER_LOG_LEVEL: "warn" } });
const figures: Record<string, string> = {};
let failed = false;
try {
  await c.startController();
  await c.startAgent("soak-a");
  await c.startAgent("soak-b");
  const r = await runSoak(c, minutes * 60, 10_000);
  const warm = r.samples.filter((s) => s.at - r.samples[0]!.at >= (r.seconds * 1000) / 5);
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
  for (const proc of Object.keys(r.samples[0]!.rss)) {
    const rss = warm.map((s): [number, number] => [(s.at - warm[0]!.at) / 60_000, s.rss[proc]!]);
    const fds = warm.map((s): [number, number] => [(s.at - warm[0]!.at) / 60_000, s.fds[proc]!]);
    figures[`${proc}: RSS after warm-up, first → last (slope)`] = `${mb(rss[0]![1])} → ${mb(rss.at(-1)![1])} (${(slope(rss) / 1024 / 1024).toFixed(2)} MB/min)`;
    figures[`${proc}: open files after warm-up, first → last (slope)`] = `${fds[0]![1]} → ${fds.at(-1)![1]} (${slope(fds).toFixed(2)}/min)`;
  }
  figures["load"] = `${r.seconds.toFixed(0)} s, ${r.requests.toLocaleString("en")} requests, ${r.jobs.toLocaleString("en")} jobs tracked (plus wr and caesar jobs)`;
  figures["errors answered that the load did not ask for"] = String(r.errors.length);
  figures["jobs not accounted for at the end (not completed or cancelled)"] = String(r.unaccounted.length);
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
  for (const e of r.errors.slice(0, 20)) console.log(`error: ${e}`);
  failed = r.errors.length > 0 || r.unaccounted.length > 0;
} finally {
  await c.stop();
  await db.drop();
}
if (process.argv.includes("--write")) {
  writeBenchmarkSection(`Soak: ${minutes} minutes of mixed load`, `bun scripts/soak.ts ${minutes} --write`, figures, [
    "A controller and two agents as processes on the same 2-core machine, real Postgres. Each round: 10 MWS /bin/true jobs and a sleep 30 cancelled at once, 2 wr jobs and their look-up, a caesar upload and job, an MDWorkbench launch, a report sample, four queries (drover, MWS, nodes, overview). RSS and open files sampled every 10 s; slopes are least squares after the first fifth of the run.",
  ]);
}
process.exit(failed ? 1 : 0);

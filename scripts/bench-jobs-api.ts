// Benchmark of the MWS jobs API (not a test): paging through 100,000 stored jobs and showing one.
// Real controller in this process, real Postgres; times are measured at the client over
// loopback, so they include HTTP as well as the server's work.
//
//   bun scripts/bench-jobs-api.ts [--write]      (--write updates BENCHMARKS.md)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { loadConfig } from "../shared/src/config.ts";
import { startController } from "../controller/src/controller.ts";
import { POSTGRES_URL } from "../tests/helpers/databases.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const JOBS = 100_000;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

const dbName = `drover_bench_jobs_${process.pid}`;
const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const url = new URL(POSTGRES_URL);
url.pathname = `/${dbName}`;
const home = mkdtempSync(join(tmpdir(), "drover-bench-"));
const password = "bench-password";
const controller = await startController({
  config: loadConfig({ DROVER_HTTP_PORT: "0", DROVER_GRPC_PORT: "0", DATABASE_URL: url.toString() }, home),
  adminPassword: password,
});
const figures: Record<string, string> = {};
try {
  // 100,000 finished jobs with realistic fields, written straight into the table
  await controller.database.db.execute(sql`
    insert into jobs (name, owner, argv, state, exit_code, submitted_at, started_at, ended_at, allocated_nodes, node_id, messages, start_count, attempt)
    select 'job-' || i, case when i % 10 = 0 then 'alice' else 'admin' end, '["/bin/true"]'::jsonb, 'completed', 0,
           now() - interval '1 day', now() - interval '23 hours', now() - interval '22 hours',
           '[{"node":"node-a","cpus":1}]'::jsonb, 'node-a', '[]'::jsonb, 1, 1
    from generate_series(1, ${JOBS}) as i`);
  await controller.database.db.execute(sql`analyze jobs`);
  const auth = { authorization: `Basic ${btoa(`admin:${password}`)}` };
  const get = async (path: string) => {
    const t = performance.now();
    const res = await fetch(controller.url + path, { headers: auth });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return performance.now() - t;
  };
  for (let i = 0; i < 20; i++) await get(`/rest/jobs?max=100&offset=${i * 1000}`); // warm-up
  const pages: number[] = [];
  for (let i = 0; i < 200; i++) pages.push(await get(`/rest/jobs?max=100&offset=${Math.floor(Math.random() * (JOBS - 100))}`));
  const shows: number[] = [];
  for (let i = 0; i < 1000; i++) shows.push(await get(`/rest/jobs/drover.${1 + Math.floor(Math.random() * JOBS)}`));
  figures[`GET /rest/jobs?max=100&offset=N, ${JOBS.toLocaleString("en")} jobs stored (p50 / p99; target p50 < 50 ms)`] = `${quantile(pages, 0.5).toFixed(1)} ms / ${quantile(pages, 0.99).toFixed(1)} ms`;
  figures["GET /rest/jobs/{id} (p50 / p99; target p50 < 5 ms)"] = `${quantile(shows, 0.5).toFixed(2)} ms / ${quantile(shows, 0.99).toFixed(2)} ms`;
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
} finally {
  await controller.stop();
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
  rmSync(home, { recursive: true, force: true });
}

if (process.argv.includes("--write")) {
  writeBenchmarkSection("MWS jobs API: listing and showing with 100,000 jobs stored", "bun scripts/bench-jobs-api.ts --write", figures, [
    "Measured at the client over loopback (HTTP included), admin credentials, random offsets and ids; Postgres on the same machine.",
  ]);
}

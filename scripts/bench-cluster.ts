// Benchmark of the agents issue (not a test): REST submission rate, end-to-end throughput of
// /bin/true jobs with 1 and 4 agents against the machine's raw Bun.spawn rate, submit→start
// latency on an idle cluster, and an idle agent's RSS and CPU. Real processes, real Postgres.
//
//   bun scripts/bench-cluster.ts [--write]      (--write updates BENCHMARKS.md)
import { cpus, tmpdir, totalmem } from "node:os";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { Cluster } from "../tests/helpers/cluster.ts";
import { until } from "../tests/helpers/until.ts";
import { freshDatabase } from "./bench-database.ts";
import { writeBenchmarkSection } from "./bench-report.ts";
import { childTicks, machineTicks, postgresTicks, ticks } from "./cpu-ticks.ts";

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

async function rawSpawnRate(n: number, concurrency: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await Bun.spawn(["/bin/true"]).exited;
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}


async function withCluster<T>(agents: number, fn: (c: Cluster, sql: postgres.Sql) => Promise<T>): Promise<T> {
  const db = await freshDatabase();
  const c = new Cluster({ databaseUrl: db.url, env: { DROVER_LOG_LEVEL: "warn", DROVER_SAMPLE_INTERVAL: "10s", DROVER_HEARTBEAT_INTERVAL: "5s", DROVER_NODE_TIMEOUT: "30s" } });
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  try {
    await c.startController();
    await Promise.all(Array.from({ length: agents }, (_, i) => c.startAgent(`bench-${i}`)));
    return await fn(c, sql);
  } finally {
    await sql.end();
    await c.stop();
    await db.drop();
  }
}

async function completedCount(sql: postgres.Sql): Promise<number> {
  const [r] = await sql`select count(*)::int as n from jobs where state in ('completed','failed','cancelled','lost')`;
  return r!.n as number;
}

/** Jobs per second, and where their CPU went (ms per job) while they ran. */
async function throughput(c: Cluster, sql: postgres.Sql, n: number): Promise<{ rate: number; cpu: string }> {
  const before = await completedCount(sql);
  const controller = c.controller!.proc.pid;
  const agents = [...c.agents.values()].map((a) => a.proc.pid);
  const sum = (f: (pid: number) => number) => agents.reduce((t, pid) => t + f(pid), 0);
  const cpu0 = { c: ticks(controller), a: sum((p) => ticks(p)), jobs: sum((p) => ticks(p, true) + childTicks(p)), pg: postgresTicks(), m: machineTicks() };
  const t0 = performance.now();
  for (let i = 0; i < n; i += 500) {
    await c.json("/rest/jobs", { method: "POST", json: Array.from({ length: Math.min(500, n - i) }, () => ({ commandFile: "/bin/true" })) });
  }
  await until(async () => (await completedCount(sql)) >= before + n, 600_000, "jobs to finish");
  const rate = n / ((performance.now() - t0) / 1000);
  const m = machineTicks();
  const per = (t: number) => ((t * 10) / n).toFixed(2);
  const idle = ((100 * (m.idle - cpu0.m.idle)) / (m.total - cpu0.m.total)).toFixed(0);
  const cpu =
    `controller ${per(ticks(controller) - cpu0.c)}, agent${agents.length > 1 ? "s" : ""} ${per(sum((p) => ticks(p)) - cpu0.a)}, ` +
    `the jobs' processes ${per(sum((p) => ticks(p, true) + childTicks(p)) - cpu0.jobs)}, Postgres ${per(postgresTicks() - cpu0.pg)} ms; CPUs idle ${idle} %`;
  return { rate, cpu };
}

/** Logs a throughput run's rate and, on a second row, where its CPU went. */
function logThroughput(label: string, r: { rate: number; cpu: string }): void {
  log(label, `${r.rate.toFixed(0)} jobs/s`);
  log(`${label}: CPU per job`, r.cpu);
}

const results: Record<string, string> = {};
const log = (k: string, v: string) => {
  results[k] = v;
  console.log(`${k}: ${v}`);
};

/** CPU to create a directory where the agents keep their jobs' directories (it varies a lot between disks). */
function mkdirCost(dir: string, n = 1000): number {
  const base = mkdtempSync(join(dir, "drover-bench-mkdir-"));
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) mkdirSync(join(base, String(i)));
  const used = process.cpuUsage(before);
  rmSync(base, { recursive: true, force: true });
  return (used.user + used.system) / n;
}
log(`creating a directory under ${tmpdir()} (CPU)`, `${mkdirCost(tmpdir()).toFixed(0)} µs`);

const raw = await rawSpawnRate(2000, cpus().length);
log("raw Bun.spawn of /bin/true (concurrency = cores)", `${raw.toFixed(0)} /s`);

await withCluster(1, async (c, sql) => {
  // REST submission, one job per request, 4 clients in parallel
  const n = 1000;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next++ < n) await c.json("/rest/jobs", { method: "POST", json: { commandFile: "/bin/true", holds: ["USER"] } });
    }),
  );
  log("REST submissions, one per request (4 clients)", `${(n / ((performance.now() - t0) / 1000)).toFixed(0)} jobs/s`);
  const m = 20_000;
  const t1 = performance.now();
  for (let i = 0; i < m; i += 1000) {
    await c.json("/rest/jobs", { method: "POST", json: Array.from({ length: 1000 }, () => ({ commandFile: "/bin/true", holds: ["USER"] })) });
  }
  log("REST submissions, batches of 1000", `${(m / ((performance.now() - t1) / 1000)).toFixed(0)} jobs/s`);
  await sql`delete from jobs`;

  // latency on an idle cluster: one job at a time
  const latencies: number[] = [];
  for (let i = 0; i < 100; i++) {
    const { id } = await c.json<{ id: string }>("/rest/jobs", { method: "POST", json: { commandFile: "/bin/true" } });
    const jobId = Number(id.replace("drover.", ""));
    const row = await until(async () => {
      const [r] = await sql`select extract(epoch from submitted_at) * 1000 as s, extract(epoch from started_at) * 1000 as t from jobs where id = ${jobId} and state = 'completed'`;
      return r;
    }, 10_000, "job to complete");
    latencies.push(Number(row.t) - Number(row.s));
  }
  log("submit→start latency, idle cluster (p50 / p99)", `${quantile(latencies, 0.5).toFixed(1)} ms / ${quantile(latencies, 0.99).toFixed(1)} ms`);

  logThroughput("end-to-end /bin/true throughput, 1 agent", await throughput(c, sql, 3000));

  // idle agent: RSS and CPU over 20 s
  const pid = c.agents.get("bench-0")!.proc.pid;
  await Bun.sleep(2000);
  const t = ticks(pid);
  const w0 = performance.now();
  await Bun.sleep(20_000);
  const cpu = (ticks(pid) - t) / 100 / ((performance.now() - w0) / 1000);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
  log("idle agent RSS", `${rss.toFixed(0)} MB`);
  log("idle agent CPU", `${(cpu * 100).toFixed(2)} % of a core`);
});

await withCluster(4, async (c, sql) => {
  logThroughput("end-to-end /bin/true throughput, 4 agents", await throughput(c, sql, 3000));
});

// The same with the agent's data directory (its jobs' directories and output files) on tmpfs:
// on some disks creating the 2 directories and files of each job costs more than the job.
if (existsSync("/dev/shm")) {
  const tmp = process.env.TMPDIR;
  process.env.TMPDIR = "/dev/shm";
  try {
    await withCluster(1, async (c, sql) => {
      logThroughput("end-to-end /bin/true throughput, 1 agent, its data directory on tmpfs", await throughput(c, sql, 3000));
    });
  } finally {
    if (tmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmp;
  }
}

if (process.argv.includes("--write")) {
  writeBenchmarkSection("Agents and end-to-end execution (issue: agents)", "bun scripts/bench-cluster.ts --write", results, [
    `Targets: end-to-end throughput ≥ half the raw Bun.spawn rate; p50 submit→start < 10 ms; idle agent < 60 MB RSS and < 1 % of a core.`,
    `Agents run on the same ${cpus().length}-core machine as the controller and Postgres, so they share its cores. Their data directories (each job's directory and output files) are under ${tmpdir()} unless the row says tmpfs.`,
  ]);
}
process.exit(0);

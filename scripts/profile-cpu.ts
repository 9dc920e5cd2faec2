// Where the CPU of end-to-end execution goes: CPU seconds per job of the controller, the agent
// and Postgres, and transactions per job, while N /bin/true jobs run through a one-agent
// cluster. Not a benchmark of record.
//   bun scripts/profile-cpu.ts [N]
// DROVER_LOG_STATEMENTS=1 has Postgres log every statement with its duration (in its server
// log); DROVER_CPU_PROFILE=controller|agent has that process write a CPU profile (see
// tests/helpers/cluster.ts); DROVER_PROFILE_AGENTS=4 runs four agents (the first is measured); DROVER_NODE_BACKLOG, DROVER_BATCH_WINDOW and TMPDIR (where the agent keeps its jobs'
// directories) are passed on.
import postgres from "postgres";
import { Cluster } from "../tests/helpers/cluster.ts";
import { POSTGRES_URL } from "../tests/helpers/databases.ts";
import { until } from "../tests/helpers/until.ts";
import { childTicks, machineTicks as machine, postgresTicks, ticks } from "./cpu-ticks.ts";

const name = `drover_profile_${process.pid}`;
const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
if (process.env.DROVER_LOG_STATEMENTS) await admin.unsafe(`alter database ${name} set log_min_duration_statement = 0`);
const u = new URL(POSTGRES_URL);
u.pathname = `/${name}`;
const c = new Cluster({ databaseUrl: u.toString(), env: { DROVER_LOG_LEVEL: "warn", DROVER_SAMPLE_INTERVAL: "10s", DROVER_HEARTBEAT_INTERVAL: "5s", DROVER_NODE_TIMEOUT: "30s", ...(process.env.DROVER_NODE_BACKLOG ? { DROVER_NODE_BACKLOG: process.env.DROVER_NODE_BACKLOG } : {}), ...(process.env.DROVER_BATCH_WINDOW ? { DROVER_BATCH_WINDOW: process.env.DROVER_BATCH_WINDOW } : {}) } });
const sql = postgres(u.toString(), { max: 1, onnotice: () => {} });
try {
  await c.startController();
  const agentCount = Number(process.env.DROVER_PROFILE_AGENTS ?? 1);
  for (let i = 0; i < agentCount; i++) await c.startAgent(`p-${i}`);
  const n = Number(process.argv[2] ?? 1000);
  const controller = c.controller!.proc.pid;
  const agent = c.agents.get("p-0")!.proc.pid;
  const before = { c: ticks(controller), cs: ticks(controller, false, "sys"), a: ticks(agent), as: ticks(agent, false, "sys"), jobs: ticks(agent, true), helpers: childTicks(agent), p: postgresTicks(), self: ticks(process.pid) };
  const xacts = async () => Number((await admin`select xact_commit from pg_stat_database where datname = ${name}`)[0]!.xact_commit);
  const x0 = await xacts();
  const m0 = machine();
  const t0 = performance.now();
  await c.json("/rest/jobs", { method: "POST", json: Array.from({ length: n }, () => ({ commandFile: "/bin/true" })) });
  await until(async () => ((await sql`select count(*)::int n from jobs where state = 'completed'`)[0]!.n as number) >= n, 600_000, "jobs to finish");
  const secs = (performance.now() - t0) / 1000;
  const per = (t: number) => `${((t * 10) / n).toFixed(2)} ms/job`;
  const m1 = machine();
  console.log(`${n} jobs in ${secs.toFixed(1)} s = ${(n / secs).toFixed(0)} jobs/s; the machine's CPUs were idle ${((100 * (m1.idle - m0.idle)) / (m1.total - m0.total)).toFixed(0)} % of the time`);
  console.log("controller", per(ticks(controller) - before.c), `(kernel ${per(ticks(controller, false, "sys") - before.cs)})`);
  console.log("agent", per(ticks(agent) - before.a), `(kernel ${per(ticks(agent, false, "sys") - before.as)})`);
  console.log("its jobs' processes", per(ticks(agent, true) - before.jobs));
  console.log("its helpers (the orphan guard)", per(childTicks(agent) - before.helpers));
  console.log("postgres", per(postgresTicks() - before.p));
  console.log("this harness", per(ticks(process.pid) - before.self));
  console.log("transactions", ((await xacts()) - x0) / n, "per job");
  // (the statistics collector reports with a delay of up to a second)
  await Bun.sleep(1500);
  const [upd] = await sql`select n_tup_upd::int as upd, n_tup_hot_upd::int as hot from pg_stat_user_tables where relname = 'jobs'`;
  console.log("updates of job rows", (upd!.upd / n).toFixed(2), "per job", `(${(upd!.hot / n).toFixed(2)} HOT)`);
  const events = await sql`select kind, count(*)::int as n from job_events group by kind order by kind`;
  console.log("job events", events.map((e) => `${e.kind} ${e.n}`).join(", "));
} finally {
  await sql.end();
  await c.stop();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
process.exit(0);

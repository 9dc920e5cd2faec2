// Where the CPU of end-to-end execution goes: CPU seconds per job of the controller, the agent
// and Postgres while N /bin/true jobs run through a one-agent cluster. Not a benchmark of record.
//   bun scripts/profile-cpu.ts [N]
import { readdirSync, readFileSync } from "node:fs";
import postgres from "postgres";
import { Cluster } from "../tests/helpers/cluster.ts";
import { POSTGRES_URL } from "../tests/helpers/databases.ts";
import { until } from "../tests/helpers/until.ts";

const ticks = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
};
const postgresTicks = () =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, "utf8").trim().startsWith("postgres");
      } catch {
        return false;
      }
    })
    .reduce((sum, d) => sum + ticks(Number(d)), 0);

const name = `drover_profile_${process.pid}`;
const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const u = new URL(POSTGRES_URL);
u.pathname = `/${name}`;
const c = new Cluster({ databaseUrl: u.toString(), env: { DROVER_LOG_LEVEL: "warn", DROVER_SAMPLE_INTERVAL: "10s", DROVER_HEARTBEAT_INTERVAL: "5s", DROVER_NODE_TIMEOUT: "30s" } });
const sql = postgres(u.toString(), { max: 1, onnotice: () => {} });
try {
  await c.startController();
  await c.startAgent("p-0");
  const n = Number(process.argv[2] ?? 1000);
  const controller = c.controller!.proc.pid;
  const agent = c.agents.get("p-0")!.proc.pid;
  const before = { c: ticks(controller), a: ticks(agent), p: postgresTicks(), self: ticks(process.pid) };
  const t0 = performance.now();
  await c.json("/rest/jobs", { method: "POST", json: Array.from({ length: n }, () => ({ commandFile: "/bin/true" })) });
  await until(async () => ((await sql`select count(*)::int n from jobs where state = 'completed'`)[0]!.n as number) >= n, 600_000, "jobs to finish");
  const secs = (performance.now() - t0) / 1000;
  const per = (t: number) => `${((t * 10) / n).toFixed(2)} ms/job`;
  console.log(`${n} jobs in ${secs.toFixed(1)} s = ${(n / secs).toFixed(0)} jobs/s`);
  console.log("controller", per(ticks(controller) - before.c));
  console.log("agent (incl. children? no)", per(ticks(agent) - before.a));
  console.log("postgres", per(postgresTicks() - before.p));
  console.log("this harness", per(ticks(process.pid) - before.self));
  const events = await sql`select kind, count(*)::int as n from job_events group by kind order by kind`;
  console.log("job events", events.map((e) => `${e.kind} ${e.n}`).join(", "));
} finally {
  await sql.end();
  await c.stop();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
process.exit(0);

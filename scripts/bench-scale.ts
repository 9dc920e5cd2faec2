// A controller at scale, with simulated agents (scripts/simulate-agents.ts) over real gRPC:
// idle load of N nodes (controller CPU and memory, heartbeats and samples taken per second,
// GET /rest/nodes), then M one-processor jobs queued over them (placements and completions per
// second). Postgres on this machine; the controller, the simulator and Postgres share its CPUs.
//
//   bun scripts/bench-scale.ts [--agents 10000] [--jobs 100000] [--idle 30s] [--controllers 1]
//        [--cores 4] [--job-seconds 1] [--socket /var/run/postgresql] [--write]
//
// --socket DIR: the controllers reach Postgres through its Unix socket in DIR (?host=DIR).
//
// --job-seconds N: each job is `sleep N` (simulated). Short jobs (up to 30 s) measure placements
// and completions until every job completed; long ones (over 30 s, with --cores × --agents at
// least --jobs) measure placement as Nomad's C1M does: every job placed and started, none ending.
//
// --controllers K: K controllers on the one database (peers, see README "Several controllers"),
// the agents spread evenly over them (one simulator each); jobs are submitted through the first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { parseDuration } from "../shared/src/durations.ts";
import { freePort } from "../tests/helpers/cluster.ts";
import { ticks, postgresTicks } from "./cpu-ticks.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const { values } = parseArgs({ options: { agents: { type: "string", default: "10000" }, jobs: { type: "string", default: "100000" }, idle: { type: "string", default: "30s" }, cores: { type: "string", default: "4" }, controllers: { type: "string", default: "1" }, "job-seconds": { type: "string", default: "1" }, socket: { type: "string" }, write: { type: "boolean" } } });
const JOB_SECONDS = Number(values["job-seconds"]);
const LONG = JOB_SECONDS > 30;
const CONTROLLERS = Math.max(1, Number(values.controllers));
const AGENTS = Number(values.agents);
const JOBS = Number(values.jobs);
const IDLE_MS = parseDuration(values.idle!);
const ROOT = join(import.meta.dir, "..");
const PG = process.env.DROVER_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const db = `drover_scale_${process.pid}`;
const admin = postgres(PG, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${db}`);
const url = new URL(PG);
url.pathname = `/${db}`;
const home = mkdtempSync(join(tmpdir(), "drover-scale-"));
const ports = await Promise.all(Array.from({ length: CONTROLLERS }, async () => [await freePort(), await freePort()] as const));
const [httpPort] = ports[0]!;
const figures: Record<string, string> = {};
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const base = `http://127.0.0.1:${httpPort}`;
const one = CONTROLLERS === 1;
const ctl = one ? "controller" : `${CONTROLLERS} controllers`;

// DROVER_CPU_PROFILE=1: the controller writes a CPU profile (markdown) into $TMPDIR/drover-profile-scale
const profile = process.env.DROVER_CPU_PROFILE === "1" ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${join(tmpdir(), "drover-profile-scale")}`] : [];
const controllers: ReturnType<typeof Bun.spawn>[] = [];
const startController = async (k: number) => {
  const [http, grpc] = ports[k]!;
  const dir = join(home, `controller-${k}`);
  controllers.push(Bun.spawn([process.execPath, ...profile, "controller/src/cli.ts", "controller"], {
    cwd: ROOT,
    env: { ...process.env, DROVER_HOME: dir, DROVER_HTTP_PORT: String(http), DROVER_GRPC_PORT: String(grpc), DATABASE_URL: values.socket ? `${url}?host=${values.socket}` : url.toString(), DROVER_ADMIN_PASSWORD: "scale-admin-password", DROVER_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "inherit",
  }));
  for (let i = 0; ; i++) {
    if ((await fetch(`http://127.0.0.1:${http}/health`).catch(() => undefined))?.ok) break;
    if (i > 600) throw new Error("the controller did not start");
    await Bun.sleep(100);
  }
};
const controllersTicks = () => controllers.reduce((sum, c) => sum + ticks(c.pid), 0);
const controllersRss = () => controllers.reduce((sum, c) => sum + rss(c.pid), 0);
const simulators: ReturnType<typeof Bun.spawn>[] = [];
try {
  // (one after another: the first applies the migrations)
  for (let k = 0; k < CONTROLLERS; k++) await startController(k);
  const { token } = (await (await fetch(`${base}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "scale-admin-password" }) })).json()) as { token: string };
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const agentToken = ((await (await fetch(`${base}/auth/agent-tokens`, { method: "POST", headers: auth, body: JSON.stringify({ name: "simulator" }) })).json()) as { token: string }).token;
  const tokenFile = join(home, "agent-token");
  writeFileSync(tokenFile, agentToken, { mode: 0o600 });

  // N simulated agents, connecting 1,000 a second (spread over the controllers)
  const simStart = performance.now();
  const outputs: string[][] = [];
  for (let k = 0; k < CONTROLLERS; k++) {
    const n = Math.floor(AGENTS / CONTROLLERS) + (k < AGENTS % CONTROLLERS ? 1 : 0);
    const sim = Bun.spawn([process.execPath, "scripts/simulate-agents.ts", "--controller", `127.0.0.1:${ports[k]![1]}`, "--token-file", tokenFile, "--agents", String(n), "--prefix", `sim${k}`, "--cores", values.cores!, "--ramp", String(Math.ceil(1000 / CONTROLLERS)), "--job-time", "1s", "--stats", "1s"], {
      cwd: ROOT, stdout: "pipe", stderr: "inherit",
    });
    simulators.push(sim);
    const lines: string[] = [];
    outputs.push(lines);
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of sim.stdout as ReadableStream<Uint8Array>) lines.push(...decoder.decode(chunk).split("\n").filter(Boolean));
    })();
  }
  const registered = () => outputs.reduce((sum, lines) => sum + Number(/registered=(\d+)/.exec(lines.at(-1) ?? "")?.[1] ?? 0), 0);
  while (registered() < AGENTS) {
    if (performance.now() - simStart > 600_000) throw new Error(`only ${registered()} of ${AGENTS} agents registered in 10 minutes`);
    await Bun.sleep(500);
  }
  figures[`${AGENTS.toLocaleString("en")} simulated agents registered (1,000 connecting a second)`] = `${((performance.now() - simStart) / 1000).toFixed(1)} s`;

  // idle: default heartbeat (5 s) and sample (10 s) intervals
  await Bun.sleep(10_000);
  const t0 = { c: controllersTicks(), pg: postgresTicks(), at: performance.now(), lines: outputs.map((l) => l.length) };
  await Bun.sleep(IDLE_MS);
  const secs = (performance.now() - t0.at) / 1000;
  const t1 = { c: controllersTicks(), pg: postgresTicks() };
  const windows = outputs.map((lines, k) => lines.slice(t0.lines[k]));
  const mean = (key: string) => windows.reduce((sum, window) => sum + window.map((l) => Number(new RegExp(`${key}=(\\d+)`).exec(l)?.[1] ?? 0)).reduce((a, b) => a + b, 0) / Math.max(1, window.length), 0);
  figures[`idle, ${AGENTS.toLocaleString("en")} nodes: ${ctl} CPU (% of one core) / Postgres CPU`] = `${((t1.c - t0.c) / secs).toFixed(1)}% / ${((t1.pg - t0.pg) / secs).toFixed(0)}%`;
  figures[`idle, ${AGENTS.toLocaleString("en")} nodes: ${ctl} RSS`] = `${controllersRss().toFixed(0)} MB`;
  figures[`idle, ${AGENTS.toLocaleString("en")} nodes: heartbeats / samples taken per second`] = `${mean("heartbeats/s").toFixed(0)} / ${mean("samples/s").toFixed(0)}`;
  const lat: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const res = await fetch(`${base}/rest/nodes`, { headers: auth });
    await res.arrayBuffer();
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  figures[`GET /rest/nodes with ${AGENTS.toLocaleString("en")} nodes (median of 5)`] = `${lat[2]!.toFixed(0)} ms`;

  // M one-processor jobs of a simulated second each (--jobs 0: none)
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  if (JOBS > 0) {
  const submitStart = performance.now();
  const BATCH = 10_000;
  for (let i = 0; i < JOBS; i += BATCH) {
    const n = Math.min(BATCH, JOBS - i);
    const res = await fetch(`${base}/jobs`, { method: "POST", headers: auth, body: JSON.stringify(Array.from({ length: n }, () => ({ command: ["sleep", String(JOB_SECONDS)] }))) });
    if (res.status !== 201) throw new Error(`submission: ${res.status} ${await res.text()}`);
  }
  const submitted = performance.now();
  // CPU from here to the last start: what placing and starting a job costs each party
  const simTicks = () => simulators.reduce((sum, p) => sum + ticks(p.pid), 0);
  const cpuFrom = { c: controllersTicks(), pg: postgresTicks(), sim: simTicks() };
  figures[`${JOBS.toLocaleString("en")} jobs submitted (POST /jobs, 10,000 a request)`] = `${((submitted - submitStart) / 1000).toFixed(1)} s`;
  let firstDispatch = 0;
  let lastCount = 0;
  for (;;) {
    const [row] = await sql`select count(*) filter (where dispatched_at is not null or state <> 'queued') as placed, count(*) filter (where state = 'completed') as done, count(*) filter (where started_at is not null or state in ('lost', 'failed', 'cancelled', 'completed')) as settled from jobs`;
    const placed = Number(row!.placed);
    if (placed > 0 && !firstDispatch) firstDispatch = performance.now();
    // (a long job is settled once started, or ended without starting: lost with its node)
    if (Number(LONG ? row!.settled : row!.done) >= JOBS) break;
    if (performance.now() - submitStart > 1_800_000) throw new Error(`stuck: ${placed} placed, ${row!.done} completed`);
    lastCount = placed;
    await Bun.sleep(500);
  }
  void lastCount;
  const [span] = await sql`select extract(epoch from max(dispatched_at) - min(dispatched_at)) as placing, extract(epoch from max(started_at) - min(dispatched_at)) as starting, extract(epoch from max(ended_at) - min(started_at)) as running from jobs`;
  const over = `${JOBS.toLocaleString("en")} one-processor jobs of ${JOB_SECONDS} s over ${AGENTS.toLocaleString("en")} nodes of ${values.cores} processors`;
  figures[`${over}: placements per second (first to last dispatch)`] = `${(JOBS / Number(span!.placing)).toFixed(0)} /s`;
  if (LONG) figures["the same: started per second (first dispatch to last start reported by its agent)"] = `${(JOBS / Number(span!.starting)).toFixed(0)} /s`;
  else figures["the same: simulated jobs completed per second (first start to last end)"] = `${(JOBS / Number(span!.running)).toFixed(0)} /s`;
  const per = (t: number) => ((t * 10_000) / JOBS).toFixed(0);
  figures[`the same: CPU per job placed${LONG ? " and started" : ", run and ended"} (µs)`] = `${ctl} ${per(controllersTicks() - cpuFrom.c)}, Postgres ${per(postgresTicks() - cpuFrom.pg)}, the simulator${one ? "" : "s"} ${per(simTicks() - cpuFrom.sim)}`;
  const [lost] = await sql`select count(*) as n from job_events where kind in ('lost', 'requeued')`.catch(() => [{ n: "?" }]);
  figures["the same: job runs lost or requeued as nodes were taken for lost meanwhile"] = String(lost!.n);
  }
  await sql.end();
  // a controller's stop with every agent still connected (and, above, every job running)
  const stopStart = performance.now();
  for (const c of controllers) c.kill("SIGTERM");
  const codes = await Promise.all(controllers.map((c) => c.exited));
  figures[`${ctl} stopped (SIGTERM to exit, ${AGENTS.toLocaleString("en")} agents connected)`] = `${((performance.now() - stopStart) / 1000).toFixed(1)} s, exit ${[...new Set(codes)].join(", ")}`;
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
  if (values.write) {
    writeBenchmarkSection(`Scale: ${AGENTS.toLocaleString("en")} simulated agents on ${one ? "one controller" : `${CONTROLLERS} controllers sharing one Postgres`}${JOBS ? `, ${JOBS.toLocaleString("en")} jobs of ${JOB_SECONDS} s` : ""}${values.socket ? ", Postgres over its Unix socket" : ""}`, `bun scripts/bench-scale.ts --agents ${AGENTS} --jobs ${JOBS}${one ? "" : ` --controllers ${CONTROLLERS}`}${values.cores !== "4" ? ` --cores ${values.cores}` : ""}${JOB_SECONDS !== 1 ? ` --job-seconds ${JOB_SECONDS}` : ""}${values.socket ? ` --socket ${values.socket}` : ""} --write`, figures, [
      `Agents are simulated by scripts/simulate-agents.ts (${one ? "one process" : `one process per controller, each with its share of the agents`}; real gRPC streams over 100 connections each, the real protocol); the ${one ? "controller, the simulator" : "controllers, the simulators"} and Postgres share the machine's two cores.`,
      "Default intervals: a heartbeat every 5 s and a sample every 10 s per node.",
    ]);
  }
} finally {
  for (const sim of simulators) sim.kill("SIGTERM");
  for (const c of controllers) c.kill("SIGTERM");
  await Promise.all([...controllers, ...simulators].map((p) => p.exited));
  // DROVER_BENCH_KEEP_DB=1 keeps the database for a look afterwards (EXPLAIN of a pass's reads)
  if (process.env.DROVER_BENCH_KEEP_DB === "1") console.log(`kept database ${db}`);
  else await admin.unsafe(`drop database if exists ${db} with (force)`);
  await admin.end();
  rmSync(home, { recursive: true, force: true });
}

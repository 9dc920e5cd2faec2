// Benchmark of the dashboard and the event stream (not a test): the first load's size; the time
// to the first render of the jobs page with 100,000 jobs stored (Debian's chromium, driven by
// playwright-core); the controller CPU that 100 clients of GET /events add while 500 jobs/s run.
// Controller and agent are processes on this machine; real Postgres.
//
//   bun scripts/bench-dashboard.ts [--write]      (--write updates BENCHMARKS.md)
import postgres from "postgres";
import { chromium } from "playwright-core";
import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "./bench-database.ts";
import { until } from "../tests/helpers/until.ts";
import { ticks } from "./cpu-ticks.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const JOBS = 100_000;
const RATE = 500;
const SECONDS = 10;
const CLIENTS = 100;
const figures: Record<string, string> = {};
const log = (k: string, v: string) => {
  figures[k] = v;
  console.log(`${k}: ${v}`);
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const db = await freshDatabase();
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
const c = new Cluster({ databaseUrl: db.url, env: { DROVER_LOG_LEVEL: "warn", DROVER_SAMPLE_INTERVAL: "10s", DROVER_HEARTBEAT_INTERVAL: "5s", DROVER_NODE_TIMEOUT: "30s" } });
try {
  await c.startController();
  await c.startAgent("bench-0");
  const token = await c.adminToken();

  // the first load: the page, its script and its style, as a browser fetches them (gzip)
  let bytes = 0;
  for (const path of ["/ui", "/ui/app.js", "/ui/app.css"]) {
    const res = await fetch(c.url + path, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    bytes += (await res.arrayBuffer()).byteLength;
  }
  log("first load of /ui: page, script and style, gzipped (target < 300 KB)", `${(bytes / 1024).toFixed(1)} KB`);

  // the jobs page over 100,000 stored jobs
  await sql.unsafe(`
    insert into jobs (name, owner, argv, state, exit_code, submitted_at, started_at, ended_at, allocated_nodes, node_id, messages, start_count, attempt)
    select 'job-' || i, case when i % 10 = 0 then 'alice' else 'admin' end, '["/bin/true"]'::jsonb, 'completed', 0,
           now() - interval '1 day', now() - interval '23 hours', now() - interval '22 hours',
           '[{"node":"bench-0","cpus":1}]'::jsonb, 'bench-0', '[]'::jsonb, 1, 1
    from generate_series(1, ${JOBS}) as i`);
  await sql.unsafe("analyze jobs");
  const browser = await chromium.launch({
    executablePath: process.env.DROVER_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const renders: number[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(`${c.url}/ui`);
    await page.evaluate((t) => sessionStorage.setItem("drover.token", t), token);
    for (let i = 0; i < 7; i++) {
      await page.goto("about:blank");
      const t0 = Date.now();
      await page.goto(`${c.url}/ui#/jobs`);
      await page.locator("tr[data-job]").first().waitFor();
      renders.push(Date.now() - t0);
    }
    const filtered: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await page.getByLabel("User").fill(i % 2 ? "alice" : "admin");
      await page.getByLabel("User").press("Enter");
      await page.getByLabel("Search").fill(`job-${9000 + i}`);
      await page.getByLabel("Search").press("Enter");
      await page.locator(`tr[data-job]`).first().waitFor();
      filtered.push(Date.now() - t0);
    }
    log(`jobs page with ${JOBS.toLocaleString("en")} jobs stored: navigation to the first rows drawn (median of 7, first load excluded)`, `${median(renders.slice(1))} ms`);
    log("the same page filtered by user and text (median of 5)", `${median(filtered)} ms`);
  } finally {
    await browser.close();
  }

  // the event stream: controller CPU while 500 /bin/true jobs/s run, without and with 100 clients
  const run = async (clients: number) => {
    const stop = new AbortController();
    let events = 0;
    const readers = Array.from({ length: clients }, async () => {
      try {
        const res = await fetch(`${c.url}/events`, { headers: { authorization: `Bearer ${token}` }, signal: stop.signal });
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) events += chunk.byteLength ? 1 : 0;
      } catch {
        // aborted
      }
    });
    await Bun.sleep(500);
    const [{ n: before }] = await sql`select count(*)::int as n from jobs where state = 'completed'`;
    const cpu0 = ticks(c.controller!.proc.pid);
    const t0 = performance.now();
    for (let s = 0; s < SECONDS * 10; s++) {
      const tick = performance.now();
      await c.json("/rest/jobs", { method: "POST", json: Array.from({ length: RATE / 10 }, () => ({ commandFile: "/bin/true" })) });
      await Bun.sleep(Math.max(0, 100 - (performance.now() - tick)));
    }
    await until(async () => ((await sql`select count(*)::int as n from jobs where state = 'completed'`)[0]!.n >= before + RATE * SECONDS ? true : undefined), 300_000, "the jobs to finish");
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (ticks(c.controller!.proc.pid) - cpu0) / 100;
    stop.abort();
    await Promise.allSettled(readers);
    return { cpu, seconds, events };
  };
  const without = await run(0);
  const withClients = await run(CLIENTS);
  log(`controller CPU while ${(RATE * SECONDS).toLocaleString("en")} /bin/true jobs run at ${RATE}/s, no event clients`, `${without.cpu.toFixed(1)} s in ${without.seconds.toFixed(1)} s`);
  log(`the same with ${CLIENTS} clients on GET /events`, `${withClients.cpu.toFixed(1)} s in ${withClients.seconds.toFixed(1)} s (${withClients.events.toLocaleString("en")} event chunks delivered)`);
  log("controller CPU added by the clients", `${((withClients.cpu - without.cpu) / withClients.seconds * 100).toFixed(1)} % of a core`);
} finally {
  await sql.end();
  await c.stop();
  await db.drop();
}

if (process.argv.includes("--write")) {
  writeBenchmarkSection("Dashboard and event stream", "bun scripts/bench-dashboard.ts --write", figures, [
    "Controller and one agent as processes on the same 2-core machine, real Postgres, Debian's chromium driven by playwright-core. The jobs page reads drover's GET /jobs (keyset paging, newest first). The event stream test submits /bin/true jobs through MWS in batches every 100 ms and counts the controller process's CPU ticks from the first submission until every job completed. The 100 clients read in the benchmark's own process on the same two cores, which is why the jobs took longer to complete with them.",
  ]);
}

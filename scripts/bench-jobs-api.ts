// Benchmark of the MWS jobs API (not a test): paging through 100,000 stored jobs and showing one;
// and the scheduler's pass over 100,000 queued jobs.
// Real controller in this process, real Postgres; times are measured at the client over
// loopback, so they include HTTP as well as the server's work.
//
//   bun scripts/bench-jobs-api.ts [--write]      (--write updates BENCHMARKS.md)
import { sql } from "drizzle-orm";
import { create, RegisterSchema } from "@drover/proto/service";
import { registerNode } from "../controller/src/nodes/register-node.ts";
import { schedulePass } from "../controller/src/scheduler/schedule-pass.ts";
import { writeBenchmarkSection } from "./bench-report.ts";
import { BENCH_PASSWORD, withBenchController } from "./bench-controller.ts";

const JOBS = 100_000;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

const figures: Record<string, string> = {};
await withBenchController("jobs", {}, async (controller) => {
  // 100,000 finished jobs with realistic fields, written straight into the table
  await controller.database.db.execute(sql`
    insert into jobs (name, owner, argv, state, exit_code, submitted_at, started_at, ended_at, allocated_nodes, node_id, messages, start_count, attempt)
    select 'job-' || i, case when i % 10 = 0 then 'alice' else 'admin' end, '["/bin/true"]'::jsonb, 'completed', 0,
           now() - interval '1 day', now() - interval '23 hours', now() - interval '22 hours',
           '[{"node":"node-a","cpus":1}]'::jsonb, 'node-a', '[]'::jsonb, 1, 1
    from generate_series(1, ${JOBS}) as i`);
  await controller.database.db.execute(sql`analyze jobs`);
  const auth = { authorization: `Basic ${btoa(`admin:${BENCH_PASSWORD}`)}` };
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

  // A scheduling pass over a deep queue: 100,000 more jobs queued, one connected 2-processor
  // node (a link that only collects what it is sent), passes timed while it fills and when full.
  await controller.database.db.execute(sql`
    insert into jobs (name, owner, argv) select 'queued-' || i, 'admin', '["/bin/true"]'::jsonb from generate_series(1, ${JOBS}) as i`);
  await controller.database.db.execute(sql`analyze jobs`);
  await registerNode(controller.core.db, create(RegisterSchema, { nodeName: "bench-node", hostname: "bench-node", cores: 2, memoryBytes: 4n << 30n }), controller.core.controllerId);
  controller.core.links.attach({ nodeId: "bench-node", send: () => {}, close: () => {} });
  const timePasses = async (core = controller.core, opts: { backfill?: boolean } = {}) => {
    const passes: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await schedulePass(core, opts);
      passes.push(performance.now() - t);
    }
    return `${quantile(passes, 0.5).toFixed(2)} ms / ${quantile(passes, 0.99).toFixed(2)} ms`;
  };
  figures[`scheduling pass with ${JOBS.toLocaleString("en")} jobs queued (p50 / p99)`] = await timePasses();

  // The same with a wide job at the head of the queue: one processor of the node is taken by a
  // job with a walltime, and a 2-processor job of the highest priority waits for it; each pass
  // plans its start and looks down the queue for jobs that may start ahead of it (none can:
  // the queued jobs have no walltime).
  await controller.database.db.execute(sql`update jobs set state = 'completed' where state in ('dispatching', 'running')`);
  await controller.database.db.execute(sql`
    insert into jobs (name, owner, argv, state, cpus, walltime_ms, started_at, allocated_nodes, node_id, attempt)
    values ('holder', 'admin', '["/bin/sleep","3600"]'::jsonb, 'running', 1, 3600000, now(), '[{"node":"bench-node","cpus":1}]'::jsonb, 'bench-node', 1)`);
  await controller.database.db.execute(sql`insert into jobs (name, owner, argv, cpus, priority) values ('wide', 'admin', '["/bin/true"]'::jsonb, 2, 100)`);
  // without a node backlog, so that the wide job stays queued: every pass plans its start and,
  // with a processor free, looks down the queue for jobs that may start ahead of it
  const noBacklog = { ...controller.core, config: { ...controller.core.config, scheduler: { ...controller.core.config.scheduler, nodeBacklog: 0 } } };
  figures[`scheduling pass with ${JOBS.toLocaleString("en")} jobs queued and a wide job waiting at the head (p50 / p99; target p50 < 5 ms)`] = await timePasses(noBacklog, { backfill: false });
  figures["the same pass with its backfill scan (200 jobs deep; the scheduler runs it at most once a second) (p50 / p99)"] = await timePasses(noBacklog, { backfill: true });

  // With reservations: ten live ones (ACL rules by group, so each pass reads the candidates'
  // templates and groups too), one of them holding the node from an hour on; the queued jobs
  // have no walltime, so every one of them would run into it and none may start there.
  await controller.database.db.execute(sql`
    insert into reservations (id, prefix, seq, owner, created_by, start_at, end_at, acl_rules, holds)
    select 'bench.' || i, 'bench', i, 'root', 'bench', now() + interval '1 hour', now() + interval '2 hours',
           '[{"type":"GROUP","value":"staff","comparator":"LEXIGRAPHIC_EQUAL","affinity":"POSITIVE"}]'::jsonb,
           case when i = 1 then '[{"node":"bench-node","cpus":2,"memoryBytes":4294967296,"gres":{}}]'::jsonb else '[{"node":"elsewhere","cpus":2,"memoryBytes":0,"gres":{}}]'::jsonb end
    from generate_series(1, 10) as i`);
  figures["the same pass with its backfill scan and 10 reservations, one over the node (p50 / p99)"] = await timePasses(noBacklog, { backfill: true });
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
});

if (process.argv.includes("--write")) {
  writeBenchmarkSection("MWS jobs API with 100,000 jobs stored; a scheduling pass over 100,000 queued", "bun scripts/bench-jobs-api.ts --write", figures, [
    "Measured at the client over loopback (HTTP included), admin credentials, random offsets and ids; Postgres on the same machine.",
    "Passes are called back to back, each writing the reasons of up to 20 waiting jobs (the scheduler writes them at most once a second).",
    "With reservations, each queued job is checked against every reservation's ACL and planned around the windows that do not admit it.",
  ]);
}

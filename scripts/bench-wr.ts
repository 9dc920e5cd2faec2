// Benchmark of wr's REST API (not a test): one POST of 10,000 jobs, then GET of the 10,000
// incomplete jobs with and without limit. Real controller in this process, real Postgres, no
// agent (the jobs stay queued); times measured at the client over loopback.
//
//   bun scripts/bench-wr.ts [--write]      (--write updates BENCHMARKS.md)
import { writeBenchmarkSection } from "./bench-report.ts";
import { BENCH_PASSWORD, withBenchController } from "./bench-controller.ts";

const JOBS = 10_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const figures: Record<string, string> = {};

await withBenchController("wr", { DROVER_NODE_BACKLOG: "0" }, async (controller) => {
  const token = ((await (await fetch(`${controller.url}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: BENCH_PASSWORD }),
  })).json()) as { token: string }).token;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const timed = async (method: string, path: string, body?: string) => {
    const t = performance.now();
    const res = await fetch(controller.url + path, { method, headers, body });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return { ms: performance.now() - t, count: (JSON.parse(text) as unknown[]).length };
  };
  // a warm-up round of 100, then the 10,000
  await timed("POST", "/rest/v1/jobs/?rep_grp=warmup", JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ cmd: `echo warm ${i}` }))));
  const jobs = JSON.stringify(Array.from({ length: JOBS }, (_, i) => ({ cmd: `echo job ${i} && sleep 1`, memory: "100M", cpus: 1 })));
  const post = await timed("POST", "/rest/v1/jobs/?rep_grp=bench&time=1m", jobs);
  if (post.count !== JOBS) throw new Error(`POST answered ${post.count} jobs`);
  figures[`POST /rest/v1/jobs/ with ${JOBS.toLocaleString("en")} jobs in one request`] = `${post.ms.toFixed(0)} ms = ${Math.round(JOBS / (post.ms / 1000)).toLocaleString("en")} jobs/s`;
  const all: number[] = [];
  const limited: number[] = [];
  for (let i = 0; i < 5; i++) {
    const a = await timed("GET", "/rest/v1/jobs/bench");
    if (a.count !== JOBS) throw new Error(`GET answered ${a.count} jobs`);
    all.push(a.ms);
    limited.push((await timed("GET", "/rest/v1/jobs/bench?limit=5")).ms);
  }
  figures[`GET /rest/v1/jobs/bench, ${JOBS.toLocaleString("en")} incomplete jobs (median of 5)`] = `${median(all).toFixed(0)} ms`;
  figures[`GET /rest/v1/jobs/bench?limit=5, the same jobs grouped (median of 5)`] = `${median(limited).toFixed(0)} ms`;
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
});

if (process.argv.includes("--write")) {
  writeBenchmarkSection("wr's REST API with 10,000 jobs", "bun scripts/bench-wr.ts --write", figures, [
    "One POST adds every job in one transaction (identity look-up, learning, insert, the answer read back); the GETs render every job in wr's JSON. No agent is connected, so the jobs stay queued.",
  ]);
}

// Benchmark of workflows (not a test): a workflow exploring 10,000 values with a one-line
// command, started through OpenMOLE's API on a real cluster (controller and one agent as
// processes, real Postgres), against 10,000 plain jobs of the same command in the same run.
//
//   bun scripts/bench-workflows.ts [--write]      (--write updates BENCHMARKS.md)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import * as tar from "tar";
import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "./bench-database.ts";
import { until } from "../tests/helpers/until.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const VALUES = 10_000;
const figures: Record<string, string> = {};
const log = (k: string, v: string) => {
  figures[k] = v;
  console.log(`${k}: ${v}`);
};

const db = await freshDatabase();
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
const scratch = mkdtempSync(join(tmpdir(), "drover-bench-wf-"));
const c = new Cluster({ databaseUrl: db.url, env: { DROVER_LOG_LEVEL: "warn", DROVER_SAMPLE_INTERVAL: "10s", DROVER_HEARTBEAT_INTERVAL: "5s", DROVER_NODE_TIMEOUT: "30s" } });
try {
  await c.startController();
  await c.startAgent("bench-0");
  const post = (path: string, params: Record<string, string>, body?: FormData) => fetch(`${c.url}/openmole${path}?${new URLSearchParams(params)}`, { method: "POST", body });
  const token = ((await (await post("/token", { password: "cluster-admin-password" })).json()) as { token: string }).token;

  // the work directory: one workflow file
  writeFileSync(join(scratch, "explore.yaml"), `tasks:\n  square:\n    explore: { X: { range: [1, ${VALUES}] } }\n    command: 'echo $((X * X))'\n`);
  await tar.c({ gzip: true, file: join(scratch, "work.tgz"), cwd: scratch }, ["explore.yaml"]);
  const form = new FormData();
  form.append("workDirectory", new File([await Bun.file(join(scratch, "work.tgz")).arrayBuffer()], "work.tgz"));

  const t0 = performance.now();
  const started = await post("/start", { token, script: "explore.yaml" }, form);
  if (started.status !== 200) throw new Error(`start: ${started.status} ${await started.text()}`);
  const { id } = (await started.json()) as { id: string };
  const validated = performance.now() - t0;
  await until(async () => ((await sql`select count(*)::int as n from workflow_instances where execution = ${id}`)[0]!.n === VALUES ? true : undefined), 300_000, "the instances to be submitted");
  const submitted = performance.now() - t0;
  await until(async () => {
    const s = (await (await post("/state", { token, id })).json()) as { state: string };
    if (s.state === "failed") throw new Error(JSON.stringify(s));
    return s.state === "finished" ? true : undefined;
  }, 900_000, "the workflow to finish");
  const finished = performance.now() - t0;
  const output = ((await (await post("/output", { token, id })).json()) as { output: string }).output;
  const lines = output.split("\n").filter(Boolean).length;
  if (lines !== VALUES) throw new Error(`the output has ${lines} lines, not ${VALUES}`);
  log(`POST /openmole/start of a workflow exploring ${VALUES.toLocaleString("en")} values: unpacked and validated`, `${validated.toFixed(0)} ms`);
  log(`… and its ${VALUES.toLocaleString("en")} task instances submitted as jobs`, `${(submitted / 1000).toFixed(2)} s`);
  log("workflow end to end (instances run, their output brought back, the workflow finished)", `${(finished / 1000).toFixed(1)} s = ${Math.round(VALUES / (finished / 1000))} tasks/s`);

  // the same command as plain jobs, submitted in batches of 500 (MWS)
  const before = (await sql`select count(*)::int as n from jobs where state in ('completed','failed','cancelled','lost')`)[0]!.n as number;
  const t1 = performance.now();
  for (let i = 0; i < VALUES; i += 500) {
    await c.json("/rest/jobs", { method: "POST", json: Array.from({ length: 500 }, (_, k) => ({ commandFile: "/bin/sh", commandLineArguments: `-c 'echo ${(i + k + 1) ** 2}'` })) });
  }
  await until(async () => ((await sql`select count(*)::int as n from jobs where state in ('completed','failed','cancelled','lost')`)[0]!.n >= before + VALUES ? true : undefined), 900_000, "the plain jobs to finish");
  const plain = performance.now() - t1;
  log(`${VALUES.toLocaleString("en")} plain jobs of the same command (MWS, batches of 500), end to end`, `${(plain / 1000).toFixed(1)} s = ${Math.round(VALUES / (plain / 1000))} jobs/s`);
} finally {
  await sql.end();
  await c.stop();
  await db.drop();
  rmSync(scratch, { recursive: true, force: true });
}

if (process.argv.includes("--write")) {
  writeBenchmarkSection(`Workflows: exploring ${VALUES.toLocaleString("en")} values`, "bun scripts/bench-workflows.ts --write", figures, [
    "Controller and one agent as processes on the same 2-core machine, real Postgres. The workflow (one task explored over a range, `echo $((X * X))`) is started through OpenMOLE's API; the engine submits its instances in batches of 5,000 and brings each instance's stdout into the execution's output. The plain jobs run `sh -c 'echo N'` in the same cluster afterwards.",
  ]);
}

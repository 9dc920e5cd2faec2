// Benchmark of the file store (not a test): a 1 GiB file uploaded and downloaded through the
// REST API (caesar's routes), the controller's memory meanwhile, and the file staged to an
// agent through its own connection. Controller and agent as processes, real Postgres.
//
//   bun scripts/bench-files.ts [--write] [--mb 1024]      (--write updates BENCHMARKS.md)
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { Cluster } from "../tests/helpers/cluster.ts";
import { POSTGRES_URL } from "../tests/helpers/databases.ts";
import { until } from "../tests/helpers/until.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const mbArg = process.argv.indexOf("--mb");
const MB = mbArg > 0 ? Number(process.argv[mbArg + 1]) : 1024;
const BYTES = MB * 1024 * 1024;
const figures: Record<string, string> = {};
const rssOf = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
};

const name = `drover_bench_files_${process.pid}`;
const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const u = new URL(POSTGRES_URL);
u.pathname = `/${name}`;
const c = new Cluster({ databaseUrl: u.toString(), env: { DROVER_LOG_LEVEL: "warn", DROVER_HTTP_MAX_BODY: `${MB + 16}M` } });
const source = join(c.home, "big.fits");
try {
  // the file: a FITS header card and then data, written in 8 MiB pieces
  const fd = openSync(source, "w");
  const piece = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
  piece.set(new TextEncoder().encode("SIMPLE  =                    T".padEnd(80, " ")));
  for (let written = 0; written < BYTES; written += piece.length) writeSync(fd, piece, 0, Math.min(piece.length, BYTES - written));
  closeSync(fd);
  await c.startController();
  await c.startAgent("bench-node");
  const token = await c.adminToken();
  const auth = { authorization: `Bearer ${token}` };
  await c.api("/apps/bench-count", { method: "PUT", json: { name: "bench-count", command: ["wc", "-c", "{inputfile}"], options: { inputfile: { type: "file", mandatory: true } }, resources: { memory: "256M" } } });
  const controller = c.controller!.proc.pid;
  const before = rssOf(controller);

  // upload: multipart, streamed from disk by the client
  const form = new FormData();
  form.append("file", Bun.file(source), "big.fits");
  let t = performance.now();
  const up = await fetch(`${c.url}/caesar/api/v1.0/upload`, { method: "POST", headers: auth, body: form });
  const uploaded = (await up.json()) as { uuid: string; size: number };
  const upS = (performance.now() - t) / 1000;
  if (up.status !== 200) throw new Error(`upload: ${up.status} ${JSON.stringify(uploaded)}`);
  const afterUpload = rssOf(controller);

  // download: streamed to disk by the client
  t = performance.now();
  const down = await fetch(`${c.url}/caesar/api/v1.0/download/${uploaded.uuid}`, { headers: auth });
  const target = join(c.home, "downloaded.fits");
  await Bun.write(target, down);
  const downS = (performance.now() - t) / 1000;
  if (statSync(target).size !== BYTES) throw new Error("the download is not the file");
  rmSync(target);
  const afterDownload = rssOf(controller);

  // staging: a job on the agent needs the file (wc -c reads it there)
  t = performance.now();
  const submitted = await fetch(`${c.url}/caesar/api/v1.0/job`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ app: "bench-count", job_inputs: { inputfile: uploaded.uuid } }),
  });
  if (submitted.status === 400) throw new Error(await submitted.text());
  const jobId = ((await submitted.json()) as { job_id: string }).job_id;
  await until(async () => {
    const s = (await (await fetch(`${c.url}/caesar/api/v1.0/job/${jobId}/status`, { headers: auth })).json()) as { state: string };
    if (["FAILURE", "ABORTED"].includes(s.state)) throw new Error(`the staging job ended ${s.state}`);
    return s.state === "SUCCESS" ? s : undefined;
  }, 600_000, "the staging job");
  const sql = postgres(u.toString(), { max: 1, onnotice: () => {} });
  const [ev] = await sql`select max(at) filter (where kind = 'dispatched') as dispatched, max(at) filter (where kind = 'started') as started from job_events where job_id = ${parseInt(jobId.slice(-12), 16)}`;
  await sql.end();
  const stageS = (new Date(ev!.started).getTime() - new Date(ev!.dispatched).getTime()) / 1000;
  const afterStaging = rssOf(controller);

  const size = `${MB.toLocaleString("en")} MiB`;
  figures[`upload of ${size} (POST /caesar/api/v1.0/upload, multipart)`] = `${upS.toFixed(1)} s = ${(MB / upS).toFixed(0)} MB/s`;
  figures[`download of ${size} (GET /caesar/api/v1.0/download/{uuid})`] = `${downS.toFixed(1)} s = ${(MB / downS).toFixed(0)} MB/s`;
  figures[`staging ${size} to an agent (dispatch → start, through the agent's connection, SHA-256 checked)`] = `${stageS.toFixed(1)} s = ${(MB / stageS).toFixed(0)} MB/s`;
  figures["controller RSS before, and its peak after upload / download / staging (target: growth < 100 MB)"] =
    `${before.rss.toFixed(0)} MB; ${afterUpload.peak.toFixed(0)} / ${afterDownload.peak.toFixed(0)} / ${afterStaging.peak.toFixed(0)} MB (at most ${(afterStaging.peak - before.rss).toFixed(0)} MB above the RSS before)`;
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
} finally {
  await c.stop();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}

if (process.argv.includes("--write")) {
  writeBenchmarkSection("Files: a 1 GiB file through the REST API and to an agent", "bun scripts/bench-files.ts --write", figures, [
    "Controller and agent are processes on the same 2-core machine; the client streams from and to disk. The store, the agent's cache and the job's directory are on the same disk.",
  ]);
}

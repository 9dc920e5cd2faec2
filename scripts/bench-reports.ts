// Benchmark of the reporting issue (not a test): sample ingestion over REST in batches, and the
// consolidation of one window holding 10,000 samples. Real controller, real Postgres.
//
//   bun scripts/bench-reports.ts [--write]      (--write updates BENCHMARKS.md)
import { ManualClock, setClock } from "../shared/src/clock.ts";
import { consolidateReport } from "../controller/src/reports/consolidator.ts";
import { createReport } from "../controller/src/reports/reports.ts";
import { addSamples } from "../controller/src/reports/samples.ts";
import { writeBenchmarkSection } from "./bench-report.ts";
import { BENCH_PASSWORD, withBenchController } from "./bench-controller.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const figures: Record<string, string> = {};
await withBenchController("reports", { DROVER_REPORTS_POLL: "0" }, async (controller) => {
  const auth = { authorization: `Basic ${btoa(`admin:${BENCH_PASSWORD}`)}`, "content-type": "application/json" };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(controller.url + path, { method: "POST", headers: auth, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  };

  // 1. ingestion: batches of 1000 samples shaped like a node's, 4 clients at once
  await post("/rest/reports", { name: "ingest", datapointDuration: 3600, reportSize: 24 });
  const batch = Array.from({ length: 1000 }, (_, i) => ({
    agent: "bench",
    data: { cpuUtilization: i % 100, cpuPerCore: { cpu0: 10, cpu1: 20 }, memory: { usedBytes: 1e9, totalBytes: 4e9 }, load: { minutes1: 0.5, minutes5: 0.4, minutes15: 0.3 } },
  }));
  for (let i = 0; i < 5; i++) await post("/rest/reports/ingest/samples", batch); // warm-up
  const batches = 200;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next++ < batches) await post("/rest/reports/ingest/samples", batch);
    }),
  );
  const rate = (batches * batch.length) / ((performance.now() - t0) / 1000);
  figures["sample ingestion, REST, batches of 1000, 4 clients (target ≥ 20,000/s)"] = `${Math.round(rate).toLocaleString("en")} samples/s`;
  console.log(`ingestion: ${Math.round(rate)} samples/s`);

  // 2. consolidation of one window holding 10,000 samples
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const restore = setClock(clock.read);
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const report = await createReport(controller.database.db, "admin", { name: `window-${run}`, datapointDurationS: 600, reportSize: 10 });
    const samples = Array.from({ length: 10_000 }, (_, i) => ({ timestamp: clock.ms + i * 50, data: batch[i % 1000]!.data }));
    for (let i = 0; i < samples.length; i += 2000) await addSamples(controller.database.db, report, samples.slice(i, i + 2000));
    const t = performance.now();
    const result = await consolidateReport(controller.database.db, report.id, clock.ms + 600_000);
    times.push(performance.now() - t);
    if (result?.samples !== 10_000) throw new Error(`consolidated ${result?.samples} samples, expected 10000`);
    clock.advance(1000);
  }
  restore();
  figures["consolidation of one window of 10,000 samples, median of 5 (target < 200 ms)"] = `${median(times).toFixed(1)} ms`;
  console.log(`consolidation: ${times.map((t) => t.toFixed(1)).join(", ")} ms`);
});

if (process.argv.includes("--write")) {
  writeBenchmarkSection("Reports: sample ingestion and consolidation", "bun scripts/bench-reports.ts --write", figures, [
    "Ingestion goes through the REST API (JSON parsing, validation, one INSERT … SELECT FROM jsonb_array_elements per batch).",
    "Consolidation time covers the whole transaction: reading the window's samples, averaging, writing the datapoint, deleting the samples.",
  ]);
}

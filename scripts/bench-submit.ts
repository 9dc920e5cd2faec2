// Benchmark (not a test): REST submissions one job per request (MWS POST /rest/jobs, held so
// that nothing runs), with 4 and 16 concurrent clients, against a controller on a fresh
// Postgres database. The clients share the machine's CPUs with the controller and Postgres.
//
//   bun scripts/bench-submit.ts [--write]
import { cpus, totalmem } from "node:os";
import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "./bench-database.ts";
import { writeBenchmarkSection } from "./bench-report.ts";

const db = await freshDatabase();
const c = new Cluster({ databaseUrl: db.url, env: {} });
const figures: Record<string, string> = {};
try {
  await c.startController();
  const token = await c.adminToken();
  const body = JSON.stringify({ commandFile: "/bin/true", holds: ["USER"] });
  const run = async (clients: number, ms: number) => {
    let n = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < end) {
          const r = await fetch(`${c.url}/rest/jobs`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
          if (r.status !== 201) throw new Error(`submission: ${r.status} ${await r.text()}`);
          await r.arrayBuffer();
          n++;
        }
      }),
    );
    return n / (ms / 1000);
  };
  await run(4, 2000); // warm-up
  for (const k of [4, 16]) figures[`REST submissions, one per request, ${k} clients`] = `${(await run(k, 10_000)).toFixed(0)} jobs/s`;
} finally {
  await c.stop();
  await db.drop();
}
for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
console.log(`${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`);
if (process.argv.includes("--write")) {
  writeBenchmarkSection("REST submissions one per request", "bun scripts/bench-submit.ts --write", figures, [
    "Target (issue 22): 4,200/s (20 times Slurm's sbatch, tuned, on this machine: 210/s). Tokens are now checked with a key imported once (was: on every request).",
  ]);
}
process.exit(0);

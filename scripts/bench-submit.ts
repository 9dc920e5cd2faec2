// Benchmark (not a test): REST submissions one job per request (MWS POST /rest/jobs, held so
// that nothing runs), with 4 and 16 concurrent clients, against a controller on a fresh
// Postgres database. The clients share the machine's CPUs with the controller and Postgres.
//
//   bun scripts/bench-submit.ts [--socket /var/run/postgresql] [--clients 4,16,64] [--write]
//
// --socket DIR: the controller reaches Postgres through the Unix socket in DIR (?host=DIR)
// instead of TCP on 127.0.0.1.
import { cpus, totalmem } from "node:os";
import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "./bench-database.ts";
import { writeBenchmarkSection } from "./bench-report.ts";
import { postgresTicks, ticks } from "./cpu-ticks.ts";

const socketAt = process.argv.indexOf("--socket");
const socket = socketAt > 0 ? process.argv[socketAt + 1] : undefined;
const db = await freshDatabase();
const c = new Cluster({ databaseUrl: socket ? `${db.url}?host=${socket}` : db.url, env: {} });
const clientsAt = process.argv.indexOf("--clients");
const clientCounts = clientsAt > 0 ? process.argv[clientsAt + 1]!.split(",").map(Number) : [4, 16, 64];
const over = socket ? "Unix socket" : "TCP";
const figures: Record<string, string> = {};
try {
  await c.startController();
  const token = await c.adminToken();
  const body = JSON.stringify({ commandFile: "/bin/true", holds: ["USER"] });
  const controller = c.controller!.proc.pid;
  const run = async (clients: number, ms: number) => {
    let n = 0;
    const before = { c: ticks(controller), p: postgresTicks(), self: ticks(process.pid) };
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
    // CPU per submission, in ms (ticks are 10 ms)
    const per = (t: number) => ((t * 10) / n).toFixed(3);
    const cpu = `controller ${per(ticks(controller) - before.c)}, Postgres ${per(postgresTicks() - before.p)}, the clients ${per(ticks(process.pid) - before.self)} ms`;
    return { rate: n / (ms / 1000), cpu };
  };
  await run(4, 2000); // warm-up
  for (const k of clientCounts) {
    const { rate, cpu } = await run(k, 10_000);
    figures[`REST submissions, one per request, ${k} clients, Postgres over ${over}`] = `${rate.toFixed(0)} jobs/s`;
    figures[`… CPU per submission, ${k} clients, Postgres over ${over}`] = cpu;
  }
} finally {
  await c.stop();
  await db.drop();
}
for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
console.log(`${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`);
if (process.argv.includes("--write")) {
  writeBenchmarkSection(`REST submissions one per request${socket ? ", Postgres over its Unix socket" : ""}`, `bun scripts/bench-submit.ts${socket ? ` --socket ${socket}` : ""} --write`, figures, [
    "Target (issue 22): 4,200/s (20 times Slurm's sbatch, tuned, on this machine: 210/s).",
    "Submissions arriving while others are being stored wait and are stored together: one statement, one commit (jobs/submission-batches.ts); a token already checked is not checked again until it expires. CPU per submission: the controller process, every Postgres process and the benchmark's own clients (fetch), from /proc.",
    "The same code on 2026-12-02 (before the Speed line was added): 735/s with 4 clients and 1,825/s with 16 over TCP, 767/s and 2,222/s over the socket, at two to three times the CPU per submission in every process: the machine, a VM, was that much slower that day.",
  ]);
}
process.exit(0);

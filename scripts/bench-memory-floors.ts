// Benchmark (not a test): how much of drover's memory is drover's own, against floors of the
// stack it is built on, each a compiled binary as drover's are (scripts/floors/):
// - the one-node cluster (`dist/drover start`, a second start, RSS 30 s after it answers) against
//   Bun with the embedded database opened as drover opens it, without and with the libraries
//   drover loads (Elysia, grpc-js, protobuf-es, drizzle);
// - an idle agent as installed (`dist/drover-agent`, no JIT, default intervals, on a controller
//   on a fresh Postgres database) against Bun with what the agent loads, without and with one
//   open gRPC connection to the controller.
// All after 30 s or more of settling. Run `bash scripts/build` first.
//
//   bun scripts/bench-memory-floors.ts [--write]
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "./bench-database.ts";
import { writeBenchmarkSection } from "./bench-report.ts";
import { procStatusMb, startOneNodeCluster } from "./one-node-cluster.ts";

const write = process.argv.includes("--write");
const ROOT = join(import.meta.dir, "..");
const SETTLE_S = 30;
const work = mkdtempSync(join(tmpdir(), "drover-floors-"));
const figures: Record<string, string> = {};
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
const rssKb = (pid: number) => procStatusMb(pid, "VmRSS") * 1024;
const record = (k: string, v: string) => {
  figures[k] = v;
  console.log(`${k}: ${v}`);
};
const pct = (a: number, b: number) => `${a >= b ? "+" : ""}${((a / b - 1) * 100).toFixed(0)} %`;

for (const f of ["dist/drover", "dist/drover-agent"]) if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run bash scripts/build first`);

/** Compiles a floor program as scripts/build compiles drover's binaries. */
function compileFloor(name: string): string {
  const out = join(work, `floor-${name}`);
  const p = Bun.spawnSync([process.execPath, "build", "--compile", "--minify-syntax", `scripts/floors/${name}.ts`, "--outfile", out], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`compiling scripts/floors/${name}.ts: ${p.stderr.toString()}`);
  return out;
}

/** Runs a floor binary until it reports its RSS (kB) after `seconds`. */
async function floorRss(binary: string, args: string[], env: Record<string, string>, seconds = SETTLE_S): Promise<number> {
  const p = Bun.spawn([binary, ...args], { env: { ...process.env, ...env, FLOOR_SECONDS: String(seconds) }, stdout: "pipe", stderr: "inherit" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  if (code !== 0 || !/^\d+\s*$/.test(out)) throw new Error(`${binary} ended with ${code}: ${out}`);
  return Number(out);
}

/** `dist/drover start` on `home` until it answers, then `seconds` more; its RSS (kB) then. */
async function droverStartRss(home: string, seconds: number): Promise<number> {
  const cluster = await startOneNodeCluster({ home, password: "memory-floors" });
  try {
    await Bun.sleep(seconds * 1000);
    return rssKb(cluster.proc.pid);
  } finally {
    await cluster.stop();
  }
}

try {
  const [dbFloor, agentFloor] = [compileFloor("embedded-database"), compileFloor("agent")];

  // the one-node cluster: a first start makes the data directory, the second is measured
  const home = join(work, "home");
  await droverStartRss(home, 5);
  const start = await droverStartRss(home, SETTLE_S);
  // each floor on a copy of that data directory, both at once (drover has stopped)
  const dataDir = join(home, "data", "pglite");
  cpSync(dataDir, `${dataDir}-2`, { recursive: true });
  const [bare, withLibraries] = await Promise.all([floorRss(dbFloor, [dataDir], {}), floorRss(dbFloor, [`${dataDir}-2`], { FLOOR_LIBRARIES: "1" })]);
  record("drover start (dist/drover, a second start): RSS 30 s after it answers", mb(start));
  record("floor: Bun + the embedded database opened as drover opens it, one query, idle", mb(bare));
  record("floor: the same + Elysia, grpc-js, protobuf-es and drizzle loaded", mb(withLibraries));
  record("drover's own (its controller, agent, five dialects and their state): drover start − the floor with libraries", mb(start - withLibraries));
  record("left for drover's own under the 150 MB target", mb(150 * 1024 - withLibraries));

  // the idle agent as installed, and the agent's floors beside it (all idle at once)
  const db = await freshDatabase();
  process.env.DROVER_AGENT_BINARY = "dist/drover-agent";
  const c = new Cluster({ databaseUrl: db.url, env: { DROVER_HEARTBEAT_INTERVAL: "5s", DROVER_SAMPLE_INTERVAL: "10s", DROVER_NODE_TIMEOUT: "30s" } });
  try {
    await c.startController();
    const agent = await c.startAgent("idle-0");
    // (as the agent's systemd unit runs it: scripts/install-agent)
    const asInstalled = { BUN_JSC_useJIT: "0", BUN_JSC_numberOfGCMarkers: "1" };
    const settle = SETTLE_S + 15;
    const [floor, connected, agentRss] = await Promise.all([
      floorRss(agentFloor, [], asInstalled, settle),
      floorRss(agentFloor, [], { ...asInstalled, FLOOR_CONNECT: `127.0.0.1:${c.grpcPort}` }, settle),
      Bun.sleep(settle * 1000).then(() => rssKb(agent.proc.pid)),
    ]);
    record("idle agent (dist/drover-agent as installed, default intervals): RSS 45 s after it registered", mb(agentRss));
    record("floor: Bun + grpc-js, protobuf-es, systeminformation and the agent's modules loaded, idle", `${mb(floor)} (the agent: ${pct(agentRss, floor)})`);
    record("floor: the same + one open gRPC connection to the controller", `${mb(connected)} (the agent: ${pct(agentRss, connected)}; the connection alone: ${pct(connected, floor)})`);
  } finally {
    await c.stop();
    await db.drop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (write) {
  writeBenchmarkSection("Memory floors of the stack", "bun scripts/bench-memory-floors.ts --write", figures, [
    "Each floor is a compiled Bun binary (scripts/floors/) doing only what its line says, measured beside or right after drover's own binary on the same machine; RSS from /proc/PID/status.",
    "Targets (issue 22): the one-node cluster under 150 MB steady; an idle agent within 10 % of the floor of Bun with grpc-js, protobuf-es and systeminformation loaded.",
  ]);
}
process.exit(0);

// A real controller in the benchmark's own process, on a fresh Postgres database that is
// dropped afterwards. Shared by the benchmarks that measure the REST API and the core.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { loadConfig } from "../shared/src/config.ts";
import { startController, type RunningController } from "../controller/src/controller.ts";
import { POSTGRES_URL } from "../tests/helpers/databases.ts";

export const BENCH_PASSWORD = "bench-password";

/** Runs `fn` with a controller on a fresh database (admin password BENCH_PASSWORD), then cleans up. */
export async function withBenchController<T>(name: string, env: Record<string, string>, fn: (c: RunningController) => Promise<T>): Promise<T> {
  const dbName = `drover_bench_${name}_${process.pid}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${dbName}`;
  const home = mkdtempSync(join(tmpdir(), "drover-bench-"));
  let controller: RunningController | undefined;
  try {
    controller = await startController({
      config: loadConfig({ DROVER_HTTP_PORT: "0", DROVER_GRPC_PORT: "0", DATABASE_URL: url.toString(), ...env }, home),
      adminPassword: BENCH_PASSWORD,
    });
    return await fn(controller);
  } finally {
    await controller?.stop();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    rmSync(home, { recursive: true, force: true });
  }
}

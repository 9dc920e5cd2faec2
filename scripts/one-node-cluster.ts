// The one-node cluster (`drover start`) as the memory benchmarks run it: on a home of their own,
// free ports, until it answers; and a process's memory from /proc.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../tests/helpers/cluster.ts";

const ROOT = join(import.meta.dir, "..");

/** A figure of /proc/PID/status (VmRSS, VmHWM, …) in MB. */
export const procStatusMb = (pid: number, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

export interface OneNodeCluster {
  proc: Subprocess;
  url: string;
  /** from its start until it answered /health */
  readyMs: number;
  stop(): Promise<void>;
}

/** Starts `dist/drover start` (or, with `source`, `bun controller/src/cli.ts start`) on `home` and waits until it answers. */
export async function startOneNodeCluster(opts: { home: string; password: string; source?: boolean }): Promise<OneNodeCluster> {
  const [http, grpc] = [await freePort(), await freePort()];
  const argv = opts.source ? [process.execPath, "controller/src/cli.ts", "start"] : ["./dist/drover", "start"];
  const env = { ...process.env, DROVER_HOME: opts.home, DROVER_HTTP_PORT: String(http), DROVER_GRPC_PORT: String(grpc), DROVER_LOG_LEVEL: "warn", DROVER_ADMIN_PASSWORD: opts.password };
  const proc = Bun.spawn(argv, { cwd: ROOT, env, stdout: "ignore", stderr: "inherit" });
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
  };
  const url = `http://127.0.0.1:${http}`;
  const t0 = performance.now();
  while (!(await fetch(`${url}/health`).catch(() => undefined))?.ok) {
    if (performance.now() - t0 > 120_000) {
      await stop();
      throw new Error("drover start did not answer");
    }
    await Bun.sleep(100);
  }
  return { proc, url, readyMs: performance.now() - t0, stop };
}

import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

test("drover start runs a one-node cluster that runs a job, and Ctrl-C stops controller and agent", async () => {
  const home = mkdtempSync(join(tmpdir(), "drover-start-"));
  const [http, grpc] = [await freePort(), await freePort()];
  const proc = Bun.spawn([process.execPath, "controller/src/cli.ts", "start"], {
    cwd: join(import.meta.dir, "..", ".."),
    env: { ...process.env, DROVER_HOME: home, DROVER_HTTP_PORT: String(http), DROVER_GRPC_PORT: String(grpc), DROVER_ADMIN_PASSWORD: "start-test-password" },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const base = `http://127.0.0.1:${http}`;
    const auth = { authorization: `Basic ${btoa("admin:start-test-password")}`, "content-type": "application/json" };
    await until(async () => {
      const nodes = (await (await fetch(`${base}/rest/nodes`, { headers: auth })).json()) as { resultCount: number };
      return nodes.resultCount === 1;
    }, 60_000, "the local agent to register");
    const { id } = (await (await fetch(`${base}/rest/jobs`, { method: "POST", headers: auth, body: JSON.stringify({ commandLine: "echo hello from drover" }) })).json()) as { id: string };
    const job = await until(async () => {
      const j = (await (await fetch(`${base}/rest/jobs/${id}`, { headers: auth })).json()) as { state: string; completionCode: number };
      return j.state === "COMPLETED" ? j : undefined;
    }, 30_000, "the job to complete");
    expect(job.completionCode).toBe(0);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    const out = await new Response(proc.stdout).text();
    expect(out).toContain(`drover is running: ${base}`);
    await expect(fetch(`${base}/health`)).rejects.toThrow();
  } finally {
    proc.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
  }
}, 90_000);

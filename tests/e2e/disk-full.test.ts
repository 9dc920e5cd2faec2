// Full disks: the agent's data directory fills up (a job writes more than it holds) — the job
// fails with a message, the agent survives and goes on; the controller's file store is full on an
// upload — 507 with a message, nothing of the upload left. Each full disk is a small tmpfs the
// test mounts (root only).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const dir = mkdtempSync(join(tmpdir(), "drover-full-"));
const mount = (path: string, size: string) => {
  mkdirSync(path, { recursive: true });
  return Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path]).exitCode === 0;
};
const canMount = process.getuid?.() === 0 && mount(join(dir, "probe"), "64k");
if (canMount) Bun.spawnSync(["umount", join(dir, "probe")]);

if (!canMount) {
  const why = "needs root and tmpfs mounts to make a full disk";
  if (process.env.CI === "true") throw new Error(why);
  test.skip(`full disks (${why})`, () => {});
} else {
  const store = join(dir, "store");
  const agentData = join(dir, "agent");
  let c: Cluster;
  beforeAll(async () => {
    expect(mount(store, "1m")).toBe(true);
    expect(mount(agentData, "4m")).toBe(true);
    c = new Cluster({ databaseUrl: "", env: { DROVER_FILES_DIR: store } });
    await c.startController();
    await c.startAgent("node-a", { args: ["--data-dir", agentData] });
  }, 90_000);
  afterAll(async () => {
    await c?.stop();
    for (const m of [store, agentData]) Bun.spawnSync(["umount", "-l", m]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("an upload larger than the room left is 507 with a message, and nothing of it stays", async () => {
    const form = new FormData();
    form.append("file", new File([new Uint8Array(3 * 1024 * 1024).fill(65)], "big.json"));
    const res = await fetch(`${c.url}/caesar/api/v1.0/upload`, { method: "POST", headers: { authorization: `Bearer ${await c.adminToken()}` }, body: form });
    expect(res.status).toBe(507);
    expect(((await res.json()) as { status: string }).status).toMatch(/disk is full/);
    const left = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? left(join(d, e.name)) : [join(d, e.name)]));
    expect(left(store)).toEqual([]);
    // a small one still fits
    const small = new FormData();
    small.append("file", new File(['{"a":1}'], "small.json"));
    expect((await fetch(`${c.url}/caesar/api/v1.0/upload`, { method: "POST", headers: { authorization: `Bearer ${await c.adminToken()}` }, body: small })).status).toBe(200);
  });

  test("a job that fills the agent's data directory fails with a message; the agent survives and runs the next job", async () => {
    const submit = async (command: string) => String((await c.json<{ id: string }>("/rest/jobs", { method: "POST", json: { commandFile: "/bin/sh", commandLineArguments: `-c "${command}"` } })).id).replace(/\D/g, "");
    const state = async (id: string) => (await c.json(`/jobs/${id}`)) as { state: string; reason: string | null };
    const filler = await submit("head -c 8000000 /dev/zero");
    const failed = await until(async () => {
      const j = await state(filler);
      return ["failed", "completed"].includes(j.state) ? j : undefined;
    }, 30_000, "the filling job to end");
    expect(failed.state).toBe("failed");
    expect(failed.reason).toBeTruthy();
    // the disk stays full (to the last byte): jobs cannot even get their directory, and the agent
    // has no room for its own records — it must survive and report them all
    Bun.spawnSync(["sh", "-c", `cat /dev/zero > ${join(agentData, "more")}; for i in $(seq 1 2000); do mkdir ${join(agentData, "d")}$i 2>/dev/null || break; done`]);
    const many: string[] = [];
    for (let i = 0; i < 30; i++) many.push(await submit(`echo ${i}`));
    const ended = await until(async () => {
      const states = await Promise.all(many.map(state));
      return states.every((s) => ["failed", "completed"].includes(s.state)) ? states : undefined;
    }, 60_000, "the jobs sent to the full node to end");
    // every one failed saying why — but for one that found a block freed meanwhile (the agent
    // compacting its spool, a removed directory) and simply ran: that one completed
    const fullDisk = (s: { state: string; reason: string | null }) => s.state === "failed" && /is full|no space|could not/i.test(s.reason ?? "");
    expect(ended.filter((s) => !fullDisk(s) && s.state !== "completed")).toEqual([]);
    expect(ended.filter(fullDisk).length).toBeGreaterThanOrEqual(many.length - 3);
    expect(c.agents.get("node-a")!.proc.exitCode).toBeNull();
    // room again, and the agent goes on
    Bun.spawnSync(["sh", "-c", `rm -rf ${join(agentData, "more")} ${join(agentData, "d")}* ${join(agentData, "jobs")}/*`]);
    const next = await submit("echo fine");
    await until(async () => ((await state(next)).state === "completed" ? true : undefined), 30_000, "the next job to complete");
    expect(c.agents.get("node-a")!.proc.exitCode).toBeNull();
  }, 120_000);
}

// A job's processes end with it, those that left its process group too (setsid, a double fork):
// under cancel, walltime, the main process exiting, and the agent killed with -9. Real agent
// processes; each escapee is found by its command line (a sleep of a unique length).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const alive = (pattern: string) => Bun.spawnSync(["pgrep", "-f", pattern]).exitCode === 0;
let serial = 0;
/** How many of a process's children are zombies. */
function zombiesOf(pid: number): number {
  const { readdirSync, readFileSync } = require("node:fs") as typeof import("node:fs");
  let n = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(/\s+/).filter(Boolean)) {
      try {
        const stat = readFileSync(`/proc/${child}/stat`, "utf8");
        if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") n++;
      } catch {
        // gone
      }
    }
  }
  return n;
}
/** A sleep no other process runs: its seconds are this run's own number. */
const unique = () => `sleep 4${process.pid % 1000}${++serial}.${Date.now() % 1000}`;

await forEachDatabaseUrl("escaped processes end with their job", (url) => {
  let c: Cluster;
  const submit = async (command: string, extra: Record<string, unknown> = {}) =>
    (await c.json<{ id: string }>("/rest/jobs", { method: "POST", json: { commandFile: "/bin/sh", commandLineArguments: `-c "${command}"`, ...extra } })).id;
  const state = async (id: string) => (await c.json(`/jobs/${String(id).replace(/\D/g, "")}`)).state as string;

  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url() });
    await c.startController();
    await c.startAgent("node-a");
  }, 90_000);
  afterAll(() => c.stop());

  test("cancel: a setsid child and a double-forked one die with the job", async () => {
    const a = unique();
    const b = unique();
    const id = await submit(`setsid ${a} & (setsid sh -c '${b}' &); sleep 600`);
    await until(async () => (alive(a) && alive(b) ? true : undefined), 20_000, "the escapees to start");
    expect((await c.api(`/rest/jobs/${id}`, { method: "DELETE" })).status).toBe(200);
    await until(async () => ((await state(id)) === "cancelled" ? true : undefined), 20_000, "the job to be cancelled");
    await until(async () => (!alive(a) && !alive(b) ? true : undefined), 10_000, "the escapees to die");
  }, 60_000);

  test("walltime, and the main process simply exiting, end the escapees too", async () => {
    const a = unique();
    const timed = await submit(`setsid ${a} & sleep 600`, { durationRequested: 2 });
    const b = unique();
    const quick = await submit(`setsid ${b} & echo left`);
    await until(async () => ((await state(quick)) === "completed" ? true : undefined), 20_000, "the quick job to complete");
    await until(async () => (!alive(b) ? true : undefined), 10_000, "the completed job's escapee to die");
    await until(async () => ((await state(timed)) === "failed" ? true : undefined), 30_000, "the walltime to end the job");
    await until(async () => (!alive(a) ? true : undefined), 10_000, "the timed-out job's escapee to die");
    // the agent collects the escapees it adopted and killed: no zombie is left among its children
    await until(async () => (zombiesOf(c.agents.get("node-a")!.proc.pid) === 0 ? true : undefined), 10_000, "the agent to reap what it killed");
  }, 60_000);

  test("an agent killed with -9 leaves no escapee behind", async () => {
    const a = unique();
    const id = await submit(`setsid ${a} & sleep 600`);
    await until(async () => (alive(a) ? true : undefined), 20_000, "the escapee to start");
    expect(await state(id)).toBe("running");
    await c.killAgent("node-a");
    await until(async () => (!alive(a) ? true : undefined), 10_000, "the escapee to die with the agent");
  }, 60_000);
});

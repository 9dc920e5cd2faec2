import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const runsIn = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);

await forEachDatabaseUrl("failures of controllers and agents", (url) => {
  let c: Cluster;
  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url() });
    await c.startController();
    await Promise.all([c.startAgent("node-a"), c.startAgent("node-b")]);
  }, 90_000);
  afterAll(() => c.stop());

  test("kill -9 of the controller while jobs run: after a restart every job ends exactly once with its result", async () => {
    const runs = join(c.home, "runs-controller-kill");
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(await c.submit({ commandFile: "/bin/sh", commandLineArguments: `-c "sleep 2; echo $DROVER_JOB_ID >> ${runs}; echo result-${i}"` }));
    }
    await until(async () => {
      const states = await Promise.all(ids.map(async (id) => (await c.job(id)).state));
      return states.filter((s) => s === "RUNNING").length >= 2;
    }, 30_000, "jobs to run");
    await c.killController();
    // the running jobs finish while the controller is down: their ends wait in the agents' spools
    await until(() => runsIn(runs).length >= 2, 30_000, "jobs to finish while the controller is down");
    await c.startController();
    const done = await until(async () => {
      const js = await Promise.all(ids.map((id) => c.job(id)));
      return js.every((j) => j.state === "COMPLETED") ? js : undefined;
    }, 60_000, "every job to complete after the restart");
    for (const [i, j] of done.entries()) {
      expect(j.completionCode).toBe(0);
      expect(j.startCount).toBe(1);
      const full = await c.json<any>(`/rest/jobs/${j.id}`);
      expect(readFileSync(full.standardOutputFilePath, "utf8")).toBe(`result-${i}\n`);
    }
    const lines = runsIn(runs).sort();
    expect(lines).toEqual(ids.map((id) => id.replace("drover.", "")).sort());
  }, 150_000);

  test("kill -9 of an agent: its jobs die with it, are lost, then requeued onto the other node", async () => {
    // each run writes down its pid: the processes of the killed agent's jobs must not outlive it
    const pids = join(c.home, "pids-agent-kill");
    mkdirSync(pids);
    const script = join(c.home, "record-pid-and-sleep");
    writeFileSync(script, `#!/bin/sh\necho $$ > ${pids}/$DROVER_JOB_ID.$DROVER_JOB_ATTEMPT\nexec sleep 60\n`);
    chmodSync(script, 0o755);
    const ids = [await c.submit({ commandFile: script, flags: ["RESTARTABLE"] }), await c.submit({ commandFile: script, flags: ["RESTARTABLE"] })];
    const running = await Promise.all(ids.map((id) => c.waitForState(id, ["RUNNING"])));
    const victim = running[0].masterHost as string;
    const survivor = victim === "node-a" ? "node-b" : "node-a";
    const onVictim = running.filter((j) => j.masterHost === victim).map((j) => j.id as string);
    const victimPids = await Promise.all(
      onVictim.map((id) => until(() => (existsSync(join(pids, `${id.replace(/^\D+/, "")}.1`)) ? Number(readFileSync(join(pids, `${id.replace(/^\D+/, "")}.1`), "utf8")) || undefined : undefined), 10_000, `the pid of ${id}`)),
    );
    // (a zombie waiting for init to reap it counts as dead)
    const alive = (pid: number) => existsSync(`/proc/${pid}/stat`) && !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    expect(victimPids.every(alive)).toBe(true);
    await c.killAgent(victim);
    await until(() => !victimPids.some(alive), 10_000, "the killed agent's jobs to die with it");
    await until(async () => (await c.json(`/rest/nodes/${victim}`)).state === "Down", 30_000, `${victim} to go down`);
    for (const id of onVictim) {
      const j = await until(async () => {
        const row = await c.job(id);
        return row.state === "RUNNING" && row.masterHost === survivor ? row : undefined;
      }, 30_000, `job ${id} to run again on ${survivor}`);
      expect(j.startCount).toBe(2);
      expect(j.messages.map((m: any) => m.message).join(" ")).toMatch(/lost: no heartbeat.*requeued/);
    }
    for (const id of ids) await c.api(`/rest/jobs/${id}`, { method: "DELETE" });
    await Promise.all(ids.map((id) => c.waitForState(id, ["REMOVED"])));
    // the node comes back when its agent restarts
    await c.startAgent(victim);
    expect((await c.json(`/rest/nodes/${victim}`)).state).toBe("Idle");
  }, 120_000);

  test("a job without retries on a lost node ends as lost (VACATED)", async () => {
    await c.startAgent("node-c");
    const id = await c.submit({ commandLine: "sleep 60", hosts: ["node-c"] });
    await c.waitForState(id, ["RUNNING"]);
    await c.killAgent("node-c");
    const j = await c.waitForState(id, ["VACATED"], 30_000);
    expect(j.completionDate).not.toBeNull();
  }, 60_000);

  test("an agent with an unknown token is refused and says so in one clear line", async () => {
    const agent = await c.startAgent("intruder", { token: "drover-agent-not-a-real-token", waitForRegistration: false });
    await until(() => agent.stderr.join("").includes("refused this agent's token"), 20_000, "the refusal to be logged");
    expect((await c.api("/rest/nodes/intruder")).status).toBe(404);
    await c.killAgent("intruder");
  }, 30_000);

  test("a revoked token stops an agent from reconnecting", async () => {
    const created = await c.json<{ id: number; token: string }>("/auth/agent-tokens", { method: "POST", json: { name: "short-lived" } });
    await c.startAgent("node-d", { token: created.token });
    expect((await c.api(`/auth/agent-tokens/${created.id}`, { method: "DELETE" })).status).toBe(200);
    await c.killAgent("node-d");
    const again = await c.startAgent("node-d", { token: created.token, waitForRegistration: false });
    await until(() => again.stderr.join("").includes("refused this agent's token"), 20_000, "the refusal to be logged");
    await c.killAgent("node-d");
  }, 60_000);
});

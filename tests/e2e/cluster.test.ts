import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const BUN = process.execPath;

await forEachDatabaseUrl("a controller and two agents as processes", (url) => {
  let c: Cluster;
  beforeAll(async () => {
    // one-second datapoints so that the agents' samples reach the node reports within the test
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_REPORT_DATAPOINT: "1s" } });
    await c.startController();
    await Promise.all([c.startAgent("node-a"), c.startAgent("node-b")]);
  }, 90_000);
  afterAll(() => c.stop());

  test("50 jobs run on both agents and each one's output is recorded", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      ids.push(await c.submit({ commandFile: "/bin/sh", commandLineArguments: `-c "echo out-${i}; echo err-${i} >&2"` }));
    }
    const done = await until(async () => {
      const list = await c.json<{ results: any[] }>(`/rest/jobs/complete?max=1000`);
      const mine = list.results.filter((j) => ids.includes(j.id));
      return mine.length === 50 ? mine : undefined;
    }, 90_000, "50 jobs to complete");
    const hosts = new Set<string>();
    for (const j of done) {
      expect(j.state).toBe("COMPLETED");
      expect(j.completionCode).toBe(0);
      hosts.add(j.masterHost);
      const n = ids.indexOf(j.id);
      expect(readFileSync(j.standardOutputFilePath, "utf8")).toBe(`out-${n}\n`);
      expect(readFileSync(j.standardErrorFilePath, "utf8")).toBe(`err-${n}\n`);
    }
    expect([...hosts].sort()).toEqual(["node-a", "node-b"]);
    // paging past any count: a max of 40 nines asks for everything, an offset as large is past the end
    const nines = "9".repeat(40);
    const all = await c.json<{ totalCount: number; resultCount: number }>(`/rest/jobs/complete?max=${nines}`);
    expect(all.resultCount).toBeGreaterThanOrEqual(50);
    expect(all.resultCount).toBe(all.totalCount);
    expect(await c.json(`/rest/jobs/complete?offset=${nines}`)).toMatchObject({ totalCount: all.totalCount, resultCount: 0, results: [] });
  }, 120_000);

  test("a job over its walltime is terminated and says so", async () => {
    const id = await c.submit({ commandLine: "sleep 60", durationRequested: 1 });
    const j = await c.waitForState(id, ["COMPLETED"], 30_000);
    expect(j.completionCode).toBe(128 + 15);
    expect(j.messages.map((m: any) => m.message)).toContain("walltime of 1 s exceeded");
    expect(j.activeDuration).toBeGreaterThanOrEqual(1);
    expect(j.activeDuration).toBeLessThan(20);
  }, 60_000);

  test("a job over its memory limit is terminated", async () => {
    const id = await c.submit({
      commandFile: BUN,
      commandLineArguments: `-e "const a = Buffer.alloc(400 * 1024 * 1024, 1); await Bun.sleep(30000); console.log(a.length)"`,
      requirements: [{ requiredMemoryPerTask: 150 }],
    });
    const j = await c.waitForState(id, ["COMPLETED"], 40_000);
    expect(j.completionCode).not.toBe(0);
    expect(j.messages.map((m: any) => m.message).join(" ")).toMatch(/memory limit of 150 MB exceeded: the job's processes used \d+ MB/);
    expect(j.activeDuration).toBeLessThan(25);
  }, 60_000);

  test("a running job is suspended, resumed and cancelled by signalling its process group", async () => {
    const dir = join(c.home, "ticks");
    const id = await c.submit({ commandFile: "/bin/sh", commandLineArguments: `-c "mkdir -p ${dir}; while true; do echo t >> ${dir}/t; sleep 0.05; done"` });
    await c.waitForState(id, ["RUNNING"]);
    await until(() => existsSync(join(dir, "t")), 10_000, "ticks");
    expect((await c.api(`/rest/jobs/${id}/suspend`, { method: "PUT" })).status).toBe(200);
    expect((await c.job(id)).state).toBe("SUSPENDED");
    // stopped: the tick file stops growing
    const sizeAt = () => readFileSync(join(dir, "t"), "utf8").length;
    await until(async () => {
      const a = sizeAt();
      await Bun.sleep(300);
      return sizeAt() === a;
    }, 10_000, "ticks to stop while suspended");
    expect((await c.api(`/rest/jobs/${id}/resume`, { method: "PUT" })).status).toBe(200);
    const resumedAt = sizeAt();
    await until(() => sizeAt() > resumedAt, 10_000, "ticks to continue after resume");
    expect((await c.job(id)).state).toBe("RUNNING");
    expect((await c.api(`/rest/jobs/${id}`, { method: "DELETE" })).status).toBe(200);
    const j = await c.waitForState(id, ["REMOVED"]);
    expect(j.completionDate).not.toBeNull();
    const after = sizeAt();
    await Bun.sleep(300);
    expect(sizeAt()).toBe(after);
  }, 60_000);

  test("the nodes API shows both agents with real processors and memory", async () => {
    const nodes = await c.json<{ results: any[] }>("/rest/nodes");
    const names = nodes.results.map((n) => n.id);
    expect(names).toContain("node-a");
    expect(names).toContain("node-b");
    for (const n of nodes.results) {
      expect(n.totalProcessors).toBeGreaterThan(0);
      expect(n.totalMemory).toBeGreaterThan(100);
      expect(n.availableMemory).toBeGreaterThan(0);
      expect(["Idle", "Running", "Busy"]).toContain(n.state);
    }
  });

  test("the agents' samples feed a report per node and the cluster report", async () => {
    const point = await until(async () => {
      const r = await c.json<{ datapoints: { data: any }[] }>("/rest/reports/node-node-a");
      return r.datapoints.find((d) => d.data !== null);
    }, 30_000, "a datapoint with data in node-node-a report");
    expect(point.data.cpuUtilization).toBeGreaterThanOrEqual(0);
    expect(point.data.cpuUtilization).toBeLessThanOrEqual(100);
    expect(Object.keys(point.data.cpuPerCore).length).toBeGreaterThan(0);
    expect(point.data.memory.totalBytes).toBeGreaterThan(point.data.memory.usedBytes);
    expect(point.data.load.minutes1).toBeGreaterThanOrEqual(0);
    const cluster = await until(async () => {
      const r = await c.json<{ datapoints: { data: any }[] }>("/rest/reports/cluster");
      return r.datapoints.find((d) => d.data !== null);
    }, 30_000, "a datapoint with data in the cluster report");
    expect(cluster.data.nodes.up).toBeGreaterThanOrEqual(1);
    expect(cluster.data.processors.total).toBeGreaterThan(0);
  }, 60_000);
});

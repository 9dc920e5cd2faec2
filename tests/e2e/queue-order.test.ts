// Queue order on a real cluster (controller and agents as processes, jobs as real processes):
// FIFO within a priority, a wide job never starved by narrow ones that come after it, EASY
// backfill with walltimes, priorities, multi-node jobs. Each job appends its name to one file
// as it starts, so the file's lines are the order in which jobs really started.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

/** Start order from the file, as job names. */
const startOrder = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);

/** A job that writes its name to the order file when it starts, then sleeps. */
const job = (file: string, name: string, seconds: number, extra: Record<string, unknown> = {}) => ({
  name,
  commandFile: "/bin/sh",
  commandLineArguments: `-c "echo ${name} >> ${file}; sleep ${seconds}"`,
  ...extra,
});

/** Every job whose name is given has started (its line is in the file). */
const startedAll = (file: string, names: string[]) =>
  until(() => {
    const seen = startOrder(file);
    return names.every((n) => seen.includes(n)) ? seen : undefined;
  }, 60_000, `${names.join(", ")} to start`);

/** position(a) < position(b) for each pair. */
function expectBefore(order: string[], pairs: [string, string][]) {
  for (const [a, b] of pairs) {
    expect({ [a]: order.indexOf(a) >= 0, before: b, ok: order.indexOf(a) < order.indexOf(b) || order.indexOf(b) < 0 }).toEqual({ [a]: true, before: b, ok: true });
  }
}

/**
 * The scenario: two 1-processor jobs running (3 s and 5 s, here 2 s and 4 s), then a
 * 2-processor job BIG, then eight 1-processor jobs; no walltimes. BIG starts before every later
 * job, and the later ones start in their order (two at a time: never one more than a place
 * ahead of its turn).
 */
async function wideJobScenario(c: Cluster, file: string) {
  writeFileSync(file, "");
  await c.submit(job(file, "run-a", 2));
  await c.submit(job(file, "run-b", 4));
  await startedAll(file, ["run-a", "run-b"]);
  await c.submit(job(file, "BIG", 1, { requirements: [{ requiredProcessorCountMinimum: 2 }] }));
  const late = Array.from({ length: 8 }, (_, i) => `late-${i + 1}`);
  for (const name of late) await c.submit(job(file, name, 1));
  const order = await startedAll(file, ["BIG", ...late]);
  expectBefore(order, late.map((l) => ["BIG", l]));
  // two processors: late-i always starts before late-(i+2)
  expectBefore(order, late.slice(0, -2).map((l, i) => [l, late[i + 2]!]));
}

// "default": the settings a new user has (backlog 4, jobs handed back after 2 s: BIG is handed
// back with everything behind it and then planned); "on": jobs wait in the node's backlog long
// enough for BIG to start from there; "off": no backlog
for (const backlog of ["default", "on", "off"] as const) {
  await forEachDatabaseUrl(`queue order on one 2-processor node, node backlog ${backlog}`, (url) => {
    let c: Cluster;
    beforeAll(async () => {
      const env: Record<string, string> =
        backlog === "on" ? { DROVER_NODE_BACKLOG: "4", DROVER_BACKLOG_WAIT: "20s" } : backlog === "off" ? { DROVER_NODE_BACKLOG: "0" } : {};
      c = new Cluster({ databaseUrl: url(), env });
      await c.startController();
      await c.startAgent("node-a", { args: ["--cpus", "2"] });
    }, 90_000);
    afterAll(() => c.stop());

    test("a 2-processor job submitted behind running jobs starts before the 1-processor jobs submitted after it, which start in order", async () => {
      await wideJobScenario(c, join(c.home, "order-wide"));
    }, 90_000);

    if (backlog === "off") {
      test("a higher-priority job overtakes queued lower ones, never a running one", async () => {
        const file = join(c.home, "order-priority");
        writeFileSync(file, "");
        await c.submit(job(file, "run-1", 2));
        await c.submit(job(file, "run-2", 2));
        await startedAll(file, ["run-1", "run-2"]);
        for (const name of ["low-1", "low-2"]) await c.submit(job(file, name, 1));
        await c.submit(job(file, "high", 1, { userPriority: 100 }));
        const order = await startedAll(file, ["low-1", "low-2", "high"]);
        expect(order.slice(0, 2).sort()).toEqual(["run-1", "run-2"]);
        expectBefore(order, [["high", "low-1"], ["high", "low-2"]]);
      }, 60_000);

      test("with walltimes, a short job starts ahead of a waiting wide one (backfill); a longer one and one without a walltime do not", async () => {
        const file = join(c.home, "order-backfill");
        writeFileSync(file, "");
        await c.submit(job(file, "running", 4, { durationRequested: 6 }));
        await startedAll(file, ["running"]);
        const wide = await c.submit(job(file, "wide", 1, { requirements: [{ requiredProcessorCountMinimum: 2 }], durationRequested: 10 }));
        await c.submit(job(file, "too-long", 1, { durationRequested: 60 }));
        await c.submit(job(file, "no-walltime", 1));
        await c.submit(job(file, "short", 1, { durationRequested: 2 }));
        // the wide job shows why it waits and when it is planned to start
        const waiting = await until(async () => {
          const j = await c.job(wide);
          return j.earliestStartDate ? j : undefined;
        }, 20_000, "the wide job's planned start");
        expect(waiting.blockReason.message).toMatch(/first in the queue: planned to start/);
        const order = await startedAll(file, ["wide", "too-long", "no-walltime", "short"]);
        expectBefore(order, [["short", "wide"], ["wide", "too-long"], ["wide", "no-walltime"]]);
      }, 60_000);

      test("a job no node can ever run: MWS refuses it; wr's waits, says why and holds nobody back", async () => {
        const refused = await c.api("/rest/jobs", { method: "POST", json: { commandLine: "true", requirements: [{ requiredProcessorCountMinimum: 64 }] } });
        expect(refused.status).toBe(400);
        expect(((await refused.json()) as { messages: string[] }).messages[0]).toContain("no registered node can ever run it: it needs 64 processors and the nodes have 2 in all");
        // wr stores such a job, as wr does, to wait for nodes that can run it
        const added = await c.api("/rest/v1/jobs/?rep_grp=huge", { method: "POST", json: [{ cmd: "true", cpus: 64 }] });
        expect(added.status).toBe(201);
        const queued = (await c.json("/jobs?state=queued&group=huge")) as { jobs: { id: number }[] };
        const huge = `drover.${queued.jobs[0]!.id}`;
        const after = await c.submit({ commandLine: "true" });
        await c.waitForState(after, ["COMPLETED"]);
        const j = await until(async () => {
          const x = await c.job(huge);
          return x.blockReason ? x : undefined;
        }, 20_000, "the reason of the 64-processor job");
        expect(j.state).toBe("IDLE");
        expect(j.blockReason.message).toBe("no node can ever run it: it needs 64 processors and the nodes have 2 in all");
        expect(j.earliestStartDate).toBeNull();
        await c.api(`/jobs/${queued.jobs[0]!.id}/cancel`, { method: "POST" });
      }, 60_000);
    }
  });
}

await forEachDatabaseUrl("queue order across two 2-processor nodes", (url) => {
  let c: Cluster;
  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_BACKLOG: "0" } });
    await c.startController();
    await Promise.all([c.startAgent("node-a", { args: ["--cpus", "2"] }), c.startAgent("node-b", { args: ["--cpus", "2"] })]);
  }, 90_000);
  afterAll(() => c.stop());

  test("a job spanning both nodes waits for them and 1-processor jobs behind it do not take them first", async () => {
    const file = join(c.home, "order-multinode");
    writeFileSync(file, "");
    await c.submit(job(file, "running", 3));
    await startedAll(file, ["running"]);
    await c.submit(job(file, "wide", 1, { requirements: [{ requiredProcessorCountMinimum: 4, tasksPerNode: 2 }] }));
    const late = ["late-1", "late-2", "late-3"];
    for (const name of late) await c.submit(job(file, name, 1));
    const order = await startedAll(file, ["wide", ...late]);
    expectBefore(order, late.map((l) => ["wide", l]));
  }, 60_000);
});

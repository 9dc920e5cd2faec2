import { beforeAll, beforeEach, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { create, JobFinishedSchema, RegisterSchema, type ControllerMessage } from "@drover/proto/service";
import { applyJobFinished } from "../../../controller/src/jobs/agent-events.ts";
import { loadConfig } from "../../../shared/src/config.ts";
import { ManualClock, setClock } from "../../../shared/src/clock.ts";
import type { Core } from "../../../controller/src/core.ts";
import { jobs } from "../../../controller/src/db/schema.ts";
import { AgentLinks } from "../../../controller/src/nodes/agent-links.ts";
import { registerNode } from "../../../controller/src/nodes/register-node.ts";
import { schedulePass } from "../../../controller/src/scheduler/schedule-pass.ts";
import { submitJob } from "../../../controller/src/jobs/submit-job.ts";
import type { JobSpec } from "../../../controller/src/jobs/job-spec.ts";
import { forEachDatabase } from "../../helpers/databases.ts";

const alice = { username: "alice", role: "user" as const };

await forEachDatabase("the scheduling pass", (database) => {
  let core: Core;
  const sent = new Map<string, ControllerMessage[]>();
  const runs = (node: string) => (sent.get(node) ?? []).filter((m) => m.body.case === "run").map((m) => Number((m.body.value as { jobId: bigint }).jobId));

  beforeAll(async () => {
    const links = new AgentLinks();
    for (const node of ["n1", "n2"]) {
      links.attach({ nodeId: node, send: (m) => sent.set(node, [...(sent.get(node) ?? []), m]), close: () => {} });
      await registerNode(database().db, create(RegisterSchema, { nodeName: node, hostname: node, cores: 2, memoryBytes: 4n << 30n }), "t");
    }
    // these tests are about placement in free processors: no node backlog (tested at the end)
    core = { db: database().db, config: loadConfig({ DROVER_NODE_BACKLOG: "0" }, "/nonexistent"), links, kick: () => {}, controllerId: "t", startedAt: 0 };
  });

  beforeEach(async () => {
    await core.db.execute(sql`delete from jobs`);
    sent.clear();
  });

  const submit = async (spec: Partial<JobSpec> = {}) => (await submitJob(core, alice, { argv: ["true"], ...spec })).id;
  const stateOf = async (id: number) => (await core.db.select().from(jobs).where(eq(jobs.id, id)))[0]!;

  test("higher priority first, then first come first served, until the cpus are used", async () => {
    const a = await submit();
    const b = await submit({ priority: 10 });
    const c = await submit();
    const d = await submit({ priority: 10 });
    const e = await submit();
    expect(await schedulePass(core)).toBe(4);
    expect([...runs("n1"), ...runs("n2")].sort()).toEqual([a, b, c, d].sort());
    expect((await stateOf(e)).state).toBe("queued");
    expect((await stateOf(b)).state).toBe("dispatching");
  });

  test("a job that needs more cpus than the cluster has waits and says why; smaller ones run past it", async () => {
    const big = await submit({ cpus: 5 });
    const small = await submit();
    await schedulePass(core);
    expect((await stateOf(big)).reason).toMatch(/do not have 5 free processors and 0 MB of free memory between them/);
    expect((await stateOf(small)).state).toBe("dispatching");
  });

  test("a processor count no node has alone spans nodes; the master runs it and learns every host", async () => {
    const wide = await submit({ cpus: 3, memoryBytes: 100 * 2 ** 20 });
    await schedulePass(core);
    const job = await stateOf(wide);
    expect(job.state).toBe("dispatching");
    expect(job.allocatedNodes.map((a) => a.cpus).sort()).toEqual([1, 2]);
    const master = job.allocatedNodes[0]!.node;
    const run = (sent.get(master) ?? []).find((m) => m.body.case === "run")!.body.value as { hosts: string[]; cpus: number; memoryBytes: bigint };
    expect(run.hosts).toHaveLength(3);
    expect(new Set(run.hosts)).toEqual(new Set(["n1", "n2"]));
    expect(run.memoryBytes).toBe(BigInt(job.allocatedNodes[0]!.cpus * 100 * 2 ** 20));
    // one processor is left in the cluster
    const two = await submit({ cpus: 2 });
    const one = await submit({ cpus: 1 });
    await schedulePass(core);
    expect((await stateOf(two)).state).toBe("queued");
    expect((await stateOf(one)).state).toBe("dispatching");
  });

  test("tasksPerNode (nodes=2:ppn=2) takes two whole nodes, or waits for them", async () => {
    const busy = await submit({ cpus: 1 });
    const pbs = await submit({ cpus: 4, tasksPerNode: 2 });
    await schedulePass(core);
    expect((await stateOf(busy)).state).toBe("dispatching");
    expect((await stateOf(pbs)).reason).toMatch(/needs 2 nodes with 2 free processors .* each; 1 have them now/);
    await core.db.execute(sql`update jobs set state = 'completed' where id = ${busy}`);
    await schedulePass(core);
    const job = await stateOf(pbs);
    expect(job.state).toBe("dispatching");
    expect(job.allocatedNodes.map((a) => [a.node, a.cpus]).sort()).toEqual([["n1", 2], ["n2", 2]]);
  });

  test("a host list takes every listed node", async () => {
    const both = await submit({ hosts: ["n2", "n1"] });
    await schedulePass(core);
    const job = await stateOf(both);
    expect(job.allocatedNodes.map((a) => a.node)).toEqual(["n2", "n1"]);
    expect(runs("n2")).toEqual([both]);
  });

  test("held and deferred jobs are not started", async () => {
    const held = await submit({ holds: ["USER"] });
    const later = await submit({ earliestStartAt: new Date(Date.now() + 3_600_000) });
    expect(await schedulePass(core)).toBe(0);
    expect((await stateOf(held)).state).toBe("queued");
    expect((await stateOf(later)).state).toBe("queued");
  });

  test("a deferred job starts once its time has come (driven clock)", async () => {
    const clock = new ManualClock(Date.now());
    const restore = setClock(clock.read);
    try {
      const later = await submit({ earliestStartAt: new Date(clock.ms + 60_000) });
      expect(await schedulePass(core)).toBe(0);
      clock.advance(61_000);
      expect(await schedulePass(core)).toBe(1);
      expect((await stateOf(later)).state).toBe("dispatching");
    } finally {
      restore();
    }
  });

  test("dependants wait for their dependencies to complete, and say so when one failed", async () => {
    const first = await submit();
    const second = await submit({ dependsOn: [first] });
    const loser = await submit({ holds: ["USER"] });
    const orphan = await submit({ dependsOn: [loser] });
    await schedulePass(core);
    expect(runs("n1").concat(runs("n2"))).toEqual([first]);
    expect((await stateOf(second)).reason).toBe(`waiting for dependencies ${first} to complete`);
    await core.db.update(jobs).set({ state: "completed" }).where(eq(jobs.id, first));
    await core.db.update(jobs).set({ state: "failed", holds: [] }).where(eq(jobs.id, loser));
    await schedulePass(core);
    expect((await stateOf(second)).state).toBe("dispatching");
    expect((await stateOf(orphan)).reason).toMatch(new RegExp(`dependency ${loser} did not complete successfully`));
  });

  test("many jobs blocked by dependencies at the head of the queue do not starve the rest", async () => {
    const gate = await submit({ holds: ["USER"] });
    for (let i = 0; i < 60; i++) await submit({ dependsOn: [gate] });
    const free = await submit();
    await schedulePass(core);
    expect((await stateOf(free)).state).toBe("dispatching");
  });

  test("a host list pins a job to the named node", async () => {
    const pinned = await submit({ hosts: ["n2"] });
    await schedulePass(core);
    expect(runs("n2")).toEqual([pinned]);
    expect(runs("n1")).toEqual([]);
  });

  test("a job for a host that is not connected waits with a reason", async () => {
    const id = await submit({ hosts: ["elsewhere"] });
    await schedulePass(core);
    expect((await stateOf(id)).reason).toMatch(/requested host elsewhere is not connected/);
  });

  test("with a node backlog, busy nodes are sent single-node jobs worth their processors once more; wider jobs are not", async () => {
    const withBacklog = { ...core, config: loadConfig({ DROVER_NODE_BACKLOG: "1" }, "/nonexistent") };
    const first = await Promise.all(Array.from({ length: 6 }, () => submit()));
    const wide = await submit({ cpus: 3 });
    const spanning = await submit({ cpus: 4, tasksPerNode: 2 });
    // 4 in free processors, then 2 promised (a free processor is always preferred to a backlog)
    expect(await schedulePass(withBacklog)).toBe(6);
    for (const id of first) expect((await stateOf(id)).state).toBe("dispatching");
    const more = await Promise.all(Array.from({ length: 4 }, () => submit()));
    expect(await schedulePass(withBacklog)).toBe(2);
    const states = await Promise.all(more.map(async (id) => (await stateOf(id)).state));
    expect(states.filter((s) => s === "dispatching")).toHaveLength(2);
    expect(states.filter((s) => s === "queued")).toHaveLength(2);
    // each node holds at most twice its processors; nothing wider than a node waits in a backlog
    expect(runs("n1").length).toBe(4);
    expect(runs("n2").length).toBe(4);
    expect((await stateOf(wide)).state).toBe("queued");
    expect((await stateOf(spanning)).state).toBe("queued");
    // without a backlog nothing more is sent
    expect(await schedulePass(core)).toBe(0);
  });

  test("a job handed back from a backlog queues again unstarted, and waits for a free processor from then on", async () => {
    const withBacklog = { ...core, config: loadConfig({ DROVER_NODE_BACKLOG: "1" }, "/nonexistent") };
    const fillers = await Promise.all(Array.from({ length: 4 }, () => submit()));
    expect(await schedulePass(core)).toBe(4);
    const id = await submit();
    expect(await schedulePass(withBacklog)).toBe(1);
    const dispatched = await stateOf(id);
    await core.db.transaction((tx) =>
      applyJobFinished(tx, dispatched.nodeId!, create(JobFinishedSchema, { jobId: BigInt(id), attempt: dispatched.attempt, started: false, returned: true, failReason: "waited too long", endedAtMs: 1000n })),
    );
    const back = await stateOf(id);
    expect(back).toMatchObject({ state: "queued", nodeId: null, startCount: 0, reason: null, exitCode: null });
    expect(back.backlogReturnedAt).not.toBeNull();
    expect(back.messages).toEqual([]);
    // the backlogs have room, but this job now waits for a free processor
    expect(await schedulePass(withBacklog)).toBe(0);
    expect((await stateOf(id)).reason).toMatch(/waiting for resources/);
    await core.db.execute(sql`update jobs set state = 'completed' where id = ${fillers[0]!}`);
    expect(await schedulePass(withBacklog)).toBe(1);
    expect(await stateOf(id)).toMatchObject({ state: "dispatching", attempt: dispatched.attempt + 1 });
  });
});

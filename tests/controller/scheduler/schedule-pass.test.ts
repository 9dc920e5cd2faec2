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

  test("a job no node can ever run is refused at submission; one that became so (its node left) says so and holds nobody back", async () => {
    await expect(submit({ cpus: 64 })).rejects.toThrow("The job cannot run here: no registered node can ever run it: it needs 64 processors and the nodes have 4 in all; nothing was stored");
    await expect(submit({ memoryBytes: 100 * 2 ** 40 })).rejects.toThrow("it needs 104857600 MB per processor and the largest node has 4096 MB");
    // accepted while a node that could run them was registered
    await registerNode(core.db, create(RegisterSchema, { nodeName: "n9", hostname: "n9", cores: 64, memoryBytes: 200n << 40n }), "t");
    const big = await submit({ cpus: 64 });
    const huge = await submit({ memoryBytes: 100 * 2 ** 40 });
    await core.db.execute(sql`delete from nodes where id = 'n9'`);
    const small = await submit();
    await schedulePass(core);
    expect((await stateOf(big)).reason).toBe("no node can ever run it: it needs 64 processors and the nodes have 4 in all");
    expect((await stateOf(huge)).reason).toBe("no node can ever run it: it needs 104857600 MB per processor and the largest node has 4096 MB");
    expect((await stateOf(small)).state).toBe("dispatching");
    const show = (await stateOf(big));
    expect(show.plannedStartAt).toBeNull();
  });

  test("a job wider than what is free waits at the head; later jobs do not start ahead of it", async () => {
    const one = await submit({ cpus: 3 });
    const wide = await submit({ cpus: 2 });
    const late = await submit();
    await schedulePass(core);
    expect((await stateOf(one)).state).toBe("dispatching");
    // one processor is free, but the 2-processor job came first
    const waiting = await stateOf(wide);
    expect(waiting.state).toBe("queued");
    expect(waiting.reason).toMatch(new RegExp(`held by job ${one}; first in the queue: it starts when they end`));
    expect((await stateOf(late)).state).toBe("queued");
    expect((await stateOf(late)).reason).toBe(`waiting for job ${wide} ahead of it: a job without a walltime never starts ahead of it`);
    await core.db.execute(sql`update jobs set state = 'completed' where id = ${one}`);
    await schedulePass(core);
    expect((await stateOf(wide)).state).toBe("dispatching");
    expect((await stateOf(late)).state).toBe("dispatching");
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
    // one processor is left in the cluster: a 1-processor job submitted after a 2-processor one
    // does not take it ahead of it (neither has a walltime)
    const two = await submit({ cpus: 2 });
    const one = await submit({ cpus: 1 });
    await schedulePass(core);
    expect((await stateOf(two)).state).toBe("queued");
    expect((await stateOf(one)).state).toBe("queued");
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

  test("a job for a host no node is named can never run; one for a registered host that is not connected waits for it", async () => {
    await expect(submit({ hosts: ["elsewhere"] })).rejects.toThrow("no registered node can ever run it: no node is named elsewhere");
    await registerNode(core.db, create(RegisterSchema, { nodeName: "elsewhere", hostname: "elsewhere", cores: 2, memoryBytes: 4n << 30n }), "t");
    const id = await submit({ hosts: ["elsewhere"] });
    await core.db.execute(sql`delete from nodes where id = 'elsewhere'`);
    await registerNode(core.db, create(RegisterSchema, { nodeName: "n3", hostname: "n3", cores: 2, memoryBytes: 4n << 30n }), "t");
    const later = await submit({ hosts: ["n3"] });
    const free = await submit();
    await schedulePass(core);
    expect((await stateOf(id)).reason).toBe("no node can ever run it: no node is named elsewhere");
    expect((await stateOf(later)).reason).toMatch(/^waiting for nodes that can run it to connect: requested host n3 is not connected/);
    expect((await stateOf(free)).state).toBe("dispatching");
    await core.db.execute(sql`delete from nodes where id = 'n3'`);
  });

  test("with a node backlog, busy nodes are sent single-node jobs worth their processors once more; wider jobs are not", async () => {
    const withBacklog = { ...core, config: loadConfig({ DROVER_NODE_BACKLOG: "1" }, "/nonexistent") };
    const first = await Promise.all(Array.from({ length: 6 }, () => submit()));
    // 4 in free processors, then 2 promised (a free processor is always preferred to a backlog)
    expect(await schedulePass(withBacklog)).toBe(6);
    for (const id of first) expect((await stateOf(id)).state).toBe("dispatching");
    const more = await Promise.all(Array.from({ length: 4 }, () => submit()));
    const wide = await submit({ cpus: 3 });
    const spanning = await submit({ cpus: 4, tasksPerNode: 2 });
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
      applyJobFinished(tx, dispatched.nodeId!, create(JobFinishedSchema, { jobId: BigInt(id), attempt: dispatched.attempt, started: false, returned: true, overdue: true, failReason: "waited too long", endedAtMs: 1000n })),
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

  test("behind a job handed back for waiting too long, no later job is sent to a backlog; those handed back with it may be again", async () => {
    const withBacklog = { ...core, config: loadConfig({ DROVER_NODE_BACKLOG: "1" }, "/nonexistent") };
    const fillers = await Promise.all(Array.from({ length: 4 }, () => submit()));
    expect(await schedulePass(core)).toBe(4);
    const overdue = await submit();
    const behind = await submit();
    expect(await schedulePass(withBacklog)).toBe(2);
    for (const [id, late] of [[overdue, true], [behind, false]] as const) {
      const d = await stateOf(id);
      await core.db.transaction((tx) =>
        applyJobFinished(tx, d.nodeId!, create(JobFinishedSchema, { jobId: BigInt(id), attempt: d.attempt, started: false, returned: true, overdue: late, endedAtMs: 1000n })),
      );
    }
    expect((await stateOf(behind)).backlogReturnedAt).toBeNull();
    const later = await submit();
    // the overdue job is first in the queue: nothing goes to a backlog ahead of it
    expect(await schedulePass(withBacklog)).toBe(0);
    expect((await stateOf(behind)).reason).toBe(`waiting for job ${overdue} ahead of it: a job without a walltime never starts ahead of it`);
    expect((await stateOf(later)).state).toBe("queued");
    await core.db.execute(sql`update jobs set state = 'completed' where id = ${fillers[0]!}`);
    // it takes the free processor; the others may wait in backlogs again
    expect(await schedulePass(withBacklog)).toBe(3);
    expect((await stateOf(overdue)).allocatedNodes[0]!.node).toBe((await stateOf(fillers[0]!)).allocatedNodes[0]!.node);
  });

  test("EASY backfill: with walltimes, a later job that ends before the planned start runs ahead of a waiting one; one that would not, waits", async () => {
    const clock = new ManualClock(Date.now());
    const restore = setClock(clock.read);
    try {
      // both nodes busy: n1 for 10 minutes (2 cpus), n2 with 1 of 2 cpus for an hour
      const a = await submit({ cpus: 2, walltimeMs: 600_000, hosts: ["n1"] });
      const b = await submit({ cpus: 1, walltimeMs: 3_600_000, hosts: ["n2"] });
      expect(await schedulePass(core)).toBe(2);
      await core.db.execute(sql`update jobs set state = 'running', started_at = ${new Date(clock.ms).toISOString()}::timestamptz where id in (${a}, ${b})`);
      // at +10 minutes n1 and the free processor of n2 have room for it: a planned start
      const wide = await submit({ cpus: 3 });
      const long = await submit({ walltimeMs: 900_000 });
      const none = await submit();
      const short = await submit({ walltimeMs: 300_000 });
      expect(await schedulePass(core)).toBe(1);
      const head = await stateOf(wide);
      expect(head.plannedStartAt?.getTime()).toBe(clock.ms + 600_000);
      expect(head.reason).toMatch(new RegExp(`held by jobs ${a}, ${b}; first in the queue: planned to start ${new Date(clock.ms + 600_000).toISOString()}`));
      expect((await stateOf(short)).state).toBe("dispatching");
      expect((await stateOf(long)).reason).toMatch(new RegExp(`waiting for job ${wide} ahead of it \\(planned to start .*\\): it would not end before then`));
      expect((await stateOf(none)).reason).toMatch(/a job without a walltime never starts ahead of it/);
    } finally {
      restore();
    }
  });
});

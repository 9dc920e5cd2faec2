import { beforeAll, expect, test } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { create, JobFinishedSchema, JobOutputSchema, JobStartedSchema, RegisterSchema } from "@drover/proto/service";
import { jobEvents, jobs, type Job } from "../../../controller/src/db/schema.ts";
import { applyJobEvents, applyJobEventsOfNodes, type JobEventBurst } from "../../../controller/src/jobs/agent-events.ts";
import { listPendingActions, openPendingActions } from "../../../controller/src/jobs/pending-actions.ts";
import { registerNode } from "../../../controller/src/nodes/register-node.ts";
import type { Db } from "../../../controller/src/db/connect.ts";
import { forEachDatabase } from "../../helpers/databases.ts";

await forEachDatabase("agent events", (database) => {
  let db: Db;
  beforeAll(async () => {
    db = database().db;
    await registerNode(db, create(RegisterSchema, { nodeName: "ev1", hostname: "ev1", cores: 4, memoryBytes: 1n << 30n }), "test");
  });

  /** A job as a pass leaves it: dispatched to ev1 for attempt 1, its DISPATCH pending, and a SUSPEND asked of it. */
  const dispatched = async (): Promise<Job> => {
    const [job] = await db
      .insert(jobs)
      .values({ owner: "u", argv: ["true"], state: "dispatching", nodeId: "ev1", attempt: 1, allocatedNodes: [{ node: "ev1", cpus: 1 }], dispatchedAt: new Date() })
      .returning();
    expect((await pending(job!.id)).map((a) => [a.key, a.type, a.hosts])).toEqual([[`dispatch-${job!.id}`, "DISPATCH", ["ev1"]]]);
    return job!;
  };
  const started = (id: number, pid = 4242) =>
    create(JobStartedSchema, { jobId: BigInt(id), attempt: 1, pid, startedAtMs: 1_000n, stdoutPath: `/d/${id}/stdout`, stderrPath: `/d/${id}/stderr` });
  const finished = (id: number, fields: Partial<{ exitCode: number; stdoutTail: string }> = {}) =>
    create(JobFinishedSchema, { jobId: BigInt(id), attempt: 1, exitCode: 0, started: true, startedAtMs: 1_000n, endedAtMs: 1_500n, walltimeMs: 500n, ...fields });
  const apply = (burst: Partial<JobEventBurst>) =>
    db.transaction((tx) => applyJobEvents(tx, "ev1", { started: [], outputs: [], finished: [], signalled: [], ...burst }));
  const reload = async (id: number) => (await db.select().from(jobs).where(eq(jobs.id, id)))[0]!;
  const kinds = async (id: number) => (await db.select().from(jobEvents).where(eq(jobEvents.jobId, id)).orderBy(asc(jobEvents.id))).map((e) => e.kind);
  const pending = async (id: number) => (await listPendingActions(db, { username: "admin", role: "admin" })).filter((a) => a.jobId === id);

  test("the bursts of several nodes at once: each event applies on its own node only", async () => {
    await registerNode(db, create(RegisterSchema, { nodeName: "ev2", hostname: "ev2", cores: 4, memoryBytes: 1n << 30n }), "test");
    const [a, b] = [await dispatched(), await dispatched()];
    const [c] = await db.insert(jobs).values({ owner: "u", argv: ["true"], state: "dispatching", nodeId: "ev2", attempt: 1, allocatedNodes: [{ node: "ev2", cpus: 1 }], dispatchedAt: new Date() }).returning();
    const none = { outputs: [], signalled: [] };
    await db.transaction((tx) =>
      applyJobEventsOfNodes(tx, [
        { nodeId: "ev1", burst: { ...none, started: [started(a.id, 11), started(b.id, 12)], finished: [finished(b.id)] } },
        // (a start of ev1's job reported by ev2 is not ev2's to report)
        { nodeId: "ev2", burst: { ...none, started: [started(c!.id, 13), started(a.id, 99)], finished: [] } },
      ]),
    );
    expect(await reload(a.id)).toMatchObject({ state: "running", nodeId: "ev1", pid: 11, startCount: 1 });
    expect(await reload(b.id)).toMatchObject({ state: "completed", nodeId: "ev1", pid: 12, startCount: 1 });
    expect(await reload(c!.id)).toMatchObject({ state: "running", nodeId: "ev2", pid: 13, startCount: 1 });
    expect(await kinds(b.id)).toEqual(["started", "completed"]);
  });

  test("a job that started and ended within one burst is recorded as started once, then completed", async () => {
    const job = await dispatched();
    await apply({ started: [started(job.id)], finished: [finished(job.id)] });
    const after = await reload(job.id);
    expect(after).toMatchObject({ state: "completed", pid: 4242, startCount: 1, exitCode: 0, stdoutPath: `/d/${job.id}/stdout`, walltimeUsedMs: 500 });
    expect(after.startedAt?.getTime()).toBe(1_000);
    expect(await kinds(job.id)).toEqual(["started", "completed"]);
    expect(await pending(job.id)).toEqual([]);
  });

  test("whatever else was asked of a run (a suspend) is settled by its end", async () => {
    const job = await dispatched();
    await apply({ started: [started(job.id)] });
    await openPendingActions(db, [{ type: "SUSPEND", requester: "alice", jobId: job.id, attempt: 1, hosts: ["ev1"] }]);
    expect((await pending(job.id)).map((a) => a.type)).toEqual(["SUSPEND"]);
    await apply({ finished: [finished(job.id)] });
    expect(await pending(job.id)).toEqual([]);
  });

  test("a start and an end in separate bursts give the same record, the start counted once", async () => {
    const job = await dispatched();
    await apply({ started: [started(job.id)] });
    expect(await reload(job.id)).toMatchObject({ state: "running", pid: 4242, startCount: 1 });
    expect(await pending(job.id)).toEqual([]);
    await apply({ finished: [finished(job.id, { exitCode: 3 })] });
    expect(await reload(job.id)).toMatchObject({ state: "failed", pid: 4242, startCount: 1, exitCode: 3, reason: "exited with code 3" });
    expect(await kinds(job.id)).toEqual(["started", "failed"]);
  });

  test("one burst applies each job's events to that job: one starts, another ends", async () => {
    const a = await dispatched();
    const b = await dispatched();
    await apply({ started: [started(b.id)] });
    await apply({ started: [started(a.id, 7)], finished: [finished(b.id)] });
    expect(await reload(a.id)).toMatchObject({ state: "running", pid: 7, startCount: 1 });
    expect(await reload(b.id)).toMatchObject({ state: "completed", startCount: 1 });
  });

  test("output with NUL characters is stored without them, and the burst is not refused", async () => {
    const job = await dispatched();
    await apply({
      started: [started(job.id)],
      outputs: [create(JobOutputSchema, { jobId: BigInt(job.id), attempt: 1, stdoutTail: "a\0b", stderrTail: "" })],
    });
    expect((await reload(job.id)).stdoutTail).toBe("a\uFFFDb");
    await apply({ finished: [finished(job.id, { stdoutTail: "end\0" })] });
    expect(await reload(job.id)).toMatchObject({ state: "completed", stdoutTail: "end\uFFFD" });
  });

  test("a repeated end (a replay after a reconnect) changes nothing", async () => {
    const job = await dispatched();
    await apply({ started: [started(job.id)], finished: [finished(job.id)] });
    const first = await reload(job.id);
    await apply({ started: [started(job.id)], finished: [finished(job.id, { exitCode: 9 })] });
    expect(await reload(job.id)).toEqual(first);
    expect(await kinds(job.id)).toEqual(["started", "completed"]);
  });
});

import { beforeAll, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { create, JobFinishedSchema, JobStartedSchema, RegisterSchema, SignalJob_Kind, type ControllerMessage } from "@drover/proto/service";
import { applyJobEvents } from "../../../controller/src/jobs/agent-events.ts";
import { recordJobEvent } from "../../../controller/src/jobs/job-events.ts";
import { loadConfig } from "../../../shared/src/config.ts";
import type { Core } from "../../../controller/src/core.ts";
import { jobs, nodes, type Job } from "../../../controller/src/db/schema.ts";
import { AgentLinks } from "../../../controller/src/nodes/agent-links.ts";
import { markNodeLost, reconcileNode } from "../../../controller/src/nodes/node-loss.ts";
import { checkLiveness } from "../../../controller/src/nodes/liveness.ts";
import { HeartbeatWriter } from "../../../controller/src/nodes/heartbeats.ts";
import { Peers } from "../../../controller/src/peers/peers.ts";
import { registerNode } from "../../../controller/src/nodes/register-node.ts";
import { forEachDatabase } from "../../helpers/databases.ts";

await forEachDatabase("node loss and reconciliation", (database) => {
  let core: Core;
  const sent: ControllerMessage[] = [];
  beforeAll(async () => {
    const links = new AgentLinks();
    links.attach({ nodeId: "n1", send: (m) => sent.push(m), close: () => {} });
    core = { db: database().db, config: loadConfig({}, "/nonexistent"), links, kick: () => {}, controllerId: "test", startedAt: 0 };
    await registerNode(core.db, create(RegisterSchema, { nodeName: "n1", hostname: "n1", cores: 4, memoryBytes: 1n << 30n }), "test");
  });

  const jobOn = async (fields: Partial<Job>): Promise<Job> => {
    const [row] = await core.db
      .insert(jobs)
      .values({ owner: "u", argv: ["true"], nodeId: "n1", allocatedNodes: [{ node: "n1", cpus: 1 }], ...fields })
      .returning();
    return row!;
  };
  const reload = async (id: number) => (await core.db.select().from(jobs).where(eq(jobs.id, id)))[0]!;

  test("a node whose last stored heartbeat is old but which this controller heard from since is not taken for lost", async () => {
    await registerNode(core.db, create(RegisterSchema, { nodeName: "n9", hostname: "n9", cores: 4, memoryBytes: 1n << 30n }), "test");
    await core.db.update(nodes).set({ lastHeartbeatAt: new Date(Date.now() - 3_600_000) }).where(eq(nodes.id, "n9"));
    const heartbeats = new HeartbeatWriter(core.db, 3_600_000);
    try {
      const watched = { ...core, startedAt: 0, heartbeats };
      heartbeats.record("n9");
      expect(await checkLiveness(watched)).not.toContain("n9");
      expect(await checkLiveness({ ...core, startedAt: 0 })).toContain("n9");
    } finally {
      await heartbeats.stop();
    }
  });

  test("a silent node that another live controller holds is left to that controller; once that controller is gone, the leader judges it", async () => {
    await registerNode(core.db, create(RegisterSchema, { nodeName: "n8", hostname: "n8", cores: 4, memoryBytes: 1n << 30n }), "test");
    // (its holder's stored heartbeat lags: a busy controller's writes wait; it heard the node itself)
    await core.db.update(nodes).set({ lastHeartbeatAt: new Date(Date.now() - 3_600_000), controllerId: "other" }).where(eq(nodes.id, "n8"));
    await core.db.execute(sql`insert into controllers (id, http_url, grpc_address, hostname) values ('other', 'http://other:8080', 'other:7071', 'other')`);
    const me = { id: "test", httpUrl: "http://test:8080", grpcAddress: "test:7071" };
    const seeing = new Peers(core, database(), me);
    await seeing.start();
    try {
      expect(await checkLiveness({ ...core, startedAt: 0, peers: seeing })).not.toContain("n8");
    } finally {
      await seeing.stop();
    }
    await core.db.execute(sql`update controllers set seen_at = now() - interval '1 minute' where id = 'other'`);
    const later = new Peers(core, database(), me);
    await later.start();
    try {
      expect(await checkLiveness({ ...core, startedAt: 0, peers: later })).toContain("n8");
    } finally {
      await later.stop();
    }
  });

  test("a timed-out node's unconfirmed job without retries is lost, not run again", async () => {
    const j = await jobOn({ state: "dispatching", attempt: 1, retries: 0 });
    await markNodeLost(core, "n1", "no heartbeat");
    expect((await reload(j.id)).state).toBe("lost");
  });

  test("a timed-out node's running job with retries left is requeued", async () => {
    const j = await jobOn({ state: "running", attempt: 1, startCount: 1, retries: 2 });
    await markNodeLost(core, "n1", "no heartbeat");
    const after = await reload(j.id);
    expect(after.state).toBe("queued");
    expect(after.nodeId).toBeNull();
    expect(after.messages.at(-1)).toBe("lost: no heartbeat; requeued");
  });

  test("a job being dispatched that the reconnected agent does not know goes back to the queue", async () => {
    const j = await jobOn({ state: "dispatching", attempt: 1, retries: 0 });
    await reconcileNode(core, "n1", [], []);
    expect((await reload(j.id)).state).toBe("queued");
  });

  test("a lost job the agent still runs (same attempt) is taken back instead of run twice", async () => {
    const j = await jobOn({ state: "lost", attempt: 1, retries: 0, startCount: 1 });
    await recordJobEvent(core.db, j.id, "started", { node: "n1", pid: 7, attempt: 1 });
    await reconcileNode(core, "n1", [{ $typeName: "drover.agent.v1.JobRef", jobId: BigInt(j.id), attempt: 1, suspended: false }], []);
    const after = await reload(j.id);
    expect(after.state).toBe("running");
    expect(after.nodeId).toBe("n1");
  });

  // (its controller was killed after dispatching it, before storing the agent's start report)
  test("a run whose start was never stored stays dispatching until the start in the agent's spool arrives: started once, with its pid and output", async () => {
    const j = await jobOn({ state: "dispatching", attempt: 1, retries: 0 });
    const run = { $typeName: "drover.agent.v1.JobRef", jobId: BigInt(j.id), attempt: 1, suspended: false } as const;
    await reconcileNode(core, "n1", [run], []);
    expect(await reload(j.id)).toMatchObject({ state: "dispatching", nodeId: "n1", startCount: 0 });
    const start = create(JobStartedSchema, { jobId: BigInt(j.id), attempt: 1, pid: 4321, startedAtMs: 1_000n, stdoutPath: "/d/out", stderrPath: "/d/err" });
    const end = create(JobFinishedSchema, { jobId: BigInt(j.id), attempt: 1, exitCode: 0, started: true, startedAtMs: 1_000n, endedAtMs: 2_000n });
    await core.db.transaction((tx) => applyJobEvents(tx, "n1", { started: [start], outputs: [], finished: [], signalled: [] }));
    await core.db.transaction((tx) => applyJobEvents(tx, "n1", { started: [], outputs: [], finished: [end], signalled: [] }));
    expect(await reload(j.id)).toMatchObject({ state: "completed", startCount: 1, pid: 4321, stdoutPath: "/d/out" });
  });

  test("a run declared lost while dispatching (its start report read, and acknowledged, meanwhile) and taken back counts its start once", async () => {
    const j = await jobOn({ state: "lost", attempt: 1, retries: 0 });
    await reconcileNode(core, "n1", [{ $typeName: "drover.agent.v1.JobRef", jobId: BigInt(j.id), attempt: 1, suspended: false }], []);
    expect(await reload(j.id)).toMatchObject({ state: "running", startCount: 1 });
    // (should the start report come again after all, it counts no more)
    const start = create(JobStartedSchema, { jobId: BigInt(j.id), attempt: 1, pid: 5, startedAtMs: 1_000n, stdoutPath: "/d/out", stderrPath: "/d/err" });
    await core.db.transaction((tx) => applyJobEvents(tx, "n1", { started: [start], outputs: [], finished: [], signalled: [] }));
    expect(await reload(j.id)).toMatchObject({ state: "running", startCount: 1 });
  });

  test("a run declared lost before its start was stored, whose end then arrives, counts its start once", async () => {
    const j = await jobOn({ state: "lost", attempt: 1, retries: 0 });
    const end = create(JobFinishedSchema, { jobId: BigInt(j.id), attempt: 1, exitCode: 0, started: true, startedAtMs: 1_000n, endedAtMs: 2_000n });
    await core.db.transaction((tx) => applyJobEvents(tx, "n1", { started: [], outputs: [], finished: [end], signalled: [] }));
    expect(await reload(j.id)).toMatchObject({ state: "completed", startCount: 1 });
  });

  test("a run of an older attempt is stale: the agent is told to kill it and the job is untouched", async () => {
    const j = await jobOn({ state: "running", attempt: 2, nodeId: "other", allocatedNodes: [{ node: "other", cpus: 1 }] });
    sent.length = 0;
    await reconcileNode(core, "n1", [{ $typeName: "drover.agent.v1.JobRef", jobId: BigInt(j.id), attempt: 1, suspended: false }], []);
    expect((await reload(j.id)).nodeId).toBe("other");
    const signal = sent.find((m) => m.body.case === "signal");
    expect(signal?.body.value).toMatchObject({ jobId: BigInt(j.id), attempt: 1, kind: SignalJob_Kind.CANCEL });
  });

  test("a job whose end is still in the agent's spool is left for that event", async () => {
    const j = await jobOn({ state: "running", attempt: 1, retries: 0 });
    await reconcileNode(core, "n1", [], [{ $typeName: "drover.agent.v1.JobRef", jobId: BigInt(j.id), attempt: 1, suspended: false }]);
    expect((await reload(j.id)).state).toBe("running");
  });
});

import { beforeAll, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { create, JobProgressSchema } from "@drover/proto/service";
import { loadConfig } from "../../../shared/src/config.ts";
import type { Core } from "../../../controller/src/core.ts";
import { jobEvents, jobs } from "../../../controller/src/db/schema.ts";
import { BurstWriter, type NodeBurst } from "../../../controller/src/grpc/burst-writer.ts";
import { AgentLinks } from "../../../controller/src/nodes/agent-links.ts";
import { forEachDatabase } from "../../helpers/databases.ts";

await forEachDatabase("the burst writer", (database) => {
  let core: Core;
  let jobIds: number[] = [];
  beforeAll(async () => {
    core = { db: database().db, config: loadConfig({ DROVER_BATCH_WINDOW: "1500ms" }, "/nonexistent"), links: new AgentLinks(), kick: () => {}, controllerId: "test", startedAt: 0 };
    jobIds = (await core.db.insert(jobs).values([1, 2, 3, 4].map(() => ({ owner: "u", argv: ["true"] }))).returning()).map((j) => j.id);
  });
  /** a node's burst of one progress line of job `job`, counted as `events` events */
  const burst = (node: string, job: number, message: string, events = 1): NodeBurst => ({
    nodeId: node,
    burst: { started: [], outputs: [], finished: [], signalled: [], progress: [create(JobProgressSchema, { jobId: BigInt(jobIds[job]!), attempt: 1, atMs: 1_000n, message })] },
    warnings: [],
    events,
  });
  const stored = async (message: string) =>
    (await core.db.select().from(jobEvents).where(and(eq(jobEvents.kind, "progress")))).filter((e) => (e.data as { message?: string }).message === message).length;

  test("a light load is written at once; after a heavy batch the next one waits for the batch window", async () => {
    const writer = new BurstWriter(core);
    let t = performance.now();
    await writer.write(burst("a", 0, "light-1"));
    expect(performance.now() - t).toBeLessThan(1000);
    await writer.write(burst("a", 0, "heavy", 20));
    t = performance.now();
    await writer.write(burst("a", 0, "after-heavy"));
    // the window runs from the start of the heavy batch's write
    expect(performance.now() - t).toBeGreaterThan(1000);
    expect(await stored("after-heavy")).toBe(1);
  });

  test("nodes' bursts that wait together go in one transaction; one that fails is retried alone, the others are kept", async () => {
    const writer = new BurstWriter(core);
    await writer.write(burst("a", 0, "opening", 20));
    // these three arrive during the window and are written together
    const results = await Promise.allSettled([
      writer.write(burst("b", 1, "together-a")),
      // (no jsonb holds a NUL character: this burst fails the batch's statement)
      writer.write(burst("c", 2, "doomed\u0000")),
      writer.write(burst("d", 3, "together-b")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await stored("together-a")).toBe(1);
    expect(await stored("together-b")).toBe(1);
    expect((await core.db.select().from(jobEvents).where(eq(jobEvents.jobId, jobIds[2]!))).length).toBe(0);
  });
});

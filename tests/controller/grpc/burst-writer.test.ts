import { beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { loadConfig } from "../../../shared/src/config.ts";
import type { Core } from "../../../controller/src/core.ts";
import { jobEvents } from "../../../controller/src/db/schema.ts";
import { BurstWriter } from "../../../controller/src/grpc/burst-writer.ts";
import { recordJobEvent } from "../../../controller/src/jobs/job-events.ts";
import { AgentLinks } from "../../../controller/src/nodes/agent-links.ts";
import { forEachDatabase } from "../../helpers/databases.ts";

await forEachDatabase("the burst writer", (database) => {
  let core: Core;
  beforeAll(() => {
    core = { db: database().db, config: loadConfig({ DROVER_BATCH_WINDOW: "1500ms" }, "/nonexistent"), links: new AgentLinks(), kick: () => {}, controllerId: "test", startedAt: 0 };
  });
  const stored = async (kind: string) => (await core.db.select().from(jobEvents).where(eq(jobEvents.kind, kind))).length;

  test("a light load is written at once; after a heavy batch the next one waits for the batch window", async () => {
    const writer = new BurstWriter(core);
    let t = performance.now();
    await writer.write(1, (tx) => recordJobEvent(tx, 1, "light-1"));
    expect(performance.now() - t).toBeLessThan(1000);
    await writer.write(20, (tx) => recordJobEvent(tx, 1, "heavy"));
    t = performance.now();
    await writer.write(1, (tx) => recordJobEvent(tx, 1, "after-heavy"));
    // the window runs from the start of the heavy batch's write
    expect(performance.now() - t).toBeGreaterThan(1000);
    expect(await stored("after-heavy")).toBe(1);
  });

  test("writes that wait together go in one transaction; one that fails is retried alone, the others are kept", async () => {
    const writer = new BurstWriter(core);
    await writer.write(20, (tx) => recordJobEvent(tx, 1, "opening"));
    // these three arrive during the window and are written together
    const results = await Promise.allSettled([
      writer.write(1, (tx) => recordJobEvent(tx, 2, "together-a")),
      writer.write(1, async (tx) => {
        await recordJobEvent(tx, 3, "doomed");
        throw new Error("a bad message");
      }),
      writer.write(1, (tx) => recordJobEvent(tx, 4, "together-b")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await stored("together-a")).toBe(1);
    expect(await stored("together-b")).toBe(1);
    expect(await stored("doomed")).toBe(0);
  });
});

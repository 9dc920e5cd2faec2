// The soak's short version: 20 s of mixed load in every dialect on a controller and two agents
// (scripts/soak.ts runs it for minutes): no error the load did not ask for, every job accounted
// for, the processes still there.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { runSoak } from "../../scripts/soak-load.ts";

await forEachDatabaseUrl("a short soak", (url) => {
  let c: Cluster;
  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url() });
    await c.startController();
    await c.startAgent("soak-a");
    await c.startAgent("soak-b");
  }, 90_000);
  afterAll(() => c.stop());

  test("20 s of mixed load: no unexpected error, every job ends as asked", async () => {
    const r = await runSoak(c, 20, 5000);
    expect(r.errors).toEqual([]);
    expect(r.unaccounted).toEqual([]);
    expect(r.jobs).toBeGreaterThan(50);
    expect(c.controller!.proc.exitCode).toBeNull();
    for (const a of c.agents.values()) expect(a.proc.exitCode).toBeNull();
  }, 240_000);
});

// caesar's accounting and the anonymous user, on an in-process controller (no agent: the
// aggregation reads the jobs and files tables, whatever ran them).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { forEachDatabase } from "../../../helpers/databases.ts";
import { startTestController, type TestController } from "../../../helpers/controller.ts";
import { aggregateAccounting } from "../../../../controller/src/accounting/accounting.ts";

await forEachDatabase("caesar's accounting and anonymous requests", (database) => {
  let c: TestController;
  let alice = "";
  beforeAll(async () => {
    c = await startTestController(database(), { DROVER_CAESAR_ANONYMOUS_USER: "visitor", DROVER_ACCOUNTING_INTERVAL: "1h" });
    alice = await c.userToken("alice");
  });
  afterAll(() => c.stop());

  const upload = (token: string | undefined, name: string, content: string) => {
    const form = new FormData();
    form.append("file", new File([content], name));
    return c.request("/caesar/api/v1.0/upload", { method: "POST", body: form, token });
  };

  test("without credentials, requests act as the configured user once it exists; with bad credentials they are refused", async () => {
    const before = await c.request("/caesar/api/v1.0/fileids");
    expect(before.status).toBe(503);
    expect(((await before.json()) as { status: string }).status).toMatch(/caesar.anonymousUser is "visitor", which is not a user/);
    await c.userToken("visitor");
    const up = await upload(undefined, "open.json", "{}");
    expect(up.status).toBe(200);
    const ids = (await (await c.request("/caesar/api/v1.0/fileids")).json()) as { file_ids: string[] };
    expect(ids.file_ids).toEqual([((await up.json()) as { uuid: string }).uuid]);
    expect((await c.request("/caesar/api/v1.0/fileids", { headers: { authorization: "Bearer nonsense" } })).status).toBe(401);
  });

  test("accounting: a user's files, jobs by state, run times and processor-hours; appstats totals for admins, a user's own for users", async () => {
    await upload(alice, "a.fits", "SIMPLE  =".padEnd(2880, " "));
    await upload(alice, "b.json", "[1]");
    const db = c.database.db;
    // jobs as they would have ended: two completed (2 processors × 30 min, 1 × 60 min), one timed out, one queued
    await db.execute(sql`
      insert into jobs (owner, argv, cpus, state, walltime_used_ms, end_cause) values
        ('alice', '["x"]', 2, 'completed', 1800000, 'exit'), ('alice', '["x"]', 1, 'completed', 3600000, 'exit'),
        ('alice', '["x"]', 1, 'failed', 60000, 'walltime'), ('alice', '["x"]', 1, 'queued', null, null)`);
    expect(await aggregateAccounting(db)).toBe(true);
    const mine = (await (await c.request("/caesar/api/v1.0/accounting", { token: alice })).json()) as Record<string, unknown>;
    expect(mine).toMatchObject({ njobs: 4, njobs_completed: 2, njobs_timedout: 1, njobs_failed: 0, njobs_pending: 1, job_completed_runtime: 5400, job_runtime: 5460, cpu_hours: 2, nfiles: 2 });
    expect(mine.datasize).toBeCloseTo((2880 + 3) / 1024, 6);
    expect(mine.timestamp).toMatch(/GMT$/);
    const own = (await (await c.request("/caesar/api/v1.0/appstats", { token: alice })).json()) as Record<string, unknown>;
    expect(own).toMatchObject({ nusers: 1, njobs: 4, avg_completed_job_runtime: 2700 });
    const all = (await (await c.request("/caesar/api/v1.0/appstats", { token: await c.adminToken() })).json()) as Record<string, unknown>;
    expect(all.nusers as number).toBeGreaterThanOrEqual(3);
    expect(all.nfiles).toBe(3);
  });
});

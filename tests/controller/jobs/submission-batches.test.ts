// Submissions arriving together are stored together (jobs/submission-batches.ts): each is still
// answered, stored and refused on its own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";
import { Batches } from "../../../controller/src/jobs/submission-batches.ts";
import { submissionBatches } from "../../../controller/src/jobs/submit-job.ts";
import { rowsOf } from "../../../controller/src/db/migrate.ts";

await forEachDatabase("submissions stored together", (db) => {
  let c: TestController;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    c = await startTestController(db());
    for (const user of ["alice", "bob"]) tokens[user] = await c.userToken(user);
  }, 60_000);
  afterAll(() => c?.stop());

  const submit = (user: string, body: Record<string, unknown>) => c.request("/rest/jobs", { method: "POST", token: tokens[user], json: { commandFile: "/bin/true", holds: ["USER"], ...body } });

  test("sixty at once from two users: each gets its own job, the refused ones store nothing", async () => {
    const asked = Array.from({ length: 60 }, (_, i) => ({ user: i % 2 ? "bob" : "alice", name: `together-${i}`, refused: i % 7 === 3 }));
    const answers = await Promise.all(asked.map((a) => submit(a.user, { name: a.name, ...(a.refused ? { reservationRequested: "no-such-reservation" } : {}) })));
    const ids = new Map<string, string>();
    for (const [i, r] of answers.entries()) {
      const body = (await r.json()) as { id?: string; messages?: string[] };
      if (asked[i]!.refused) {
        expect(r.status).toBe(400);
        expect(body.messages!.join(" ")).toContain('Reservation "no-such-reservation" does not exist');
      } else {
        expect(r.status).toBe(201);
        ids.set(asked[i]!.name, body.id!);
      }
    }
    expect(new Set(ids.values()).size).toBe(asked.filter((a) => !a.refused).length);
    type Row = { id: string | number; name: string; owner: string; by: string };
    const rows = rowsOf<Row>(
      await db().db.execute(sql`select j.id, j.name, j.owner, e.data->>'by' as by from jobs j join job_events e on e.job_id = j.id and e.kind = 'submitted' where j.name like 'together-%'`),
    );
    expect(rows.length).toBe(ids.size);
    for (const r of rows) {
      const a = asked.find((x) => x.name === r.name)!;
      expect(a.refused).toBe(false);
      expect(`drover.${r.id}`).toBe(ids.get(r.name)!);
      expect(r.owner).toBe(a.user);
      expect(r.by).toBe(a.user);
    }
  });

  test("a submission Postgres refuses fails alone; those stored with it are stored", async () => {
    // (a NUL byte passes the schema but no Postgres text holds it)
    const asked = Array.from({ length: 30 }, (_, i) => ({ name: i === 11 ? "bad\u0000name" : `alone-${i}` }));
    const answers = await Promise.all(asked.map((a) => submit("alice", a)));
    const statuses = answers.map((r) => r.status);
    expect(statuses[11]).toBeGreaterThanOrEqual(400);
    expect(statuses[11]).toBeLessThan(500);
    expect(await answers[11]!.text()).toContain("NUL");
    expect(statuses.filter((s) => s === 201).length).toBe(29);
    const [{ n }] = rowsOf<{ n: number | string }>(await db().db.execute(sql`select count(*) as n from jobs where name like 'alone-%'`)) as [{ n: number | string }];
    expect(Number(n)).toBe(29);
  });

  test("the same, certainly in one batch: the first two go at once, the other 28 wait and go together", async () => {
    const batches = submissionBatches(c.core);
    const alice = { username: "alice", role: "user" as const };
    const settled = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => batches.add({ principal: alice, specs: [{ argv: ["/bin/true"], name: i === 20 ? "bad\u0000" : `direct-${i}`, holds: ["USER"] }], acceptUnrunnable: false })),
    );
    expect(settled.filter((s) => s.status === "fulfilled").length).toBe(29);
    expect(settled[20]!.status).toBe("rejected");
    const [{ n }] = rowsOf<{ n: number | string }>(await db().db.execute(sql`select count(*) as n from jobs where name like 'direct-%'`)) as [{ n: number | string }];
    expect(Number(n)).toBe(29);
  });
});

test("batches: a lone submission goes at once; those waiting go together, within the size limit", async () => {
  const stored: number[][] = [];
  let release: () => void = () => {};
  const b = new Batches<number, number>(
    async (batch) => {
      stored.push(batch.map((m) => m.item));
      if (stored.length === 1) await new Promise<void>((r) => (release = r));
      for (const m of batch) m.resolve(m.item * 10);
    },
    (n) => n,
    1,
    10,
  );
  const first = b.add(1);
  const rest = [b.add(4), b.add(5), b.add(3), b.add(20)];
  expect(stored).toEqual([[1]]);
  release();
  expect(await Promise.all([first, ...rest])).toEqual([10, 40, 50, 30, 200]);
  // 4 + 5 fit in 10, 3 starts the next batch, 20 weighs more than a batch and goes alone
  expect(stored).toEqual([[1], [4, 5], [3], [20]]);
});

test("batches: a store that fails settles every member it left with its error", async () => {
  const b = new Batches<number, number>(
    async (batch) => {
      for (const m of batch) if (m.item === 1) m.resolve(0);
      throw new Error("lost the database");
    },
    () => 1,
  );
  const [a, z] = await Promise.allSettled([b.add(1), b.add(2)]);
  expect(a).toEqual({ status: "fulfilled", value: 0 });
  expect(z.status).toBe("rejected");
});

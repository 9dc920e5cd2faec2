// Both databases hand drover the same JavaScript values for the same SQL: dates, intervals and
// numerics as Postgres's text, JSON parsed, integers as numbers. (On PGlite drizzle's parsers are
// set once on the client instead of with every statement: see openDatabase.)
import { expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../../controller/src/db/migrate.ts";
import { forEachDatabase } from "../../helpers/databases.ts";

const SELECT = sql`select timestamp '2026-12-03 10:11:12.5' as ts, timestamptz '2026-12-03 10:11:12+00' as tstz,
  interval '1 day 2 hours' as iv, date '2026-12-03' as d, array[1.5, 2]::numeric[] as na,
  array[timestamp '2026-12-03 10:11:12'] as tsa, array[date '2026-12-03'] as da,
  '{"a":1}'::jsonb as j, 42::int4 as i4, 1.25::numeric as n, array[1, 2]::int4[] as ia, true as b`;

const EXPECTED = {
  ts: "2026-12-03 10:11:12.5",
  // (in the session's time zone)
  tstz: expect.stringMatching(/^2026-12-0[234] \d\d:\d1:12[+-]\d\d(:\d\d)?$/),
  iv: "1 day 02:00:00",
  d: "2026-12-03",
  na: "{1.5,2}",
  tsa: '{"2026-12-03 10:11:12"}',
  da: "{2026-12-03}",
  j: { a: 1 },
  i4: 42,
  n: "1.25",
  ia: [1, 2],
  b: true,
};

await forEachDatabase("values read from the database", (db) => {
  test("dates, intervals and numerics come as Postgres's text, the same in and out of a transaction", async () => {
    expect(rowsOf(await db().db.execute(SELECT))[0]).toEqual(EXPECTED);
    expect(rowsOf(await db().db.transaction(async (tx) => tx.execute(SELECT)))[0]).toEqual(EXPECTED);
  });
});

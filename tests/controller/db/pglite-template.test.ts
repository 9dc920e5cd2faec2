// A first start on the embedded database unpacks the initialised data directory drover carries
// (scripts/pglite-template.ts; DROVER_PGLITE_TEMPLATE from the sources) onto the disk instead of
// running initdb, and a start cut short before the directory was complete unpacks it again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../../controller/src/db/connect.ts";
import { rowsOf } from "../../../controller/src/db/migrate.ts";
import { tempDir } from "../../helpers/temp-dir.ts";

const dir = tempDir("pglite-template");
const template = join(dir, "template.tar.gz");
const before = process.env.DROVER_PGLITE_TEMPLATE;

beforeAll(async () => {
  const made = Bun.spawnSync([process.execPath, "scripts/pglite-template.ts", template], { cwd: join(import.meta.dir, "../../.."), stderr: "pipe" });
  expect(made.exitCode, made.stderr.toString()).toBe(0);
  process.env.DROVER_PGLITE_TEMPLATE = template;
}, 120_000);

afterAll(() => {
  if (before === undefined) delete process.env.DROVER_PGLITE_TEMPLATE;
  else process.env.DROVER_PGLITE_TEMPLATE = before;
});

/** Opens the data directory, stores a user and counts the users there. */
async function openAndCount(dataDir: string, name: string): Promise<number> {
  const database = await openDatabase({ url: "", dataDir });
  try {
    await database.db.execute(sql`insert into users (username, password_hash) values (${name}, 'x')`);
    return Number(rowsOf<{ n: string | number }>(await database.db.execute(sql`select count(*) as n from users where username like 'unpacked-%'`))[0]!.n);
  } finally {
    await database.close();
  }
}

test("a first start unpacks the carried data directory onto the disk, migrated; later starts open what is there", async () => {
  const dataDir = join(dir, "data");
  expect(await openAndCount(dataDir, "unpacked-1")).toBe(1);
  expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true);
  expect(existsSync(join(dataDir, "base"))).toBe(true);
  // (unpacked again, the directory would have lost the first user)
  expect(await openAndCount(dataDir, "unpacked-2")).toBe(2);
}, 60_000);

test("a directory left without PG_VERSION (a first start cut short while unpacking) is unpacked again", async () => {
  const dataDir = join(dir, "cut-short");
  expect(await openAndCount(dataDir, "unpacked-1")).toBe(1);
  rmSync(join(dataDir, "PG_VERSION"));
  writeFileSync(join(dataDir, "global", "pg_control"), "torn");
  expect(await openAndCount(dataDir, "unpacked-2")).toBe(1);
}, 60_000);

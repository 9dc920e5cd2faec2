import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { sql } from "drizzle-orm";
import { openDatabase, postgresTarget } from "../../../controller/src/db/connect.ts";
import { rowsOf } from "../../../controller/src/db/migrate.ts";
import { POSTGRES_URL } from "../../helpers/databases.ts";

test("libpq's ?host= becomes postgres.js's host option (a Unix socket's directory or a name); other URLs pass as they are", () => {
  expect(postgresTarget("postgres://drover@/drover?host=/var/run/postgresql")).toEqual({ url: "postgres://drover@/drover", options: { host: "/var/run/postgresql" } });
  expect(postgresTarget("postgres://u:p@db.example:5433/x?host=/tmp&sslmode=disable")).toEqual({ url: "postgres://u:p@db.example:5433/x?sslmode=disable", options: { host: "/tmp" } });
  expect(postgresTarget("postgres://postgres@127.0.0.1:5432/test")).toEqual({ url: "postgres://postgres@127.0.0.1:5432/test", options: {} });
});

// (the test Postgres's socket, where Debian puts it, when this machine has one)
const socketDir = "/var/run/postgresql";
const port = new URL(POSTGRES_URL).port || "5432";
test.skipIf(!existsSync(`${socketDir}/.s.PGSQL.${port}`))("a controller's database through the Unix socket", async () => {
  const u = new URL(POSTGRES_URL);
  const database = await openDatabase({ url: `postgres://${u.username}@localhost:${port}${u.pathname}?host=${socketDir}`, dataDir: "" });
  try {
    // (over a Unix socket the server sees no client address)
    const [row] = rowsOf<{ addr: string | null }>(await database.db.execute(sql`select inet_client_addr()::text as addr`));
    expect(row!.addr).toBeNull();
  } finally {
    await database.close();
  }
});

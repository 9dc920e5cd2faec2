// Runs a test file's suites against both databases drover supports: PGlite (one instance per
// file: it takes seconds to start) and a fresh Postgres database created for the file.
// With CI=true an unreachable Postgres fails the run instead of skipping.
import { afterAll, beforeAll, describe } from "bun:test";
import postgres from "postgres";
import { openDatabase, type Database } from "../../controller/src/db/connect.ts";
import { migrate } from "../../controller/src/db/migrate.ts";

export const POSTGRES_URL = process.env.DROVER_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let probe: Promise<string | undefined> | undefined;

/** Undefined when Postgres answers, else why not. */
export function postgresProblem(): Promise<string | undefined> {
  probe ??= (async () => {
    const sql = postgres(POSTGRES_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await sql`select 1`;
      return undefined;
    } catch (e) {
      return (e as Error).message;
    } finally {
      await sql.end({ timeout: 1 });
    }
  })();
  return probe;
}

const requirePostgres = process.env.CI === "true" || process.env.DROVER_REQUIRE_POSTGRES === "1";

/** Creates an empty, migrated Postgres database for one test file; dropped by the returned close(). */
export async function freshPostgres(): Promise<Database> {
  const name = `drover_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), dataDir: "" });
  await migrate(database.db);
  return {
    ...database,
    async close() {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 2 });
    },
  };
}

/** A migrated in-memory PGlite. */
export async function freshPglite(): Promise<Database> {
  const database = await openDatabase({ url: "", dataDir: "memory://" });
  await migrate(database.db);
  return database;
}

export type DatabaseKind = "pglite" | "postgres";

/**
 * Defines `suite` once per database. `suite` receives a getter for the database (open during
 * the suite's tests) and the kind's name.
 */
export async function forEachDatabase(
  name: string,
  suite: (db: () => Database, kind: DatabaseKind) => void,
): Promise<void> {
  const problem = await postgresProblem();
  if (problem && requirePostgres) {
    throw new Error(`Postgres at ${POSTGRES_URL} is required (CI=true) but unreachable: ${problem}`);
  }
  for (const kind of ["pglite", "postgres"] as const) {
    const define = kind === "postgres" && problem ? describe.skip : describe;
    if (kind === "postgres" && problem) console.warn(`skipping Postgres suites: ${problem}`);
    define(`${name} [${kind}]`, () => {
      let database: Database | undefined;
      beforeAll(async () => {
        database = kind === "pglite" ? await freshPglite() : await freshPostgres();
      }, 60_000);
      suite(() => {
        if (!database) throw new Error("database not open yet");
        return database;
      }, kind);
      // (after the suite's own: bun runs a scope's afterAll hooks in the order they were added,
      // and the suite's controllers must stop before their database closes)
      afterAll(async () => {
        await database?.close();
      });
    });
  }
}

/**
 * Like forEachDatabase, for suites whose controller runs as a separate process: the suite gets
 * a database URL ("" = the embedded PGlite in the controller's own home).
 */
export async function forEachDatabaseUrl(name: string, suite: (url: () => string, kind: DatabaseKind) => void): Promise<void> {
  const problem = await postgresProblem();
  if (problem && requirePostgres) {
    throw new Error(`Postgres at ${POSTGRES_URL} is required (CI=true) but unreachable: ${problem}`);
  }
  for (const kind of ["pglite", "postgres"] as const) {
    const define = kind === "postgres" && problem ? describe.skip : describe;
    define(`${name} [${kind}]`, () => {
      let url = "";
      let dbName = "";
      beforeAll(async () => {
        if (kind !== "postgres") return;
        dbName = `drover_e_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
        const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
        await admin.unsafe(`create database ${dbName}`);
        await admin.end();
        const u = new URL(POSTGRES_URL);
        u.pathname = `/${dbName}`;
        url = u.toString();
      });
      afterAll(async () => {
        if (!dbName) return;
        const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
        await admin.unsafe(`drop database if exists ${dbName} with (force)`);
        await admin.end();
      });
      suite(() => url, kind);
    });
  }
}

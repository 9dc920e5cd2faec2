import { mkdirSync } from "node:fs";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { logger } from "@drover/shared/log";
import * as schema from "./schema.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  close(): Promise<void>;
}

const log = logger("db");

/**
 * Opens the database: Postgres when `url` is a postgres:// URL, else the embedded PGlite
 * persisted in `dataDir` (or in memory when dataDir is "memory://").
 */
export async function openDatabase(opts: { url: string; dataDir: string }): Promise<Database> {
  if (opts.url) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const client = postgres(opts.url, { max: 10, onnotice: () => {}, connect_timeout: 10 });
    const db = drizzle(client, { schema }) as unknown as Db;
    log.info("using Postgres", { host: new URL(opts.url).host });
    return { db, kind: "postgres", close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  if (!opts.dataDir.startsWith("memory://")) mkdirSync(opts.dataDir, { recursive: true });
  const client = await PGlite.create(opts.dataDir, await embeddedAssets());
  const db = drizzle(client, { schema }) as unknown as Db;
  log.info("using the embedded database", { dir: opts.dataDir });
  return { db, kind: "pglite", close: () => client.close() };
}

/**
 * Inside a `bun build --compile` binary PGlite cannot find its wasm and data files next to
 * its module, so the build embeds them and we hand them over explicitly (see scripts/build).
 */
async function embeddedAssets(): Promise<Record<string, unknown>> {
  const assets = (globalThis as { __droverPgliteAssets?: () => Promise<Record<string, unknown>> }).__droverPgliteAssets;
  return assets ? await assets() : {};
}

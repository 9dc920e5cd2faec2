import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { collectOnGrowth } from "@drover/shared/collect-on-growth";
import { logger } from "@drover/shared/log";
import * as schema from "./schema.ts";
import { PREPARED_MARK } from "./recordset.ts";
import { EMBEDDED_SETTINGS } from "./embedded-settings.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  close(): Promise<void>;
  /** Postgres: the URL it was opened with (a controller opens a second connection for its leadership lock) */
  url?: string;
  /** Postgres: LISTEN on a channel (on a connection of its own, listening again after a reconnect) */
  listen?(channel: string, onMessage: (payload: string) => void): Promise<{ unlisten(): Promise<void> }>;
}

const log = logger("db");

/**
 * A postgres:// URL as postgres.js takes it. libpq's `?host=/var/run/postgresql` (a Unix socket's
 * directory: a third less CPU per statement than TCP on the same machine) is not understood by
 * postgres.js, which would send it to the server as a setting; it becomes its host option.
 */
export function postgresTarget(url: string): { url: string; options: { host?: string } } {
  // (not WHATWG's URL: libpq's postgres://user@/db, with no host before the path, is not one)
  const q = url.indexOf("?");
  const params = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  const host = params.get("host");
  if (!host) return { url, options: {} };
  params.delete("host");
  const rest = params.toString();
  return { url: url.slice(0, q) + (rest ? `?${rest}` : ""), options: { host } };
}

/**
 * Opens the database: Postgres when `url` is a postgres:// URL, else the embedded PGlite
 * persisted in `dataDir` (or in memory when dataDir is "memory://").
 */
export async function openDatabase(opts: { url: string; dataDir: string }): Promise<Database> {
  if (opts.url) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    // jit off: drover's statements are short and touch few rows, but a plan whose estimate
    // crosses jit_above_cost (a subquery priced per queued job) spends tens of milliseconds
    // compiling before a 0.2 ms execution
    const target = postgresTarget(opts.url);
    const client = postgres(target.url, { ...target.options, max: 10, onnotice: () => {}, connect_timeout: 10, connection: { jit: "off", application_name: "drover" } });
    const db = drizzle(preparingMarked(client), { schema }) as unknown as Db;
    log.info("using Postgres", { host: target.options.host ?? /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?]*)/.exec(target.url)?.[1] });
    return {
      db,
      kind: "postgres",
      url: opts.url,
      close: () => client.end({ timeout: 5 }),
      listen: async (channel, onMessage) => {
        const { unlisten } = await client.listen(channel, onMessage);
        return { unlisten };
      },
    };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const onDisk = !opts.dataDir.startsWith("memory://");
  if (onDisk) mkdirSync(opts.dataDir, { recursive: true });
  // a first start of the binary unpacks the data directory it carries instead of running initdb
  const template = onDisk && !existsSync(join(opts.dataDir, "PG_VERSION")) ? embeddedTemplate() : undefined;
  if (template) await unpackDataDir(template, opts.dataDir);
  const initdb = !onDisk || !existsSync(join(opts.dataDir, "PG_VERSION"));
  const client = await PGlite.create(opts.dataDir, {
    ...(await embeddedAssets({ initdb })),
    startParams: [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS],
  });
  // drizzle's parsers (dates, intervals and numeric arrays as Postgres's text) become the client's
  // own, once: drizzle hands them over with every statement, and PGlite then copies its whole
  // table of parsers (one per type and array type, ~250) into a new object per statement — 9 % of
  // drover start's CPU under load
  Object.assign(client.parsers, DRIZZLE_PGLITE_PARSERS);
  const db = drizzle(withoutStatementParsers(client), { schema }) as unknown as Db;
  // (its wasm memory delays JavaScriptCore's collections while it is open: see collect-on-growth.ts)
  const stopCollecting = collectOnGrowth();
  log.info("using the embedded database", { dir: opts.dataDir });
  return {
    db,
    kind: "pglite",
    close: () => {
      stopCollecting();
      return client.close();
    },
  };
}

/** What drizzle-orm/pglite passes as `parsers` with each statement: these types stay text. */
const DRIZZLE_PGLITE_PARSERS: Record<number, (value: string) => string> = Object.fromEntries(
  // timestamp, timestamptz, interval, date, and the arrays numeric[], timestamp[], timestamptz[], interval[], date[]
  [1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182].map((oid) => [oid, (value: string) => value]),
);

/** A PGlite client (or transaction) on which statements' own `parsers` are dropped (see openDatabase). */
function withoutStatementParsers<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "query" && typeof value === "function") {
        return (query: string, params?: unknown[], options?: { parsers?: unknown; rowMode?: string }) =>
          value.call(target, query, params, options?.parsers ? { rowMode: options.rowMode } : options);
      }
      if (prop === "transaction" && typeof value === "function") {
        return (fn: (tx: object) => unknown) => value.call(target, (tx: object) => fn(withoutStatementParsers(tx)));
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * drizzle runs every statement unprepared (parsed and planned each time). The hot statements of
 * job execution have constant text (see recordset.ts) and start with PREPARED_MARK: on each
 * connection they are prepared once and then only executed. Other statements stay unprepared
 * (their text varies, and a connection keeps every statement it prepared).
 */
function preparingMarked<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "unsafe" && typeof value === "function") {
        return (query: string, params?: unknown[], options: Record<string, unknown> = {}) =>
          value.call(target, query, params, query.startsWith(PREPARED_MARK) ? { ...options, prepare: true } : options);
      }
      if ((prop === "begin" || prop === "savepoint") && typeof value === "function") {
        // the transaction's own client is marked the same way
        return (...args: unknown[]) => {
          const fn = args.at(-1) as (tx: object) => unknown;
          return value.call(target, ...args.slice(0, -1), (tx: object) => fn(preparingMarked(tx)));
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Inside a `bun build --compile` binary PGlite cannot find its wasm and data files next to
 * its module, so the build embeds them and we hand them over explicitly (see scripts/build).
 */
async function embeddedAssets(opts: { initdb: boolean }): Promise<Record<string, unknown>> {
  const assets = (globalThis as { __droverPgliteAssets?: (o: { initdb: boolean }) => Promise<Record<string, unknown>> }).__droverPgliteAssets;
  return assets ? await assets(opts) : {};
}

/**
 * Writes a data directory from its tarball (PGlite's dumpDataDir) onto the disk, streamed.
 * (PGlite's own loadDataDir unpacks it in memory, through its file system: about 170 MB more
 * at that moment, which took a first start over 300 MB.) PG_VERSION comes last, so a start
 * cut short unpacks again.
 */
async function unpackDataDir(template: Blob, dir: string): Promise<void> {
  const tar = await import("tar");
  const pass = async (filter: (path: string) => boolean) => {
    // (the tarball's names are absolute, "/base/1/…": tar makes them relative to cwd)
    const sink = tar.x({ cwd: dir, preserveOwner: false, filter });
    await pipeline(Readable.fromWeb(template.stream() as import("node:stream/web").ReadableStream), sink);
  };
  const isVersion = (path: string) => path.replace(/^\/+/, "") === "PG_VERSION";
  await pass((path) => !isVersion(path));
  await pass(isVersion);
  log.info("unpacked the embedded database's initial data directory", { dir });
}

/**
 * The initialised data directory a `drover` binary carries, or the one scripts/start made
 * (DROVER_PGLITE_TEMPLATE): see scripts/pglite-template.ts.
 */
function embeddedTemplate(): Blob | undefined {
  const carried = (globalThis as { __droverPgliteTemplate?: () => Blob }).__droverPgliteTemplate?.();
  if (carried) return carried;
  const file = process.env.DROVER_PGLITE_TEMPLATE;
  return file && existsSync(file) ? Bun.file(file) : undefined;
}

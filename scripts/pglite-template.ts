// Writes a PGlite data directory, initialised and with drover's migrations applied, as a
// tar.gz (scripts/build embeds it in the `drover` binary). A first start of the binary then
// unpacks it instead of running initdb, which takes PGlite to about a gigabyte of memory for a
// few seconds (see BENCHMARKS.md "The one-node cluster's memory").
//
//   bun scripts/pglite-template.ts dist/pglite-template.tar.gz
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import * as schema from "../controller/src/db/schema.ts";
import { migrate } from "../controller/src/db/migrate.ts";
import type { Db } from "../controller/src/db/connect.ts";

const out = process.argv[2];
if (!out) {
  process.stderr.write("usage: bun scripts/pglite-template.ts OUT.tar.gz\n");
  process.exit(2);
}
const pg = await PGlite.create("memory://");
await migrate(drizzle(pg, { schema }) as unknown as Db);
const dump = await pg.dumpDataDir("gzip");
await Bun.write(out, dump);
await pg.close();
process.stdout.write(`${out}: ${(dump.size / 2 ** 20).toFixed(1)} MB\n`);

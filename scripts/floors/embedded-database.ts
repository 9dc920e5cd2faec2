// A memory floor (compiled by scripts/bench-memory-floors.ts, not shipped): Bun with the embedded
// database opened as `drover start` opens it — PGlite's packed assets from the binary, drover's
// settings, one query — and, with FLOOR_LIBRARIES=1, the libraries drover's controller and agent
// load (Elysia, grpc-js, protobuf-es, drizzle); then idle. None of drover's own code.
//
//   floor-embedded-database DATA_DIR     (prints its RSS after FLOOR_SECONDS, default 30)
import "../binary/pglite-assets.ts";
import { PGlite } from "@electric-sql/pglite";
import { EMBEDDED_SETTINGS } from "../../controller/src/db/embedded-settings.ts";
import { reportRss } from "./report-rss.ts";

const packed = (globalThis as { __droverPgliteAssets?: (o: { initdb: boolean }) => Promise<Record<string, unknown>> }).__droverPgliteAssets!;
const assets = await packed({ initdb: false });
const db = await PGlite.create(process.argv[2]!, { ...assets, startParams: [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS] });
await db.query("SELECT count(*) FROM jobs");
if (process.env.FLOOR_LIBRARIES === "1") {
  await import("elysia");
  await import("@grpc/grpc-js");
  await import("@bufbuild/protobuf");
  await import("drizzle-orm/pglite");
}
await reportRss();

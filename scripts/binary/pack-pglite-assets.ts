// Compresses PGlite's wasm and data files (zstd) into dist/ for scripts/build to embed in the
// `drover` binary. Bun keeps every page of the binary's embedded files that it reads in the
// process's memory (file-backed, for the life of the process): 15 MB as they are, 4 MB packed.
// The packing takes seconds at level 19, so files packed from the same PGlite version are kept.
//
//   bun scripts/binary/pack-pglite-assets.ts DIR
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2];
if (!out) {
  process.stderr.write("usage: bun scripts/binary/pack-pglite-assets.ts DIR\n");
  process.exit(2);
}
const pglite = join(import.meta.dir, "../../node_modules/@electric-sql/pglite");
const version = (JSON.parse(readFileSync(join(pglite, "package.json"), "utf8")) as { version: string }).version;
const stamp = join(out, "pglite-assets.version");
const packedBefore = existsSync(stamp) && readFileSync(stamp, "utf8") === version;
for (const name of ["pglite.wasm", "pglite.data", "initdb.wasm"]) {
  const from = join(pglite, "dist", name);
  const to = join(out, `${name}.zst`);
  if (packedBefore && existsSync(to)) continue;
  const packed = Bun.zstdCompressSync(await Bun.file(from).bytes(), { level: 19 });
  await Bun.write(to, packed);
  process.stdout.write(`${to}: ${(statSync(from).size / 2 ** 20).toFixed(1)} → ${(packed.length / 2 ** 20).toFixed(1)} MB\n`);
}
writeFileSync(stamp, version);

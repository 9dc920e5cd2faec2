// Embeds PGlite's wasm and data files into `bun build --compile` binaries: inside a binary
// PGlite cannot find them next to its module, so connect.ts receives them from here.
import pgliteWasm from "../../node_modules/@electric-sql/pglite/dist/pglite.wasm" with { type: "file" };
import initdbWasm from "../../node_modules/@electric-sql/pglite/dist/initdb.wasm" with { type: "file" };
import pgliteData from "../../node_modules/@electric-sql/pglite/dist/pglite.data" with { type: "file" };
// (made by scripts/build before it compiles: see scripts/pglite-template.ts)
import template from "../../dist/pglite-template.tar.gz" with { type: "file" };

(globalThis as { __droverPgliteAssets?: () => Promise<Record<string, unknown>> }).__droverPgliteAssets = async () => ({
  pgliteWasmModule: await WebAssembly.compile(await Bun.file(pgliteWasm).arrayBuffer()),
  initdbWasmModule: await WebAssembly.compile(await Bun.file(initdbWasm).arrayBuffer()),
  fsBundle: new Blob([await Bun.file(pgliteData).arrayBuffer()]),
});

// an initialised, migrated data directory for a first start (no initdb: a fraction of its memory)
(globalThis as { __droverPgliteTemplate?: () => Blob }).__droverPgliteTemplate = () => Bun.file(template);

// Embeds PGlite's wasm and data files into `bun build --compile` binaries: inside a binary
// PGlite cannot find them next to its module, so connect.ts receives them from here. They are
// embedded compressed (made by scripts/build: see pack-pglite-assets.ts) and unpacked into
// memory that is freed once PGlite has taken them in.
import pgliteWasm from "../../dist/pglite.wasm.zst" with { type: "file" };
import initdbWasm from "../../dist/initdb.wasm.zst" with { type: "file" };
import pgliteData from "../../dist/pglite.data.zst" with { type: "file" };
// (made by scripts/build before it compiles: see scripts/pglite-template.ts)
import template from "../../dist/pglite-template.tar.gz" with { type: "file" };

const unpack = async (path: string) => Bun.zstdDecompressSync(await Bun.file(path).bytes());
/** The bytes' own ArrayBuffer when they fill it (a large Buffer does), else a copy. */
const bufferOf = (b: Uint8Array) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer);

(globalThis as { __droverPgliteAssets?: (opts: { initdb: boolean }) => Promise<Record<string, unknown>> }).__droverPgliteAssets = async ({ initdb }) => ({
  pgliteWasmModule: await WebAssembly.compile(await unpack(pgliteWasm)),
  // initdb runs only on a data directory not yet initialised (the binary unpacks one it carries)
  ...(initdb ? { initdbWasmModule: await WebAssembly.compile(await unpack(initdbWasm)) } : {}),
  // PGlite asks only for the bundle's arrayBuffer(), when it starts
  fsBundle: { arrayBuffer: async () => bufferOf(await unpack(pgliteData)) },
});

// an initialised, migrated data directory for a first start (no initdb: a fraction of its memory)
(globalThis as { __droverPgliteTemplate?: () => Blob }).__droverPgliteTemplate = () => Bun.file(template);

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildUi } from "../../scripts/build-ui.ts";

const dist = join(import.meta.dir, "..", "..", "controller", "ui", "dist");

test("the committed dashboard bundle is what scripts/build-ui.ts builds from controller/ui/src, and stays small", async () => {
  const fresh = await buildUi();
  expect(readFileSync(join(dist, "app.js.txt"), "utf8") === fresh.js).toBe(true);
  expect(readFileSync(join(dist, "app.css.txt"), "utf8") === fresh.css).toBe(true);
  // the whole first load (script and style, gzipped) under 300 KB
  expect(Bun.gzipSync(fresh.js).length + Bun.gzipSync(fresh.css).length).toBeLessThan(300 * 1024);
}, 60_000);

// Bundles the dashboard (controller/ui/src, Preact + uPlot) with Bun's bundler into
// controller/ui/dist/app.js.txt and app.css.txt (text, so that they are imported as such), which the controller serves at /ui and which
// `bun build --compile` embeds. The bundle is committed (so a fresh clone and the binary need no
// build step); a test checks it is up to date:
//
//   bun scripts/build-ui.ts           (writes dist/)
//   bun scripts/build-ui.ts --check   (exits 1 when dist/ differs from a fresh build)
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const DIST = join(ROOT, "controller", "ui", "dist");

/** A fresh bundle: the JavaScript and the CSS. */
export async function buildUi(): Promise<{ js: string; css: string }> {
  const result = await Bun.build({
    entrypoints: [join(ROOT, "controller", "ui", "src", "app.tsx")],
    target: "browser",
    minify: true,
    sourcemap: "none",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!result.success) throw new Error(result.logs.map((l) => String(l)).join("\n"));
  let js = "";
  let css = "";
  for (const out of result.outputs) {
    if (out.path.endsWith(".js")) js += await out.text();
    else if (out.path.endsWith(".css")) css += await out.text();
  }
  return { js, css };
}

if (import.meta.main) {
  const { js, css } = await buildUi();
  const files = { "app.js.txt": js, "app.css.txt": css };
  if (process.argv.includes("--check")) {
    const stale = Object.entries(files).filter(([name, text]) => !existsSync(join(DIST, name)) || readFileSync(join(DIST, name), "utf8") !== text);
    if (stale.length) {
      console.error(`the dashboard bundle is out of date (${stale.map(([n]) => n).join(", ")}): run bun scripts/build-ui.ts`);
      process.exit(1);
    }
  } else {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(DIST, name), text);
    console.log(`controller/ui/dist: app.js ${js.length} bytes (${Bun.gzipSync(js).length} gzipped), app.css ${css.length} bytes (${Bun.gzipSync(css).length} gzipped)`);
  }
}

import { expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { migrations } from "../../../controller/drizzle/index.ts";

const dir = join(import.meta.dir, "../../../controller/drizzle");

test("the embedded migration index lists every migration of drizzle-kit's journal, in order", () => {
  const journal = JSON.parse(readFileSync(join(dir, "meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
  expect(migrations.map((m) => m.tag)).toEqual(journal.entries.map((e) => e.tag));
  const files = readdirSync(dir).filter((f) => f.endsWith(".sql")).map((f) => f.replace(/\.sql$/, "")).sort();
  expect(files).toEqual(journal.entries.map((e) => e.tag));
});

test("the committed migrations are what drizzle-kit generates from the schema (no pending schema change)", () => {
  const r = Bun.spawnSync([process.execPath, "x", "drizzle-kit", "check", "--config", "controller/drizzle.config.ts"], {
    cwd: join(import.meta.dir, "../../.."),
  });
  expect(r.exitCode).toBe(0);
  const gen = Bun.spawnSync([process.execPath, "x", "drizzle-kit", "generate", "--config", "controller/drizzle.config.ts"], {
    cwd: join(import.meta.dir, "../../.."),
    env: { ...process.env, CI: "true" },
  });
  expect(gen.stdout.toString() + gen.stderr.toString()).toContain("No schema changes");
});

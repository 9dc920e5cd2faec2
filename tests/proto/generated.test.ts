import { expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { tempDir } from "../helpers/temp-dir.ts";

const root = join(import.meta.dir, "..", "..");

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test("proto/gen is exactly what buf and protoc-gen-es generate from proto/ (regenerate with `bun run proto:generate`)", () => {
  const out = tempDir("proto");
  const bin = join(root, "node_modules", ".bin");
  const r = Bun.spawnSync([join(bin, "buf"), "generate", "--output", out], {
    cwd: join(root, "proto"),
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  const committed = join(root, "proto", "gen");
  const fresh = join(out, "gen");
  expect(files(fresh)).toEqual(files(committed));
  for (const f of files(committed)) {
    expect(readFileSync(join(fresh, f), "utf8")).toBe(readFileSync(join(committed, f), "utf8"));
  }
});

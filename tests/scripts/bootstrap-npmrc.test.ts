// scripts/bootstrap installs Bun with npm under the machine's own npm configuration: a global
// npmrc's registry (a site's mirror) must be the one asked, although npm runs with --prefix.
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const scratch = mkdtempSync(join(tmpdir(), "drover-bootstrap-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test("the global npmrc's registry is used to install Bun", async () => {
  const asked: string[] = [];
  const registry = Bun.serve({
    port: 0,
    fetch(req) {
      asked.push(new URL(req.url).pathname);
      return new Response("{}", { status: 404, headers: { "content-type": "application/json" } });
    },
  });
  try {
    const root = join(scratch, "repo");
    mkdirSync(join(root, "scripts"), { recursive: true });
    copyFileSync(join(import.meta.dir, "..", "..", "scripts", "bootstrap"), join(root, "scripts", "bootstrap"));
    // a machine whose npm prefix holds a global npmrc naming the site's registry
    const prefix = join(scratch, "npm-prefix");
    mkdirSync(join(prefix, "etc"), { recursive: true });
    writeFileSync(join(prefix, "etc", "npmrc"), `registry=http://127.0.0.1:${registry.port}/\n`);
    const npm = Bun.which("npm")!;
    const proc = Bun.spawn(["bash", join(root, "scripts", "bootstrap")], {
      env: { PATH: `${dirname(npm)}:${dirname(Bun.which("node")!)}:/usr/bin:/bin`, HOME: scratch, npm_config_prefix: prefix, npm_config_cache: join(scratch, "cache"), npm_config_fetch_retries: "0" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const code = await proc.exited;
    // the fake registry has no bun: the install fails, having asked it
    expect(code).not.toBe(0);
    expect(asked.some((p) => p.replace(/%2f/gi, "/").includes("bun"))).toBe(true);
  } finally {
    registry.stop(true);
  }
}, 120_000);

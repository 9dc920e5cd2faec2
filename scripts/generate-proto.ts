// Regenerates proto/gen from proto/drover/**.proto with buf and protoc-gen-es (both installed
// from the npm registry as dev dependencies). The generated code is committed.
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bin = join(root, "node_modules", ".bin");
const r = Bun.spawnSync([join(bin, "buf"), "generate"], {
  cwd: join(root, "proto"),
  env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  stdout: "inherit",
  stderr: "inherit",
});
process.exit(r.exitCode ?? 1);

import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];
let registered = false;

/** A new directory under the system's temporary directory, removed when the test file is done. */
export function tempDir(prefix: string): string {
  if (!registered) {
    registered = true;
    afterAll(() => {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), `drover-${prefix}-`));
  made.push(dir);
  return dir;
}

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where this test run's temporary directories go; tests/helpers/preload.ts removes it at the end. */
export const tempRoot = join(tmpdir(), `drover-tests-${process.pid}`);

/** A new directory for a test, removed when the test run ends. */
export function tempDir(prefix: string): string {
  mkdirSync(tempRoot, { recursive: true });
  return mkdtempSync(join(tempRoot, `${prefix}-`));
}

export function removeTempDirs(): void {
  rmSync(tempRoot, { recursive: true, force: true });
}

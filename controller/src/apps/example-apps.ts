import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fitsHeader from "./examples/fits-header.json";
import sleeper from "./examples/sleeper.json";
import splitter from "./examples/splitter.json";
import wordcount from "./examples/wordcount.json";

/** The example apps drover ships (they run on a bare machine: wc, fold, sleep, split), inside the binary too. */
export const exampleApps: Record<string, unknown>[] = [wordcount, fitsHeader, sleeper, splitter];

/**
 * Writes the example apps into a new installation's app directory (DROVER_HOME/apps), so the
 * one-node cluster of `drover start` has apps to run. An existing directory is left alone.
 */
export function installExampleApps(dir: string): boolean {
  if (existsSync(dir)) return false;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const app of exampleApps) writeFileSync(join(dir, `${app.name}.json`), `${JSON.stringify(app, null, 2)}\n`);
  return true;
}

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { logger } from "@drover/shared/log";

const log = logger("definitions");

/**
 * Definitions an administrator keeps as files (job templates, apps): every `*.json` in `dir` is
 * read and handed to `put` with its source `file:NAME`, which stores what it defines and returns
 * their names. Files are the truth for what they define: `removeGone` gets the names loaded and
 * the sources of files that failed (whose earlier definitions are kept) and removes the rest of
 * what files once defined. A bad file is logged and skipped.
 */
export async function syncDefinitionFiles(
  what: string,
  dir: string,
  put: (parsed: unknown, source: string) => Promise<string[]>,
  removeGone: (loaded: string[], keptSources: string[]) => Promise<string[]>,
): Promise<{ loaded: string[]; failed: string[] }> {
  const loaded: string[] = [];
  const failed: string[] = [];
  const kept: string[] = [];
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
  for (const file of files) {
    const source = `file:${file}`;
    try {
      loaded.push(...(await put(JSON.parse(readFileSync(join(dir, file), "utf8")), source)));
    } catch (e) {
      failed.push(file);
      kept.push(source);
      log.error("skipped a definition file", { kind: what, file: join(dir, file), error: e instanceof Error ? e.message : String(e) });
    }
  }
  const gone = await removeGone(loaded, kept);
  if (loaded.length || gone.length) log.info(`${what}s loaded from files`, { dir, loaded: loaded.join(","), removed: gone.join(",") });
  return { loaded, failed };
}

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { and, like, notInArray } from "drizzle-orm";
import { logger } from "@drover/shared/log";
import type { Db } from "../../db/connect.ts";
import { jobTemplates } from "../../db/schema.ts";
import { putTemplate } from "../../jobs/job-templates.ts";
import { checker } from "../conventions/validate.ts";
import { fromMwsTemplate, MwsJobTemplatePayload } from "./job-template-format.ts";

const log = logger("templates");
const checkTemplate = checker(MwsJobTemplatePayload);
const drover = { username: "drover", role: "admin" as const };

/**
 * Loads the job templates an administrator keeps as files: every `*.json` under `dir` holds one
 * template or a list of them, in the form GET /rest/job-templates/{id} shows. Files are the
 * truth for the templates they define: a template whose file is gone is deleted. A bad file is
 * logged and skipped (its templates, if any were loaded before, are kept).
 */
export async function loadTemplateFiles(db: Db, dir: string): Promise<{ loaded: string[]; failed: string[] }> {
  const loaded: string[] = [];
  const failed: string[] = [];
  const kept: string[] = [];
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
  for (const file of files) {
    const source = `file:${file}`;
    try {
      const parsed: unknown = JSON.parse(readFileSync(join(dir, file), "utf8"));
      const inputs = (Array.isArray(parsed) ? parsed : [parsed]).map((t, i) => fromMwsTemplate(checkTemplate(t, `template ${i}`)));
      for (const input of inputs) {
        await putTemplate(db, drover, input, source);
        loaded.push(input.id);
      }
    } catch (e) {
      failed.push(file);
      kept.push(source);
      log.error("skipped a job template file", { file: join(dir, file), error: e instanceof Error ? e.message : String(e) });
    }
  }
  // templates from files that no longer define them
  const gone = await db
    .delete(jobTemplates)
    .where(
      and(
        like(jobTemplates.source, "file:%"),
        loaded.length ? notInArray(jobTemplates.id, loaded) : undefined,
        kept.length ? notInArray(jobTemplates.source, kept) : undefined,
      ),
    )
    .returning({ id: jobTemplates.id });
  if (loaded.length || gone.length) log.info("job templates loaded from files", { dir, loaded: loaded.length, removed: gone.map((g) => g.id).join(",") });
  return { loaded, failed };
}

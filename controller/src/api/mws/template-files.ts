import { and, like, notInArray } from "drizzle-orm";
import type { Db } from "../../db/connect.ts";
import { jobTemplates } from "../../db/schema.ts";
import { putTemplate } from "../../jobs/job-templates.ts";
import { syncDefinitionFiles } from "../../db/definition-files.ts";
import { checker } from "../conventions/validate.ts";
import { fromMwsTemplate, MwsJobTemplatePayload } from "./job-template-format.ts";

const checkTemplate = checker(MwsJobTemplatePayload);
const drover = { username: "drover", role: "admin" as const };

/**
 * Loads the job templates an administrator keeps as files: every `*.json` under `dir` holds one
 * template or a list of them, in the form GET /rest/job-templates/{id} shows. Files are the
 * truth for the templates they define: a template whose file is gone is deleted. A bad file is
 * logged and skipped (its templates, if any were loaded before, are kept).
 */
export async function loadTemplateFiles(db: Db, dir: string): Promise<{ loaded: string[]; failed: string[] }> {
  return syncDefinitionFiles(
    "job template",
    dir,
    async (parsed, source) => {
      const inputs = (Array.isArray(parsed) ? parsed : [parsed]).map((t, i) => fromMwsTemplate(checkTemplate(t, `template ${i}`)));
      for (const input of inputs) await putTemplate(db, drover, input, source);
      return inputs.map((t) => t.id);
    },
    async (loaded, kept) => {
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
      return gone.map((g) => g.id);
    },
  );
}

import { asc, eq, inArray, sql } from "drizzle-orm";
import { conflict, forbidden, invalid, notFound } from "@drover/shared/errors";
import type { Principal } from "../auth/principal.ts";
import type { Db } from "../db/connect.ts";
import { jobTemplates } from "../db/schema.ts";
import type { Tx } from "./job-events.ts";
import type { JobSpec } from "./job-spec.ts";

// Job templates (MWS 3.5): named sets of job defaults an administrator defines. A submission
// that lists templates takes every field it leaves unset from the first listed template that
// sets it; a template's dependencies are templates whose jobs are created with the job and
// must complete successfully before it runs (Moab's generic "setup" jobs).

/** The job fields a template may set. */
export type TemplateSpec = Partial<
  Pick<JobSpec, "argv" | "walltimeMs" | "priority" | "cpus" | "tasksPerNode" | "memoryBytes" | "features" | "flags" | "environment" | "workingDirectory" | "retries">
>;

/** Moab's dependency types; drover honours the one its dependencies mean: success first. */
export const supportedDependencyTypes = ["JOBSUCCESSFULCOMPLETE"] as const;

export interface TemplateInput {
  id: string;
  description?: string;
  spec: TemplateSpec;
  dependencies?: { name: string; type: string }[];
  selectable?: boolean;
}

export type JobTemplate = typeof jobTemplates.$inferSelect & { spec: TemplateSpec };

const templateId = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Deepest chain of template dependencies followed (a guard against mistakes, not a real limit). */
const MAX_DEPTH = 8;

function checkTemplate(t: TemplateInput): void {
  if (!templateId.test(t.id)) throw invalid(`Template id "${t.id}" is not allowed: use letters, digits, _ . - (at most 128, not starting with . or -)`);
  for (const d of t.dependencies ?? []) {
    if (!(supportedDependencyTypes as readonly string[]).includes(d.type)) {
      throw invalid(`Template ${t.id}: dependency type "${d.type}" is not supported; drover supports ${supportedDependencyTypes.join(", ")}`);
    }
    if (d.name === t.id) throw invalid(`Template ${t.id} cannot depend on itself`);
  }
  if (t.spec.argv !== undefined && (t.spec.argv.length === 0 || !t.spec.argv[0])) throw invalid(`Template ${t.id}: commandFile may not be empty`);
}

/** Every template, by id. */
export async function listTemplates(db: Db): Promise<JobTemplate[]> {
  return (await db.select().from(jobTemplates).orderBy(asc(jobTemplates.id))) as JobTemplate[];
}

export async function getTemplate(db: Db, id: string): Promise<JobTemplate> {
  const [row] = await db.select().from(jobTemplates).where(eq(jobTemplates.id, id)).limit(1);
  if (!row) throw notFound(`The resource with id '${id}' was not found`);
  return row as JobTemplate;
}

function requireAdmin(principal: Principal, verb: string): void {
  if (principal.role !== "admin") throw forbidden(`Only an administrator may ${verb} job templates`);
}

/** Creates a template (409 when the id is taken). */
export async function createTemplate(db: Db, principal: Principal, t: TemplateInput): Promise<JobTemplate> {
  requireAdmin(principal, "create");
  checkTemplate(t);
  const rows = await db
    .insert(jobTemplates)
    .values({ id: t.id, description: t.description ?? "", spec: t.spec, dependencies: t.dependencies ?? [], selectable: t.selectable ?? true })
    .onConflictDoNothing()
    .returning();
  if (!rows.length) throw conflict(`A job template named "${t.id}" already exists; PUT /rest/job-templates/${t.id} replaces it`);
  return rows[0] as JobTemplate;
}

/**
 * Replaces a template's definition (or creates it). Its version counts real changes: writing
 * the same definition again (a file loaded at every start) leaves it as it is.
 */
export async function putTemplate(db: Db, principal: Principal, t: TemplateInput, source = "api"): Promise<JobTemplate & { created: boolean }> {
  if (source === "api") requireAdmin(principal, "change");
  checkTemplate(t);
  const values = { description: t.description ?? "", spec: t.spec, dependencies: t.dependencies ?? [], selectable: t.selectable ?? true, source };
  return db.transaction(async (tx) => {
    const [before] = await tx.select().from(jobTemplates).where(eq(jobTemplates.id, t.id)).for("update");
    const [row] = await tx
      .insert(jobTemplates)
      .values({ id: t.id, ...values })
      .onConflictDoUpdate({
        target: jobTemplates.id,
        set: { ...values, version: sql`${jobTemplates.version} + 1`, updatedAt: sql`now()` },
        setWhere: sql`(${jobTemplates.description}, ${jobTemplates.spec}, ${jobTemplates.dependencies}, ${jobTemplates.selectable}, ${jobTemplates.source})
          is distinct from (excluded.description, excluded.spec, excluded.dependencies, excluded.selectable, excluded.source)`,
      })
      .returning();
    return { ...((row ?? before) as JobTemplate), created: !before };
  });
}

export async function deleteTemplate(db: Db, principal: Principal, id: string): Promise<void> {
  requireAdmin(principal, "delete");
  const rows = await db.delete(jobTemplates).where(eq(jobTemplates.id, id)).returning({ id: jobTemplates.id });
  if (!rows.length) throw notFound(`The resource with id '${id}' was not found`);
}

/** A job to create, with the jobs that must succeed before it (from template dependencies). */
export interface PlannedJob {
  spec: JobSpec;
  prerequisites: PlannedJob[];
}

const mergedLists = ["features", "flags"] as const;

/** The spec with every unset field taken from the first template that sets it. */
function applyDefaults(spec: JobSpec, templates: JobTemplate[]): JobSpec {
  const out: JobSpec = { ...spec };
  const fields = out as unknown as Record<string, unknown>;
  for (const t of templates) {
    for (const [k, v] of Object.entries(t.spec)) {
      const key = k as keyof TemplateSpec;
      if (v === undefined) continue;
      if ((mergedLists as readonly string[]).includes(key)) {
        // flags and features add up
        fields[key] = [...new Set([...((out[key] as string[] | undefined) ?? []), ...(v as string[])])];
      } else if (key === "environment") {
        out.environment = { ...(v as Record<string, string>), ...out.environment };
      } else if (key === "argv") {
        if (!out.argv.length) out.argv = v as string[];
      } else if (out[key] === undefined) {
        fields[key] = v;
      }
    }
  }
  return out;
}

/**
 * Applies a submission's templateList: defaults from the templates, and a prerequisite job for
 * every template dependency (itself built from its template, recursively).
 */
export async function planWithTemplates(tx: Tx, spec: JobSpec, names: string[], depth = 0): Promise<PlannedJob> {
  if (depth > MAX_DEPTH) throw invalid(`Job template dependencies nest deeper than ${MAX_DEPTH}; is there a cycle?`);
  if (!names.length) return { spec, prerequisites: [] };
  const found = (await tx.select().from(jobTemplates).where(inArray(jobTemplates.id, names))) as JobTemplate[];
  const byId = new Map(found.map((t) => [t.id, t]));
  const templates = names.map((n) => {
    const t = byId.get(n);
    if (!t) throw invalid(`Job template "${n}" does not exist (GET /rest/job-templates lists them)`);
    if (depth === 0 && !t.selectable) throw invalid(`Job template "${n}" cannot be requested in templateList; it only serves as another template's dependency`);
    return t;
  });
  const merged = applyDefaults(spec, templates);
  if (!merged.argv.length) {
    throw invalid(
      depth === 0
        ? "A job needs commandFile (and optionally commandLineArguments), or commandLine, or a template in templateList that has a commandFile"
        : `Job template "${names[0]}" has no commandFile, so the job it stands for cannot run`,
    );
  }
  const prerequisites: PlannedJob[] = [];
  for (const t of templates) {
    for (const dep of t.dependencies) {
      const base: JobSpec = { argv: [], name: dep.name, group: spec.group, extra: { templateList: [dep.name] } };
      prerequisites.push(await planWithTemplates(tx, base, [dep.name], depth + 1));
    }
  }
  return { spec: merged, prerequisites };
}

import { inArray } from "drizzle-orm";
import { forbidden, invalid } from "@drover/shared/errors";
import { findUser } from "../users/users.ts";
import type { Principal } from "../auth/principal.ts";
import { mayActOn } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { jobEvents, jobs, type Job, type NewJob } from "../db/schema.ts";
import { checkJobSpec, deriveJobSpec, type JobSpec } from "./job-spec.ts";
import { recordJobEvent, type Tx } from "./job-events.ts";
import { planWithTemplates, type PlannedJob } from "./job-templates.ts";

/**
 * Whose jobs a submission makes: the caller's, unless an administrator submits for another
 * existing user (MWS proxy-user / user). Users cannot submit as others.
 */
export async function submitterFor(core: Core, principal: Principal, owner: string): Promise<Principal> {
  if (owner === principal.username) return principal;
  if (principal.role !== "admin") throw forbidden(`Only an administrator may submit jobs for another user ("${owner}")`);
  const target = await findUser(core.db, owner);
  if (!target) throw invalid(`User "${owner}" does not exist; create it first (POST /auth/users)`);
  return { username: target.username, role: principal.role };
}

/** Queues one job for the principal and asks the scheduler to look at it. */
export async function submitJob(core: Core, principal: Principal, spec: JobSpec): Promise<Job> {
  return (await submitJobs(core, principal, [spec]))[0]!;
}

/** Jobs per INSERT statement (each job takes about 22 parameters). */
const INSERT_CHUNK = 1000;

/** Queues several jobs in one transaction: all are stored or none. */
export async function submitJobs(core: Core, principal: Principal, requested: JobSpec[]): Promise<Job[]> {
  const specs = requested.map(deriveJobSpec);
  const withTemplates = specs.some((s) => s.templates?.length);
  // without templates every spec is complete now; with them, once the templates are applied
  if (!withTemplates) specs.forEach(checkJobSpec);
  const deps = [...new Set(specs.flatMap((s) => s.dependsOn ?? []))];
  const created = await core.db.transaction(async (tx) => {
    if (deps.length) {
      const found = await tx.select({ id: jobs.id, owner: jobs.owner }).from(jobs).where(inArray(jobs.id, deps));
      const visible = new Set(found.filter((j) => mayActOn(principal, j.owner)).map((j) => j.id));
      const missing = deps.filter((d) => !visible.has(d));
      if (missing.length) throw invalid(`Dependency job(s) ${missing.join(", ")} do not exist`);
    }
    if (withTemplates) {
      const rows: Job[] = [];
      for (const spec of specs) rows.push(await insertPlanned(tx, principal, await planWithTemplates(tx, spec, spec.templates ?? [])));
      return rows;
    }
    // in chunks: one statement may carry at most 65,535 parameters
    const rows: Job[] = [];
    for (let i = 0; i < specs.length; i += INSERT_CHUNK) {
      const chunk = await tx.insert(jobs).values(specs.slice(i, i + INSERT_CHUNK).map((s) => jobRow(principal, s))).returning();
      await tx.insert(jobEvents).values(chunk.map((job) => ({ jobId: job.id, kind: "submitted", data: { by: principal.username } })));
      rows.push(...chunk);
    }
    return rows;
  });
  core.kick();
  return created;
}

/** Inserts a job after the jobs its templates made it depend on, which it waits for. */
async function insertPlanned(tx: Tx, principal: Principal, plan: PlannedJob): Promise<Job> {
  const before: number[] = [];
  for (const p of plan.prerequisites) before.push((await insertPlanned(tx, principal, p)).id);
  const spec: JobSpec = deriveJobSpec({ ...plan.spec, dependsOn: [...(plan.spec.dependsOn ?? []), ...before] });
  checkJobSpec(spec);
  const [row] = await tx.insert(jobs).values(jobRow(principal, spec)).returning();
  await recordJobEvent(tx, row!.id, "submitted", { by: principal.username, templates: spec.templates ?? [], dependsOn: spec.dependsOn });
  return row!;
}

function jobRow(principal: Principal, s: JobSpec): NewJob {
  return {
    name: s.name ?? "",
    owner: principal.username,
    group: s.group ?? "",
    argv: s.argv,
    workingDirectory: s.workingDirectory ?? null,
    environment: s.environment ?? {},
    cpus: s.cpus ?? 1,
    tasksPerNode: s.tasksPerNode ?? null,
    memoryBytes: s.memoryBytes ?? 0,
    diskBytes: s.diskBytes ?? 0,
    gpus: s.gpus ?? 0,
    walltimeMs: s.walltimeMs ?? null,
    hosts: s.hosts ?? [],
    features: s.features ?? [],
    priority: s.priority ?? 0,
    holds: s.holds ?? [],
    dependsOn: s.dependsOn ?? [],
    earliestStartAt: s.earliestStartAt ?? null,
    retries: s.retries ?? 0,
    variables: s.variables ?? {},
    flags: s.flags ?? [],
    extra: { ...s.extra, ...(s.templates?.length ? { templateList: s.templates } : {}) },
  };
}

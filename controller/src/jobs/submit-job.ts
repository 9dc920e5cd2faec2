import { inArray } from "drizzle-orm";
import { forbidden, invalid } from "@drover/shared/errors";
import { findUser } from "../users/users.ts";
import type { Principal } from "../auth/principal.ts";
import { mayActOn } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { sql } from "drizzle-orm";
import { jobs, type Job, type NewJob } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import { prepared } from "../db/recordset.ts";
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

/** A job as its submission stored it. */
export type SubmittedJob = Pick<Job, "id">;

/** Queues one job for the principal and asks the scheduler to look at it. */
export async function submitJob(core: Core, principal: Principal, spec: JobSpec): Promise<SubmittedJob> {
  return (await submitJobs(core, principal, [spec]))[0]!;
}

/** Queues several jobs in one transaction: all are stored or none. Returns them in the order given. */
export async function submitJobs(core: Core, principal: Principal, requested: JobSpec[]): Promise<SubmittedJob[]> {
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
      const rows: SubmittedJob[] = [];
      for (const spec of specs) rows.push(await insertPlanned(tx, principal, await planWithTemplates(tx, spec, spec.templates ?? [])));
      return rows;
    }
    return insertJobs(tx, principal, specs);
  });
  core.kick();
  return created;
}

/**
 * Inserts jobs and their "submitted" events in one statement of constant text, whatever their
 * number: the rows travel as one jsonb parameter (recordset.ts), in order, so the ids they get
 * follow the order given.
 */
async function insertJobs(tx: Tx, principal: Principal, specs: JobSpec[]): Promise<SubmittedJob[]> {
  const rows = specs.map((spec) => {
    const r = jobRow(principal, spec);
    return {
      name: r.name, owner: r.owner, job_group: r.group, argv: r.argv, working_directory: r.workingDirectory, environment: r.environment,
      cpus: r.cpus, tasks_per_node: r.tasksPerNode, memory_bytes: r.memoryBytes, disk_bytes: r.diskBytes, gpus: r.gpus,
      walltime_ms: r.walltimeMs, hosts: r.hosts, features: r.features, priority: r.priority, holds: r.holds, depends_on: r.dependsOn,
      earliest_start_at: r.earliestStartAt, retries: r.retries, variables: r.variables, flags: r.flags, extra: r.extra,
    };
  });
  const inserted = rowsOf<{ id: number | string }>(
    await tx.execute(prepared(sql`
      with inserted as (
        insert into jobs (name, owner, job_group, argv, working_directory, environment, cpus, tasks_per_node, memory_bytes, disk_bytes,
          gpus, walltime_ms, hosts, features, priority, holds, depends_on, earliest_start_at, retries, variables, flags, extra)
        select name, owner, job_group, argv, working_directory, environment, cpus, tasks_per_node, memory_bytes, disk_bytes,
          gpus, walltime_ms, hosts, features, priority, holds, depends_on, earliest_start_at, retries, variables, flags, extra
        from rows from (jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as (name text, owner text, job_group text, argv jsonb,
          working_directory text, environment jsonb, cpus int, tasks_per_node int, memory_bytes bigint, disk_bytes bigint, gpus int,
          walltime_ms bigint, hosts jsonb, features jsonb, priority int, holds jsonb, depends_on jsonb, earliest_start_at timestamptz,
          retries int, variables jsonb, flags jsonb, extra jsonb))
          with ordinality as v(name, owner, job_group, argv, working_directory, environment, cpus, tasks_per_node, memory_bytes, disk_bytes,
            gpus, walltime_ms, hosts, features, priority, holds, depends_on, earliest_start_at, retries, variables, flags, extra, n)
        order by n
        returning id
      ), submitted as (
        insert into job_events (job_id, kind, data) select id, 'submitted', ${JSON.stringify({ by: principal.username })}::jsonb from inserted
      )
      select id from inserted order by id`)),
  );
  return inserted.map((r) => ({ id: Number(r.id) }));
}

/** Inserts a job after the jobs its templates made it depend on, which it waits for. */
async function insertPlanned(tx: Tx, principal: Principal, plan: PlannedJob): Promise<SubmittedJob> {
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

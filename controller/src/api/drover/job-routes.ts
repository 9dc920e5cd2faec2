import { Elysia, t, type Static } from "elysia";
import { sql, type SQL } from "drizzle-orm";
import { invalid } from "@drover/shared/errors";
import { parseDuration, parseSize } from "@drover/shared/durations";
import { submitJobs } from "../../jobs/submit-job.ts";
import type { JobSpec } from "../../jobs/job-spec.ts";
import type { Principal } from "../../auth/principal.ts";
import { rowsOf } from "../../db/migrate.ts";
import type { Job } from "../../db/schema.ts";
import { cancelJob, holdJob, requeueJob, resumeJob, suspendJob, unholdJob } from "../../jobs/control-job.ts";
import { getJob } from "../../jobs/find-jobs.ts";
import { listJobEvents } from "../../jobs/job-events.ts";
import { jobStates } from "../../jobs/states.ts";
import { dialectOf } from "../../jobs/dialect.ts";
import type { Tx } from "../../jobs/job-events.ts";
import { clusterSampleData } from "../../reports/node-reports.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

// drover's own view of every dialect's jobs, for the dashboard and for scripts: one listing with
// filters and keyset paging (newest first, fast however many jobs are stored), a job with its
// events, its actions, and counts by group.

/** A job as the listing shows it. */
export function jobSummary(job: Job) {
  return {
    id: job.id,
    name: job.name,
    owner: job.owner,
    group: job.group,
    state: job.state,
    dialect: dialectOf(job),
    command: job.argv.join(" ").slice(0, 300),
    cpus: job.cpus,
    node: job.nodeId,
    reason: job.reason,
    exitCode: job.exitCode,
    submittedAt: job.submittedAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    endedAt: job.endedAt?.toISOString() ?? null,
    // what its last run used (sacct's Elapsed, TotalCPU, MaxRSS)
    walltimeUsedMs: job.walltimeUsedMs,
    cpuTimeMs: job.cpuTimeMs,
    peakRssBytes: job.peakRssBytes,
  };
}

/** A job as drover's listing shows it (what the command line reads). */
export type JobSummary = ReturnType<typeof jobSummary>;

/** The most jobs one array submission makes. */
const MAX_ARRAY = 10_000;

/** An array range: "1-100", "1-100:5" (a step) or "3" (index 3 alone); a 400 says what it takes. */
export function arrayIndices(text: string): number[] {
  const m = /^(\d{1,6})(?:-(\d{1,6})(?::(\d{1,6}))?)?$/.exec(text.trim());
  if (!m) throw invalid(`array "${text}" is not a range like 1-100 or 1-100:5`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  const step = m[3] === undefined ? 1 : Number(m[3]);
  if (to < from || step < 1) throw invalid(`array "${text}": the range must run upwards with a step of at least 1`);
  const count = Math.floor((to - from) / step) + 1;
  if (count > MAX_ARRAY) throw invalid(`array "${text}" makes ${count} jobs; at most ${MAX_ARRAY} at once`);
  return Array.from({ length: count }, (_, i) => from + i * step);
}

/** drover's own submission (the command line's): one job, or an array of them. */
const Submission = t.Object(
  {
    command: t.Array(t.String({ maxLength: 65_536 }), { minItems: 1, maxItems: 4096, description: "the program and its arguments, run without a shell" }),
    name: t.Optional(t.String({ maxLength: 256 })),
    group: t.Optional(t.String({ maxLength: 256, description: "a group its jobs are counted in (wr's report group)" })),
    cpus: t.Optional(t.Integer({ minimum: 1, maximum: 100_000 })),
    memory: t.Optional(t.Union([t.Integer({ minimum: 0 }), t.String({ maxLength: 32 })], { description: "the job's memory in all: bytes or 512M, 4G" })),
    walltime: t.Optional(t.Union([t.Integer({ minimum: 1 }), t.String({ maxLength: 32 })], { description: "seconds, or 90s, 30m, 2h, 1d, HH:MM:SS" })),
    after: t.Optional(t.Array(t.Integer({ minimum: 1 }), { maxItems: 1000, description: "jobs that must complete successfully first" })),
    array: t.Optional(t.String({ maxLength: 32, description: "1-100 or 1-100:5: one job per index, with DROVER_ARRAY_INDEX set" })),
    environment: t.Optional(t.Record(t.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }), t.String({ maxLength: 65_536 }))),
    workingDirectory: t.Optional(t.String({ maxLength: 4096 })),
    priority: t.Optional(t.Integer({ minimum: -1024, maximum: 1024 })),
    hold: t.Optional(t.Boolean({ description: "queued on hold (release it later)" })),
  },
  { additionalProperties: false },
);

const ACTIONS = ["cancel", "hold", "release", "suspend", "resume", "requeue"] as const;

/** One submission as the jobs it makes (an array range makes one per index, with DROVER_ARRAY_INDEX). */
function toSpecs(body: Static<typeof Submission>): JobSpec[] {
  const cpus = body.cpus ?? 1;
  const memory = body.memory === undefined ? undefined : parseSize(body.memory, "memory");
  const walltimeMs = body.walltime === undefined ? undefined : typeof body.walltime === "number" ? body.walltime * 1000 : parseDuration(body.walltime, "walltime");
  if (walltimeMs !== undefined && walltimeMs < 1000) throw invalid(`walltime ${body.walltime} is less than a second`);
  const base: JobSpec = {
    argv: body.command,
    name: body.name,
    group: body.group,
    cpus,
    // the job's memory in all; drover holds it per processor
    memoryBytes: memory === undefined ? undefined : Math.ceil(memory / cpus),
    walltimeMs,
    dependsOn: body.after,
    environment: body.environment,
    workingDirectory: body.workingDirectory,
    priority: body.priority,
    holds: body.hold ? ["USER"] : undefined,
  };
  if (body.array === undefined) return [base];
  return arrayIndices(body.array).map((i) => ({ ...base, name: `${base.name || body.command[0]!.split("/").at(-1)}[${i}]`, environment: { ...base.environment, DROVER_ARRAY_INDEX: String(i) } }));
}

export function jobRoutes(ctx: ApiContext) {
  const { core, db } = ctx;
  return new Elysia()
    .use(authPlugin(ctx))
    .get(
      "/jobs",
      async ({ query, principal }) => {
        const limit = query.limit ?? 50;
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid("limit must be a whole number from 1 to 500");
        const conditions: SQL[] = [];
        if (principal.role !== "admin") conditions.push(sql`owner = ${principal.username}`);
        if (query.state) {
          const states = query.state.split(",");
          const bad = states.filter((s) => !(jobStates as readonly string[]).includes(s));
          if (bad.length) throw invalid(`Unknown state ${bad.join(", ")}: use ${jobStates.join(", ")}`);
          conditions.push(sql`state in (select jsonb_array_elements_text(${JSON.stringify(states)}::jsonb))`);
        }
        if (query.user) conditions.push(sql`owner = ${query.user}`);
        if (query.group !== undefined) conditions.push(sql`job_group = ${query.group}`);
        if (query.node) conditions.push(sql`node_id = ${query.node}`);
        if (query.q) conditions.push(sql`(name ilike ${`%${query.q}%`} or argv::text ilike ${`%${query.q}%`} or id::text = ${query.q})`);
        if (query.before !== undefined) {
          if (!Number.isSafeInteger(query.before) || query.before < 1) throw invalid("before must be a job id");
          conditions.push(sql`id < ${query.before}`);
        }
        const where = conditions.length ? sql.join(conditions, sql` and `) : sql`true`;
        const ids = rowsOf<{ id: number | string }>(await db.execute(sql`select id from jobs where ${where} order by id desc limit ${limit + 1}`)).map((r) => Number(r.id));
        const more = ids.length > limit;
        const page = ids.slice(0, limit);
        const rows = page.length ? await db.query.jobs.findMany({ where: (j, { inArray }) => inArray(j.id, page) }) : [];
        rows.sort((a, b) => b.id - a.id);
        return { jobs: rows.map(jobSummary), next: more ? page.at(-1) : null };
      },
      {
        query: t.Object({
          state: t.Optional(t.String()),
          user: t.Optional(t.String()),
          group: t.Optional(t.String()),
          node: t.Optional(t.String()),
          q: t.Optional(t.String({ maxLength: 200 })),
          before: t.Optional(t.Numeric()),
          limit: t.Optional(t.Numeric()),
        }),
        detail: { summary: "every dialect's jobs, newest first (filters: state=a,b user group node q; keyset paging with before=<next>)", tags: ["drover"] },
      },
    )
    .post(
      "/jobs",
      async ({ body, principal, set }) => {
        // one submission, or an array of them (all or none)
        const specs = (Array.isArray(body) ? body : [body]).flatMap(toSpecs);
        if (specs.length > MAX_ARRAY) throw invalid(`${specs.length} jobs in one request; at most ${MAX_ARRAY}`);
        const jobs = await submitJobs(core, principal, specs);
        set.status = 201;
        return { ids: jobs.map((j) => j.id) };
      },
      { body: t.Union([Submission, t.Array(Submission, { minItems: 1, maxItems: MAX_ARRAY })]), detail: { summary: "submit a job, an array job, or a list of them (all or none); answers their ids", tags: ["drover"] } },
    )
    .get(
      "/jobs/:id",
      async ({ params, principal }) => {
        const job = await jobOf(db, principal, params.id);
        const events = await listJobEvents(db, job.id);
        return {
          ...jobSummary(job),
          argv: job.argv,
          workingDirectory: job.workingDirectory,
          memoryBytes: job.memoryBytes,
          walltimeMs: job.walltimeMs,
          priority: job.priority,
          holds: job.holds,
          dependsOn: job.dependsOn,
          attempt: job.attempt,
          signal: job.signal,
          walltimeUsedMs: job.walltimeUsedMs,
          cpuTimeMs: job.cpuTimeMs,
          peakRssBytes: job.peakRssBytes,
          messages: job.messages,
          stdout: job.stdoutTail,
          stderr: job.stderrTail,
          events: events.map((e) => ({ kind: e.kind, at: e.at.toISOString(), data: e.data })),
          actions: actionsFor(job),
        };
      },
      { detail: { summary: "a job with its events, output tails and the actions it allows now", tags: ["drover"] } },
    )
    .post(
      "/jobs/:id/:action",
      async ({ params, principal }) => {
        const job = await jobOf(db, principal, params.id);
        const action = params.action as (typeof ACTIONS)[number];
        if (!ACTIONS.includes(action)) throw invalid(`Unknown action ${params.action}: use ${ACTIONS.join(", ")}`);
        const done =
          action === "cancel"
            ? await cancelJob(core, principal, job.id)
            : action === "hold"
              ? await holdJob(core, principal, job.id, ["USER"])
              : action === "release"
                ? await unholdJob(core, principal, job.id, [])
                : action === "suspend"
                  ? await suspendJob(core, principal, job.id)
                  : action === "resume"
                    ? await resumeJob(core, principal, job.id)
                    : await requeueJob(core, principal, job.id);
        return jobSummary(done);
      },
      { detail: { summary: "act on a job: cancel, hold, release, suspend, resume, requeue", tags: ["drover"] } },
    )
    .get(
      "/overview",
      async ({ principal }) => {
        const now = await clusterSampleData(db as unknown as Tx);
        const mine = principal.role === "admin" ? sql`true` : sql`owner = ${principal.username}`;
        const [failed] = rowsOf<{ n: number | string }>(
          await db.execute(sql`select count(*) as n from jobs where ${mine} and state in ('failed', 'lost') and ended_at > now() - interval '1 hour'`),
        );
        return { ...now, jobs: { ...now.jobs, failedLastHour: Number(failed?.n ?? 0) } };
      },
      { detail: { summary: "the cluster now: nodes up/down/drained, processors, memory, jobs (failed in the last hour: the caller's, or all for admins)", tags: ["drover"] } },
    )
    .get(
      "/groups",
      async ({ principal }) => {
        type Row = { kind: string; name: string; state: string; n: number | string };
        const mine = principal.role === "admin" ? sql`true` : sql`owner = ${principal.username}`;
        const rows = rowsOf<Row>(
          await db.execute(sql`
            select case when workflow is not null then 'workflow' when app is not null then 'launch queue' else 'group' end as kind,
              case when workflow is not null then workflow when app is not null then app else job_group end as name,
              state, count(*) as n
            from jobs where ${mine} and (job_group <> '' or workflow is not null or app is not null)
            group by 1, 2, 3 order by 1, 2`),
        );
        const groups = new Map<string, { kind: string; name: string; counts: Record<string, number> }>();
        for (const r of rows) {
          const key = `${r.kind}\u0000${r.name}`;
          if (!groups.has(key)) groups.set(key, { kind: r.kind, name: r.name, counts: {} });
          groups.get(key)!.counts[r.state] = Number(r.n);
        }
        return [...groups.values()];
      },
      { detail: { summary: "job counts by state per group (wr rep group), workflow and launch queue (app)", tags: ["drover"] } },
    );
}

async function jobOf(db: ApiContext["db"], principal: Principal, text: string): Promise<Job> {
  const id = /^\d{1,15}$/.test(text) ? Number(text) : 0;
  return getJob(db, principal, id);
}

/** What can be done with a job in its state. */
export function actionsFor(job: Pick<Job, "state" | "holds">): string[] {
  const out: string[] = [];
  if (!["completed", "failed", "cancelled", "lost"].includes(job.state)) out.push("cancel");
  if (job.state === "queued") out.push(job.holds.length ? "release" : "hold");
  if (job.state === "running") out.push("suspend");
  if (job.state === "suspended") out.push("resume");
  if (["running", "suspended", "dispatching"].includes(job.state)) out.push("requeue");
  return out;
}

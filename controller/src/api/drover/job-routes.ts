import { Elysia, t } from "elysia";
import { sql, type SQL } from "drizzle-orm";
import { invalid } from "@drover/shared/errors";
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
  };
}

const ACTIONS = ["cancel", "hold", "release", "suspend", "resume", "requeue"] as const;

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

import { Elysia, t } from "elysia";
import { notFound } from "@drover/shared/errors";
import { submitJobs, submitterFor } from "../../jobs/submit-job.ts";
import { countJobs, getJob, listJobs, type JobFilter } from "../../jobs/find-jobs.ts";
import { cancelJob, executeJob, holdJob, requeueJob, resumeJob, suspendJob, unholdJob } from "../../jobs/control-job.ts";
import { modifyJob } from "../../jobs/modify-job.ts";
import { invalid } from "@drover/shared/errors";
import type { Principal } from "../../auth/principal.ts";
import type { JobState } from "../../jobs/states.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { inArray } from "drizzle-orm";
import { nodes, reservations, type Job } from "../../db/schema.ts";
import { jsonResponse, listEnvelope, pageable, parseListParams, shapeObject } from "../conventions/listing.ts";
import { activeStates, completeStates } from "./job-states.ts";
import { fromMwsModification, fromMwsSubmission, MwsJobModification, MwsJobSubmission } from "./job-submission.ts";
import { mwsJobId, mwsJobView, parseMwsJobId, type NodePartitions } from "./job-view.ts";

/** The optional body of hold/unhold: {"holds": ["USER", …]}. */
function checkHoldsBody(body: unknown): string[] {
  if (body === undefined || body === null || body === "") return [];
  const holds = (body as { holds?: unknown }).holds;
  const keys = typeof body === "object" ? Object.keys(body as object) : ["(not an object)"];
  const extra = keys.filter((k) => k !== "holds");
  if (extra.length) throw invalid(`Invalid body field "${extra[0]}": an action's body may only hold "holds"`);
  if (holds === undefined) return [];
  if (!Array.isArray(holds) || holds.some((h) => typeof h !== "string")) throw invalid(`Invalid body field "holds": must be a list of hold types (USER, SYSTEM, BATCH, ALL)`);
  return holds;
}

/** MWS 3.4: the jobs resource. */
export function jobRoutes(ctx: ApiContext, prefix: string) {
  const { db } = ctx;

  const nodePartitions = (): Promise<NodePartitions> => db.select({ id: nodes.id, partition: nodes.partition, features: nodes.features, arch: nodes.arch, os: nodes.os }).from(nodes);
  // the start dates of the reservations the jobs run in or asked for (reservationStartDate)
  const reservationStarts = async (rows: Job[]): Promise<Map<string, Date>> => {
    const ids = [...new Set(rows.flatMap((j) => [j.reservationId, j.reservationRequested]).filter((r): r is string => !!r))];
    if (!ids.length) return new Map();
    return new Map((await db.select({ id: reservations.id, startAt: reservations.startAt }).from(reservations).where(inArray(reservations.id, ids))).map((r) => [r.id, r.startAt]));
  };

  const jobIdOf = (text: string) => {
    const id = parseMwsJobId(text);
    if (Number.isNaN(id)) throw notFound(`The resource with id '${text}' was not found`);
    return id;
  };

  const list = (filter: JobFilter) => async ({ query, principal }: { query: Record<string, string | undefined>; principal: Principal }) => {
    const params = parseListParams(query);
    const total = await countJobs(db, principal, filter);
    if (pageable(params)) {
      // page in the database: 100,000 stored jobs must not be rendered to show 100
      const [rows, nodes] = await Promise.all([listJobs(db, principal, filter, { offset: params.offset, limit: params.max }), nodePartitions()]);
      const starts = await reservationStarts(rows);
      return jsonResponse(listEnvelope(rows.map((j) => mwsJobView(j, nodes, starts)), { ...params, offset: 0, max: undefined }, total), params);
    }
    const [rows, nodes] = await Promise.all([listJobs(db, principal, filter), nodePartitions()]);
    const starts = await reservationStarts(rows);
    return jsonResponse(listEnvelope(rows.map((j) => mwsJobView(j, nodes, starts)), params, total), params);
  };

  const show = (filter: JobFilter) => async ({ params: { id }, query, principal }: { params: { id: string }; query: Record<string, string | undefined>; principal: Principal }) => {
    const p = parseListParams(query);
    const job = await getJob(db, principal, jobIdOf(id));
    if (filter.states && !filter.states.includes(job.state as JobState)) throw notFound(`The resource with id '${id}' was not found`);
    return jsonResponse(shapeObject(mwsJobView(job, await nodePartitions(), await reservationStarts([job])), p), p);
  };

  const active = { states: [...activeStates] as JobState[] };
  const complete = { states: [...completeStates] as JobState[] };

  return new Elysia()
    .use(authPlugin(ctx))
    .get("/jobs", list({}), { detail: { summary: "Get all jobs", tags: ["mws"] } })
    .get("/jobs/active", list(active), { detail: { summary: "Get all active jobs", tags: ["mws"] } })
    .get("/jobs/complete", list(complete), { detail: { summary: "Get all complete jobs", tags: ["mws"] } })
    .get("/jobs/active/:id", show(active), { detail: { summary: "Get a single active job", tags: ["mws"] } })
    .get("/jobs/complete/:id", show(complete), { detail: { summary: "Get a single complete job", tags: ["mws"] } })
    .get("/jobs/:id", show({}), { detail: { summary: "Get a single job", tags: ["mws"] } })
    .post(
      "/jobs",
      async ({ body, principal, query }) => {
        const params = parseListParams(query);
        const submissions = Array.isArray(body) ? body : [body];
        const owners = new Set(submissions.map((b) => b.user ?? query["proxy-user"] ?? principal.username));
        if (owners.size > 1) throw invalid("All jobs of one submission must belong to one user");
        const owner = await submitterFor(ctx.core, principal, [...owners][0]!);
        const specs = submissions.map(fromMwsSubmission);
        if (Array.isArray(body)) {
          // drover extension: an array submits every job or none, in one transaction
          const created = await submitJobs(ctx.core, owner, specs);
          return jsonResponse(created.map((j) => ({ id: mwsJobId(j.id) })), params, 201, { location: `${prefix}/jobs` });
        }
        const [job] = await submitJobs(ctx.core, owner, specs);
        const id = mwsJobId(job!.id);
        return jsonResponse({ id }, params, 201, { location: `${prefix}/jobs/${id}` });
      },
      {
        body: t.Union([MwsJobSubmission, t.Array(MwsJobSubmission, { minItems: 1, maxItems: 10_000 })]),
        detail: { summary: "Submit a job (or, as a drover extension, an array of jobs: all or none)", tags: ["mws"] },
      },
    )
    .put(
      "/jobs/:id",
      async ({ params: { id }, body, principal }) => {
        const messages = await modifyJob(ctx.core, principal, jobIdOf(id), fromMwsModification(body));
        return { messages };
      },
      { body: MwsJobModification, detail: { summary: "Modify a job's attributes (messages are appended)", tags: ["mws"] } },
    )
    .put(
      "/jobs/:id/:action",
      async ({ params: { id, action }, body, principal }) => {
        const jobId = jobIdOf(id);
        const holds = checkHoldsBody(body);
        const actions: Record<string, () => Promise<string>> = {
          cancel: async () => (await cancelJob(ctx.core, principal, jobId), `Job ${id} cancel requested`),
          suspend: async () => (await suspendJob(ctx.core, principal, jobId), `Job ${id} suspended`),
          resume: async () => (await resumeJob(ctx.core, principal, jobId), `Job ${id} resumed`),
          hold: async () => `Job ${id} held (${(await holdJob(ctx.core, principal, jobId, holds)).holds.join(", ")})`,
          unhold: async () => {
            const job = await unholdJob(ctx.core, principal, jobId, holds);
            return job.holds.length ? `Job ${id} still held (${job.holds.join(", ")}): only an administrator may release those` : `Job ${id} released`;
          },
          requeue: async () => {
            const job = await requeueJob(ctx.core, principal, jobId);
            return job.state === "queued" ? `Job ${id} requeued` : `Job ${id} requeue requested: its process on ${job.nodeId} is being stopped`;
          },
          execute: async () => {
            const job = await executeJob(ctx.core, principal, jobId);
            return job.state === "queued"
              ? `Job ${id} will start ahead of the queue as soon as resources allow${job.reason ? `: ${job.reason}` : ""}`
              : `Job ${id} started on ${job.nodeId}`;
          },
          checkpoint: async () => {
            throw invalid(`Checkpointing is not supported: drover cannot save and restore a job's process state`);
          },
        };
        const run = actions[action];
        if (!run) throw invalid(`Unknown job action "${action}"; supported: ${Object.keys(actions).join(", ")}`);
        if (action !== "hold" && action !== "unhold" && holds.length) throw invalid(`The ${action} action takes no holds`);
        return { messages: [await run()] };
      },
      { body: t.Optional(t.Unknown()), detail: { summary: "Perform an action on a job: cancel, checkpoint, execute, hold, requeue, resume, suspend, unhold", tags: ["mws"] } },
    )
    .delete(
      "/jobs/:id",
      async ({ params: { id }, principal }) => {
        await cancelJob(ctx.core, principal, jobIdOf(id));
        return new Response(null, { status: 200 });
      },
      { detail: { summary: "Cancel a job", tags: ["mws"] } },
    );
}

import { Elysia, t } from "elysia";
import { notFound } from "@drover/shared/errors";
import { submitJobs } from "../../jobs/submit-job.ts";
import { countJobs, getJob, listJobs, type JobFilter } from "../../jobs/find-jobs.ts";
import { cancelJob, resumeJob, suspendJob } from "../../jobs/control-job.ts";
import { invalid } from "@drover/shared/errors";
import type { JobState } from "../../jobs/states.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { jsonResponse, listEnvelope, pageable, parseListParams, shapeObject } from "../conventions/listing.ts";
import { activeStates, completeStates } from "./job-states.ts";
import { fromMwsSubmission, MwsJobSubmission } from "./job-submission.ts";
import { mwsJobId, mwsJobView, parseMwsJobId } from "./job-view.ts";

/** MWS 3.4: the jobs resource. */
export function jobRoutes(ctx: ApiContext, prefix: string) {
  const { db } = ctx;

  const jobIdOf = (text: string) => {
    const id = parseMwsJobId(text);
    if (Number.isNaN(id)) throw notFound(`The resource with id '${text}' was not found`);
    return id;
  };

  const list = (filter: JobFilter) => async ({ query, principal }: { query: Record<string, string | undefined>; principal: import("../../auth/principal.ts").Principal }) => {
    const params = parseListParams(query);
    const total = await countJobs(db, principal, filter);
    if (pageable(params)) {
      // page in the database: 100,000 stored jobs must not be rendered to show 100
      const rows = await listJobs(db, principal, filter, { offset: params.offset, limit: params.max });
      return jsonResponse(listEnvelope(rows.map(mwsJobView), { ...params, offset: 0, max: undefined }, total), params);
    }
    const rows = await listJobs(db, principal, filter);
    return jsonResponse(listEnvelope(rows.map(mwsJobView), params, total), params);
  };

  const show = (filter: JobFilter) => async ({ params: { id }, query, principal }: { params: { id: string }; query: Record<string, string | undefined>; principal: import("../../auth/principal.ts").Principal }) => {
    const p = parseListParams(query);
    const job = await getJob(db, principal, jobIdOf(id));
    if (filter.states && !filter.states.includes(job.state as JobState)) throw notFound(`The resource with id '${id}' was not found`);
    return jsonResponse(shapeObject(mwsJobView(job), p), p);
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
        if (Array.isArray(body)) {
          // drover extension: an array submits every job or none, in one transaction
          const created = await submitJobs(ctx.core, principal, body.map(fromMwsSubmission));
          return jsonResponse(created.map((j) => ({ id: mwsJobId(j.id) })), params, 201, { location: `${prefix}/jobs` });
        }
        const [job] = await submitJobs(ctx.core, principal, [fromMwsSubmission(body)]);
        const id = mwsJobId(job!.id);
        return jsonResponse({ id }, params, 201, { location: `${prefix}/jobs/${id}` });
      },
      {
        body: t.Union([MwsJobSubmission, t.Array(MwsJobSubmission, { minItems: 1, maxItems: 10_000 })]),
        detail: { summary: "Submit a job (or, as a drover extension, an array of jobs: all or none)", tags: ["mws"] },
      },
    )
    .put(
      "/jobs/:id/:action",
      async ({ params: { id, action }, principal }) => {
        const jobId = jobIdOf(id);
        const actions: Record<string, () => Promise<unknown>> = {
          cancel: () => cancelJob(ctx.core, principal, jobId),
          suspend: () => suspendJob(ctx.core, principal, jobId),
          resume: () => resumeJob(ctx.core, principal, jobId),
        };
        const run = actions[action];
        if (!run) throw invalid(`Unknown job action "${action}"; supported: ${Object.keys(actions).join(", ")}`);
        await run();
        return { messages: [`Job ${id} ${action} requested`] };
      },
      { detail: { summary: "Perform an action on a job", tags: ["mws"] } },
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

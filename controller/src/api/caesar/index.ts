import { extname } from "node:path";
import { Elysia } from "elysia";
import { DroverError, invalid, notFound } from "@drover/shared/errors";
import type { Principal } from "../../auth/principal.ts";
import { getApp, listApps } from "../../apps/app-catalogue.ts";
import { launchApp } from "../../apps/launch-app.ts";
import { getFile, listFiles, removeFile, storedPath, storeFile } from "../../files/file-store.ts";
import { openJobArchive } from "../../files/job-archive.ts";
import { cancelJob } from "../../jobs/control-job.ts";
import { getJob, listAppJobs } from "../../jobs/find-jobs.ts";
import { findUser } from "../../users/users.ts";
import type { ApiContext } from "../context.ts";
import { registerErrorDialect } from "../errors.ts";
import { readMultipart } from "../multipart.ts";
import { caesarEnded, caesarState } from "./job-states.ts";
import { accountingView, appstatsView, caesarDate, caesarJobId, describeView, parseCaesarJobId, statusView, uploadView } from "./views.ts";
import { accountingOf, allAccounting } from "../../accounting/accounting.ts";

// caesar-rest's errors: {"status": "<message>"}
registerErrorDialect(/^\/caesar\/api\/v1\.0(\/|$)/, (_status, messages) => ({ status: messages.join("; ") }));

const PREFIX = "/caesar/api/v1.0";
/** What caesar accepts for upload, by extension. */
export const CAESAR_FORMATS = ["png", "jpg", "jpeg", "gif", "fits", "json"];

const jsonAnswer = (body: unknown, status = 200) => Response.json(body, { status });

/** caesar-rest's API (seed 003) on drover's file store, app catalogue and queue. */
export function caesarApi(ctx: ApiContext) {
  const { core, db, config } = ctx;

  /**
   * drover's tokens or Basic on every route; a site may map requests without credentials to one
   * configured user (caesar.anonymousUser), as caesar's open API does.
   */
  const auth = new Elysia().derive({ as: "scoped" }, async ({ request }): Promise<{ principal: Principal }> => {
    const header = request.headers.get("authorization");
    if (!header && config.caesar.anonymousUser) {
      const user = await findUser(db, config.caesar.anonymousUser);
      if (!user) throw new DroverError("unavailable", `caesar.anonymousUser is "${config.caesar.anonymousUser}", which is not a user; an administrator must create it`);
      return { principal: { username: user.username, role: user.role } };
    }
    return { principal: await ctx.auth.fromHeader(header) };
  });

  const jobOf = async (principal: Principal, text: string) => {
    const id = parseCaesarJobId(text);
    try {
      if (Number.isNaN(id)) throw notFound("");
      return await getJob(db, principal, id);
    } catch {
      throw notFound(`Job ${text} not found for user ${principal.username}!`);
    }
  };

  const download = async ({ params, principal }: { params: { uuid: string }; principal: Principal }) => {
    const file = await getFile(core, principal, params.uuid);
    return new Response(Bun.file(storedPath(config, file.id)), {
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="${file.name.replaceAll('"', "")}"`,
        "content-length": String(file.sizeBytes),
      },
    });
  };

  const remove = async ({ params, principal }: { params: { uuid: string }; principal: Principal }) => {
    const file = await removeFile(core, principal, params.uuid);
    return jsonAnswer({ status: `File with uuid ${file.id} removed`, uuid: file.id });
  };

  const cancel = async ({ params, principal }: { params: { id: string }; principal: Principal }) => {
    const job = await jobOf(principal, params.id);
    const state = caesarState(job);
    if (caesarEnded(state)) return jsonAnswer({ status: `Job ${params.id} already completed with state ${state}, nothing to be canceled.` });
    await cancelJob(core, principal, job.id);
    return jsonAnswer({ status: "Job canceled and status updated in DB" });
  };

  const tags = { detail: { tags: ["caesar"] } };
  return new Elysia({ name: "caesar", prefix: PREFIX })
    .use(auth)
    .post(
      "/upload",
      async ({ request, principal }) => {
        const { files } = await readMultipart(request, async (part) => {
          if (part.field !== "file") {
            part.stream.resume();
            return undefined;
          }
          if (!part.filename) throw invalid("No file selected for uploading");
          const ext = extname(part.filename).slice(1).toLowerCase();
          if (!CAESAR_FORMATS.includes(ext)) {
            throw new DroverError("unsupported_media_type", `File format not allowed, allowed file types are: {${CAESAR_FORMATS.join("|")}}`);
          }
          return storeFile(core, principal.username, part.filename, part.stream, config.http.maxBodyBytes);
        });
        const stored = files.find((f) => f.field === "file")?.result;
        if (!stored) throw invalid("Missing file field in request!");
        return jsonAnswer(uploadView(stored));
      },
      { parse: "none", detail: { summary: "caesar: upload a file (multipart/form-data, field file)", tags: ["caesar"] } },
    )
    .get("/download/:uuid", download, { detail: { summary: "caesar: download a file by uuid", tags: ["caesar"] } })
    .post("/download/:uuid", download, tags)
    .get("/delete/:uuid", remove, { detail: { summary: "caesar: remove a file by uuid", tags: ["caesar"] } })
    .post("/delete/:uuid", remove, tags)
    .get("/fileids", async ({ principal }) => jsonAnswer({ file_ids: (await listFiles(core, principal)).map((f) => f.id) }), { detail: { summary: "caesar: your files' uuids", tags: ["caesar"] } })
    .get("/apps", async () => jsonAnswer({ apps: (await listApps(db)).map((a) => a.name) }), { detail: { summary: "caesar: the apps", tags: ["caesar"] } })
    .get(
      "/app/:name/describe",
      async ({ params }) => {
        const app = await getApp(db, params.name).catch(() => {
          throw invalid(`Unknown app ${params.name}!`);
        });
        return jsonAnswer(describeView(app));
      },
      { detail: { summary: "caesar: an app's options", tags: ["caesar"] } },
    )
    .post(
      "/job",
      async ({ request, principal }) => {
        let body: unknown;
        try {
          body = JSON.parse(await request.text());
        } catch {
          throw invalid("Invalid request data!");
        }
        if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid("Invalid request data!");
        const { app, job_inputs: inputs, ...rest } = body as Record<string, unknown>;
        const unknown = Object.keys(rest);
        if (unknown.length) throw invalid(`Unknown field ${unknown[0]} in request: give app and job_inputs`);
        if (typeof app !== "string" || !app) throw invalid("No app name found in request!");
        if (!inputs || typeof inputs !== "object" || Array.isArray(inputs)) throw invalid("No job inputs field found in request!");
        const { job, inputs: shown } = await launchApp(core, principal, app, inputs as Record<string, unknown>, { dialect: "caesar" });
        return jsonAnswer(
          { app, job_id: caesarJobId(job.id), job_inputs: shown, state: "PENDING", status: "Job submitted with success", submit_date: caesarDate(job.submittedAt) },
          202,
        );
      },
      { parse: "none", detail: { summary: "caesar: run an app ({app, job_inputs}); files by uuid", tags: ["caesar"] } },
    )
    .get("/job/:id/status", async ({ params, principal }) => jsonAnswer(statusView(await jobOf(principal, params.id))), { detail: { summary: "caesar: a job's status", tags: ["caesar"] } })
    .get(
      "/job/:id/output",
      async ({ params, principal }) => {
        const job = await jobOf(principal, params.id);
        const state = caesarState(job);
        if (!caesarEnded(state)) {
          return jsonAnswer({ job_id: params.id, state, status: `Job ${params.id} not yet completed (state=${state}), output not available` }, 202);
        }
        const top = `job_${params.id}`;
        const stream = await openJobArchive(core, job, top);
        return new Response(stream, { headers: { "content-type": "application/gzip", "content-disposition": `attachment; filename="${top}.tar.gz"` } });
      },
      { detail: { summary: "caesar: a job's directory as a tar.gz (logs, inputs, outputs), streamed from its node", tags: ["caesar"] } },
    )
    .post("/job/:id/cancel", cancel, { detail: { summary: "caesar: cancel a job", tags: ["caesar"] } })
    .get("/job/:id/cancel", cancel, tags)
    .get(
      "/accounting",
      async ({ principal }) => {
        const { record, at } = await accountingOf(db, principal.username);
        return jsonAnswer(accountingView(record, at));
      },
      { detail: { summary: "caesar: your usage (files, jobs by state, run times, processor-hours), aggregated periodically", tags: ["caesar"] } },
    )
    .get(
      "/appstats",
      async ({ principal }) => {
        // admins: the totals over every user; users: their own figures
        const records = principal.role === "admin" ? await allAccounting(db) : [await accountingOf(db, principal.username)];
        return jsonAnswer(appstatsView(records));
      },
      { detail: { summary: "caesar: usage totals over all users (admins; users see their own)", tags: ["caesar"] } },
    )
    .get("/jobs", async ({ principal }) => jsonAnswer({ job_ids: (await listAppJobs(db, principal)).map((j) => caesarJobId(j.id)) }), { detail: { summary: "caesar: your jobs' ids", tags: ["caesar"] } });
}

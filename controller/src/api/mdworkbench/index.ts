import { Elysia } from "elysia";
import { DroverError, invalid, notFound } from "@drover/shared/errors";
import type { Principal } from "../../auth/principal.ts";
import type { AppDefinition } from "../../apps/app-definition.ts";
import { getApp, listApps } from "../../apps/app-catalogue.ts";
import { launchApp, missingOptions, unknownOptions } from "../../apps/launch-app.ts";
import type { Job } from "../../db/schema.ts";
import { storeFile } from "../../files/file-store.ts";
import { openJobOutput, openJobOutputsZip } from "../../files/job-archive.ts";
import { moveInQueue, queueMoves, type QueueMove } from "../../jobs/queue-position.ts";
import { sql } from "drizzle-orm";
import { callbackOf, checkCallbackUrl, type CallbackRenderer } from "../../jobs/callbacks.ts";
import { cancelJob } from "../../jobs/control-job.ts";
import { getJob, listAppQueue } from "../../jobs/find-jobs.ts";
import { listJobEvents } from "../../jobs/job-events.ts";
import { isTerminal } from "../../jobs/states.ts";
import { isDraining } from "../../scheduler/drain.ts";
import type { Db } from "../../db/connect.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { registerErrorDialect } from "../errors.ts";
import { readMultipart } from "../multipart.ts";
import { launchSummary, launchView, render, serviceView, type LogEntry } from "./views.ts";

/** How long DELETE waits for a node to confirm that a launch's processes are gone. */
const CANCEL_WAIT_MS = 5_000;

// MDWorkbench's errors: {"message": "..."}
registerErrorDialect(/^\/mdworkbench(\/|$)/, (_status, messages) => ({ message: messages.join("; ") }));

/** The entries of a launch's log: its life from the job's events, and its callback's attempts. */
async function logEntries(db: Db, job: Job): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for (const e of await listJobEvents(db, job.id)) {
    const data = e.data as { node?: string; reason?: string | null; exitCode?: number | null; message?: string; direction?: string; by?: string };
    const add = (kind: LogEntry["kind"], message: string) => entries.push({ kind, message, time: e.at });
    if (e.kind === "submitted") add("output", "launch requested");
    else if (e.kind === "dispatched") add("output", `sent to node ${data.node ?? "?"}`);
    else if (e.kind === "started") add("output", `started on node ${data.node ?? "?"}`);
    else if (e.kind === "completed") add("output", "completed");
    else if (e.kind === "failed") add("error", `failed: ${data.reason ?? `exit code ${data.exitCode ?? "?"}`}`);
    else if (e.kind === "cancelled") add("warning", "canceled");
    else if (e.kind === "lost") add("error", `lost: ${data.reason ?? "its node stopped answering"}`);
    else if (e.kind === "progress") add("progress", data.message ?? "");
    else if (e.kind === "reordered") add("output", `moved ${data.direction === "top" || data.direction === "bottom" ? `to the ${data.direction} of` : `${data.direction} in`} the queue by ${data.by ?? "an administrator"}`);
  }
  const callback = await callbackOf(db, job.id);
  for (const a of callback?.log ?? []) entries.push({ kind: a.ok ? "output" : "warning", message: a.message, time: new Date(a.time) });
  return entries.sort((a, b) => a.time.getTime() - b.time.getTime());
}

/** A parameter's text (a form field or a header) as the value its option's type takes; 400 naming it. */
function typedValue(app: AppDefinition, name: string, text: string): unknown {
  const option = app.options[name]!;
  switch (option.type) {
    case "int":
    case "float": {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw invalid(`Parameter ${name} of service ${app.name} must be a number, not "${text}"`);
      return n;
    }
    case "bool":
      if (text !== "true" && text !== "false") throw invalid(`Parameter ${name} of service ${app.name} must be true or false, not "${text}"`);
      return text === "true";
    default:
      return text;
  }
}

/** MDWorkbench's launch API (seed 002) on drover's apps (services) and queue. */
export function mdworkbenchApi(ctx: ApiContext) {
  const { core, db, config } = ctx;
  const base = (request: Request) => new URL(request.url).origin;

  /** The launch queue, running launches first, as MDWorkbench lists it. */
  const queueAnswer = async (request: Request, principal: Principal) =>
    render(request.headers.get("accept"), "launches", (await listAppQueue(db, principal)).map((j) => launchSummary(j, base(request))));

  const launchOf = async (principal: Principal, text: string) => {
    const id = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
    try {
      if (Number.isNaN(id)) throw notFound("");
      const job = await getJob(db, principal, id);
      if (!job.app) throw notFound("");
      return job;
    } catch {
      throw notFound(`No launch matches ${text}`);
    }
  };

  return new Elysia({ name: "mdworkbench", prefix: "/mdworkbench" })
    .use(authPlugin(ctx))
    .get("/service", async ({ request }) => render(request.headers.get("accept"), "services", (await listApps(db)).map(serviceView)), {
      detail: { summary: "MDWorkbench: the services (drover's apps) and their parameters", tags: ["mdworkbench"] },
    })
    .get(
      "/service/:id",
      async ({ params, request }) => {
        const app = await getApp(db, params.id).catch(() => {
          throw notFound(`No service ${params.id}`);
        });
        return render(request.headers.get("accept"), "service", serviceView(app));
      },
      { detail: { summary: "MDWorkbench: one service", tags: ["mdworkbench"] } },
    )
    .post(
      "/launch",
      async ({ request, query, principal }) => {
        if (await isDraining(db)) throw new DroverError("unavailable", "drover is in maintenance (draining): no launch can be created now; try again later");
        const serviceId = query.id;
        if (!serviceId) throw invalid("Give the service to launch: POST /mdworkbench/launch?id=SERVICE");
        const app = await getApp(db, serviceId).catch(() => {
          throw notFound(`No service ${serviceId}`);
        });
        const given: Record<string, unknown> = {};
        const type = request.headers.get("content-type") ?? "";
        if (type.startsWith("multipart/form-data")) {
          const { fields, files } = await readMultipart(request, async (part) => {
            if (unknownOptions(app, [part.field]).length) throw invalid(`Unknown parameter ${part.field}: service ${app.name} has ${Object.keys(app.options).join(", ") || "none"}`);
            if (app.options[part.field]!.type !== "file") throw invalid(`Parameter ${part.field} of service ${app.name} is not a file`);
            return storeFile(core, principal.username, part.filename || part.field, part.stream, config.http.maxBodyBytes);
          });
          for (const [name, text] of Object.entries(fields)) {
            if (unknownOptions(app, [name]).length) throw invalid(`Unknown parameter ${name}: service ${app.name} has ${Object.keys(app.options).join(", ") || "none"}`);
            given[name] = typedValue(app, name, text);
          }
          for (const f of files) given[f.field] = f.result.id;
        } else {
          // parameters as request headers of their names
          for (const name of Object.keys(app.options)) {
            const text = request.headers.get(name);
            if (text !== null) given[name] = typedValue(app, name, text);
          }
        }
        const [missing] = missingOptions(app, given);
        if (missing) throw invalid(`Missing parameter ${missing}: service ${app.name} needs it`);
        const statusLocation = request.headers.get("status-location");
        const { job } = await launchApp(core, principal, app.name, given, { dialect: "mdworkbench" }, {
          statusLocation: statusLocation ? checkCallbackUrl(statusLocation, config.callbacks.hosts) : undefined,
        });
        const uri = `${base(request)}/mdworkbench/launch/${job.id}`;
        return render(request.headers.get("accept"), "launch", launchView(job, base(request), await logEntries(db, job)), 200, { "content-location": uri });
      },
      { parse: "none", detail: { summary: "MDWorkbench: launch a service (?id=SERVICE; parameters as multipart fields or headers; Status-Location)", tags: ["mdworkbench"] } },
    )
    .get(
      "/launch",
      async ({ request, principal }) => {
        requireAdmin(principal, "see the launch queue");
        return queueAnswer(request, principal);
      },
      { detail: { summary: "MDWorkbench: the launch queue, running launches first (admins)", tags: ["mdworkbench"] } },
    )
    .put(
      "/launch",
      async ({ request, principal }) => {
        requireAdmin(principal, "reorder the launch queue");
        const params = new URL(request.url).searchParams;
        const direction = params.get("direction");
        if (!direction) throw invalid(`Give the direction to move the launches: direction=${queueMoves.join("|")}`);
        if (!(queueMoves as readonly string[]).includes(direction)) throw invalid(`Unknown direction "${direction}": use one of ${queueMoves.join(", ")}`);
        const texts = params.getAll("id");
        if (!texts.length) throw invalid("Give the launches to move: id=LAUNCH (repeat id for several)");
        const bad = texts.filter((t) => !/^\d{1,15}$/.test(t));
        if (bad.length) throw invalid(`No launch matches ${bad.join(", ")}`);
        const ids = [...new Set(texts.map(Number))];
        await moveInQueue(core, principal, ids, direction as QueueMove, sql`app is not null`, { one: "launch", many: "launches" });
        return queueAnswer(request, principal);
      },
      { detail: { summary: "MDWorkbench: reorder waiting launches (?id=…&id=…&direction=top|up|down|bottom; admins)", tags: ["mdworkbench"] } },
    )
    .get(
      "/launch/:id/result",
      async ({ params, principal }) => {
        const job = await launchOf(principal, params.id);
        if (!job.outputFiles.length) throw notFound(`Launch ${job.id} generated no files`);
        const stream = await openJobOutputsZip(core, job, `launch_${job.id}`);
        return new Response(stream, { headers: { "content-type": "application/zip", "content-disposition": `attachment; filename="launch_${job.id}.zip"` } });
      },
      { detail: { summary: "MDWorkbench: every file a launch generated, as one zip (streamed from its node)", tags: ["mdworkbench"] } },
    )
    .get(
      "/launch/:id/result/*",
      async ({ params, principal }) => {
        const job = await launchOf(principal, params.id);
        const path = params["*"].split("/").map((s) => { try { return decodeURIComponent(s); } catch { return s; } }).join("/");
        const stream = await openJobOutput(core, job, path).catch((e) => {
          if (e instanceof DroverError && e.kind === "not_found") throw notFound(`Launch ${job.id} generated no file ${path}`);
          throw e;
        });
        const name = path.split("/").pop()!;
        return new Response(stream, { headers: { "content-type": Bun.file(name).type || "application/octet-stream", "content-disposition": `attachment; filename="${name.replace(/["\\\r\n]/g, "_")}"` } });
      },
      { detail: { summary: "MDWorkbench: one file a launch generated, by its path in the result", tags: ["mdworkbench"] } },
    )
    .get(
      "/launch/:id",
      async ({ params, request, principal }) => {
        const job = await launchOf(principal, params.id);
        return render(request.headers.get("accept"), "launch", launchView(job, base(request), await logEntries(db, job)));
      },
      { detail: { summary: "MDWorkbench: a launch in full", tags: ["mdworkbench"] } },
    )
    .delete(
      "/launch/:id",
      async ({ params, request, principal }) => {
        const job = await launchOf(principal, params.id);
        if (["queued", "dispatching", "running", "suspended"].includes(job.state)) await cancelJob(core, principal, job.id);
        // a launch on a node is canceled once its agent confirms: answer with that, if it comes soon
        let now = await getJob(db, principal, job.id);
        for (const until = Date.now() + CANCEL_WAIT_MS; !isTerminal(now.state) && Date.now() < until; now = await getJob(db, principal, job.id)) await Bun.sleep(50);
        return render(request.headers.get("accept"), "launch", launchView(now, base(request), await logEntries(db, now)));
      },
      { detail: { summary: "MDWorkbench: cancel a launch", tags: ["mdworkbench"] } },
    );
}

/** What a launch's Status-Location receives: the same JSON as GET on the launch. */
export function launchCallbackRenderer(ctx: ApiContext, baseUrl: string): CallbackRenderer {
  return async (jobId) => {
    const job = await getJob(ctx.db, { username: "drover", role: "admin" }, jobId);
    return { body: JSON.stringify(launchView(job, baseUrl, await logEntries(ctx.db, job))), contentType: "application/json" };
  };
}

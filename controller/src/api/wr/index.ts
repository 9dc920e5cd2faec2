import { hostname } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { invalid, notFound } from "@drover/shared/errors";
import type { Principal } from "../../auth/principal.ts";
import type { Job } from "../../db/schema.ts";
import { nodeAddresses } from "../../nodes/find-nodes.ts";
import { cancelJob, confirmLost } from "../../jobs/control-job.ts";
import { findQueueJobs } from "../../jobs/find-jobs.ts";
import { removeJobs } from "../../jobs/remove-jobs.ts";
import { submitJobs } from "../../jobs/submit-job.ts";
import { contentPath, resolveUploadPath } from "../../files/upload-path.ts";
import { receiveFile } from "../../files/receive-file.ts";
import { downNodes, forgetDownNode } from "../../nodes/forget-node.ts";
import { isDraining } from "../../scheduler/drain.ts";
import { waitingOnDependencies } from "../../scheduler/queue-reads.ts";
import { takeWarnings } from "../../scheduler/warnings.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { registerErrorDialect } from "../errors.ts";
import { checkWrJob, defaultsFromQuery, wrJobSpec } from "./job-input.ts";
import { isDeletable, wrStates, type WrState } from "./job-states.ts";
import { limitSimilar, wrJobView, type ViewContext, type WrJobView } from "./job-view.ts";

// wr's errors are plain text: the message and a newline (Go's http.Error)
registerErrorDialect(/^\/rest\/(v1|version)(\/|$)/, (_status, messages) => `${messages.join("; ")}\n`);

/** wr answers with JSON followed by a newline, "&&" and "<" unescaped. */
const wrJson = (body: unknown, status = 200) =>
  new Response(`${JSON.stringify(body)}\n`, { status, headers: { "content-type": "application/json" } });

const KEY = /^[0-9a-f]{32}$/;
const STATE_FILTERS = [...wrStates, "deletable"] as const;

/** The GET/DELETE selection: ids (keys or rep groups) from the path, and the URL parameters. */
interface Selection {
  ids: string[];
  state?: (typeof STATE_FILTERS)[number];
  std: boolean;
  env: boolean;
  limit: number;
}

function selectionOf(idsText: string | undefined, query: Record<string, string | undefined>): Selection {
  // (decoded once already, as every path parameter is: decoding again threw on a rep group with "%")
  const ids = (idsText ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const state = query.state || undefined;
  if (state !== undefined && !(STATE_FILTERS as readonly string[]).includes(state)) {
    throw invalid(`state must be one of ${STATE_FILTERS.join("|")}, not "${state}"`);
  }
  const limitText = query.limit;
  if (limitText !== undefined && limitText !== "" && !/^\d{1,9}$/.test(limitText)) throw invalid(`limit must be a whole number, not "${limitText}"`);
  return { ids, state: state as Selection["state"], std: query.std === "true", env: query.env === "true", limit: Number(limitText || 0) };
}

/** wr's REST API (seed 004) on drover's core: /rest/v1/… (and /rest/version/, see version.ts). */
export function wrApi(ctx: ApiContext) {
  const { core, db, config } = ctx;

  /** What a view of the given jobs needs: their nodes, and which queued ones wait for a dependency. */
  async function viewContext(rows: Job[], sel: Pick<Selection, "std" | "env">): Promise<ViewContext> {
    const queued = rows.filter((j) => j.state === "queued" && (j.dependsOn.length || j.afterGroups.length)).map((j) => j.id);
    const [waiting, nodes] = await Promise.all([waitingOnDependencies(db, queued), nodeAddresses(db)]);
    return { at: Date.now(), nodes, waiting, std: sel.std, env: sel.env };
  }

  /**
   * The jobs a selection names, with their views, in the order asked for (keys and rep groups as
   * listed, oldest first within each). The state filter applies, except to jobs named by key.
   */
  async function select(principal: Principal, sel: Selection): Promise<{ job: Job; view: WrJobView; byKey: boolean }[]> {
    const keys = sel.ids.filter((id) => KEY.test(id));
    const rows = await findQueueJobs(db, principal, sel.ids.length ? { identities: keys, groups: sel.ids } : {});
    const vctx = await viewContext(rows, sel);
    const views = new Map(rows.map((j) => [j.id, wrJobView(j, vctx)]));
    const picked: { job: Job; view: WrJobView; byKey: boolean }[] = [];
    const seen = new Set<number>();
    for (const id of sel.ids.length ? sel.ids : [""]) {
      for (const job of rows) {
        const view = views.get(job.id)!;
        const byKey = id !== "" && KEY.test(id) && view.Key === id;
        if (seen.has(job.id) || (id !== "" && !byKey && job.group !== id)) continue;
        if (!byKey && sel.state && !(sel.state === "deletable" ? isDeletable(view.State as WrState) : view.State === sel.state)) continue;
        seen.add(job.id);
        picked.push({ job, view, byKey });
      }
    }
    return picked;
  }

  const getJobs = async ({ params, query, principal }: { params?: { ids?: string }; query: Record<string, string | undefined>; principal: Principal }) => {
    const sel = selectionOf(params?.ids, query);
    const picked = await select(principal, sel);
    if (!sel.limit) return wrJson(picked.map((p) => p.view));
    // limit groups similar jobs (not those asked for by key)
    return wrJson([...picked.filter((p) => p.byKey).map((p) => p.view), ...limitSimilar(picked.filter((p) => !p.byKey).map((p) => p.view), sel.limit)]);
  };

  const deleteJobs = async ({ params, query, principal }: { params?: { ids?: string }; query: Record<string, string | undefined>; principal: Principal }) => {
    const sel = selectionOf(params?.ids, query);
    if (!sel.state || !["running", "lost", "deletable"].includes(sel.state)) {
      throw invalid("state must be supplied as one of running|lost|deletable");
    }
    // the state applies to jobs named by key too: only those in it are cancelled
    const picked = (await select(principal, sel)).filter(({ view }) =>
      sel.state === "deletable" ? isDeletable(view.State as WrState) : view.State === sel.state,
    );
    if (sel.state === "deletable") {
      const removed = new Set((await removeJobs(core, picked.map((p) => p.job.id))).map((j) => j.id));
      return wrJson(picked.filter((p) => removed.has(p.job.id)).map((p) => ({ ...p.view, State: "deleted" })));
    }
    const done: WrJobView[] = [];
    for (const { job, view } of picked) {
      if (sel.state === "running") {
        await cancelJob(core, principal, job.id);
        done.push(view);
      } else if (await confirmLost(core, principal, job.id)) done.push(view);
    }
    return wrJson(done, 202);
  };

  const upload = async ({ request, query, principal }: { request: Request; query: Record<string, string | undefined>; principal: Principal }) => {
    const asked = resolveUploadPath(config, principal, query.path);
    const tmpDir = join(config.home, "files", ".incoming");
    const { path } = await receiveFile(request.body, config.http.maxBodyBytes, (md5) => asked ?? contentPath(config, md5), tmpDir, !asked);
    return wrJson({ path });
  };

  return new Elysia({ name: "wr" })
    .use(authPlugin(ctx))
    .post(
      "/rest/v1/jobs/",
      async ({ request, query, principal }) => {
        const text = await request.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (e) {
          throw invalid(`the body is not valid JSON: ${(e as Error).message}; send a JSON array of job objects`);
        }
        if (!Array.isArray(body)) throw invalid("the body must be a JSON array of job objects, like [{\"cmd\":\"sleep 5\"}]");
        const defaults = defaultsFromQuery(query);
        const jobs = body.map((raw, i) => wrJobSpec(checkWrJob(raw, `job ${i + 1}`), defaults));
        // rerun applies to the whole submission in wr (a URL parameter; drover also reads it per job)
        const rerun = jobs.some((j) => j.rerun);
        const added = await submitJobs(core, principal, jobs.map((j) => j.spec), { dedupeByIdentity: true, rerun, readBack: true, acceptUnrunnable: true });
        // each job once, as the submission left it (identical ones answer with the job already there)
        const seen = new Set<number>();
        const rows = added.filter((a) => !a.skipped && a.row && !seen.has(a.id) && seen.add(a.id)).map((a) => a.row!);
        const vctx = await viewContext(rows, { std: false, env: false });
        const views = rows.map((r) => wrJobView(r, vctx));
        return wrJson(views, 201);
      },
      { parse: "none", detail: { summary: "wr: add jobs (a JSON array of job objects; URL parameters give defaults)", tags: ["wr"] } },
    )
    .get("/rest/v1/jobs/", getJobs, { detail: { summary: "wr: every incomplete job (std, env, limit, state)", tags: ["wr"] } })
    .get("/rest/v1/jobs", getJobs, { detail: { hide: true } })
    .get("/rest/v1/jobs/:ids", getJobs, { detail: { summary: "wr: jobs by comma-separated keys or rep groups, complete ones included", tags: ["wr"] } })
    .delete("/rest/v1/jobs/", deleteJobs, { detail: { summary: "wr: cancel jobs (state=running|lost|deletable required)", tags: ["wr"] } })
    .delete("/rest/v1/jobs/:ids", deleteJobs, { detail: { summary: "wr: cancel the jobs named by keys or rep groups", tags: ["wr"] } })
    .get(
      "/rest/v1/info/",
      async () =>
        wrJson({
          Addr: `${config.http.host}:${config.http.port}`,
          Host: hostname(),
          Port: String(config.http.port),
          WebPort: String(config.http.port),
          PID: process.pid,
          Deployment: "production",
          Scheduler: "drover",
          Mode: (await isDraining(db)) ? "draining" : "started",
        }),
      { detail: { summary: "wr: about this manager (drover's controller)", tags: ["wr"] } },
    )
    .get(
      "/rest/v1/warnings/",
      async ({ principal }) => {
        requireAdmin(principal, "read and dismiss the scheduler's warnings");
        const list = await takeWarnings(db);
        return wrJson(list.map((w) => ({ Msg: w.message, FirstDate: Math.floor(w.firstAt.getTime() / 1000), LastDate: Math.floor(w.lastAt.getTime() / 1000), Count: w.count })));
      },
      { detail: { summary: "wr: the scheduler's warnings since the last GET (which dismisses them)", tags: ["wr"] } },
    )
    .get(
      "/rest/v1/servers/",
      async () =>
        wrJson(
          (await downNodes(db)).map((n) => ({
            ID: n.id,
            Name: n.hostname,
            IP: n.addresses[0] ?? "",
            Date: Math.floor((n.lastHeartbeatAt ?? n.registeredAt).getTime() / 1000),
            IsBad: true,
            Problem: n.stateReason ?? "",
          })),
        ),
      { detail: { summary: "wr: nodes that stopped answering", tags: ["wr"] } },
    )
    .delete(
      "/rest/v1/servers/",
      async ({ query, principal }) => {
        requireAdmin(principal, "confirm that a node is dead");
        const id = query.id;
        if (!id) throw invalid("id parameter is required");
        if (!(await forgetDownNode(db, id))) throw notFound("Server was not known to be bad");
        return new Response("", { status: 200 });
      },
      { detail: { summary: "wr: confirm a bad server dead (?id=): drover forgets the node", tags: ["wr"] } },
    )
    // curl --upload-file FILE with a URL ending in "/" appends FILE's name to the path (wr
    // serves that subtree too): the name is ignored, ?path= or the MD5 decides
    .put("/rest/v1/upload/", upload, { parse: "none", detail: { summary: "wr: upload a file (?path=~/… or, for admins, under files.uploadRoots; else named after its MD5)", tags: ["wr"] } })
    .put("/rest/v1/upload/:name", upload, { parse: "none", detail: { hide: true } });
}

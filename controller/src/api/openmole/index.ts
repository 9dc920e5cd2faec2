import { rmSync } from "node:fs";
import { join } from "node:path";
import { Elysia } from "elysia";
import { DroverError, invalid } from "@drover/shared/errors";
import type { Principal } from "../../auth/principal.ts";
import { receiveFile } from "../../files/receive-file.ts";
import { executionOutput, executionPaths, executionState, getExecution, listExecutions, removeExecution, startExecution } from "../../workflows/executions.ts";
import { openDownload } from "../../workflows/work-directory.ts";
import type { ApiContext } from "../context.ts";
import { registerErrorDialect } from "../errors.ts";
import { readMultipart } from "../multipart.ts";

// OpenMOLE's REST API (seed 000) on drover's workflows: every call is a POST whose parameters
// come from the query string or the form (urlencoded or multipart); every call but /token names
// its token as a parameter. Wire details follow OpenMOLE's own server of that API version.

/** OpenMOLE's tokens last a day. */
const TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;
const UNAUTHORIZED = "This service requires a valid token";

// what fails before a handler runs (a body that cannot be read) is {message}
registerErrorDialect(/^\/openmole(\/|$)/, (_status, messages) => ({ message: messages.join("; ") }));

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body, null, 2), { status, headers: { "content-type": "application/json" } });

/** OpenMOLE answers a failed call 417 with the message and a stack trace (drover's: the kind of error and its message). */
const failed = (message: string, stackTrace = "") => json({ message, stackTrace: stackTrace || `drover.InvalidRequest: ${message}` }, 417);

class Unauthorized extends Error {}

interface Params {
  fields: Record<string, string>;
  /** the workDirectory file part, received into a temporary file */
  archive?: string;
}

export function openmoleApi(ctx: ApiContext) {
  const { core, config } = ctx;
  const incoming = join(config.home, "workflows", ".incoming");

  /** Parameters from the query string and the body (urlencoded, or multipart with the archive as a file part). */
  const readParams = async (request: Request): Promise<Params> => {
    const fields: Record<string, string> = Object.fromEntries(new URL(request.url).searchParams);
    const type = request.headers.get("content-type") ?? "";
    if (type.startsWith("application/x-www-form-urlencoded")) {
      Object.assign(fields, Object.fromEntries(new URLSearchParams(await request.text())));
      return { fields };
    }
    if (!type.startsWith("multipart/form-data")) return { fields };
    let archive: string | undefined;
    const parsed = await readMultipart(request, async (part) => {
      if (part.field !== "workDirectory") {
        part.stream.resume();
        return undefined;
      }
      const target = join(incoming, `${crypto.randomUUID()}.tar.gz`);
      await receiveFile(part.stream, config.http.maxBodyBytes, () => target, incoming);
      archive = target;
      return target;
    }).catch((e) => {
      if (archive) rmSync(archive, { force: true });
      throw e;
    });
    Object.assign(fields, parsed.fields);
    return { fields, archive };
  };

  /** The principal a token parameter (or, for other clients, an Authorization header) names. */
  const principalOf = async (request: Request, fields: Record<string, string>): Promise<Principal> => {
    try {
      if (fields.token) return await ctx.auth.stillAUser(await ctx.auth.tokens.verify(fields.token));
      const header = request.headers.get("authorization");
      if (header) return await ctx.auth.fromHeader(header);
    } catch {
      // an expired or forged token, or wrong credentials: OpenMOLE says only this
    }
    throw new Unauthorized(UNAUTHORIZED);
  };

  /** Runs a call the OpenMOLE way: parameters read, token checked, failures as 417 {message, stackTrace}. */
  const call =
    (handler: (p: Params & { principal: Principal; request: Request; address: string }) => Promise<Response>, opts: { open?: boolean } = {}) =>
    async ({ request, server }: { request: Request; server: { requestIP(r: Request): { address: string } | null } | null }): Promise<Response> => {
      let params: Params | undefined;
      try {
        params = await readParams(request);
        const principal = opts.open ? { username: "", role: "user" as const } : await principalOf(request, params.fields);
        return await handler({ ...params, principal, request, address: server?.requestIP(request)?.address ?? "" });
      } catch (e) {
        if (e instanceof Unauthorized) return json({ message: UNAUTHORIZED }, 401);
        if (e instanceof DroverError && ["invalid", "not_found", "conflict", "forbidden"].includes(e.kind)) return failed(e.message);
        if (e instanceof DroverError && e.kind === "too_many_requests") return json({ message: e.message }, 429);
        throw e;
      } finally {
        if (params?.archive) rmSync(params.archive, { force: true });
      }
    };

  const idOf = (fields: Record<string, string>) => {
    if (!fields.id) throw invalid("id is missing");
    return fields.id;
  };
  const doc = (summary: string) => ({ parse: "none" as const, detail: { summary: `OpenMOLE: ${summary}`, tags: ["openmole"] } });

  return new Elysia({ name: "openmole", prefix: "/openmole" })
    .post(
      "/token",
      call(
        async ({ fields, address }) => {
          if (!fields.password) return failed("No password sent with request");
          // OpenMOLE's one server password is the password of the drover user it stands for
          const username = fields.username || config.openmole.user;
          const principal = await ctx.auth.checkPassword(username, fields.password, address).catch((e) => {
            if (e instanceof DroverError && e.kind === "too_many_requests") throw e;
            return undefined;
          });
          if (!principal) return json({ message: fields.username ? "Wrong username or password" : "Server password is incorrect" }, 403);
          const { token, duration } = await ctx.auth.tokens.issue(principal, TOKEN_LIFETIME_MS);
          return json({ token, duration }, 202);
        },
        { open: true },
      ),
      doc("a token for 24 h (password = the password of the drover user openmole.user; or username + password)"),
    )
    .post(
      "/start",
      call(async ({ fields, archive, principal }) => {
        if (!fields.script) return failed("Missing mandatory script parameter.");
        if (!archive) return failed("Missing mandatory workDirectory parameter.");
        const execution = await startExecution(core, principal, { archive, script: fields.script, dialect: "openmole" });
        core.kickWorkflows?.();
        return json({ id: execution.id });
      }),
      doc("start a workflow: workDirectory (a tar.gz, multipart file part) and script (a workflow file or a shell script inside it)"),
    )
    .post(
      "/state",
      call(async ({ fields, principal }) => {
        const execution = await getExecution(core, principal, idOf(fields));
        const state = await executionState(core, execution);
        if (state.state === "failed") return json({ error: state.error ?? { message: "the workflow failed", stackTrace: "" }, state: "failed" });
        if (state.state === "finished") return json({ state: "finished" });
        return json({
          ready: state.ready,
          running: state.running,
          completed: state.completed,
          environments: state.environments.map((e) => ({ name: e.name, submitted: e.submitted, running: e.running, done: e.done, failed: e.failed, errors: e.errors })),
          state: state.state === "cancelled" ? "failed" : "running",
        });
      }),
      doc("an execution's state; while running, its task instances and environments, with the errors since the last call"),
    )
    .post(
      "/output",
      call(async ({ fields, principal }) => json({ output: executionOutput(core, await getExecution(core, principal, idOf(fields))) })),
      doc("what an execution's tasks printed, each line marked [task] or [task#instance]"),
    )
    .post(
      "/download",
      call(async ({ fields, principal }) => {
        const execution = await getExecution(core, principal, idOf(fields));
        let download: ReturnType<typeof openDownload>;
        try {
          download = openDownload(executionPaths(core, execution.id).work, fields.path ?? "");
        } catch (e) {
          if (e instanceof DroverError && e.kind === "not_found") return json({ message: "File not found" }, 404);
          throw e;
        }
        const filename = download.kind === "directory" ? "archive.tgz" : `${download.name}.gz`;
        return new Response(download.stream, { headers: { "content-type": "application/gzip", "content-disposition": `attachment; filename="${filename.replace(/["\\\r\n]/g, "_")}"` } });
      }),
      doc("a file of an execution's work directory (path), gzipped; a directory as a tar.gz"),
    )
    .post(
      "/remove",
      call(async ({ fields, principal }) => {
        await removeExecution(core, principal, idOf(fields));
        return new Response(null, { status: 200 });
      }),
      doc("cancel an execution (its processes die on their nodes) and delete it and its files"),
    )
    .post(
      "/list",
      call(async ({ principal }) => json((await listExecutions(core, principal, "openmole")).map((e) => ({ id: e.id })))),
      doc("the ids of your executions"),
    );
}

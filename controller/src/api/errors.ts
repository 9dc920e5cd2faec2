import { DroverError, statusOf, type ErrorKind } from "@drover/shared/errors";
import { logger } from "@drover/shared/log";

const log = logger("http");

/** How one REST dialect renders an error body: a string is sent as text/plain, anything else as JSON. */
export type ErrorRenderer = (status: number, messages: string[]) => unknown;

const mwsShape: ErrorRenderer = (_status, messages) => ({ messages });

/**
 * Dialects by path prefix, most specific first. Each dialect adapter registers its renderer
 * here when it is added; paths no dialect claims (drover's own) use the MWS shape.
 */
const dialects: { prefix: RegExp; render: ErrorRenderer }[] = [{ prefix: /^\/(mws\/)?rest(\/|$)/, render: mwsShape }];

/** Registers how a dialect renders its errors. */
export function registerErrorDialect(prefix: RegExp, render: ErrorRenderer): void {
  dialects.unshift({ prefix, render });
}

/** The body for an error on this path, in the shape its dialect uses. */
export function renderErrorBody(path: string, status: number, messages: string[]): unknown {
  const dialect = dialects.find((d) => d.prefix.test(path));
  return (dialect?.render ?? mwsShape)(status, messages);
}

/** A response holding a rendered error body. */
function bodyResponse(body: unknown, status: number): Response {
  if (typeof body === "string") return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" } });
  return Response.json(body, { status });
}

export function errorResponse(path: string, kind: ErrorKind, messages: string[]): Response {
  const status = statusOf(kind);
  return bodyResponse(renderErrorBody(path, status, messages), status);
}

interface ValueErrorLike {
  path?: string;
  message?: string;
  summary?: string;
}

/** "body /x: Expected number" for each schema violation, so the client knows which field. */
function validationMessages(error: unknown): string[] {
  const all = (error as { all?: ValueErrorLike[]; type?: string }).all;
  const on = (error as { type?: string }).type ?? "request";
  if (!Array.isArray(all) || all.length === 0) return [`The ${on} is not valid`];
  const seen = new Set<string>();
  for (const e of all) {
    const field = e.path ? e.path.replace(/^\//, "").replaceAll("/", ".") : "";
    seen.add(field ? `Invalid ${on} field "${field}": ${e.summary ?? e.message}` : `Invalid ${on}: ${e.summary ?? e.message}`);
  }
  return [...seen];
}

/** Error codes of a connection that could not be made or was lost (the OS's, Bun's, postgres.js's). */
const CONNECTION_LOST = new Set([
  "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTCONN", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ConnectionRefused", "ConnectionClosed",
  "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECTION_CLOSED", "CONNECT_TIMEOUT",
]);

/** A lost or refused connection to Postgres (those codes, SQLSTATE classes 08 and 57P0x), however wrapped. */
export function databaseUnreachable(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === "string" ? e.code : "";
    if (CONNECTION_LOST.has(code)) return true;
    if (/^08/.test(code) || /^57P0[1-3]$/.test(code)) return true;
  }
  return false;
}

/** Postgres's refusal of a NUL byte or an untranslatable character (SQLSTATE 22021, 22P05), however wrapped. */
function unstorableText(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown; message?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === "22021" || e.code === "22P05") return true;
    if (typeof e.message === "string" && /invalid byte sequence for encoding "UTF8": 0x00|unsupported Unicode escape sequence/.test(e.message)) return true;
  }
  return false;
}

/**
 * Translates anything thrown while handling a request into a response: DroverErrors carry
 * their kind; Elysia's parse/validation/not-found become 400/404/405; anything else is a bug,
 * logged with its stack and answered 500 without internals.
 */
export function translateError(
  code: string | number,
  error: unknown,
  request: Request,
  allowedMethods: (path: string) => string[],
): Response {
  const path = new URL(request.url).pathname;
  if (error instanceof DroverError) return errorResponse(path, error.kind, [error.message, ...error.details]);
  switch (code) {
    case "PARSE":
      return errorResponse(path, "invalid", [
        "The request body could not be parsed",
        "Send valid JSON with Content-Type: application/json",
      ]);
    case "VALIDATION":
      return errorResponse(path, "invalid", validationMessages(error));
    case "NOT_FOUND": {
      const methods = allowedMethods(path);
      if (methods.length > 0 && !methods.includes(request.method)) {
        const res = errorResponse(path, "method_not_allowed", [
          "The specified HTTP method is not allowed for the requested resource",
          `Allowed: ${methods.join(", ")}`,
        ]);
        res.headers.set("allow", methods.join(", "));
        return res;
      }
      return errorResponse(path, "not_found", [`The resource ${path} was not found`]);
    }
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return errorResponse(path, "invalid", [(error as Error).message]);
  }
  // the database is restarting or unreachable: nothing was done; the client may try again
  if (databaseUnreachable(error)) return errorResponse(path, "unavailable", ["The database is unreachable at the moment (restarting?): nothing was done; try again shortly"]);
  // text Postgres cannot hold (a NUL character) reached a query: the client's input, not a bug
  if (unstorableText(error)) return errorResponse(path, "invalid", ["The request holds text that cannot be stored (a NUL character, \\u0000): remove it"]);
  log.error("unexpected error", { method: request.method, path, error });
  const status = 500;
  return bodyResponse(renderErrorBody(path, status, ["A problem occurred while processing the request"]), status);
}

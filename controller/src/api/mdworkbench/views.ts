import { XMLBuilder } from "fast-xml-parser";
import type { Job } from "../../db/schema.ts";
import type { AppDefinition } from "../../apps/app-definition.ts";

// MDWorkbench's launch and service documents, in JSON or XML.

export type LaunchState = "waiting" | "running" | "completed" | "failed" | "canceled";

/**
 * drover's job states as launch states: queued, or sent to a node and not started (waiting in
 * its backlog), waiting; started running; then completed, failed (or lost), canceled.
 */
export function launchState(job: Pick<Job, "state">): LaunchState {
  switch (job.state) {
    case "queued":
    case "dispatching":
      return "waiting";
    case "running":
    case "suspended":
      return "running";
    case "completed":
      return "completed";
    case "cancelled":
      return "canceled";
    default:
      return "failed";
  }
}

/** An ISO 8601 duration, e.g. PT1M2.345S. */
export function isoDuration(ms: number): string {
  const total = Math.max(0, ms) / 1000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = Math.round((total % 60) * 1000) / 1000;
  return `PT${h ? `${h}H` : ""}${m ? `${m}M` : ""}${s || (!h && !m) ? `${s}S` : ""}`;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export interface LogEntry {
  kind: "progress" | "output" | "warning" | "error";
  message: string;
  time: Date;
}

/** A launch's summary, as the queue lists it. */
export function launchSummary(job: Job, baseUrl: string) {
  return {
    id: String(job.id),
    uri: `${baseUrl}/mdworkbench/launch/${job.id}`,
    service: job.app ?? "",
    state: launchState(job),
    requestNumber: job.id,
    requestTime: iso(job.submittedAt),
    startTime: iso(job.startedAt),
  };
}

/** Where a launch's generated files are downloaded: all as a zip, or one by its path. */
export const resultUri = (baseUrl: string, job: Pick<Job, "id">, path?: string) =>
  `${baseUrl}/mdworkbench/launch/${job.id}/result${path === undefined ? "" : `/${path.split("/").map(encodeURIComponent).join("/")}`}`;

/** A launch in full (GET /mdworkbench/launch/{id}, and what a Status-Location receives). */
export function launchView(job: Job, baseUrl: string, entries: LogEntry[], at = Date.now()) {
  const start = job.startedAt?.getTime();
  const end = job.endedAt?.getTime() ?? null;
  const durationMs = start === undefined ? 0 : (end ?? at) - start;
  const status: { name: string; value: string }[] = [];
  if (job.exitCode !== null && job.exitCode !== undefined) status.push({ name: "exitCode", value: String(job.exitCode) });
  if (job.signal) status.push({ name: "signal", value: job.signal });
  if (job.nodeId) status.push({ name: "node", value: job.nodeId });
  if (job.reason && launchState(job) !== "completed") status.push({ name: "reason", value: job.reason });
  return {
    ...launchSummary(job, baseUrl),
    endTime: iso(job.endedAt),
    duration: isoDuration(durationMs),
    arguments: Object.entries(job.appInputs ?? {}).map(([name, value]) => ({ name, value: String(value) })),
    status,
    logEntries: entries.map((e) => ({
      kind: e.kind,
      message: e.message,
      time: e.time.toISOString(),
      duration: isoDuration(start === undefined ? 0 : e.time.getTime() - start),
    })),
    // only when the run generated files
    ...(job.outputFiles.length
      ? { result: { uri: resultUri(baseUrl, job), files: job.outputFiles.map((f) => ({ path: f.path, uri: resultUri(baseUrl, job, f.path) })) } }
      : {}),
  };
}

/** A service (an app) and its parameters. */
export function serviceView(app: AppDefinition) {
  return {
    id: app.name,
    name: app.name,
    description: app.description,
    parameters: Object.entries(app.options).map(([name, o]) => ({
      name,
      type: o.type,
      mandatory: o.mandatory,
      description: o.description,
      ...(o.default !== undefined ? { default: String(o.default) } : {}),
    })),
  };
}

const builder = new XMLBuilder({ ignoreAttributes: true, format: true, suppressEmptyNode: true });

/** Lists become repeated child elements named after the singular (arguments → argument). */
const singular: Record<string, string> = { arguments: "argument", status: "property", logEntries: "logEntry", parameters: "parameter", launches: "launch", services: "service", files: "file" };
function xmlShape(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return { [singular[key] ?? "item"]: value.map((v) => xmlShape(v)) };
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, xmlShape(v, k)]));
  return value === null ? "" : value;
}

/** A document as XML under `root` (lists as repeated elements), or JSON, by what the client accepts. */
export function render(accept: string | null, root: string, body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  if (accept && /application\/xml|text\/xml/.test(accept) && !/application\/json/.test(accept)) {
    const shaped = Array.isArray(body) ? { [root]: xmlShape(body, root) } : { [root]: xmlShape(body) };
    return new Response(`<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(shaped)}`, { status, headers: { "content-type": "application/xml; charset=utf-8", ...headers } });
  }
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

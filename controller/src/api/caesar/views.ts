import type { Job, StoredFileRow } from "../../db/schema.ts";
import type { AppDefinition } from "../../apps/app-definition.ts";
import { caesarExitStatus, caesarState, caesarStatus } from "./job-states.ts";

const MB = 1024 * 1024;

/** caesar's job ids are UUIDs: drover's job N is 00000000-0000-4000-8000-<N in 12 hex digits>. */
export const caesarJobId = (id: number) => `00000000-0000-4000-8000-${id.toString(16).padStart(12, "0")}`;

/** The drover job id of a caesar job id, or NaN. */
export function parseCaesarJobId(text: string): number {
  const m = /^00000000-0000-4000-8000-([0-9a-f]{12})$/.exec(text);
  return m ? parseInt(m[1]!, 16) : NaN;
}

/** caesar's dates: local ISO time with microseconds and no zone (Python's isoformat()). */
export function caesarDate(d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}000`;
}

/** The answer to an upload (seed: date, filename_orig, format, size in MB, status, uuid). */
export const uploadView = (f: StoredFileRow) => ({
  date: caesarDate(f.createdAt),
  filename_orig: f.name,
  format: f.format,
  size: f.sizeBytes / MB,
  status: "File uploaded with success",
  uuid: f.id,
});

/** An app's options in the seed's form: {name: {description, mandatory, type, …}}, sorted by name. */
export function describeView(app: AppDefinition): Record<string, unknown> {
  const entries = Object.entries(app.options).sort(([a], [b]) => a.localeCompare(b));
  return Object.fromEntries(
    entries.map(([name, o]) => [
      name,
      {
        description: o.description,
        mandatory: o.mandatory,
        type: o.type,
        ...(o.default !== undefined ? { default: o.default } : {}),
        ...(o.min !== undefined ? { min: o.min } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        ...(o.allowedValues ? { enum: true, allowed_values: o.allowedValues } : {}),
        ...(o.advanced !== undefined ? { advanced: o.advanced ? 1 : 0 } : {}),
        ...(o.category !== undefined ? { category: o.category } : {}),
      },
    ]),
  );
}

/** A job's status (seed: elapsed_time as a string, exit_status, job_id, pid as a string, state, status; exit_code as later caesar). */
export function statusView(job: Job, at = Date.now()) {
  const state = caesarState(job);
  const elapsedMs = job.startedAt ? (job.endedAt ? job.walltimeUsedMs ?? job.endedAt.getTime() - job.startedAt.getTime() : at - job.startedAt.getTime() - job.suspendedMs) : 0;
  const exit = caesarExitStatus(job, state);
  return {
    elapsed_time: String(Math.max(0, elapsedMs) / 1000),
    exit_code: exit,
    exit_status: exit,
    job_id: caesarJobId(job.id),
    pid: job.pid ? String(job.pid) : "",
    state,
    status: caesarStatus(job, state),
  };
}

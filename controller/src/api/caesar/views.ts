import type { AccountingRecord, Job, StoredFileRow } from "../../db/schema.ts";
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

/** A usage record in caesar's accounting form (sizes in KiB, times in seconds), with drover's additions. */
export function accountingView(record: AccountingRecord, at: Date) {
  const state = (s: string) => record.jobsByState[s] ?? 0;
  const cause = (c: string) => record.failedByCause[c] ?? 0;
  const timedOut = cause("walltime");
  const aborted = cause("setup") + cause("start") + cause("runtime");
  return {
    timestamp: at.toUTCString(),
    datasize: record.dataBytes / 1024,
    jobsize: 0,
    njobs: record.njobs,
    njobs_completed: state("completed"),
    njobs_failed: state("failed") - timedOut - aborted + state("lost"),
    njobs_aborted: aborted,
    njobs_pending: state("queued"),
    njobs_running: state("dispatching") + state("running") + state("suspended"),
    njobs_unknown: 0,
    job_runtime: record.runtimeSeconds,
    job_completed_runtime: record.completedRuntimeSeconds,
    // drover's additions
    nfiles: record.nfiles,
    njobs_timedout: timedOut,
    njobs_canceled: state("cancelled"),
    cpu_hours: record.cpuHours,
  };
}

/** The sum of several records (appstats), with caesar's totals. */
export function appstatsView(records: { record: AccountingRecord; at: Date }[]) {
  const views = records.map((r) => accountingView(r.record, r.at));
  const sum = (k: keyof ReturnType<typeof accountingView>) => views.reduce((s, v) => s + (v[k] as number), 0);
  const completed = sum("njobs_completed");
  const latest = records.reduce((d, r) => (r.at > d ? r.at : d), new Date(0));
  return {
    timestamp: latest.toUTCString(),
    nusers: records.length,
    datasize: sum("datasize"),
    jobsize: 0,
    totsize: sum("datasize"),
    njobs: sum("njobs"),
    njobs_completed: completed,
    njobs_failed: sum("njobs_failed"),
    njobs_aborted: sum("njobs_aborted"),
    njobs_pending: sum("njobs_pending"),
    njobs_running: sum("njobs_running"),
    njobs_unknown: 0,
    job_runtime: sum("job_runtime"),
    job_completed_runtime: sum("job_completed_runtime"),
    avg_completed_job_runtime: completed ? sum("job_completed_runtime") / completed : 0,
    nfiles: sum("nfiles"),
    njobs_timedout: sum("njobs_timedout"),
    njobs_canceled: sum("njobs_canceled"),
    cpu_hours: sum("cpu_hours"),
  };
}

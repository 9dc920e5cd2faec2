import type { JobSummary as ServerJobSummary } from "../api/drover/job-routes.ts";
import { CliError, type Client } from "./connection.ts";
import { clock, paint, printJson, size, stateColour, table, when } from "./output.ts";

/** A job as drover's listing answers it (GET /jobs), as the JSON carries it. */
export type JobSummary = ServerJobSummary;

export const ENDED = ["completed", "failed", "cancelled", "lost"];
export const ACTIVE = ["queued", "dispatching", "running", "suspended"];

/** Jobs matching the filters, newest first, as many as `limit` (following the listing's pages). */
export async function listJobs(client: Client, filters: { state?: string; user?: string; group?: string; name?: string }, limit: number): Promise<JobSummary[]> {
  const out: JobSummary[] = [];
  let before: number | null = null;
  while (out.length < limit) {
    const q = new URLSearchParams();
    if (filters.state) q.set("state", filters.state);
    if (filters.user) q.set("user", filters.user);
    if (filters.group !== undefined) q.set("group", filters.group);
    if (filters.name) q.set("q", filters.name);
    q.set("limit", String(Math.min(500, limit - out.length)));
    if (before !== null) q.set("before", String(before));
    const page: { jobs: JobSummary[]; next: number | null } = await client.request("GET", `/jobs?${q}`);
    out.push(...page.jobs);
    if (page.next === null) break;
    before = page.next;
  }
  return out;
}

/** What a table calls a job: its name, else its command ("sh -c …" shows what the shell runs), cut to 40 characters. */
export function label(j: Pick<JobSummary, "name" | "command">): string {
  const text = j.name || (/^\/bin\/sh -c /.test(j.command) ? j.command.slice("/bin/sh -c ".length) : j.command.split(" ")[0]!.split("/").at(-1)!);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

const elapsed = (j: JobSummary) => (j.startedAt ? (j.endedAt ? Date.parse(j.endedAt) : Date.now()) - Date.parse(j.startedAt) : null);

/** `drover jobs`: a table like squeue's (jobs not ended, unless --all or --state say otherwise). */
export async function showJobs(client: Client, v: Record<string, unknown>): Promise<number> {
  const state = (v.state as string | undefined) ?? (v.all ? undefined : ACTIVE.join(","));
  const jobs = await listJobs(client, { state, user: v.user as string, group: v.group as string, name: v.name as string }, Number(v.limit ?? 1000));
  if (v.json) return printJson(jobs), 0;
  if (!jobs.length) {
    process.stderr.write("no jobs\n");
    return 0;
  }
  const rows = jobs.map((j) => [
    String(j.id), label(j), j.owner, paint(j.state.toUpperCase(), stateColour(j.state)), String(j.cpus),
    clock(elapsed(j)), j.node ?? "", j.state === "queued" ? (j.reason ?? "") : j.exitCode !== null && ENDED.includes(j.state) ? `exit ${j.exitCode}` : "",
  ]);
  process.stdout.write(table(["ID", "NAME", "USER", "STATE", "CPUS", "TIME", "NODE", "REASON"], rows) + "\n");
  return 0;
}

/** `drover history`: ended jobs with their times and use, like sacct. */
export async function showHistory(client: Client, v: Record<string, unknown>): Promise<number> {
  const jobs = await listJobs(client, { state: (v.state as string | undefined) ?? ENDED.join(","), user: v.user as string, group: v.group as string, name: v.name as string }, Number(v.limit ?? 1000));
  if (v.json) return printJson(jobs), 0;
  if (!jobs.length) {
    process.stderr.write("no ended jobs\n");
    return 0;
  }
  const rows = jobs.map((j) => [
    String(j.id), label(j), j.owner, paint(j.state.toUpperCase(), stateColour(j.state)), j.exitCode === null ? "" : String(j.exitCode),
    when(j.startedAt), when(j.endedAt), clock(j.walltimeUsedMs ?? elapsed(j)), clock(j.cpuTimeMs), size(j.peakRssBytes), j.node ?? "",
  ]);
  process.stdout.write(table(["ID", "NAME", "USER", "STATE", "EXIT", "START", "END", "ELAPSED", "CPU", "MAXRSS", "NODE"], rows) + "\n");
  return 0;
}

type JobDetail = JobSummary & {
  argv: string[]; workingDirectory: string | null; memoryBytes: number; walltimeMs: number | null; priority: number; holds: string[]; dependsOn: number[];
  attempt: number; signal: string | null; messages: string[]; stdout: string; stderr: string; events: { kind: string; at: string; data: unknown }[]; actions: string[];
};

/** `drover show ID`. */
export async function showJob(client: Client, id: number, json: boolean): Promise<number> {
  const j: JobDetail = await client.request("GET", `/jobs/${id}`);
  if (json) return printJson(j), 0;
  const lines: [string, string][] = [
    ["id", String(j.id)], ["name", j.name], ["user", j.owner], ["group", j.group], ["state", paint(j.state.toUpperCase(), stateColour(j.state))],
    ["reason", j.reason ?? ""], ["command", JSON.stringify(j.argv)], ["directory", j.workingDirectory ?? ""], ["cpus", String(j.cpus)],
    ["memory", j.memoryBytes ? `${size(j.memoryBytes * Math.max(1, j.cpus))} (${size(j.memoryBytes)} per processor)` : ""],
    ["walltime", clock(j.walltimeMs)], ["priority", String(j.priority)], ["holds", j.holds.join(", ")], ["after", j.dependsOn.join(", ")],
    ["node", j.node ?? ""], ["submitted", when(j.submittedAt)], ["started", when(j.startedAt)], ["ended", when(j.endedAt)],
    ["exit code", j.exitCode === null ? "" : String(j.exitCode)], ["signal", j.signal ?? ""], ["elapsed", clock(j.walltimeUsedMs ?? elapsed(j))],
    ["cpu time", clock(j.cpuTimeMs)], ["max rss", size(j.peakRssBytes)], ["attempt", String(j.attempt)], ["actions", j.actions.join(", ")],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = lines.filter(([, value]) => value !== "").map(([k, value]) => `${paint(k.padEnd(width), "bold")}  ${value}`);
  for (const m of j.messages) out.push(`${paint("message".padEnd(width), "bold")}  ${m}`);
  out.push(paint("events", "bold"));
  for (const e of j.events) out.push(`  ${when(e.at)}  ${e.kind}`);
  process.stdout.write(out.join("\n") + "\n");
  return 0;
}

/** How much of `next` is new after `previous`: the output tails slide, so the overlap is found. */
export function newOutput(previous: string, next: string): { text: string; skipped: boolean } {
  if (!previous) return { text: next, skipped: false };
  if (next.startsWith(previous)) return { text: next.slice(previous.length), skipped: false };
  for (let k = Math.min(previous.length, next.length); k > 0; k--) {
    if (previous.endsWith(next.slice(0, k))) return { text: next.slice(k), skipped: false };
  }
  return { text: next, skipped: next.length > 0 };
}

/** `drover logs [-f] ID`: the output's tail; following it, what it adds until the job ends. */
export async function showLogs(client: Client, id: number, opts: { follow: boolean; stderr: boolean; intervalMs?: number }): Promise<number> {
  const key = opts.stderr ? "stderr" : "stdout";
  let shown = "";
  for (;;) {
    const j: JobDetail = await client.request("GET", `/jobs/${id}`);
    const { text, skipped } = newOutput(shown, j[key]);
    if (skipped) process.stdout.write(paint("[… output skipped: it came faster than it is followed …]\n", "grey"));
    process.stdout.write(text);
    shown = j[key];
    if (!opts.follow || ENDED.includes(j.state)) {
      if (opts.follow) process.stderr.write(`${paint(`job ${id} ${j.state}${j.exitCode !== null ? ` (exit ${j.exitCode})` : ""}`, stateColour(j.state))}\n`);
      return 0;
    }
    await Bun.sleep(opts.intervalMs ?? 500);
  }
}

/** A job's end as an exit code: its own, 1 when it failed without one (a signal, a limit, lost, cancelled). */
export const exitCodeOf = (j: Pick<JobSummary, "state" | "exitCode">) => (j.state === "completed" ? 0 : j.exitCode && j.exitCode > 0 ? Math.min(j.exitCode, 255) : 1);

/** `drover wait ID…`: until every job has ended; exits with the first non-zero exit code, in the order given. */
export async function waitFor(client: Client, ids: number[], opts: { timeoutMs?: number; quiet: boolean; json: boolean }): Promise<number> {
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const ended = new Map<number, JobSummary>();
  while (ended.size < ids.length) {
    for (const id of ids) {
      if (ended.has(id)) continue;
      const j: JobSummary = await client.request("GET", `/jobs/${id}`);
      if (ENDED.includes(j.state)) {
        ended.set(id, j);
        if (!opts.quiet && !opts.json) process.stderr.write(`${paint(`job ${id} ${j.state}${j.exitCode !== null ? ` (exit ${j.exitCode})` : ""}`, stateColour(j.state))}\n`);
      }
    }
    if (ended.size < ids.length) {
      if (Date.now() > deadline) throw new CliError(`timed out: ${ids.filter((i) => !ended.has(i)).join(", ")} still running`);
      await Bun.sleep(500);
    }
  }
  if (opts.json) printJson(ids.map((i) => ended.get(i)));
  return ids.map((i) => exitCodeOf(ended.get(i)!)).find((c) => c !== 0) ?? 0;
}

/** `drover cancel|hold|release|suspend|resume|requeue ID…`: each job in turn; exit 1 if any was refused. */
export async function act(client: Client, action: string, ids: number[], json: boolean): Promise<number> {
  let failed = 0;
  const done: JobSummary[] = [];
  for (const id of ids) {
    try {
      const j: JobSummary = await client.request("POST", `/jobs/${id}/${action}`);
      done.push(j);
      if (!json) process.stdout.write(`job ${id}: ${action} → ${j.state}\n`);
    } catch (e) {
      failed++;
      process.stderr.write(`drover: job ${id}: ${(e as Error).message}\n`);
    }
  }
  if (json) printJson(done);
  return failed ? 1 : 0;
}

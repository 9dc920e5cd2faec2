import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { invalid, notFound } from "@drover/shared/errors";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { files, jobs, workflowErrors, workflowExecutions, workflowInstances } from "../db/schema.ts";
import { storedPath } from "../files/file-store.ts";
import { cancelJob } from "../jobs/control-job.ts";
import { isTerminal } from "../jobs/states.ts";
import { rowsOf } from "../db/migrate.ts";
import { checkRelativePath, parseWorkflow, shellScriptWorkflow, type Workflow } from "./workflow-file.ts";
import { unpackWorkDirectory } from "./work-directory.ts";

// Workflow executions: started from a work directory (a tar.gz) and a script inside it — a
// workflow file, or a plain shell script as a one-task workflow — run by the engine
// (engine.ts), watched, read and removed here. Users see only their own; admins every one.

export type Execution = typeof workflowExecutions.$inferSelect;

/** Where an execution keeps its files on the controller: DROVER_HOME/workflows/ID/{work,output.txt}. */
export function executionPaths(core: Core, id: string) {
  const dir = join(core.config.home, "workflows", id);
  return { dir, work: join(dir, "work"), output: join(dir, "output.txt") };
}

/** A script is a workflow file when it ends in .yaml or .yml; anything else is run by sh. */
export const isWorkflowFile = (script: string) => /\.ya?ml$/i.test(script);

/**
 * Starts an execution: unpacks the archive (checked entry by entry), finds the script in it and
 * validates the workflow before anything runs. Any refusal leaves nothing behind.
 */
export async function startExecution(core: Core, principal: Principal, opts: { archive: string; script: string; dialect: string }): Promise<Execution> {
  const script = checkRelativePath(opts.script, "script");
  const id = randomUUID();
  const paths = executionPaths(core, id);
  mkdirSync(paths.work, { recursive: true, mode: 0o700 });
  try {
    const workFiles = await unpackWorkDirectory(opts.archive, paths.work, core.config.http.maxBodyBytes * 20);
    if (!workFiles.includes(script)) {
      const shown = workFiles.slice(0, 20).join(", ") + (workFiles.length > 20 ? ", …" : "");
      throw invalid(`The script doesn't exist: ${script} is not a file of the work directory (it holds ${shown || "no files"})`);
    }
    const definition: Workflow = isWorkflowFile(script)
      ? parseWorkflow(readFileSync(join(paths.work, script), "utf8"), workFiles, script)
      : shellScriptWorkflow(script, workFiles);
    const [row] = await core.db.insert(workflowExecutions).values({ id, owner: principal.username, name: definition.name, dialect: opts.dialect, definition }).returning();
    return row!;
  } catch (e) {
    rmSync(paths.dir, { recursive: true, force: true });
    throw e;
  }
}

/** An execution the principal may see; another user's is "not found". */
export async function getExecution(core: Core, principal: Principal, id: string): Promise<Execution> {
  const [row] = await core.db.select().from(workflowExecutions).where(eq(workflowExecutions.id, id));
  if (!row || (principal.role !== "admin" && row.owner !== principal.username)) throw notFound("Execution not found");
  return row;
}

/** The principal's executions (of one dialect), oldest first. */
export async function listExecutions(core: Core, principal: Principal, dialect?: string): Promise<Execution[]> {
  const conditions = [];
  if (principal.role !== "admin") conditions.push(eq(workflowExecutions.owner, principal.username));
  if (dialect) conditions.push(eq(workflowExecutions.dialect, dialect));
  return core.db.select().from(workflowExecutions).where(and(...conditions)).orderBy(asc(workflowExecutions.createdAt));
}

/** Instances of an environment's tasks by where their jobs are, and its errors not handed out yet. */
export interface EnvironmentState {
  name: string;
  submitted: number;
  running: number;
  done: number;
  failed: number;
  errors: { message: string; stackTrace: string; level: string }[];
}

export interface ExecutionState {
  state: "running" | "finished" | "failed" | "cancelled";
  /** instances waiting for a node, running, completed (done) */
  ready: number;
  running: number;
  completed: number;
  environments: EnvironmentState[];
  error: { message: string; stackTrace: string } | null;
}

/**
 * How an execution stands, with the errors of its tasks since the last call (each error is
 * handed out once: this call marks them).
 */
export async function executionState(core: Core, execution: Execution): Promise<ExecutionState> {
  type Row = { task: string; job_state: string; n: number | string; failures: number | string };
  const rows = rowsOf<Row>(
    await core.db.execute(sql`
      select i.task, j.state as job_state, count(*) as n, sum(j.failures) as failures
      from workflow_instances i join jobs j on j.id = i.job_id
      where i.execution = ${execution.id}
      group by i.task, j.state`),
  );
  const envOf = new Map(execution.definition.tasks.map((t) => [t.name, t.environment]));
  const envs = new Map<string, EnvironmentState>();
  const env = (name: string) => {
    if (!envs.has(name)) envs.set(name, { name, submitted: 0, running: 0, done: 0, failed: 0, errors: [] });
    return envs.get(name)!;
  };
  for (const t of execution.definition.tasks) env(t.environment);
  let ready = 0;
  let running = 0;
  let completed = 0;
  for (const r of rows) {
    const e = env(envOf.get(r.task) ?? "local");
    const n = Number(r.n);
    e.failed += Number(r.failures);
    if (r.job_state === "queued" || r.job_state === "dispatching") {
      e.submitted += n;
      ready += n;
    } else if (r.job_state === "running" || r.job_state === "suspended") {
      e.running += n;
      running += n;
    } else if (r.job_state === "completed") {
      e.done += n;
      completed += n;
    } else if (r.job_state !== "cancelled") {
      // failed or lost for good (its failed runs are counted above)
      e.failed += n;
    }
  }
  const errors = await core.db.transaction(async (tx) => {
    const list = await tx.select().from(workflowErrors).where(and(eq(workflowErrors.execution, execution.id), eq(workflowErrors.reported, false))).orderBy(asc(workflowErrors.id)).for("update");
    if (list.length) await tx.update(workflowErrors).set({ reported: true }).where(inArray(workflowErrors.id, list.map((e) => e.id)));
    return list;
  });
  for (const e of errors) env(e.environment).errors.push({ message: e.message, stackTrace: e.stackTrace, level: e.level });
  return { state: execution.state as ExecutionState["state"], ready, running, completed, environments: [...envs.values()], error: execution.error };
}

/** What the execution's tasks printed, in the order they completed, each line marked with its task. */
export function executionOutput(core: Core, execution: Execution): string {
  const { output } = executionPaths(core, execution.id);
  return existsSync(output) ? readFileSync(output, "utf8") : "";
}

/**
 * Removes an execution: its jobs still waiting or running are cancelled (their processes die on
 * their nodes), then its records, its work directory and the files it stored go.
 */
export async function removeExecution(core: Core, principal: Principal, id: string): Promise<void> {
  const execution = await getExecution(core, principal, id);
  // the engine leaves a cancelled execution alone from now on
  await core.db.update(workflowExecutions).set({ state: "cancelled", endedAt: new Date() }).where(and(eq(workflowExecutions.id, id), eq(workflowExecutions.state, "running")));
  await cancelExecutionJobs(core, execution.id);
  const stored = await core.db.transaction(async (tx) => {
    const gone = await tx.delete(files).where(eq(files.execution, id)).returning({ id: files.id });
    await tx.delete(workflowInstances).where(eq(workflowInstances.execution, id));
    await tx.delete(workflowErrors).where(eq(workflowErrors.execution, id));
    await tx.delete(workflowExecutions).where(eq(workflowExecutions.id, id));
    return gone;
  });
  for (const f of stored) rmSync(storedPath(core.config, f.id), { force: true });
  rmSync(executionPaths(core, id).dir, { recursive: true, force: true });
}

/** Cancels every job of the execution that has not ended (as the system, whoever asked). */
export async function cancelExecutionJobs(core: Core, id: string): Promise<void> {
  const open = await core.db.select({ id: jobs.id, state: jobs.state }).from(jobs).where(eq(jobs.workflow, id)).orderBy(desc(jobs.id));
  for (const j of open) {
    if (isTerminal(j.state)) continue;
    await cancelJob(core, { username: "drover", role: "admin" }, j.id).catch(() => undefined); // ended meanwhile
  }
}

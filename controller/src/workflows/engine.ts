import { appendFileSync, copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { DroverError } from "@drover/shared/errors";
import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { rowsOf } from "../db/migrate.ts";
import { recordset } from "../db/recordset.ts";
import { workflowErrors, workflowExecutions, workflowInstances, type JobInputFile, type JobOutputFile } from "../db/schema.ts";
import { storedPath, storeFile } from "../files/file-store.ts";
import { openFromNode } from "../files/job-archive.ts";
import { submitJobs } from "../jobs/submit-job.ts";
import type { JobSpec } from "../jobs/job-spec.ts";
import { ArchiveJob_Format } from "@drover/proto/service";
import { cancelExecutionJobs, executionPaths, type Execution } from "./executions.ts";
import { instanceCount, instancesOf, type WorkflowTask } from "./workflow-file.ts";

const log = logger("workflows");

// The workflow engine: on every turn it moves each running execution on — submits a task's
// instances (as jobs) once the tasks it waits for are done, brings back what completed
// instances left (their outputs into the work directory and the file store, their stdout into
// the execution's output), reports failed runs as errors, and ends the execution, finished or
// failed. Everything it knows is in the database: a restarted controller goes on where it was.

/** Jobs submitted in one transaction. */
const SUBMIT_BATCH = 5_000;
/** Completed instances whose outputs are brought back at once. */
const COLLECT_AT_ONCE = 8;
/** Completed instances taken per turn and execution (the rest on the next turn). */
const COLLECT_PER_TURN = 2_000;
/** What of an instance's stdout goes into the execution's output. */
const OUTPUT_PER_INSTANCE = 1024 * 1024;
/** A job's stdout tail holds all of it when shorter than this (the agent keeps 4 KiB). */
const WHOLE_TAIL_BYTES = 4000;

type Staged = { fileId: string; sha256: string; sizeBytes: number };

/** Starts the engine's turns; returns what stops them (after the turn under way). */
export function startWorkflowEngine(core: Core, intervalMs = 250): { kick(): void; stop(): Promise<void> } {
  let turn: Promise<void> = Promise.resolve();
  let busy = false;
  let again = false;
  let stopped = false;
  const run = () => {
    // (once for the cluster: by the controller that leads, see peers/leadership.ts)
    if (stopped || (core.leadership && !core.leadership.isLeader())) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    turn = advanceAll(core)
      .catch((e) => log.error("workflow turn failed", { error: e }))
      .finally(() => {
        busy = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const timer = setInterval(run, intervalMs);
  return {
    kick: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await turn;
    },
  };
}

/** One turn over every running execution. */
export async function advanceAll(core: Core): Promise<void> {
  const running = await core.db.select().from(workflowExecutions).where(eq(workflowExecutions.state, "running"));
  for (const execution of running) {
    try {
      await advance(core, execution);
    } catch (e) {
      log.error("workflow execution could not advance", { execution: execution.id, error: e });
    }
  }
}

type InstanceRow = {
  task: string;
  index: number;
  job_id: number | string;
  values: unknown;
  failures_reported: number;
  job_state: string;
  failures: number;
  retries: number;
  reason: string | null;
  stderr_tail: string;
  stdout_tail: string;
  node_id: string | null;
  allocated_nodes: unknown;
  attempt: number;
  output_files: unknown;
  scratch_dir: string | null;
  working_directory: string | null;
};

async function advance(core: Core, execution: Execution): Promise<void> {
  const tasks = new Map(execution.definition.tasks.map((t) => [t.name, t]));
  // instances that need something done: their job ended, or a run failed and is retried
  const rows = rowsOf<InstanceRow>(
    await core.db.execute(sql`
      select i.task, i.index, i.job_id, i.values, i.failures_reported, j.state as job_state, j.failures, j.retries, j.reason,
        j.stderr_tail, j.stdout_tail, j.node_id, j.allocated_nodes, j.attempt, j.output_files, j.scratch_dir, j.working_directory
      from workflow_instances i join jobs j on j.id = i.job_id
      where i.execution = ${execution.id} and i.state = 'submitted'
        and (j.state in ('completed', 'failed', 'cancelled', 'lost') or j.failures > i.failures_reported)
      order by j.ended_at nulls last, i.task, i.index
      limit ${COLLECT_PER_TURN}`),
  );

  // failed runs that are retried: an error each, once
  const retried = rows.filter((r) => r.failures > r.failures_reported && r.job_state !== "failed");
  for (const r of retried) {
    const task = tasks.get(r.task)!;
    await addError(core, execution, task, `${label(task, r.index)} failed (${r.reason ?? "it exited badly"}); retry ${r.failures} of ${task.retries}`, r.stderr_tail, "WARNING");
    await core.db
      .update(workflowInstances)
      .set({ failuresReported: r.failures })
      .where(and(eq(workflowInstances.execution, execution.id), eq(workflowInstances.task, r.task), eq(workflowInstances.index, r.index)));
  }

  // an instance that failed for good fails the execution
  const failed = rows.find((r) => ["failed", "lost"].includes(r.job_state) || (r.job_state === "cancelled" && execution.state === "running"));
  if (failed) {
    const task = tasks.get(failed.task)!;
    const message = `${label(task, failed.index)} ${failed.job_state === "cancelled" ? "was cancelled" : `failed: ${failed.reason ?? "it exited badly"}`}`;
    return failExecution(core, execution, task, message, failed.stderr_tail);
  }

  // completed instances: bring back what they left
  const completed = rows.filter((r) => r.job_state === "completed");
  for (let i = 0; i < completed.length; i += COLLECT_AT_ONCE) {
    const results = await Promise.all(completed.slice(i, i + COLLECT_AT_ONCE).map((r) => collect(core, execution, tasks.get(r.task)!, r)));
    const problem = results.find((x) => x !== undefined);
    if (problem) return failExecution(core, execution, problem.task, problem.message, "");
  }

  // tasks whose predecessors are done get their instances; done when every task is
  type Count = { task: string; state: string; n: number | string };
  const counts = rowsOf<Count>(
    await core.db.execute(sql`select task, state, count(*) as n from workflow_instances where execution = ${execution.id} group by task, state`),
  );
  const created = new Map<string, number>();
  const done = new Map<string, number>();
  for (const c of counts) {
    created.set(c.task, (created.get(c.task) ?? 0) + Number(c.n));
    if (c.state === "done") done.set(c.task, Number(c.n));
  }
  const expected = instanceCount;
  const isDone = (t: WorkflowTask) => (done.get(t.name) ?? 0) === expected(t);
  for (const task of execution.definition.tasks) {
    if ((created.get(task.name) ?? 0) >= expected(task)) continue;
    if (!task.after.every((a) => isDone(tasks.get(a)!))) continue;
    await launchTask(core, execution, task);
  }
  if (execution.definition.tasks.every(isDone)) {
    await core.db.update(workflowExecutions).set({ state: "finished", endedAt: new Date() }).where(and(eq(workflowExecutions.id, execution.id), eq(workflowExecutions.state, "running")));
    log.info("workflow finished", { execution: execution.id });
  }
}

const label = (task: WorkflowTask, index: number) => (task.explore ? `task ${task.name}, instance ${index}` : `task ${task.name}`);

async function addError(core: Core, execution: Execution, task: WorkflowTask, message: string, stackTrace: string, level: "SEVERE" | "WARNING"): Promise<void> {
  await core.db.insert(workflowErrors).values({ execution: execution.id, environment: task.environment, message, stackTrace, level });
}

/** The execution fails: the error is recorded (and reported once), what still runs is cancelled. */
async function failExecution(core: Core, execution: Execution, task: WorkflowTask, message: string, stackTrace: string): Promise<void> {
  const [ended] = await core.db
    .update(workflowExecutions)
    .set({ state: "failed", endedAt: new Date(), error: { message, stackTrace } })
    .where(and(eq(workflowExecutions.id, execution.id), eq(workflowExecutions.state, "running")))
    .returning({ id: workflowExecutions.id });
  if (!ended) return;
  await addError(core, execution, task, message, stackTrace, "SEVERE");
  log.info("workflow failed", { execution: execution.id, reason: message });
  await cancelExecutionJobs(core, execution.id);
}

/** Where an instance's files sit in the work directory (and in a later task's directory). */
const placeOf = (task: WorkflowTask, index: number, path: string) => (task.explore ? `${task.name}/${index}/${path}` : path);

/**
 * Brings back what a completed instance left: its outputs (into the file store, for later
 * tasks, and into the work directory) and its stdout (into the execution's output). Returns a
 * problem that fails the execution (a declared output it did not leave); a node that is not
 * connected leaves the instance for a later turn.
 */
async function collect(core: Core, execution: Execution, task: WorkflowTask, r: InstanceRow): Promise<{ task: WorkflowTask; message: string } | undefined> {
  const listed = jsonOf<JobOutputFile[]>(r.output_files);
  const wanted = task.outputs.includes("*") ? listed.map((f) => f.path) : task.outputs;
  const missing = task.outputs.filter((p) => p !== "*" && !listed.some((f) => f.path === p));
  if (missing.length) return { task, message: `${label(task, r.index)} did not leave its output ${missing.join(", ")}` };
  const job = { id: Number(r.job_id), attempt: r.attempt, nodeId: r.node_id, allocatedNodes: jsonOf<{ node: string; cpus: number }[]>(r.allocated_nodes), scratchDir: r.scratch_dir, workingDirectory: r.working_directory };
  const { work, output } = executionPaths(core, execution.id);
  if (!existsSync(work)) return undefined; // removed meanwhile
  const outputs: { path: string; fileId: string; sha256: string; sizeBytes: number }[] = [];
  try {
    for (const path of wanted) {
      const stream = await openFromNode(core, job, { top: "", format: ArchiveJob_Format.FILE, paths: [path], directory: runDirectory(job) });
      const stored = await storeFile(core, execution.owner, path.split("/").pop()!, stream as unknown as AsyncIterable<Uint8Array>, Number.MAX_SAFE_INTEGER, { execution: execution.id });
      const target = join(work, placeOf(task, r.index, path));
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(storedPath(core.config, stored.id), target);
      outputs.push({ path, fileId: stored.id, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
    }
    let printed = r.stdout_tail;
    if (Buffer.byteLength(printed) >= WHOLE_TAIL_BYTES) printed = await readStdout(core, job);
    if (printed) {
      const prefix = task.explore ? `[${task.name}#${r.index}] ` : `[${task.name}] `;
      const lines = printed.replace(/\n$/, "").split("\n").map((l) => prefix + l);
      appendFileSync(output, `${lines.join("\n")}\n`);
    }
  } catch (e) {
    if (e instanceof DroverError && e.kind === "unavailable") return undefined; // its node is away: next turn
    return { task, message: `${label(task, r.index)}: its outputs could not be brought back: ${(e as Error).message}` };
  }
  await core.db
    .update(workflowInstances)
    .set({ state: "done", outputs })
    .where(and(eq(workflowInstances.execution, execution.id), eq(workflowInstances.task, task.name), eq(workflowInstances.index, r.index)));
  return undefined;
}

/** An instance's whole stdout (up to OUTPUT_PER_INSTANCE), from the node that ran it. */
async function readStdout(core: Core, job: Parameters<typeof openFromNode>[1]): Promise<string> {
  const stream = await openFromNode(core, job, { top: "", format: ArchiveJob_Format.FILE, paths: ["stdout"], directory: "" });
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    if (size < OUTPUT_PER_INSTANCE) chunks.push(chunk.subarray(0, OUTPUT_PER_INSTANCE - size));
    size += chunk.byteLength;
  }
  return Buffer.concat(chunks).toString("utf8") + (size > OUTPUT_PER_INSTANCE ? `\n… (${size - OUTPUT_PER_INSTANCE} more bytes)\n` : "");
}

const runDirectory = (job: { scratchDir: string | null; workingDirectory: string | null }) => (job.scratchDir ? `${job.scratchDir}/cwd` : (job.workingDirectory ?? ""));

function jsonOf<T>(v: unknown): T {
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

/** Work directory files copied into the file store for tasks to be sent (once per execution and path). */
async function stageWorkFiles(core: Core, execution: Execution, paths: string[]): Promise<Record<string, Staged>> {
  const [fresh] = await core.db.select({ staged: workflowExecutions.staged }).from(workflowExecutions).where(eq(workflowExecutions.id, execution.id));
  const staged = { ...(fresh?.staged ?? {}) };
  const added: Record<string, Staged> = {};
  const { work } = executionPaths(core, execution.id);
  for (const path of new Set(paths)) {
    if (staged[path]) continue;
    const stored = await storeFile(core, execution.owner, path.split("/").pop()!, Bun.file(join(work, path)).stream() as unknown as AsyncIterable<Uint8Array>, Number.MAX_SAFE_INTEGER, { execution: execution.id });
    staged[path] = added[path] = { fileId: stored.id, sha256: stored.sha256, sizeBytes: stored.sizeBytes };
  }
  if (Object.keys(added).length) {
    await core.db.update(workflowExecutions).set({ staged: sql`${workflowExecutions.staged} || ${JSON.stringify(added)}::jsonb` }).where(eq(workflowExecutions.id, execution.id));
  }
  return staged;
}

/** Submits a task's instances that are not submitted yet, each a job with its values and files. */
async function launchTask(core: Core, execution: Execution, task: WorkflowTask): Promise<void> {
  const tasks = new Map(execution.definition.tasks.map((t) => [t.name, t]));
  const all = instancesOf(task);
  const existing = new Set(
    rowsOf<{ index: number }>(await core.db.execute(sql`select index from workflow_instances where execution = ${execution.id} and task = ${task.name}`)).map((r) => Number(r.index)),
  );
  // the files every instance gets: of the work directory, and what earlier tasks left
  const fileFactors = task.explore?.factors.filter((f) => f.files) ?? [];
  const staged = await stageWorkFiles(core, execution, [...task.inputs.filter((i) => !i.from).map((i) => i.path), ...fileFactors.flatMap((f) => f.values)]);
  const common: JobInputFile[] = task.inputs.filter((i) => !i.from).map((i) => ({ name: i.path, ...staged[i.path]! }));
  for (const input of task.inputs.filter((i) => i.from)) {
    const source = tasks.get(input.from!)!;
    const outputs = rowsOf<{ index: number; outputs: unknown }>(
      await core.db.execute(sql`select index, outputs from workflow_instances where execution = ${execution.id} and task = ${source.name} order by index`),
    );
    for (const o of outputs) {
      for (const f of jsonOf<{ path: string; fileId: string; sha256: string; sizeBytes: number }[]>(o.outputs)) {
        if (input.path !== "*" && f.path !== input.path) continue;
        const name = placeOf(source, Number(o.index), f.path);
        if (!common.some((c) => c.name === name)) common.push({ name, fileId: f.fileId, sha256: f.sha256, sizeBytes: f.sizeBytes });
      }
    }
  }
  const environment = execution.definition.environments[task.environment];
  const specs: { index: number; values: Record<string, string>; spec: JobSpec }[] = [];
  all.forEach((values, index) => {
    if (existing.has(index)) return;
    const own = fileFactors.map((f) => ({ name: values[f.name]!, ...staged[values[f.name]!]! })).filter((f) => !common.some((c) => c.name === f.name));
    specs.push({
      index,
      values,
      spec: {
        name: `${execution.name}/${task.name}${task.explore ? `#${index}` : ""}`.slice(0, 255),
        argv: task.argv,
        environment: { ...task.env, ...values, DROVER_WORKFLOW: execution.id, DROVER_TASK: task.name, DROVER_INSTANCE: String(index) },
        group: execution.id,
        cpus: task.cpus,
        memoryBytes: task.memoryBytes ? Math.ceil(task.memoryBytes / task.cpus) : undefined,
        walltimeMs: task.walltimeMs ?? undefined,
        features: environment?.features ?? [],
        partition: environment?.partition,
        retries: task.retries,
        retryFailures: task.retries > 0,
        inputFiles: [...common, ...own],
        workflow: execution.id,
      },
    });
  });
  const owner = { username: execution.owner, role: "user" as const };
  for (let i = 0; i < specs.length; i += SUBMIT_BATCH) {
    const batch = specs.slice(i, i + SUBMIT_BATCH);
    await submitJobs(core, owner, batch.map((b) => b.spec), {
      alsoRecord: async (tx, submitted) => {
        await tx.execute(sql`
          insert into workflow_instances (execution, task, index, job_id, values)
          select ${execution.id}, ${task.name}, v.index, v.job_id, v.values from ${recordset(
            batch.map((b, k) => ({ index: b.index, job_id: submitted[k]!.id, values: b.values })),
            "index int, job_id bigint, values jsonb",
          )}`);
      },
    });
  }
  log.info("workflow task submitted", { execution: execution.id, task: task.name, instances: specs.length });
}

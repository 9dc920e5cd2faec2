import { and, asc, desc, eq, inArray, isNotNull, isNull, lte, or, sql } from "drizzle-orm";
import { create, ControllerMessageSchema, type ControllerMessage } from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import type { Core } from "../core.ts";
import { jobEvents, jobs, nodes, type Job } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import { openPendingActions } from "../jobs/pending-actions.ts";
import { place, placeInBacklog, type Allocation, type NodeCapacity } from "./placement.ts";
import { nodeUsage } from "../nodes/node-usage.ts";

// Serialises scheduling passes between controllers sharing one Postgres.
const SCHEDULER_LOCK = 7_070_002;
/** How many queued jobs one pass considers at most (fewer when few cpus are free). */
const PASS_SIZE = 1000;
/** How many waiting jobs per pass get their reason brought up to date (the head of the queue). */
const REASON_UPDATES = 20;

/** A queued job with a dependency that has not completed (yet). */
const unmetDependency = sql`exists (select 1 from jsonb_array_elements_text(${jobs.dependsOn}) as d(id) join jobs dep on dep.id = d.id::bigint where dep.state <> 'completed')`;

/** True when the head of the queue has no reason recorded yet (so a full cluster still explains itself). */
async function anyQueuedNeedsReason(tx: Pick<Core["db"], "select">): Promise<boolean> {
  const rows = await tx
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.state, "queued"), isNull(jobs.reason)))
    .limit(1);
  return rows.length > 0;
}

/**
 * The message that starts a job on its master node: the command runs there, with the limits of
 * the master's share, and learns every allocated host (one line per processor, as PBS_NODEFILE).
 */
export function runMessage(job: Job, allocation: Allocation[]): ControllerMessage {
  const master = allocation[0]!;
  return create(ControllerMessageSchema, {
    body: {
      case: "run",
      value: {
        jobId: BigInt(job.id),
        attempt: job.attempt,
        argv: job.argv,
        workingDirectory: job.workingDirectory ?? "",
        environment: job.environment,
        walltimeMs: BigInt(job.walltimeMs ?? 0),
        memoryBytes: BigInt(master.memoryBytes),
        cpus: master.cpus,
        hosts: allocation.flatMap((a) => Array.from({ length: a.cpus }, () => a.node)),
      },
    },
  });
}

/**
 * One scheduling pass: places queued jobs that may run (no holds, start time reached,
 * dependencies completed) on connected nodes with room, highest priority first and FIFO
 * within a priority, and sends them to their agents. Returns how many were dispatched.
 */
export async function schedulePass(core: Core): Promise<number> {
  const connected = core.links.connectedNodeIds();
  const dispatched = await core.db.transaction(async (tx) => {
    // Queries that do not depend on each other are sent together: Postgres runs them in order
    // on the transaction's connection (the lock first), without a round trip between them.
    // (Drizzle queries start when awaited: each is started here, in this order.)
    const locked = tx.execute(sql`select pg_advisory_xact_lock(${SCHEDULER_LOCK})`).then(() => undefined);
    const upNodes = connected.length ? tx.select().from(nodes).where(and(inArray(nodes.id, connected), eq(nodes.state, "up"))).then((r) => r) : Promise.resolve([]);
    const used = connected.length ? nodeUsage(tx, connected) : Promise.resolve(new Map<string, { cpus: number; memoryBytes: number }>());
    const [, up, usage] = await Promise.all([locked, upNodes, used]);
    const capacity: NodeCapacity[] = up.map((n) => ({
      id: n.id,
      freeCpus: n.cores - (usage.get(n.id)?.cpus ?? 0),
      freeMemoryBytes: n.memoryBytes - (usage.get(n.id)?.memoryBytes ?? 0),
      features: n.features,
      cores: n.cores,
      memoryBytes: n.memoryBytes,
    }));

    // processors free now plus those the nodes' backlogs may still promise
    const backlog = core.config.scheduler.nodeBacklog;
    const room = capacity.reduce((sum, n) => sum + Math.max(0, n.freeCpus + Math.floor(n.cores! * backlog)), 0);
    if (room === 0 && !(await anyQueuedNeedsReason(tx))) return [];

    const limit = Math.min(PASS_SIZE, room * 4 + REASON_UPDATES);
    const runnable = and(
      eq(jobs.state, "queued"),
      sql`${jobs.holds} = '[]'::jsonb`,
      or(isNull(jobs.earliestStartAt), lte(jobs.earliestStartAt, new Date(now())), isNotNull(jobs.executeRequestedAt)),
      sql`not ${unmetDependency}`,
    );
    // jobs someone asked to execute (MWS execute) go first; then the queue in index order
    // (jobs_queue_order: priority, then FIFO), read only as far as the pass needs
    const executeFirstQuery = tx
      .select()
      .from(jobs)
      .where(and(runnable, isNotNull(jobs.executeRequestedAt)))
      .orderBy(desc(jobs.priority), asc(jobs.id))
      .limit(limit);
    const queueQuery = tx.select().from(jobs).where(runnable).orderBy(desc(jobs.priority), asc(jobs.id)).limit(limit);

    // jobs held back by dependencies are not candidates; the head of them learns why
    const waitingQuery = tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.state, "queued"), sql`${jobs.holds} = '[]'::jsonb`, sql`${jobs.dependsOn} <> '[]'::jsonb`, sql`${unmetDependency}`))
      .orderBy(desc(jobs.priority), asc(jobs.id))
      .limit(REASON_UPDATES);
    const [executeFirst, queue, waiting] = await Promise.all([executeFirstQuery.then((r) => r), queueQuery.then((r) => r), waitingQuery.then((r) => r)]);
    const first = new Set(executeFirst.map((j) => j.id));
    const candidates = [...executeFirst, ...queue.filter((j) => !first.has(j.id))].slice(0, limit);
    const depIds = [...new Set(waiting.flatMap((j) => j.dependsOn))];
    const depStates = new Map<number, string>();
    if (depIds.length) {
      for (const r of await tx.select({ id: jobs.id, state: jobs.state }).from(jobs).where(inArray(jobs.id, depIds))) {
        depStates.set(r.id, r.state);
      }
    }
    if (candidates.length === 0 && waiting.length === 0) return [];

    const placed: { job: Job; allocation: Allocation[] }[] = [];
    const unplaced: { job: Job; reason: string; backlog: boolean }[] = [];
    for (const job of [...candidates, ...waiting]) {
      const blocking = job.dependsOn.filter((d) => depStates.has(d) && depStates.get(d) !== "completed");
      let reason: string | undefined;
      if (blocking.length) {
        const failed = blocking.filter((d) => ["failed", "cancelled", "lost"].includes(depStates.get(d) ?? ""));
        reason = failed.length
          ? `dependency ${failed.join(", ")} did not complete successfully; this job will not run unless it is released`
          : `waiting for dependencies ${blocking.join(", ")} to complete`;
      } else {
        const result = place(job, capacity);
        if ("allocation" in result) {
          placed.push({ job, allocation: result.allocation });
          continue;
        }
        reason = result.reason;
      }
      unplaced.push({ job, reason, backlog: !blocking.length && !job.backlogReturnedAt });
    }
    // What found no free processors may wait in a busy node's backlog (jobs placed above went
    // first, so a free node is always preferred to a backlog).
    let reasonsWritten = 0;
    for (const { job, reason, backlog: mayWait } of unplaced) {
      const inBacklog = mayWait ? placeInBacklog(job, capacity, backlog) : undefined;
      if (inBacklog) {
        placed.push({ job, allocation: inBacklog.allocation });
        continue;
      }
      if (job.reason !== reason && reasonsWritten < REASON_UPDATES) {
        reasonsWritten++;
        await tx.update(jobs).set({ reason }).where(eq(jobs.id, job.id));
      }
    }

    if (!placed.length) return [];
    // one statement dispatches every placed job (a job taken meanwhile by another controller
    // or cancelled is simply not returned)
    const values = sql.join(
      placed.map(({ job, allocation }) => sql`(${job.id}::bigint, ${allocation[0]!.node}::text, ${JSON.stringify(allocation)}::jsonb)`),
      sql`, `,
    );
    type Dispatched = { id: number | string; attempt: number; argv: unknown; working_directory: string | null; environment: unknown; walltime_ms: number | string | null };
    const updated = rowsOf<Dispatched>(
      await tx.execute(sql`
        update jobs j set state = 'dispatching', node_id = v.node, attempt = j.attempt + 1, allocated_nodes = v.alloc,
          reason = null, cancel_requested_at = null, execute_requested_at = null, requeue_requested_at = null, sister_lost_reason = null
        from (values ${values}) as v(id, node, alloc)
        where j.id = v.id and j.state = 'queued'
        returning j.id, j.attempt, j.argv, j.working_directory, j.environment, j.walltime_ms`),
    );
    const json = <T>(v: unknown) => (typeof v === "string" ? JSON.parse(v) : v) as T;
    // what the run message needs, as stored now (a modification may have come in since the select)
    const fresh = new Map(updated.map((r) => [Number(r.id), r]));
    const sent = placed
      .filter(({ job }) => fresh.has(job.id))
      .map(({ job, allocation }) => {
        const r = fresh.get(job.id)!;
        const row: Job = {
          ...job,
          state: "dispatching",
          nodeId: allocation[0]!.node,
          attempt: r.attempt,
          allocatedNodes: allocation,
          argv: json<string[]>(r.argv),
          workingDirectory: r.working_directory,
          environment: json<Record<string, string>>(r.environment),
          walltimeMs: r.walltime_ms === null ? null : Number(r.walltime_ms),
        };
        return { job: row, allocation };
      });
    if (!sent.length) return [];
    // the audit events and the pending actions go together (no round trip between them)
    const events = tx
      .insert(jobEvents)
      .values(sent.map(({ job, allocation }) => ({ jobId: job.id, kind: "dispatched", data: { node: allocation[0]!.node, attempt: job.attempt, nodes: allocation.map((a) => a.node) } })))
      .then(() => undefined);
    const actions = openPendingActions(
      tx,
      sent.map(({ job, allocation }) => ({ type: "DISPATCH", requester: "drover", jobId: job.id, attempt: job.attempt, hosts: allocation.map((a) => a.node) })),
    );
    await Promise.all([events, actions]);
    return sent;
  });
  for (const { job, allocation } of dispatched) core.links.send(allocation[0]!.node, runMessage(job, allocation));
  return dispatched.length;
}

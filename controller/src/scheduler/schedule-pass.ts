import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { create, ControllerMessageSchema, type ControllerMessage } from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { jobs, type Job, type JobBehaviour, type JobBehaviours, type JobContainer, type JobInputFile } from "../db/schema.ts";
import { anyId, prepared, recordset } from "../db/recordset.ts";
import { recordJobEvents } from "../jobs/job-events.ts";
import { jsonValue, rowsOf } from "../db/migrate.ts";
import type { Allocation, NodeCapacity } from "./placement.ts";
import { NEVER_RUNNABLE, planQueue, type PlanJob } from "./queue-plan.ts";
import { isDraining } from "./drain.ts";
import { recordWarnings } from "./warnings.ts";
import { readAclExtras, readAllocations, readNodes, readPlanReservations, readRunnable, readRunningByQos, readUnixUsers, readWaitingOnDependencies, type Candidate } from "./queue-reads.ts";
import { admission } from "../reservations/acl.ts";
import { backlogFactor } from "./backlog.ts";
import { SCHEDULER_LOCK } from "./lock.ts";
import type { Dispatch } from "../peers/peers.ts";

const log = logger("scheduler");

/**
 * How many queued jobs one pass considers at most (fewer when few cpus are free). Each pass reads
 * what every running job holds: on a large cluster with room, fewer larger passes place faster
 * (over 10,000 nodes, 1,000 a pass placed 630 jobs/s, 5,000 a median 3,832/s, 10,000 4,556-5,802/s).
 */
export const PASS_SIZE = 10_000;
/** How many waiting jobs per pass get their reason brought up to date (the head of the queue). */
const REASON_UPDATES = 20;
/** How far down the queue a pass looks for jobs that may start behind one that waits. */
const BACKFILL_DEPTH = 200;


/** True when the head of the queue has no reason recorded yet (so a full cluster still explains itself). */
async function anyQueuedNeedsReason(tx: Pick<Core["db"], "select">): Promise<boolean> {
  const rows = await tx
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.state, "queued"), isNull(jobs.reason)))
    .limit(1);
  return rows.length > 0;
}

/** What a run message needs of a job, as stored when it was dispatched. */
export type DispatchedJob = Pick<
  Job,
  "id" | "attempt" | "argv" | "workingDirectory" | "environment" | "walltimeMs" | "priority" | "queuePosition" | "walltimeEnforced" | "behaviours" | "scratchDir" | "scratchBase" | "scratchHome" | "container" | "inputFiles" | "app" | "workflow"
  | "stdoutFile" | "stderrFile" | "loginEnvironment" | "gres"
> & {
  /** the Unix account it runs as on a root agent: its owner's mapped account, else the owner's name */
  unixUser: string;
  /** an administrator mapped its owner to root (users.unix_user): only then may it run as root */
  rootAllowed: boolean;
};

/** A dispatched job as the dispatch statement returns it (see DISPATCHED_COLUMNS). */
export type DispatchedRow = {
  id: number | string; attempt: number; argv: unknown; working_directory: string | null; environment: unknown; walltime_ms: number | string | null;
  priority: number; queue_position: number | string; walltime_enforced: boolean; behaviours: unknown; scratch_dir: string | null; scratch_base: string | null; scratch_home: boolean; container: unknown;
  input_files: unknown;
  app: string | null;
  workflow: string | null;
  owner: string;
  stdout_file: string | null;
  stderr_file: string | null;
  login_environment: boolean;
  gres: unknown;
};

/** What the run message needs of a job, as the dispatch statement returns it. */
export const DISPATCHED_COLUMNS = sql.raw(`j.id, j.attempt, j.argv, j.working_directory, j.environment, j.walltime_ms, j.priority, j.queue_position, j.walltime_enforced, j.behaviours,
  j.scratch_dir, j.scratch_base, j.scratch_home, j.container, j.input_files, j.app, j.workflow,
  j.owner, j.stdout_file, j.stderr_file, j.login_environment, j.gres`);

/** The job of a run message, from its row; unixUsers: the accounts administrators mapped users to. */
export function dispatchedJobOf(r: DispatchedRow, unixUsers: Map<string, string>): DispatchedJob {
  return {
    id: Number(r.id),
    attempt: r.attempt,
    argv: jsonValue<string[]>(r.argv),
    workingDirectory: r.working_directory,
    environment: jsonValue<Record<string, string>>(r.environment),
    walltimeMs: r.walltime_ms === null ? null : Number(r.walltime_ms),
    priority: r.priority,
    queuePosition: Number(r.queue_position),
    walltimeEnforced: r.walltime_enforced,
    behaviours: jsonValue<JobBehaviours>(r.behaviours),
    scratchDir: r.scratch_dir,
    scratchBase: r.scratch_base,
    scratchHome: r.scratch_home,
    container: r.container === null ? null : jsonValue<JobContainer>(r.container),
    inputFiles: jsonValue<JobInputFile[]>(r.input_files),
    app: r.app,
    workflow: r.workflow,
    unixUser: unixUsers.get(r.owner) ?? r.owner,
    rootAllowed: unixUsers.get(r.owner) === "root",
    stdoutFile: r.stdout_file,
    stderrFile: r.stderr_file,
    loginEnvironment: r.login_environment,
    gres: jsonValue<Record<string, number>>(r.gres),
  };
}

const behaviourList = (list: JobBehaviour[] | undefined) =>
  (list ?? []).map((b) => ({ kind: "run" in b ? { case: "run" as const, value: b.run } : { case: "cleanup" as const, value: true } }));

/**
 * The message that starts a job on its master node: the command runs there, with the limits of
 * the master's share, and learns every allocated host (one line per processor, as PBS_NODEFILE).
 * A job with a directory of its own runs in its "cwd", with TMPDIR its "tmp" (and HOME its
 * "cwd" when asked).
 */
export function runMessage(job: DispatchedJob, allocation: Allocation[]): ControllerMessage {
  const master = allocation[0]!;
  const scratch = job.scratchDir;
  const environment = scratch ? { ...job.environment, TMPDIR: `${scratch}/tmp`, ...(job.scratchHome ? { HOME: `${scratch}/cwd` } : {}) } : job.environment;
  return create(ControllerMessageSchema, {
    body: {
      case: "run",
      value: {
        jobId: BigInt(job.id),
        attempt: job.attempt,
        argv: job.argv,
        workingDirectory: scratch ? `${scratch}/cwd` : (job.workingDirectory ?? ""),
        environment,
        // a walltime that only plans the queue (wr's time) does not stop the job
        walltimeMs: BigInt(job.walltimeEnforced ? (job.walltimeMs ?? 0) : 0),
        memoryBytes: BigInt(master.memoryBytes),
        cpus: master.cpus,
        hosts: allocation.flatMap((a) => Array.from({ length: Math.max(a.cpus, 1) }, () => a.node)),
        priority: job.priority,
        queuePosition: BigInt(job.queuePosition),
        scratchDir: scratch ?? "",
        scratchBase: job.scratchBase ?? "",
        onSuccess: behaviourList(job.behaviours.onSuccess),
        onFailure: behaviourList(job.behaviours.onFailure),
        onExit: behaviourList(job.behaviours.onExit),
        container: job.container ? { runtime: job.container.runtime, image: job.container.image, mounts: job.container.mounts } : undefined,
        inputs: job.inputFiles.map((f) => ({ name: f.name, sha256: f.sha256, sizeBytes: BigInt(f.sizeBytes) })),
        writeRunScript: job.app !== null,
        // what an app's or a workflow task's run generates is its result (MDWorkbench's result; outputs a workflow brings back)
        listOutputs: job.app !== null || job.workflow !== null,
        unixUser: job.unixUser,
        rootAllowed: job.rootAllowed,
        stdoutFile: job.stdoutFile ?? "",
        stderrFile: job.stderrFile ?? "",
        loginEnvironment: job.loginEnvironment,
        gres: job.gres,
      },
    },
  });
}

/**
 * One scheduling pass: walks queued jobs that may run (no holds, start time reached,
 * dependencies completed) in queue order — highest priority first, FIFO within a priority —
 * and places them on connected nodes with room (EASY backfill, see queue-plan.ts), then sends
 * them to their agents. Returns how many were dispatched.
 * writeReasons: false leaves the reasons why jobs wait as they are; backfill: false skips the
 * look further down the queue for jobs that may start behind a waiting one (see Scheduler).
 */
export async function schedulePass(core: Core, opts: { writeReasons?: boolean; backfill?: boolean } = {}): Promise<number> {
  const connected = new Set(core.links.connectedNodeIds());
  // nodes whose streams other live controllers hold are placed on too (see peers/peers.ts)
  const peers = core.peers;
  const reachable = (n: { id: string; controllerId: string | null }) => connected.has(n.id) || (!!peers && peers.holdsElsewhere(n.controllerId));
  const at = new Date(now());
  const dispatched = await core.db.transaction(async (tx) => {
    // Queries that do not depend on each other are sent together: Postgres runs them in order
    // on the transaction's connection (the lock first), without a round trip between them.
    // (A drizzle query starts when .then is called on it, the reads of queue-reads.ts when
    // called: each is started here, in this order.)
    const locked = tx.execute(prepared(sql`select pg_advisory_xact_lock(${SCHEDULER_LOCK})`)).then(() => undefined);
    // With no job queued a pass has nothing to place and no reason to write: it ends before it
    // reads what the nodes hold, which costs as much as the jobs on nodes are many (100,000
    // running: half a second of Postgres), and every start and end of a job asks for a pass.
    const queued = tx.execute(prepared(sql`select exists (select 1 from jobs where state = 'queued') as any`));
    const [, anyQueued] = await Promise.all([locked, queued]);
    if (!rowsOf<{ any: boolean }>(anyQueued)[0]?.any) return [];
    // (with no node to place on, what the nodes hold need not be read)
    const anyNodes = connected.size > 0 || (peers?.othersAlive ?? false);
    // QoS levels that limit their users' running jobs (only then are those counted)
    const qosLimits = new Map([...(core.queues?.current().qos.values() ?? [])].filter((q) => q.maxRunningPerUser !== null).map((q) => [q.name, q.maxRunningPerUser!]));
    const [draining, registered, releases, unixUsers, runningByQos, liveReservations] = await Promise.all([
      isDraining(tx), core.nodeCache ? core.nodeCache.get(tx) : readNodes(tx), anyNodes ? readAllocations(tx, at) : Promise.resolve([]), anyNodes ? readUnixUsers(tx) : Promise.resolve(new Map<string, string>()),
      anyNodes && qosLimits.size ? readRunningByQos(tx) : Promise.resolve(new Map<string, number>()),
      readPlanReservations(tx, at),
    ]);
    // draining (an administrator's switch): nothing new starts; running jobs finish
    if (draining) return [];
    const usage = new Map<string, { cpus: number; memoryBytes: number; gres: Record<string, number> }>();
    for (const r of releases) {
      const u = usage.get(r.node) ?? { cpus: 0, memoryBytes: 0, gres: {} };
      u.cpus += r.cpus;
      u.memoryBytes += r.memoryBytes;
      for (const [k, v] of Object.entries(r.gres ?? {})) u.gres[k] = (u.gres[k] ?? 0) + v;
      usage.set(r.node, u);
    }
    const capacity: NodeCapacity[] = registered
      .filter((n) => n.state === "up" && reachable(n))
      .map((n) => ({
        id: n.id,
        freeCpus: n.cores - (usage.get(n.id)?.cpus ?? 0),
        freeMemoryBytes: n.memoryBytes - (usage.get(n.id)?.memoryBytes ?? 0),
        features: n.features,
        partition: n.partition,
        arch: n.arch,
        os: n.os,
        freeDiskBytes: n.availableDiskBytes ?? undefined,
        freeSwapBytes: n.availableSwapBytes ?? undefined,
        freeGres: Object.fromEntries(Object.entries(n.gres).map(([k, v]) => [k, v - (usage.get(n.id)?.gres[k] ?? 0)])),
        cores: n.cores,
        memoryBytes: n.memoryBytes,
        backlogFactor: backlogFactor(core.config.scheduler, n.cores, core.links.endsPerSecond(n.id)),
      }));

    // processors free now plus those the nodes' backlogs may still promise
    const room = capacity.reduce((sum, n) => sum + Math.max(0, n.freeCpus + Math.floor(n.cores! * n.backlogFactor!)), 0);
    // (no room: this pass could only say why jobs wait, which is written at most once a second)
    if (room === 0 && (opts.writeReasons === false || !(await anyQueuedNeedsReason(tx)))) return [];

    // as many again as there is room for, for jobs that turn out not to fit anywhere
    const limit = Math.min(PASS_SIZE, room * 2 + REASON_UPDATES);
    // The queue is walked in jobs_queue_order, as far as the pass needs. Postgres's statistics
    // lag behind a large submission (it would then read and sort every queued job), so for
    // these three queries it is asked not to choose a bitmap scan and a sort instead.
    const indexWalk = (on: boolean) => tx.execute(prepared(sql`select set_config('enable_bitmapscan', ${on ? "on" : "off"}, true), set_config('enable_sort', ${on ? "on" : "off"}, true)`)).then(() => undefined);
    // jobs someone asked to execute (MWS execute) go first; then the queue in index order
    // (jobs_queue_order: priority, then queue position), read only as far as the pass needs; jobs held
    // back by dependencies are not candidates, but the head of them learns why
    const readQueue = async (depth: number, withWaiting: boolean) => {
      const [, executeFirst, queue, waiting] = await Promise.all([
        indexWalk(false),
        readRunnable(tx, { executeFirst: true, at, limit: depth }),
        readRunnable(tx, { executeFirst: false, at, limit: depth }),
        withWaiting ? readWaitingOnDependencies(tx, REASON_UPDATES) : Promise.resolve([]),
        indexWalk(true),
      ]);
      const first = new Set(executeFirst.map((j) => j.id));
      return { candidates: [...executeFirst, ...queue.filter((j) => !first.has(j.id))].slice(0, depth), waiting, more: queue.length === depth };
    };
    const read = await readQueue(limit, true);
    let candidates = read.candidates;
    const waiting = read.waiting;
    const depIds = [...new Set(waiting.flatMap((j) => j.dependsOn))];
    const depStates = new Map<number, string>();
    if (depIds.length) {
      for (const r of await tx.select({ id: jobs.id, state: jobs.state }).from(jobs).where(inArray(jobs.id, depIds))) {
        depStates.set(r.id, r.state);
      }
    }
    if (candidates.length === 0 && waiting.length === 0) return [];

    // which reservations admit each candidate (by their ACL rules), when there are any
    const admittedTo = async (list: Candidate[]) => {
      const admitted = new Map<number, Map<string, string>>();
      if (!liveReservations.length) return admitted;
      const extras = await readAclExtras(tx, list.map((j) => j.id));
      for (const j of list) {
        const subject = { ...j, groups: extras.get(j.id)?.groups ?? [], templates: extras.get(j.id)?.templates ?? [] };
        const m = new Map<string, string>();
        for (const r of liveReservations) {
          if (r.singleUse && r.usedByJob !== null) continue;
          const affinity = admission(r, subject);
          if (affinity) m.set(r.id, affinity);
        }
        if (m.size) admitted.set(j.id, m);
      }
      return admitted;
    };
    const plan = async (list: Candidate[]) => {
      const admitted = await admittedTo(list);
      const nodesNow = capacity.map((n) => ({ ...n }));
      const decisions = planQueue(
        list.map((j) => ({
          id: j.id,
          cpus: j.cpus,
          memoryBytes: j.memoryBytes,
          hosts: j.hosts,
          features: j.features,
          partition: j.partition,
          tasksPerNode: j.tasksPerNode,
          walltimeMs: j.walltimeMs,
          diskBytes: j.diskBytes,
          swapBytes: j.swapBytes,
          arch: j.arch,
          os: j.os,
          owner: j.owner,
          nodeAccess: j.nodeAccess as PlanJob["nodeAccess"],
          gres: j.gres,
          runLimit: j.qos && qosLimits.has(j.qos) ? { key: `${j.owner}\0${j.qos}`, max: qosLimits.get(j.qos)!, what: `QoS ${j.qos}` } : undefined,
          mayWaitInBacklog: !j.backlogReturnedAt,
          admitted: admitted.get(j.id),
          reservation: j.reservationRequested,
        })),
        nodesNow,
        releases,
        registered,
        at.getTime(),
        { reasons: REASON_UPDATES, running: runningByQos, reservations: liveReservations },
      );
      return { decisions, freeLeft: nodesNow.some((n) => n.freeCpus > 0) };
    };
    let planned = await plan(candidates);
    // A job waits at the head while processors are free: jobs further down may start ahead of
    // it (backfill), so the pass looks deeper down the queue (when the scheduler asks it to: at
    // most once a second, as Slurm and Moab run their backfill scans apart from the main pass).
    if (opts.backfill !== false && read.more && limit < BACKFILL_DEPTH && planned.freeLeft && planned.decisions.some((d) => "reason" in d)) {
      candidates = (await readQueue(BACKFILL_DEPTH, false)).candidates;
      planned = await plan(candidates);
    }
    const decisions = planned.decisions;
    const byId = new Map(candidates.map((j) => [j.id, j]));
    const placed: { job: Candidate; allocation: Allocation[]; reservation?: string }[] = [];
    const unplaced: { job: Candidate; reason: string; plannedStart: number | null }[] = [];
    // the waiting head of the queue that jobs behind it overtook in this pass (its bypass count)
    const bypassed = decisions.find((d): d is Extract<typeof d, { reason: string }> => "reason" in d && !!d.bypassed);
    for (const d of decisions) {
      const job = byId.get(d.job.id)!;
      if ("placed" in d && d.placed.length) placed.push({ job, allocation: d.placed, reservation: d.reservation });
      else if ("placed" in d) {
        // never reached by a correct plan; one job must not stop every pass (and so the queue)
        log.error("the plan placed a job on no node: it stays queued", { job: job.id, cpus: job.cpus });
        unplaced.push({ job, reason: "waiting: the scheduler could not place it on any node (see the controller's log)", plannedStart: null });
      } else unplaced.push({ job, reason: d.reason, plannedStart: d.plannedStart });
    }
    for (const job of waiting) {
      const blocking = job.dependsOn.filter((d) => depStates.has(d) && depStates.get(d) !== "completed");
      if (!blocking.length && job.afterGroups.length) {
        const groups = job.afterGroups.join(", ");
        unplaced.push({ job, reason: `waiting for the jobs of dependency group${job.afterGroups.length > 1 ? "s" : ""} ${groups} to complete`, plannedStart: null });
        continue;
      }
      if (!blocking.length) continue;
      const failed = blocking.filter((d) => ["failed", "cancelled", "lost"].includes(depStates.get(d) ?? ""));
      const reason = failed.length
        ? `dependency ${failed.join(", ")} did not complete successfully; this job will not run unless it is released`
        : `waiting for dependencies ${blocking.join(", ")} to complete`;
      unplaced.push({ job, reason, plannedStart: null });
    }
    const reasons: { id: number; reason: string; planned: string | null }[] = [];
    const warnings: string[] = [];
    for (const { job, reason, plannedStart } of unplaced) {
      const planned = plannedStart === null ? null : new Date(plannedStart).toISOString();
      const changed = job.reason !== reason || (job.plannedStartAt?.toISOString() ?? null) !== planned;
      if (changed && reasons.length < REASON_UPDATES && opts.writeReasons !== false) {
        reasons.push({ id: job.id, reason, planned });
        if (reason.startsWith(NEVER_RUNNABLE)) warnings.push(`job ${job.id}: ${reason}`);
      }
    }
    const warned = recordWarnings(tx, warnings);
    // why the head of the queue waits, and when the first of it is planned to start, in one
    // statement (sent with the dispatch below)
    const reasonsWritten = reasons.length
      ? tx.execute(prepared(sql`
          update jobs j set reason = v.reason, planned_start_at = v.planned from ${recordset(reasons, "id bigint, reason text, planned timestamptz")}
          where j.id = v.id and ${anyId("j.id", reasons.map((r) => r.id))} and j.state = 'queued'`)).then(() => undefined)
      : Promise.resolve();
    const bypassWritten = bypassed
      ? tx.execute(sql`update jobs set bypass = bypass + ${bypassed.bypassed!}::int where id = ${bypassed.job.id} and state = 'queued'`).then(() => undefined)
      : Promise.resolve();

    if (!placed.length) {
      await Promise.all([reasonsWritten, warned]);
      return [];
    }
    // one statement dispatches every placed job (a job taken meanwhile by another controller
    // or cancelled is simply not returned)
    // A job that asked for a directory of its own gets one per run, under its base, named
    // after its identity (or id) as wr names them: BASE/drover_cwd/a/b/c/rest.ID.ATTEMPT
    const dispatchedRows = tx.execute(prepared(sql`
        update jobs j set state = 'dispatching', node_id = v.node, attempt = j.attempt + 1, allocated_nodes = v.alloc, dispatched_at = now(), reservation_id = v.rsv,
          reason = null, planned_start_at = null, cancel_requested_at = null, execute_requested_at = null, requeue_requested_at = null, sister_lost_reason = null,
          scratch_dir = case when j.scratch_base is null then null else
            rtrim(j.scratch_base, '/') || '/drover_cwd/' || substr(coalesce(j.identity, md5(j.id::text)), 1, 1) || '/' || substr(coalesce(j.identity, md5(j.id::text)), 2, 1)
            || '/' || substr(coalesce(j.identity, md5(j.id::text)), 3, 1) || '/' || substr(coalesce(j.identity, md5(j.id::text)), 4) || '.' || j.id || '.' || (j.attempt + 1) end
        from ${recordset(
          placed.map(({ job, allocation, reservation }) => ({ id: job.id, node: allocation[0]!.node, alloc: allocation, rsv: reservation ?? null })),
          "id bigint, node text, alloc jsonb, rsv text",
        )}
        where j.id = v.id and ${anyId("j.id", placed.map(({ job }) => job.id))} and j.state = 'queued'
        returning ${DISPATCHED_COLUMNS}`));
    const [, , , result] = await Promise.all([reasonsWritten, warned, bypassWritten, dispatchedRows.then((r) => r)]);
    const updated = rowsOf<DispatchedRow>(result);
    // what the run message needs, as stored now (a modification may have come in since the select)
    const fresh = new Map(updated.map((r) => [Number(r.id), r]));
    const sent = placed
      .filter(({ job }) => fresh.has(job.id))
      .map(({ job, allocation }) => {
        const row = dispatchedJobOf(fresh.get(job.id)!, unixUsers);
        return { job: row, allocation };
      });
    if (!sent.length) return [];
    // a SINGLEUSE reservation is its first job's (released when that job ends: see reservations/upkeep.ts)
    const inReservations = placed.filter((p) => p.reservation && fresh.has(p.job.id));
    if (inReservations.length) {
      await tx.execute(sql`
        update reservations r set used_by_job = v.id from ${recordset(inReservations.map((p) => ({ id: p.job.id, rsv: p.reservation })), "id bigint, rsv text")}
        where r.id = v.rsv and r.used_by_job is null and r.flags ? 'SINGLEUSE'`);
    }
    // Jobs for nodes whose streams other controllers hold reach them through those: told in
    // this transaction (the note leaves when it commits). The nodes' rows are read under a share
    // lock, so a node that registers elsewhere meanwhile waits for this dispatch and then
    // releases what its agent never got (see reconcileNode).
    const here = new Set(sent.filter(({ allocation }) => connected.has(allocation[0]!.node)).map(({ job }) => job.id));
    if (peers && here.size < sent.length) {
      const away = sent.filter(({ job }) => !here.has(job.id));
      const nodeIds = [...new Set(away.map(({ allocation }) => allocation[0]!.node))];
      const holders = new Map(
        rowsOf<{ id: string; controller_id: string | null }>(await tx.execute(sql`select id, controller_id from nodes where id = any(${`{${nodeIds.map((n) => JSON.stringify(n)).join(",")}}`}::text[]) order by id for share`)).map((r) => [r.id, r.controller_id ?? ""]),
      );
      const dispatches: Dispatch[] = [];
      for (const { job, allocation } of away) {
        const node = allocation[0]!.node;
        // (a node that came to this controller during the pass is sent to from here)
        if (holders.get(node) === peers.me.id) here.add(job.id);
        else dispatches.push([job.id, job.attempt, node]);
      }
      await peers.notifyRuns(tx, holders, dispatches);
    }
    // (while a job is dispatching, its DISPATCH is listed as a pending action: see pending-actions.ts)
    await recordJobEvents(
      tx,
      sent.map(({ job, allocation }) => ({ jobId: job.id, kind: "dispatched", data: { node: allocation[0]!.node, attempt: job.attempt, nodes: allocation.map((a) => a.node) } })),
    );
    return sent.map((d) => ({ ...d, here: here.has(d.job.id) }));
  });
  for (const { job, allocation, here } of dispatched) if (here) core.links.send(allocation[0]!.node, runMessage(job, allocation));
  if (dispatched.length) core.metrics?.dispatches.inc(dispatched.length);
  return dispatched.length;
}

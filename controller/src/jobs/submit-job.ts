import { inArray } from "drizzle-orm";
import { forbidden, invalid } from "@drover/shared/errors";
import { findUser } from "../users/users.ts";
import type { Principal } from "../auth/principal.ts";
import { mayActOn } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { sql } from "drizzle-orm";
import { jobs, type Job, type NewJob } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import { prepared } from "../db/recordset.ts";
import { checkJobSpec, deriveJobSpec, type JobSpec } from "./job-spec.ts";
import { recordJobEvent, type Tx } from "./job-events.ts";
import { planWithTemplates, type PlannedJob } from "./job-templates.ts";
import { applyLearning, learnedUsage } from "./learning.ts";
import { addCallbacks } from "./callbacks.ts";
import { checkMailRequest } from "./mailer.ts";
import { applyQueue } from "./queues.ts";
import { checkReservationsRequested } from "../reservations/requested.ts";
import { readNodes, type PlacedNode } from "../scheduler/queue-reads.ts";
import type { NodeCache } from "../scheduler/node-cache.ts";
import { NEVER_RUNNABLE, neverRunnable } from "../scheduler/queue-plan.ts";
import { Batches, type Batched } from "./submission-batches.ts";

/**
 * Whose jobs a submission makes: the caller's, unless an administrator submits for another
 * existing user (MWS proxy-user / user). Users cannot submit as others.
 */
export async function submitterFor(core: Core, principal: Principal, owner: string): Promise<Principal> {
  if (owner === principal.username) return principal;
  if (principal.role !== "admin") throw forbidden(`Only an administrator may submit jobs for another user ("${owner}")`);
  const target = await findUser(core.db, owner);
  if (!target) throw invalid(`User "${owner}" does not exist; create it first (POST /auth/users)`);
  return { username: target.username, role: principal.role };
}

/**
 * A job as its submission stored it. existing: an identical job was already there (same
 * identity, not complete) and nothing was added; skipped: an identical job already completed,
 * nothing was added (unless asked to run it again).
 */
export type SubmittedJob = Pick<Job, "id"> & { existing?: boolean; skipped?: boolean; row?: Job };

export interface SubmitOptions {
  /** jobs with an identity are added only when no identical job of the owner is incomplete (wr) */
  dedupeByIdentity?: boolean;
  /** with dedupeByIdentity: an identical job that completed is added again (wr rerun) */
  rerun?: boolean;
  /** each answer carries the job's row as the submission left it (before any scheduling pass) */
  readBack?: boolean;
  /** records what goes with the jobs in the submission's transaction: all is stored or none */
  alsoRecord?: (tx: Tx, submitted: SubmittedJob[]) => Promise<void>;
  /**
   * a job no registered node could ever run is stored all the same, to wait (with the reason and
   * a scheduler warning) for nodes that can: wr's way; otherwise it is refused, as Moab does
   */
  acceptUnrunnable?: boolean;
}

/** Queues one job for the principal and asks the scheduler to look at it. */
export async function submitJob(core: Core, principal: Principal, spec: JobSpec): Promise<SubmittedJob> {
  return (await submitJobs(core, principal, [spec]))[0]!;
}

/** Queues several jobs in one transaction: all are stored or none. Returns them in the order given. */
export async function submitJobs(core: Core, principal: Principal, requested: JobSpec[], opts: SubmitOptions = {}): Promise<SubmittedJob[]> {
  const queues = core.queues?.current();
  const specs = requested.map(deriveJobSpec).map((s) => (queues ? applyQueue(queues, principal.username, s) : s)).map((s) => {
    // mail: known events, addresses, and a mail server (ALL becomes each event)
    const mail = checkMailRequest(core.config, s.mailEvents, s.mailTo);
    return mail ? { ...s, mailEvents: mail.events, mailTo: mail.to } : { ...s, mailEvents: undefined, mailTo: undefined };
  });
  const withTemplates = specs.some((s) => s.templates?.length);
  // without templates every spec is complete now; with them, once the templates are applied
  if (!withTemplates) specs.forEach(checkJobSpec);
  // plain submissions arriving together are stored together (submission-batches.ts)
  const together = core.submissions && !withTemplates && !opts.dedupeByIdentity && !opts.alsoRecord && !opts.readBack;
  const created = together
    ? await core.submissions!.add({ principal, specs, acceptUnrunnable: !!opts.acceptUnrunnable })
    : await submitAlone(core, principal, specs, opts);
  core.kick();
  core.metrics?.submissions.inc(created.filter((c) => !c.existing && !c.skipped).length);
  return created;
}

/** One submission in its own transaction. */
async function submitAlone(core: Core, principal: Principal, specs: JobSpec[], opts: SubmitOptions): Promise<SubmittedJob[]> {
  return core.db.transaction(async (tx) => {
    await checkSubmission(tx, core, principal, specs, !!opts.acceptUnrunnable);
    if (specs.some((s) => s.templates?.length)) {
      const rows: SubmittedJob[] = [];
      for (const spec of specs) rows.push(await insertPlanned(tx, principal, await planWithTemplates(tx, spec, spec.templates ?? [])));
      return rows;
    }
    const learnedSpecs = await withLearning(tx, principal, specs);
    const answer = opts.dedupeByIdentity ? await insertNewIdentities(tx, principal, learnedSpecs, !!opts.rerun) : await insertJobs(tx, learnedSpecs.map((s) => jobRow(principal, s)));
    // callbacks are recorded with their jobs (a job added anew only)
    await addCallbacks(tx, learnedSpecs.flatMap((s, i) => (s.statusLocation && !answer[i]!.existing && !answer[i]!.skipped ? [{ jobId: answer[i]!.id, url: s.statusLocation }] : [])));
    // what the caller records with the jobs, in the same transaction (a workflow's instances)
    if (opts.alsoRecord) await opts.alsoRecord(tx, answer);
    if (!opts.readBack) return answer;
    const rows = new Map((await tx.select().from(jobs).where(inArray(jobs.id, [...new Set(answer.map((a) => a.id))]))).map((r) => [r.id, r]));
    return answer.map((a) => ({ ...a, row: rows.get(a.id) }));
  });
}

/** A plain submission waiting to be stored with others (no templates, identities or read-back). */
export interface PlainSubmission {
  principal: Principal;
  specs: JobSpec[];
  acceptUnrunnable: boolean;
}

/** The controller's batches of plain submissions (see submission-batches.ts). */
export function submissionBatches(core: Core): Batches<PlainSubmission, SubmittedJob[]> {
  return new Batches((batch) => storeTogether(core, batch), (s) => s.specs.length);
}

/**
 * Stores a batch of submissions: each is checked on its own (a refusal refuses only its own
 * submission), then every job of those accepted is inserted by one statement. Should that
 * statement fail, each submission is tried again alone, so that it fails only the one at fault.
 */
async function storeTogether(core: Core, batch: Batched<PlainSubmission, SubmittedJob[]>[]): Promise<void> {
  const accepted: { member: Batched<PlainSubmission, SubmittedJob[]>; specs: JobSpec[] }[] = [];
  for (const member of batch) {
    const { principal, specs, acceptUnrunnable } = member.item;
    try {
      await checkSubmission(core.db, core, principal, specs, acceptUnrunnable);
      accepted.push({ member, specs: await withLearning(core.db, principal, specs) });
    } catch (e) {
      member.reject(e);
    }
  }
  if (!accepted.length) return;
  const rows = accepted.flatMap((a) => a.specs.map((s) => jobRow(a.member.item.principal, s)));
  const callbacks = accepted.flatMap((a) => a.specs.map((s) => s.statusLocation));
  let ids: SubmittedJob[];
  try {
    // (one statement is atomic by itself; with callbacks to record too, a transaction)
    ids = callbacks.some(Boolean)
      ? await core.db.transaction(async (tx) => {
          const answer = await insertJobs(tx, rows);
          await addCallbacks(tx, answer.flatMap((a, i) => (callbacks[i] ? [{ jobId: a.id, url: callbacks[i]! }] : [])));
          return answer;
        })
      : await insertJobs(core.db, rows);
  } catch (e) {
    if (accepted.length === 1) return accepted[0]!.member.reject(e);
    await Promise.all(accepted.map(({ member: m }) => submitAlone(core, m.item.principal, m.item.specs, { acceptUnrunnable: m.item.acceptUnrunnable }).then(m.resolve, m.reject)));
    return;
  }
  let at = 0;
  for (const a of accepted) {
    a.member.resolve(ids.slice(at, at + a.specs.length));
    at += a.specs.length;
  }
}

/** What a submission is checked for before anything of it is stored (each throws a 4xx saying why). */
async function checkSubmission(tx: Tx, core: Core, principal: Principal, specs: JobSpec[], acceptUnrunnable: boolean): Promise<void> {
  const deps = [...new Set(specs.flatMap((s) => s.dependsOn ?? []))];
  if (deps.length) {
    const found = await tx.select({ id: jobs.id, owner: jobs.owner }).from(jobs).where(inArray(jobs.id, deps));
    const visible = new Set(found.filter((j) => mayActOn(principal, j.owner)).map((j) => j.id));
    const missing = deps.filter((d) => !visible.has(d));
    if (missing.length) throw invalid(`Dependency job(s) ${missing.join(", ")} do not exist`);
  }
  if (!acceptUnrunnable) await refuseNeverRunnable(tx, specs, core.nodeCache);
  await checkReservationsRequested(tx, principal.username, specs);
}

/** The specs with what the owner's earlier jobs of their requirement groups used (wr's learning). */
async function withLearning(tx: Tx, principal: Principal, specs: JobSpec[]): Promise<JobSpec[]> {
  const learned = await learnedUsage(tx, principal.username, [...new Set(specs.map((s) => s.reqGroup ?? "").filter(Boolean))]);
  return specs.map((s) => applyLearning(s, learned.get(s.reqGroup ?? "")));
}

/**
 * Refuses a submission with a job that no registered node could ever run, even idle (too many
 * processors, a feature, partition, architecture or OS no node has, more memory, disk or swap
 * than any has), saying why; with no node registered yet, jobs wait for nodes to join.
 */
async function refuseNeverRunnable(tx: Tx, specs: JobSpec[], cache?: NodeCache): Promise<void> {
  // the scheduler's copy of the nodes (at most a second old) accepts; a refusal is made only on
  // the nodes as they are now (10,000 nodes were 10,000 rows read for every submission)
  const cached = cache ? await cache.get(tx) : undefined;
  let why = firstRefusal(specs, cached ?? (await readNodes(tx)));
  if (why && cached) why = firstRefusal(specs, await readNodes(tx));
  if (why) throw invalid(why);
}

/** Why a job of the submission can never run on these nodes (undefined: each could, or no node yet). */
function firstRefusal(specs: JobSpec[], registered: PlacedNode[]): string | undefined {
  if (!registered.length) return undefined;
  for (const [i, s] of specs.entries()) {
    if (s.templates?.length) continue; // (the templates complete it: checked as it waits)
    const request = {
      cpus: s.cpus ?? 1, memoryBytes: s.memoryBytes ?? 0, hosts: s.hosts ?? [], features: s.features ?? [], partition: s.partition ?? null,
      tasksPerNode: s.tasksPerNode ?? null, arch: s.arch ?? null, os: s.os ?? null, diskBytes: s.diskBytes ?? 0, swapBytes: s.swapBytes ?? 0,
      gres: Object.fromEntries(Object.entries(s.gres ?? {}).filter(([, n]) => n > 0)),
    };
    // (neverRunnable answers each distinct request once for these nodes: a large submission's jobs mostly ask the same)
    const why = neverRunnable(request, registered);
    if (why) return `${specs.length > 1 ? `Job ${i + 1} of the submission` : "The job"} cannot run here: ${why.replace(`${NEVER_RUNNABLE}: `, "no registered node can ever run it: ")}; nothing was stored`;
  }
  return undefined;
}

/**
 * Inserts the jobs whose identity no incomplete job of the owner has (nor a completed one,
 * unless rerun), in order; the others answer with the job already there.
 */
async function insertNewIdentities(tx: Tx, principal: Principal, specs: JobSpec[], rerun: boolean): Promise<SubmittedJob[]> {
  // one submission of an owner at a time decides what is new
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`identity:${principal.username}`}))`);
  const identities = [...new Set(specs.map((s) => s.identity).filter((x): x is string => !!x))];
  const known = new Map<string, SubmittedJob>();
  if (identities.length) {
    type Row = { id: number | string; identity: string; state: string };
    const rows = rowsOf<Row>(
      await tx.execute(sql`
        select id, identity, state from jobs
        where identity in (select jsonb_array_elements_text(${JSON.stringify(identities)}::jsonb)) and owner = ${principal.username}
        order by (state = 'completed'), id desc`),
    );
    for (const r of rows) {
      if (known.has(r.identity)) continue;
      if (r.state !== "completed") known.set(r.identity, { id: Number(r.id), existing: true });
      else if (!rerun) known.set(r.identity, { id: Number(r.id), skipped: true });
    }
  }
  const fresh: JobSpec[] = [];
  const firstOfIdentity = new Map<string, number>();
  const plan = specs.map((s): { job: SubmittedJob } | { fresh: number; copy: boolean } => {
    const seen = s.identity ? known.get(s.identity) : undefined;
    if (seen) return { job: seen };
    // a second copy within this submission answers with the first
    if (s.identity && firstOfIdentity.has(s.identity)) return { fresh: firstOfIdentity.get(s.identity)!, copy: true };
    if (s.identity) firstOfIdentity.set(s.identity, fresh.length);
    fresh.push(s);
    return { fresh: fresh.length - 1, copy: false };
  });
  const inserted = await insertJobs(tx, fresh.map((s) => jobRow(principal, s)));
  return plan.map((p) => ("job" in p ? p.job : p.copy ? { ...inserted[p.fresh]!, existing: true } : inserted[p.fresh]!));
}

/**
 * The columns a submission writes: name, type, and the value a row leaves out stands for (rows
 * carry only what differs from it, so a typical job travels as a few fields).
 */
const INSERTED: [name: string, type: string, otherwise: string | null][] = [
  ["name", "text", "''"], ["owner", "text", null], ["job_group", "text", "''"], ["argv", "jsonb", null], ["working_directory", "text", null],
  ["environment", "jsonb", "'{}'::jsonb"], ["cpus", "int", "1"], ["tasks_per_node", "int", null], ["memory_bytes", "bigint", "0"],
  ["disk_bytes", "bigint", "0"], ["walltime_ms", "bigint", null], ["hosts", "jsonb", "'[]'::jsonb"],
  ["features", "jsonb", "'[]'::jsonb"], ["priority", "int", "0"], ["holds", "jsonb", "'[]'::jsonb"], ["depends_on", "jsonb", "'[]'::jsonb"],
  ["earliest_start_at", "timestamptz", null], ["retries", "int", "0"], ["variables", "jsonb", "'{}'::jsonb"], ["flags", "jsonb", "'[]'::jsonb"],
  ["extra", "jsonb", "'{}'::jsonb"], ["identity", "text", null], ["req_group", "text", "''"], ["learn_override", "int", "0"],
  ["memory_given_bytes", "bigint", null], ["walltime_given_ms", "bigint", null], ["walltime_enforced", "boolean", "true"],
  ["dep_groups", "jsonb", "'[]'::jsonb"], ["after_groups", "jsonb", "'[]'::jsonb"], ["behaviours", "jsonb", "'{}'::jsonb"],
  ["scratch_base", "text", null], ["scratch_home", "boolean", "false"], ["container", "jsonb", null], ["app", "text", null],
  ["app_inputs", "jsonb", null], ["input_files", "jsonb", "'[]'::jsonb"], ["retry_failures", "boolean", "false"],
  ["workflow", "text", null], ["partition", "text", null], ["swap_bytes", "bigint", "0"], ["arch", "text", null], ["os", "text", null],
  ["node_access", "text", null], ["stdout_file", "text", null], ["stderr_file", "text", null], ["login_environment", "boolean", "false"],
  ["gres", "jsonb", "'{}'::jsonb"], ["mail_events", "jsonb", "'[]'::jsonb"], ["mail_to", "jsonb", "'[]'::jsonb"],
  ["queue", "text", null], ["qos", "text", null], ["account", "text", null], ["reservation_requested", "text", null],
];
const INSERT_NAMES = INSERTED.map(([n]) => n).join(", ");
const RECORD_TYPES = INSERTED.map(([n, t]) => `${n} ${t}`).join(", ");
const SELECTED = INSERTED.map(([n, , otherwise]) => (otherwise === null ? n : `coalesce(${n}, ${otherwise})`)).join(", ");

/** Leaves out what a column's default stands for (null, "", 0, false where that is the default, [] and {}). */
function compactRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, , otherwise] of INSERTED) {
    const v = row[name];
    if (v === null || v === undefined) continue;
    if (otherwise !== null) {
      if (otherwise === "''" && v === "") continue;
      if ((otherwise === "0" && v === 0) || (otherwise === "1" && v === 1) || (otherwise === "true" && v === true) || (otherwise === "false" && v === false)) continue;
      if (otherwise.startsWith("'[]'") && Array.isArray(v) && v.length === 0) continue;
      if (otherwise.startsWith("'{}'") && typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    }
    out[name] = v;
  }
  return out;
}

/**
 * Inserts jobs and their "submitted" events in one statement of constant text, whatever their
 * number: the rows travel as one jsonb parameter (recordset.ts), in order, so the ids they get
 * follow the order given.
 */
async function insertJobs(tx: Tx, jobRows: NewJob[]): Promise<SubmittedJob[]> {
  if (!jobRows.length) return [];
  const rows = jobRows.map((r) =>
    compactRow({
      name: r.name, owner: r.owner, job_group: r.group, argv: r.argv, working_directory: r.workingDirectory, environment: r.environment,
      cpus: r.cpus, tasks_per_node: r.tasksPerNode, memory_bytes: r.memoryBytes, disk_bytes: r.diskBytes,
      walltime_ms: r.walltimeMs, hosts: r.hosts, features: r.features, priority: r.priority, holds: r.holds, depends_on: r.dependsOn,
      earliest_start_at: r.earliestStartAt, retries: r.retries, variables: r.variables, flags: r.flags, extra: r.extra,
      identity: r.identity, req_group: r.reqGroup, learn_override: r.learnOverride, memory_given_bytes: r.memoryGivenBytes,
      walltime_given_ms: r.walltimeGivenMs, walltime_enforced: r.walltimeEnforced, dep_groups: r.depGroups, after_groups: r.afterGroups,
      behaviours: r.behaviours, scratch_base: r.scratchBase, scratch_home: r.scratchHome, container: r.container,
      app: r.app, app_inputs: r.appInputs, input_files: r.inputFiles, retry_failures: r.retryFailures, workflow: r.workflow, partition: r.partition,
      swap_bytes: r.swapBytes, arch: r.arch, os: r.os, node_access: r.nodeAccess, stdout_file: r.stdoutFile, stderr_file: r.stderrFile,
      login_environment: r.loginEnvironment, gres: r.gres, mail_events: r.mailEvents, mail_to: r.mailTo,
      queue: r.queue, qos: r.qos, account: r.account, reservation_requested: r.reservationRequested,
    }),
  );
  const inserted = rowsOf<{ id: number | string }>(
    await tx.execute(prepared(sql`
      with inserted as (
        insert into jobs (${sql.raw(INSERT_NAMES)})
        select ${sql.raw(SELECTED)}
        from rows from (jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as (${sql.raw(RECORD_TYPES)}))
          with ordinality as v(${sql.raw(INSERT_NAMES)}, n)
        order by n
        returning id, owner
      ), submitted as (
        insert into job_events (job_id, kind, data) select id, 'submitted', jsonb_build_object('by', owner) from inserted
      )
      select id from inserted order by id`)),
  );
  return inserted.map((r) => ({ id: Number(r.id) }));
}

/** Inserts a job after the jobs its templates made it depend on, which it waits for. */
async function insertPlanned(tx: Tx, principal: Principal, plan: PlannedJob): Promise<SubmittedJob> {
  const before: number[] = [];
  for (const p of plan.prerequisites) before.push((await insertPlanned(tx, principal, p)).id);
  const spec: JobSpec = deriveJobSpec({ ...plan.spec, dependsOn: [...(plan.spec.dependsOn ?? []), ...before] });
  checkJobSpec(spec);
  const [row] = await tx.insert(jobs).values(jobRow(principal, spec)).returning();
  await recordJobEvent(tx, row!.id, "submitted", { by: principal.username, templates: spec.templates ?? [], dependsOn: spec.dependsOn });
  return row!;
}

function jobRow(principal: Principal, s: JobSpec): NewJob {
  return {
    name: s.name ?? "",
    owner: principal.username,
    group: s.group ?? "",
    argv: s.argv,
    workingDirectory: s.workingDirectory ?? null,
    environment: s.environment ?? {},
    cpus: s.cpus ?? 1,
    tasksPerNode: s.tasksPerNode ?? null,
    memoryBytes: s.memoryBytes ?? 0,
    diskBytes: s.diskBytes ?? 0,
    walltimeMs: s.walltimeMs ?? null,
    hosts: s.hosts ?? [],
    features: s.features ?? [],
    priority: s.priority ?? 0,
    holds: s.holds ?? [],
    dependsOn: s.dependsOn ?? [],
    earliestStartAt: s.earliestStartAt ?? null,
    retries: s.retries ?? 0,
    variables: s.variables ?? {},
    flags: s.flags ?? [],
    extra: { ...s.extra, ...(s.templates?.length ? { templateList: s.templates } : {}) },
    identity: s.identity ?? null,
    reqGroup: s.reqGroup ?? "",
    learnOverride: s.learnOverride ?? 0,
    memoryGivenBytes: s.memoryGivenBytes ?? s.memoryBytes ?? null,
    walltimeGivenMs: s.walltimeGivenMs ?? s.walltimeMs ?? null,
    walltimeEnforced: s.walltimeEnforced ?? true,
    depGroups: s.depGroups ?? [],
    afterGroups: s.afterGroups ?? [],
    behaviours: s.behaviours ?? {},
    scratchBase: s.scratchBase ?? null,
    scratchHome: s.scratchHome ?? false,
    container: s.container ?? null,
    app: s.app ?? null,
    appInputs: s.appInputs ?? null,
    inputFiles: s.inputFiles ?? [],
    retryFailures: s.retryFailures ?? false,
    workflow: s.workflow ?? null,
    partition: s.partition ?? null,
    swapBytes: s.swapBytes ?? 0,
    arch: s.arch ?? null,
    os: s.os ?? null,
    nodeAccess: s.nodeAccess ?? null,
    stdoutFile: s.stdoutFile ?? null,
    stderrFile: s.stderrFile ?? null,
    loginEnvironment: s.loginEnvironment ?? false,
    // (a count of 0 asks for nothing)
    gres: Object.fromEntries(Object.entries(s.gres ?? {}).filter(([, n]) => n > 0)),
    mailEvents: s.mailEvents ?? [],
    mailTo: s.mailTo ?? [],
    queue: s.queue ?? null,
    qos: s.qos ?? null,
    account: s.account ?? null,
    reservationRequested: s.reservationRequested ?? null,
  };
}

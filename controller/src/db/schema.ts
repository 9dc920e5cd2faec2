
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

import type { Workflow } from "../workflows/workflow-file.ts";

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const big = (name: string) => bigint(name, { mode: "number" });

export const users = pgTable("users", {
  id: serial("id").primaryKey(),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: ["admin", "user"] }).notNull().default("user"),
  /** the Unix account its jobs run as on agents running as root (null: the same name); "root" lets them run as root */
  unixUser: text("unix_user"),
  /** the groups an administrator put the user in (reservation ACL rules of type GROUP match them) */
  groups: jsonb("groups").$type<string[]>().notNull().default([]),
  createdAt: tz("created_at").notNull().defaultNow(),
});

/** Tokens that agents present to join the cluster; only a hash is stored. */
export const agentTokens = pgTable("agent_tokens", {
  id: serial("id").primaryKey(),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  createdBy: text("created_by").notNull(),
  createdAt: tz("created_at").notNull().defaultNow(),
  revokedAt: tz("revoked_at"),
});

export const nodes = pgTable("nodes", {
  /** the node's name, unique in the cluster (defaults to the agent's hostname) */
  id: text("id").primaryKey(),
  hostname: text("hostname").notNull(),
  addresses: jsonb("addresses").$type<string[]>().notNull().default([]),
  cores: integer("cores").notNull(),
  memoryBytes: big("memory_bytes").notNull(),
  swapBytes: big("swap_bytes").notNull().default(0),
  diskBytes: big("disk_bytes").notNull().default(0),
  gpus: jsonb("gpus").$type<{ model: string; memoryBytes: number }[]>().notNull().default([]),
  /** countable resources it offers jobs: "gpu" for its GPUs, and any an administrator gave its agent (--gres) */
  gres: jsonb("gres").$type<Record<string, number>>().notNull().default({}),
  os: text("os").notNull().default(""),
  arch: text("arch").notNull().default(""),
  features: jsonb("features").$type<string[]>().notNull().default([]),
  partition: text("partition").notNull().default("default"),
  /** up | down | drained */
  state: text("state").notNull().default("up"),
  stateReason: text("state_reason"),
  agentVersion: text("agent_version").notNull().default(""),
  cpuLoad: doublePrecision("cpu_load"),
  /** percent of all cores busy in the latest sample */
  cpuUtilization: doublePrecision("cpu_utilization"),
  availableMemoryBytes: big("available_memory_bytes"),
  /** free disk in the file system of its jobs' directories, and free swap, in the latest sample */
  availableDiskBytes: big("available_disk_bytes"),
  availableSwapBytes: big("available_swap_bytes"),
  lastHeartbeatAt: tz("last_heartbeat_at"),
  registeredAt: tz("registered_at").notNull().defaultNow(),
  /** the controller process holding this node's stream (several controllers may share one database) */
  controllerId: text("controller_id"),
  /** when its state last changed, and its time up: up_ms closed periods plus now − up_since while up */
  stateChangedAt: tz("state_changed_at"),
  upSince: tz("up_since"),
  upMs: big("up_ms").notNull().default(0),
  /** network and disk traffic in the latest sample, bytes per second */
  networkBytesPerSecond: doublePrecision("network_bytes_per_second"),
  ioBytesPerSecond: doublePrecision("io_bytes_per_second"),
  /** what administrators attached (MWS modify node): messages, variables, generic metrics and events */
  messages: jsonb("messages").$type<{ message: string; createdAt: string; author: string }[]>().notNull().default([]),
  variables: jsonb("variables").$type<Record<string, string>>().notNull().default({}),
  genericMetrics: jsonb("generic_metrics").$type<Record<string, number>>().notNull().default({}),
  genericEvents: jsonb("generic_events").$type<{ name: string; message: string; createdAt: string }[]>().notNull().default([]),
});

/** Commands run after a job ends, per outcome (wr behaviours). */
export interface JobBehaviours {
  onSuccess?: JobBehaviour[];
  onFailure?: JobBehaviour[];
  onExit?: JobBehaviour[];
}
/** cleanup: remove the run's own directory; run: a command line run with bash in the job's directory. */
export type JobBehaviour = { cleanup: true } | { cleanupAll: true } | { run: string };

/** A stored file a job needs in its working directory, under the name it is given there. */
export interface JobInputFile {
  fileId: string;
  name: string;
  sha256: string;
  sizeBytes: number;
}

/** A file a job's run generated in its working directory. */
export interface JobOutputFile {
  path: string;
  sizeBytes: number;
}

export interface JobContainer {
  runtime: "docker" | "singularity";
  image: string;
  /** "/outside:/inside" definitions */
  mounts: string[];
}

/** A job's place in the queue, taken as it is submitted (FIFO); moving a job in the queue gives it another. */
export const jobsQueuePosition = pgSequence("jobs_queue_position_seq");

export const jobs = pgTable(
  "jobs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    name: text("name").notNull().default(""),
    owner: text("owner").notNull(),
    /** wr's report group; also the OpenMOLE execution / MWS service a job belongs to */
    group: text("job_group").notNull().default(""),
    /** argv, run without a shell */
    argv: jsonb("argv").$type<string[]>().notNull(),
    workingDirectory: text("working_directory"),
    environment: jsonb("environment").$type<Record<string, string>>().notNull().default({}),
    cpus: integer("cpus").notNull().default(1),
    memoryBytes: big("memory_bytes").notNull().default(0),
    /** free disk per processor it needs on its nodes, in their jobs' file system (MWS requiredDiskPerTask; wr disk / cpus) */
    diskBytes: big("disk_bytes").notNull().default(0),
    /** free swap per processor it needs on its nodes (MWS requiredSwapPerTask) */
    swapBytes: big("swap_bytes").notNull().default(0),
    /** the processor architecture and operating system its nodes must have (MWS requiredArchitecture, os) */
    arch: text("arch"),
    os: text("os"),
    /** who else may use its nodes while it runs: null (anyone: Moab's SHARED), "SINGLEJOB" (no other job), "SINGLEUSER" (its owner's jobs only) */
    nodeAccess: text("node_access"),
    /** where its stdout and stderr go on its master node (MWS standardOutputFilePath, standardErrorFilePath); else its own directory */
    stdoutFile: text("stdout_file"),
    stderrFile: text("stderr_file"),
    /** its queue (Moab's class) and quality of service (queues.yaml), and the account it is charged to */
    queue: text("queue"),
    qos: text("qos"),
    account: text("account"),
    /** when mail about it is sent (BEGIN, END, FAIL) and to whom (MWS emailNotifyTypes, emailNotifyUsers) */
    mailEvents: jsonb("mail_events").$type<string[]>().notNull().default([]),
    mailTo: jsonb("mail_to").$type<string[]>().notNull().default([]),
    /** generic resources it holds on each of its nodes, e.g. {"gpu": 2} (MWS genericResources, as Slurm's --gres: per node) */
    gres: jsonb("gres").$type<Record<string, number>>().notNull().default({}),
    /** how many times a job behind it in the queue started ahead of it while it waited (backfill; Moab's bypass) */
    bypass: integer("bypass").notNull().default(0),
    /** it starts with the environment of a login shell of its user on the node, then its own (MWS environmentRequested) */
    loginEnvironment: boolean("login_environment").notNull().default(false),
    walltimeMs: big("walltime_ms"),
    hosts: jsonb("hosts").$type<string[]>().notNull().default([]),
    features: jsonb("features").$type<string[]>().notNull().default([]),
    /** the partition it runs in (nodes' agent --partition), or any */
    partition: text("partition"),
    /** unused: the node count follows from cpus and tasksPerNode */
    nodeCount: integer("node_count").notNull().default(1),
    tasksPerNode: integer("tasks_per_node"),
    priority: integer("priority").notNull().default(0),
    /** its place within its priority: the queue is priority (highest first), then this (lowest first) */
    queuePosition: big("queue_position").notNull().default(sql`nextval('jobs_queue_position_seq')`),
    holds: jsonb("holds").$type<string[]>().notNull().default([]),
    dependsOn: jsonb("depends_on").$type<number[]>().notNull().default([]),
    earliestStartAt: tz("earliest_start_at"),
    retries: integer("retries").notNull().default(0),
    /** queued | dispatching | running | suspended | completed | failed | cancelled | lost */
    state: text("state").notNull().default("queued"),
    /** why it is not running yet, or why it ended badly, in words */
    reason: text("reason"),
    nodeId: text("node_id"),
    allocatedNodes: jsonb("allocated_nodes").$type<{ node: string; cpus: number; memoryBytes?: number }[]>().notNull().default([]),
    pid: integer("pid"),
    exitCode: integer("exit_code"),
    signal: text("signal"),
    startCount: integer("start_count").notNull().default(0),
    submittedAt: tz("submitted_at").notNull().defaultNow(),
    /** when the job was last sent to a node; while it is dispatching, its DISPATCH is a pending action */
    dispatchedAt: tz("dispatched_at"),
    startedAt: tz("started_at"),
    endedAt: tz("ended_at"),
    suspendedMs: big("suspended_ms").notNull().default(0),
    suspendedAt: tz("suspended_at"),
    walltimeUsedMs: big("walltime_used_ms"),
    cpuTimeMs: big("cpu_time_ms"),
    peakRssBytes: big("peak_rss_bytes"),
    stdoutTail: text("stdout_tail").notNull().default(""),
    stderrTail: text("stderr_tail").notNull().default(""),
    stdoutPath: text("stdout_path"),
    stderrPath: text("stderr_path"),
    messages: jsonb("messages").$type<string[]>().notNull().default([]),
    variables: jsonb("variables").$type<Record<string, string>>().notNull().default({}),
    flags: jsonb("flags").$type<string[]>().notNull().default([]),
    /** dialect-specific submission fields kept verbatim for rendering (e.g. MWS commandFile) */
    extra: jsonb("extra").$type<Record<string, unknown>>().notNull().default({}),
    /** set when someone asked to cancel a job that is on a node; the agent's confirmation ends it */
    cancelRequestedAt: tz("cancel_requested_at"),
    /** set by MWS requeue on a job that is on a node: when its process ends, it goes back to the queue */
    requeueRequestedAt: tz("requeue_requested_at"),
    /** set by MWS execute: the job goes ahead of the queue and ignores its earliest start date */
    executeRequestedAt: tz("execute_requested_at"),
    /** set when a sister node of a multi-node job was lost: the master's process is being stopped for this reason */
    sisterLostReason: text("sister_lost_reason"),
    /** set when a node handed the job back unstarted from its backlog: it is not sent to a backlog again */
    backlogReturnedAt: tz("backlog_returned_at"),
    /** when the scheduler plans to start it (the first queued job that cannot start now, EASY backfill) */
    plannedStartAt: tz("planned_start_at"),
    // ---- queue semantics (wr, and any dialect that wants them) ----
    /** an identity of the job's command (wr's Key): adding an identical job adds nothing */
    identity: text("identity"),
    /** jobs of one requirements group learn their memory and time from each other (wr req_grp) */
    reqGroup: text("req_group").notNull().default(""),
    /** 0 = learned values win, 1 = the larger of given and learned, 2 = the given ones (wr override) */
    learnOverride: integer("learn_override").notNull().default(0),
    /** the memory (per processor) and walltime as submitted, before learning changed them */
    memoryGivenBytes: big("memory_given_bytes"),
    walltimeGivenMs: big("walltime_given_ms"),
    /** false: walltime only plans the queue, the job is not stopped when it runs longer (wr's time) */
    walltimeEnforced: boolean("walltime_enforced").notNull().default(true),
    /** dependency groups this job belongs to (wr dep_grps) */
    depGroups: jsonb("dep_groups").$type<string[]>().notNull().default([]),
    /** it runs only once every job in these groups has completed, including jobs added later (wr deps) */
    afterGroups: jsonb("after_groups").$type<string[]>().notNull().default([]),
    /** what runs after the job ends, per outcome (wr on_success, on_failure, on_exit) */
    behaviours: jsonb("behaviours").$type<JobBehaviours>().notNull().default({}),
    /** when set, each run gets a directory of its own made under this one (wr cwd without cwd_matters) */
    scratchBase: text("scratch_base"),
    /** with scratchBase: HOME is the run's own directory (wr change_home) */
    scratchHome: boolean("scratch_home").notNull().default(false),
    /** the run's own directory (made by the agent, under scratchBase) */
    scratchDir: text("scratch_dir"),
    /** a container to run the command in: { runtime: "docker" | "singularity", image, mounts } */
    container: jsonb("container").$type<JobContainer | null>(),
    /** failed runs so far; with retryFailures, the job is retried while fewer than retries + 1 */
    failures: integer("failures").notNull().default(0),
    /** true: a failed run is retried (wr's retries); false: retries only requeue a job whose node was lost (MWS) */
    retryFailures: boolean("retry_failures").notNull().default(false),
    /** a failed job waiting to be retried does not start before this (wr "delayed") */
    retryAt: tz("retry_at"),
    /** how the last run ended, in one word: exit, memory, walltime, signal, start, cancelled, lost, runtime */
    endCause: text("end_cause"),
    /** launched from an app: its name and the inputs as given */
    app: text("app"),
    appInputs: jsonb("app_inputs").$type<Record<string, unknown>>(),
    /** files placed into the job's working directory before it starts */
    inputFiles: jsonb("input_files").$type<JobInputFile[]>().notNull().default([]),
    /** the workflow execution whose task instance it runs */
    workflow: text("workflow"),
    /** what its last run left in its working directory (apps' and workflows' jobs): paths relative to it, on the node that ran it */
    outputFiles: jsonb("output_files").$type<JobOutputFile[]>().notNull().default([]),
    /** increases on every dispatch so that late events from an older attempt are ignored */
    attempt: integer("attempt").notNull().default(0),
    /** the reservation it asked to run in (MWS reservationRequested), and the one it ran in */
    reservationRequested: text("reservation_requested"),
    reservationId: text("reservation_id"),
  },
  (t) => [
    // the scheduler walks the queue in this order (highest priority first, then queue position);
    // it also serves every lookup by state
    index("jobs_queue_order").on(t.state, t.priority.desc().nullsFirst(), t.queuePosition),
    // queued jobs that wait for others, in the same order (most jobs have no dependencies)
    index("jobs_queue_with_dependencies")
      .on(t.priority.desc().nullsFirst(), t.queuePosition)
      .where(sql`${t.state} = 'queued' and (${t.dependsOn} <> '[]'::jsonb or ${t.afterGroups} <> '[]'::jsonb)`),
    // queued jobs someone asked to execute now (MWS execute), which go first
    index("jobs_queue_execute_requested")
      .on(t.priority.desc().nullsFirst(), t.queuePosition)
      .where(sql`${t.state} = 'queued' and ${t.executeRequestedAt} is not null`),
    index("jobs_owner").on(t.owner, t.id),
    index("jobs_node").on(t.nodeId),
    index("jobs_identity").on(t.identity).where(sql`${t.identity} is not null`),
    index("jobs_group").on(t.group, t.id),
    // which jobs of a dependency group are not complete yet
    index("jobs_dep_groups").using("gin", t.depGroups).where(sql`${t.depGroups} <> '[]'::jsonb`),
    // what a requirements group's completed jobs used
    index("jobs_req_group_completed").on(t.owner, t.reqGroup).where(sql`${t.state} = 'completed' and ${t.reqGroup} <> ''`),
  ],
);

/** What a reservation holds on one node (whole: everything the node has). */
export interface ReservedShare {
  node: string;
  cpus: number;
  memoryBytes: number;
  gres: Record<string, number>;
}

/** A rule of a reservation's access control list (MWS 3.1). */
export interface AclRule {
  type: string;
  value: string;
  comparator: string;
  affinity: string;
}

/**
 * Reservations (MWS 3.11): nodes (or a share of them) held for a window, usable only by the jobs
 * their ACL admits. Released and ended ones stay (releasedAt) so that ids are never reused.
 */
export const reservations = pgTable(
  "reservations",
  {
    /** PREFIX.SEQ ("system.3"); materialised standing reservations take the standing one's id as prefix */
    id: text("id").primaryKey(),
    prefix: text("prefix").notNull(),
    seq: integer("seq").notNull(),
    owner: text("owner").notNull(),
    createdBy: text("created_by").notNull(),
    startAt: tz("start_at").notNull(),
    /** null: it never ends */
    endAt: tz("end_at"),
    flags: jsonb("flags").$type<string[]>().notNull().default([]),
    aclRules: jsonb("acl_rules").$type<AclRule[]>().notNull().default([]),
    holds: jsonb("holds").$type<ReservedShare[]>().notNull().default([]),
    /** how it was asked for: by host list (kept as written), or by requirements and resources */
    hostListExpression: text("host_list_expression").notNull().default(""),
    requirements: jsonb("requirements").$type<Record<string, unknown>>().notNull().default({}),
    resources: jsonb("resources").$type<Record<string, number>>().notNull().default({}),
    partition: text("partition").notNull().default(""),
    variables: jsonb("variables").$type<Record<string, string>>().notNull().default({}),
    /** what MWS clients set and read back: comments, label, profile, group, sub type, excluded jobs, accounting credentials */
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    /** the standing reservation it materialises, and that one's definition when it did (to drop it when the definition changes) */
    standing: text("standing"),
    standingSignature: text("standing_signature"),
    /** SINGLEUSE: the job that used it (it is released when that job ends) */
    usedByJob: big("used_by_job"),
    createdAt: tz("created_at").notNull().defaultNow(),
    releasedAt: tz("released_at"),
  },
  (t) => [
    uniqueIndex("reservations_prefix_seq").on(t.prefix, t.seq),
    index("reservations_live").on(t.endAt).where(sql`${t.releasedAt} is null`),
  ],
);

export type Reservation = typeof reservations.$inferSelect;

/** Every state change of a job, written in the same transaction as the change. */
export const jobEvents = pgTable(
  "job_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: big("job_id").notNull(),
    at: tz("at").notNull().defaultNow(),
    kind: text("kind").notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index("job_events_job").on(t.jobId, t.id)],
);

/** Uploaded data (and, later, collected job outputs): the content lives in the file store under its id. */
export const files = pgTable(
  "files",
  {
    /** 32 hex digits */
    id: text("id").primaryKey(),
    owner: text("owner").notNull(),
    /** the original file name, made safe (no directories) */
    name: text("name").notNull(),
    sizeBytes: big("size_bytes").notNull(),
    sha256: text("sha256").notNull(),
    /** detected format: "fits" from its header or extension, else the extension */
    format: text("format").notNull().default(""),
    jobId: big("job_id"),
    /** the workflow execution it belongs to (its work directory's files and its tasks' outputs): not listed among the user's uploads, removed with it */
    execution: text("execution"),
    createdAt: tz("created_at").notNull().defaultNow(),
  },
  (t) => [index("files_owner").on(t.owner, t.createdAt), index("files_sha256").on(t.sha256), index("files_execution").on(t.execution).where(sql`${t.execution} is not null`)],
);

export type StoredFileRow = typeof files.$inferSelect;

/** The app catalogue: applications users run by name with typed options (caesar apps, MDWorkbench services). */
export const apps = pgTable("apps", {
  name: text("name").primaryKey(),
  /** the definition as given (see apps/app-definition.ts) */
  definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
  /** "file" (DROVER_HOME/apps) or "api" (an administrator's request) */
  source: text("source").notNull().default("api"),
  updatedAt: tz("updated_at").notNull().defaultNow(),
});

/** MWS section 4: a report definition; its schedule is derived from these rows and its datapoints. */
export const reports = pgTable(
  "reports",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull().unique(),
    description: text("description"),
    datapointDurationS: integer("datapoint_duration_s").notNull(),
    reportSize: integer("report_size").notNull(),
    minimumSampleSize: integer("minimum_sample_size").notNull().default(1),
    keepSamples: boolean("keep_samples").notNull().default(false),
    consolidationFunction: text("consolidation_function").notNull().default("average"),
    /** who created it; null for the reports drover feeds from agents (node-*, cluster) */
    owner: text("owner"),
    /** counts consolidations, as MWS's document version does */
    version: integer("version").notNull().default(0),
    createdAt: tz("created_at").notNull().defaultNow(),
    /** the end of the window that the next consolidation closes */
    nextConsolidationAt: tz("next_consolidation_at").notNull(),
  },
  (t) => [index("reports_next_consolidation").on(t.nextConsolidationAt)],
);

export const samples = pgTable(
  "samples",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    reportId: integer("report_id").notNull(),
    timestamp: tz("timestamp").notNull(),
    agent: text("agent"),
    data: jsonb("data").notNull(),
    consumed: boolean("consumed").notNull().default(false),
  },
  (t) => [index("samples_report_time").on(t.reportId, t.consumed, t.timestamp)],
);

export const datapoints = pgTable(
  "datapoints",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    reportId: integer("report_id").notNull(),
    startDate: tz("start_date").notNull(),
    endDate: tz("end_date").notNull(),
    firstSampleDate: tz("first_sample_date"),
    lastSampleDate: tz("last_sample_date"),
    data: jsonb("data"),
  },
  (t) => [uniqueIndex("datapoints_report_start").on(t.reportId, t.startDate)],
);

/** Operations in flight between the controller and agents (MWS 3.7 pending actions). */
export const pendingActions = pgTable(
  "pending_actions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /** DISPATCH, CANCEL, SUSPEND, RESUME or REQUEUE */
    type: text("type").notNull(),
    requester: text("requester").notNull(),
    jobId: big("job_id").notNull(),
    /** the job attempt the action is about: a confirmation for another attempt does not count */
    attempt: integer("attempt").notNull().default(0),
    /** the nodes involved, the one that must confirm first */
    hosts: jsonb("hosts").$type<string[]>().notNull().default([]),
    startedAt: tz("started_at").notNull().defaultNow(),
    maxDurationS: integer("max_duration_s").notNull().default(60),
  },
  (t) => [index("pending_actions_job").on(t.jobId)],
);

/**
 * MWS 3.5 job templates: defaults and prerequisites that a submission's templateList applies.
 * `spec` holds the JobSpec fields the template sets; `dependencies` name templates whose jobs
 * must succeed first.
 */
export const jobTemplates = pgTable("job_templates", {
  id: text("id").primaryKey(),
  description: text("description").notNull().default(""),
  spec: jsonb("spec").$type<Record<string, unknown>>().notNull().default({}),
  dependencies: jsonb("dependencies").$type<{ name: string; type: string }[]>().notNull().default([]),
  /** whether a submission may name it in templateList (Moab's SELECT) */
  selectable: boolean("selectable").notNull().default(true),
  /** "api" or the file under DROVER_HOME/etc/job-templates it was loaded from */
  source: text("source").notNull().default("api"),
  version: integer("version").notNull().default(0),
  createdAt: tz("created_at").notNull().defaultNow(),
  updatedAt: tz("updated_at").notNull().defaultNow(),
});

export type User = typeof users.$inferSelect;
export type Node = typeof nodes.$inferSelect;
export type Job = typeof jobs.$inferSelect;
export type NewJob = typeof jobs.$inferInsert;
export type Report = typeof reports.$inferSelect;
export type Sample = typeof samples.$inferSelect;
export type Datapoint = typeof datapoints.$inferSelect;


/** Cluster-wide switches kept in the database, so every controller sees them (e.g. "draining"). */
export const clusterSettings = pgTable("cluster_settings", {
  key: text("key").primaryKey(),
  value: jsonb("value").$type<unknown>().notNull(),
  updatedAt: tz("updated_at").notNull().defaultNow(),
  updatedBy: text("updated_by").notNull().default(""),
});

/** What the scheduler could not do, in words, counted until someone reads them (wr's warnings). */
export const schedulerWarnings = pgTable("scheduler_warnings", {
  message: text("message").primaryKey(),
  firstAt: tz("first_at").notNull().defaultNow(),
  lastAt: tz("last_at").notNull().defaultNow(),
  count: integer("count").notNull().default(1),
});

/** Per-user usage, aggregated periodically from the jobs and files tables (caesar's accounting). */
export const accounting = pgTable("accounting", {
  username: text("username").primaryKey(),
  record: jsonb("record").$type<AccountingRecord>().notNull(),
  updatedAt: tz("updated_at").notNull().defaultNow(),
});

/** One user's usage: files and bytes stored, jobs by state, run times and processor-hours. */
export interface AccountingRecord {
  nfiles: number;
  /** bytes of stored files */
  dataBytes: number;
  njobs: number;
  /** jobs by drover state */
  jobsByState: Record<string, number>;
  /** failed jobs by how their last run ended (walltime, setup, exit, memory, lost…) */
  failedByCause: Record<string, number>;
  /** seconds the user's jobs ran, all of them and the completed ones */
  runtimeSeconds: number;
  completedRuntimeSeconds: number;
  /** processors × hours of the completed jobs */
  cpuHours: number;
}

/**
 * Mail about a job (MWS emailNotifyTypes): a row is added when the job starts (BEGIN), ends
 * (END) or fails (FAIL) by a trigger on jobs (migration 0021), then sent by the mailer.
 */
export const jobMail = pgTable(
  "job_mail",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: big("job_id").notNull(),
    /** BEGIN | END | FAIL */
    event: text("event").notNull(),
    recipients: jsonb("recipients").$type<string[]>().notNull(),
    createdAt: tz("created_at").notNull().defaultNow(),
    attempts: integer("attempts").notNull().default(0),
    nextAt: tz("next_at").notNull().defaultNow(),
    sentAt: tz("sent_at"),
    givenUpAt: tz("given_up_at"),
    lastError: text("last_error"),
  },
  (t) => [index("job_mail_due").on(t.nextAt).where(sql`${t.sentAt} is null and ${t.givenUpAt} is null`)],
);

/** Notifications of a job's end sent to a URL its submitter gave (MDWorkbench's Status-Location). */
export const jobCallbacks = pgTable("job_callbacks", {
  jobId: big("job_id").primaryKey(),
  url: text("url").notNull(),
  attempts: integer("attempts").notNull().default(0),
  nextAt: tz("next_at").notNull().defaultNow(),
  deliveredAt: tz("delivered_at"),
  givenUpAt: tz("given_up_at"),
  /** what each attempt did: { time, ok, message } */
  log: jsonb("log").$type<{ time: string; ok: boolean; message: string }[]>().notNull().default([]),
});

/** A workflow's run (OpenMOLE's executions): its tasks run as jobs; its work directory is on the controller. */
export const workflowExecutions = pgTable(
  "workflow_executions",
  {
    /** a UUID */
    id: text("id").primaryKey(),
    owner: text("owner").notNull(),
    name: text("name").notNull(),
    /** the dialect that started it (its executions are listed there) */
    dialect: text("dialect").notNull(),
    /** running | finished | failed | cancelled */
    state: text("state").notNull().default("running"),
    /** the validated workflow (workflow-file.ts) */
    definition: jsonb("definition").$type<Workflow>().notNull(),
    /** why it failed: { message, stackTrace } */
    error: jsonb("error").$type<{ message: string; stackTrace: string } | null>(),
    /** files of its work directory copied into the file store for its tasks, by path */
    staged: jsonb("staged").$type<Record<string, { fileId: string; sha256: string; sizeBytes: number }>>().notNull().default({}),
    createdAt: tz("created_at").notNull().defaultNow(),
    endedAt: tz("ended_at"),
  },
  (t) => [index("workflow_executions_owner").on(t.owner, t.createdAt), index("workflow_executions_running").on(t.state).where(sql`${t.state} = 'running'`)],
);

/** One instance of a workflow task (one for a task that is not explored), and the job that runs it. */
export const workflowInstances = pgTable(
  "workflow_instances",
  {
    execution: text("execution").notNull(),
    task: text("task").notNull(),
    index: integer("index").notNull(),
    jobId: big("job_id").notNull(),
    /** its factor values */
    values: jsonb("values").$type<Record<string, string>>().notNull().default({}),
    /** submitted (its job waits or runs) | collecting (its outputs come back) | done | failed */
    state: text("state").notNull().default("submitted"),
    /** failed runs already reported as errors (a retried run is reported once) */
    failuresReported: integer("failures_reported").notNull().default(0),
    /** the files it left, brought back to the controller (stored files) */
    outputs: jsonb("outputs").$type<{ path: string; fileId: string; sha256: string; sizeBytes: number }[]>().notNull().default([]),
  },
  (t) => [primaryKey({ columns: [t.execution, t.task, t.index] }), index("workflow_instances_job").on(t.jobId), index("workflow_instances_state").on(t.execution, t.state)],
);

/** Errors of a workflow's tasks, each handed out once (OpenMOLE's state clears them). */
export const workflowErrors = pgTable(
  "workflow_errors",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    execution: text("execution").notNull(),
    environment: text("environment").notNull(),
    message: text("message").notNull(),
    stackTrace: text("stack_trace").notNull().default(""),
    /** SEVERE | WARNING (java.util.logging's names, as OpenMOLE reports them) */
    level: text("level").notNull(),
    at: tz("at").notNull().defaultNow(),
    reported: boolean("reported").notNull().default(false),
  },
  (t) => [index("workflow_errors_execution").on(t.execution, t.id)],
);

/**
 * The controller processes sharing this database, each seen again every second while it lives
 * (see peers/peers.ts). The one holding the leadership lock (leader_since set) does the work that
 * must happen once: liveness, reservation upkeep, the workflow engine.
 */
export const controllers = pgTable("controllers", {
  id: text("id").primaryKey(),
  httpUrl: text("http_url").notNull(),
  grpcAddress: text("grpc_address").notNull(),
  hostname: text("hostname").notNull(),
  startedAt: tz("started_at").notNull().defaultNow(),
  seenAt: tz("seen_at").notNull().defaultNow(),
  leaderSince: tz("leader_since"),
});
export type ControllerRow = typeof controllers.$inferSelect;

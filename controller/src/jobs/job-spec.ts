import { invalid } from "@drover/shared/errors";
import type { JobBehaviours, JobContainer, JobInputFile } from "../db/schema.ts";

/** SINGLEJOB: the job has its nodes to itself; SINGLEUSER: only its owner's jobs share them (Moab's node access policies). */
export type NodeAccess = "SINGLEJOB" | "SINGLEUSER";

/** What a client asks for when it submits a job; dialects translate their payloads into this. */
export interface JobSpec {
  name?: string;
  /** the program and its arguments; run without a shell */
  argv: string[];
  workingDirectory?: string;
  environment?: Record<string, string>;
  group?: string;
  /** processors in all */
  cpus?: number;
  /** processors per node: the job spans cpus / tasksPerNode nodes */
  tasksPerNode?: number;
  /** memory per processor */
  memoryBytes?: number;
  /** free disk per processor, in its nodes' jobs' file system */
  diskBytes?: number;
  /** free swap per processor */
  swapBytes?: number;
  /** the architecture (x86_64, aarch64…) and operating system (linux, or a distribution) of its nodes */
  arch?: string;
  os?: string;
  /** who else may use its nodes while it runs (see schema.ts); undefined: anyone */
  nodeAccess?: NodeAccess;
  /** absolute paths on its master node for its stdout and stderr */
  stdoutFile?: string;
  stderrFile?: string;
  /** start from the environment of a login shell of its user on the node */
  loginEnvironment?: boolean;
  /** generic resources it holds on each of its nodes ({"gpu": 2, "licence": 1}) */
  gres?: Record<string, number>;
  /** its queue and QoS (queues.ts: checked and applied by submitJobs), and the account it is charged to */
  queue?: string;
  qos?: string;
  account?: string;
  /** the reservation it must run in (MWS reservationRequested; checked by submitJobs) */
  reservationRequested?: string;
  /** mail about it: when (BEGIN, END, FAIL; ALL) and to whom (addresses); checked by submitJobs (mailer.ts) */
  mailEvents?: string[];
  mailTo?: string[];
  walltimeMs?: number;
  hosts?: string[];
  features?: string[];
  /** the partition of nodes it runs in */
  partition?: string;
  priority?: number;
  holds?: string[];
  dependsOn?: number[];
  earliestStartAt?: Date;
  retries?: number;
  /** true: a failed run is retried while retries are left (wr); otherwise retries only requeue a job whose node was lost */
  retryFailures?: boolean;
  variables?: Record<string, string>;
  flags?: string[];
  /** job templates whose defaults and dependencies apply (MWS templateList) */
  templates?: string[];
  extra?: Record<string, unknown>;
  // ---- queue semantics (see schema.ts) ----
  identity?: string;
  reqGroup?: string;
  /** what was asked for before learning changed memoryBytes and walltimeMs */
  memoryGivenBytes?: number;
  walltimeGivenMs?: number;
  learnOverride?: 0 | 1 | 2;
  /** false: the walltime plans the queue but does not stop the job */
  walltimeEnforced?: boolean;
  depGroups?: string[];
  afterGroups?: string[];
  behaviours?: JobBehaviours;
  scratchBase?: string;
  scratchHome?: boolean;
  container?: JobContainer;
  /** launched from an app: its name and the inputs as given */
  app?: string;
  appInputs?: Record<string, unknown>;
  /** stored files placed into the working directory before the job starts */
  inputFiles?: JobInputFile[];
  /** the workflow execution whose task instance it runs */
  workflow?: string;
  /** a URL the job's view is posted to when it ends (checked by the caller: see callbacks.ts) */
  statusLocation?: string;
}

/** Fills what other fields imply: a host list with tasksPerNode asks for that many processors on each host. */
export function deriveJobSpec(spec: JobSpec): JobSpec {
  if (spec.cpus === undefined && spec.tasksPerNode !== undefined && spec.hosts?.length) return { ...spec, cpus: spec.hosts.length * spec.tasksPerNode };
  return spec;
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks a spec's values; throws a 400 naming the field. */
export function checkJobSpec(spec: JobSpec): void {
  if (!Array.isArray(spec.argv) || spec.argv.length === 0 || spec.argv[0] === "") {
    throw invalid("A job needs a command: give the program to run");
  }
  if (spec.argv.some((a) => typeof a !== "string" || a.includes("\0"))) throw invalid("Command arguments must be strings without NUL bytes");
  if (spec.workingDirectory !== undefined && !spec.workingDirectory.startsWith("/")) {
    throw invalid(`The working directory must be an absolute path, not "${spec.workingDirectory}"`);
  }
  for (const [k, v] of Object.entries(spec.environment ?? {})) {
    if (!envName.test(k)) throw invalid(`Environment variable name "${k}" is not valid`);
    if (typeof v !== "string" || v.includes("\0")) throw invalid(`Environment variable ${k} must be a string without NUL bytes`);
  }
  const positive = (name: string, v: number | undefined, min: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw invalid(`${name} must be a whole number of at least ${min}`);
  };
  // 0 processors: the job reserves none (wr's default), only its memory
  positive("cpus", spec.cpus, 0);
  if (spec.cpus === 0 && (spec.tasksPerNode !== undefined || (spec.hosts?.length ?? 0) > 1)) throw invalid("A job of 0 processors runs on one node: it cannot have tasksPerNode or several hosts");
  positive("memory", spec.memoryBytes, 0);
  positive("tasksPerNode", spec.tasksPerNode, 1);
  if (spec.tasksPerNode !== undefined && (spec.cpus ?? 1) % spec.tasksPerNode !== 0) {
    throw invalid(`The processor count (${spec.cpus ?? 1}) must be a multiple of tasksPerNode (${spec.tasksPerNode}): nodes=N:ppn=P is N×P processors, P per node`);
  }
  if (spec.hosts?.length && new Set(spec.hosts).size !== spec.hosts.length) throw invalid("hosts lists a node twice");
  positive("disk", spec.diskBytes, 0);
  positive("swap", spec.swapBytes, 0);
  if (spec.account !== undefined && (spec.account === "" || spec.account.length > 256 || spec.account.includes("\0"))) throw invalid("account must be a name of at most 256 characters");
  for (const [name, count] of Object.entries(spec.gres ?? {})) {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name)) throw invalid(`Generic resource name "${name}" must be letters, digits, _ . - (starting with a letter)`);
    if (!Number.isInteger(count) || count < 0) throw invalid(`Generic resource ${name} must be a whole count, not ${JSON.stringify(count)}`);
  }
  for (const [name, path] of [["standard output file", spec.stdoutFile], ["standard error file", spec.stderrFile]] as const) {
    if (path !== undefined && (!path.startsWith("/") || path.includes("\0") || path.endsWith("/"))) throw invalid(`The ${name} must be an absolute path of a file, not "${path}"`);
  }
  if (spec.nodeAccess !== undefined && spec.nodeAccess !== "SINGLEJOB" && spec.nodeAccess !== "SINGLEUSER") throw invalid(`Node access "${spec.nodeAccess}" is not SINGLEJOB or SINGLEUSER`);
  positive("walltime", spec.walltimeMs, 1);
  positive("retries", spec.retries, 0);
  if (spec.priority !== undefined && !Number.isInteger(spec.priority)) throw invalid("priority must be a whole number");
  if (spec.dependsOn?.some((d) => !Number.isInteger(d) || d < 1)) throw invalid("dependencies must be job ids");
  for (const g of [...(spec.depGroups ?? []), ...(spec.afterGroups ?? [])]) {
    if (typeof g !== "string" || g === "" || g.includes("\0")) throw invalid(`Dependency group names must be non-empty strings, not ${JSON.stringify(g)}`);
  }
  if (spec.scratchBase !== undefined && !spec.scratchBase.startsWith("/")) throw invalid(`The working directory must be an absolute path, not "${spec.scratchBase}"`);
  for (const b of [...(spec.behaviours?.onSuccess ?? []), ...(spec.behaviours?.onFailure ?? []), ...(spec.behaviours?.onExit ?? [])]) {
    if ("run" in b && (typeof b.run !== "string" || b.run.trim() === "" || b.run.includes("\0"))) throw invalid("A run behaviour needs a command line");
  }
}

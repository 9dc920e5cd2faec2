import { t, type Static } from "elysia";
import parseArgsStringToArgv from "string-argv";
import { invalid } from "@drover/shared/errors";
import type { JobSpec } from "../../jobs/job-spec.ts";
import type { JobChanges } from "../../jobs/modify-job.ts";
import { parseMwsDate } from "../conventions/dates.ts";

const MB = 1024 * 1024;

/**
 * Fields of the 3.4.2 payloads drover has no counterpart for. Each is refused by name when it
 * asks for something (a value other than empty or the one drover's behaviour already is).
 */
const unsupportedSubmission: Record<string, (v: unknown) => boolean> = {
  virtualContainers: nonEmpty,
};

/** Moab's node access policies drover honours: SHARED (the default), SINGLEJOB, SINGLEUSER. */
const NODE_ACCESS = ["SHARED", "SINGLEJOB", "SINGLEUSER"];

/** Moab's VM usage policies: drover's nodes are physical (or plain) machines, so the PM ones hold and the VM ones cannot. */
const PM_POLICIES = ["REQUIREPM", "PREFERPM"];
const VM_POLICIES = ["REQUIREVM", "PREFERVM", "CREATEVM", "CREATEPERSISTENTVM"];
function nonEmpty(v: unknown): boolean {
  return !(v === undefined || v === null || v === "" || v === false || (Array.isArray(v) && v.length === 0));
}
const anyOf = (fields: Record<string, unknown>) => Object.fromEntries(Object.keys(fields).map((k) => [k, t.Optional(t.Unknown())]));

const Requirement = t.Object(
  {
    // the examples of MWS 3.4.2.3 send it as a string ("20")
    requiredProcessorCountMinimum: t.Optional(t.Union([t.Integer({ minimum: 1 }), t.String({ pattern: "^[1-9][0-9]{0,5}$" })])),
    tasksPerNode: t.Optional(t.Integer({ minimum: 1, description: "tasks per node (PBS ppn)" })),
    requiredProcessorsPerTask: t.Optional(t.Integer({ minimum: 1, maximum: 100_000, description: "processors of each task: the job has tasks × this many" })),
    requiredMemoryPerTask: t.Optional(t.Integer({ minimum: 0, description: "MB" })),
    requiredDiskPerTask: t.Optional(t.Integer({ minimum: 0, description: "MB of free disk per task in its nodes' jobs' file system" })),
    requiredSwapPerTask: t.Optional(t.Integer({ minimum: 0, description: "MB of free swap per task" })),
    requiredArchitecture: t.Optional(t.String({ maxLength: 64, description: "x86_64, aarch64… (x64, amd64, arm64 are the same)" })),
    requiredPartition: t.Optional(t.String({ maxLength: 256, description: "the partition of the nodes (agent --partition)" })),
    requiredNodeFeatures: t.Optional(t.Array(t.String())),
    genericResources: t.Optional(
      t.Record(t.String({ pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}$" }), t.Integer({ minimum: 0, maximum: 1_000_000 }), {
        description: 'countable resources it holds on each of its nodes, as agents offer them (--gres; GPUs are "gpu")',
      }),
    ),
    nodeAccessPolicy: t.Optional(t.Union([t.String(), t.Null()], { description: "SHARED (default), SINGLEJOB (its nodes to itself), SINGLEUSER (only its owner's jobs beside it)" })),
  },
  { additionalProperties: false },
);

/** The MWS job submission fields drover honours (3.4.2); any other field is refused by name. */
export const MwsJobSubmission = t.Object(
  {
    commandFile: t.Optional(t.String({ minLength: 1 })),
    commandLineArguments: t.Optional(t.String()),
    commandLine: t.Optional(t.String({ minLength: 1, description: "drover: a command line, split into words without a shell" })),
    name: t.Optional(t.String({ maxLength: 256 })),
    user: t.Optional(t.String({ description: "the job's owner: yourself, or anyone for an administrator" })),
    group: t.Optional(t.String({ maxLength: 256 })),
    hosts: t.Optional(t.Array(t.String())),
    initialWorkingDirectory: t.Optional(t.String()),
    environmentVariables: t.Optional(t.Record(t.String(), t.String())),
    variables: t.Optional(t.Record(t.String(), t.String())),
    holds: t.Optional(t.Array(t.Literal("USER"))),
    durationRequested: t.Optional(t.Integer({ minimum: 1, description: "walltime in seconds" })),
    earliestStartDateRequested: t.Optional(t.String()),
    userPriority: t.Optional(t.Integer()),
    requirements: t.Optional(t.Array(Requirement, { maxItems: 1 })),
    flags: t.Optional(t.Array(t.String())),
    retries: t.Optional(t.Integer({ minimum: 0, maximum: 100, description: "drover: times a lost job is requeued" })),
    submitHost: t.Optional(t.String({ maxLength: 256, description: "where the job was submitted from; kept with the job" })),
    queue: t.Optional(t.String({ minLength: 1, maxLength: 64, description: "its queue (GET /queues; an administrator defines them)" })),
    qosRequested: t.Optional(t.String({ minLength: 1, maxLength: 64, description: "its quality of service (GET /queues)" })),
    account: t.Optional(t.String({ minLength: 1, maxLength: 256, description: "the account its use is charged to (GET /accounting/accounts)" })),
    emailNotifyTypes: t.Optional(t.Array(t.String({ maxLength: 32 }), { maxItems: 8, description: "mail when the job starts (BEGIN), ends (END) or fails (FAIL); ALL: each" })),
    emailNotifyUsers: t.Optional(t.Array(t.String({ maxLength: 256 }), { maxItems: 32, description: "the addresses to mail" })),
    os: t.Optional(t.String({ maxLength: 128, description: '"linux" (any node), or a word of the nodes\' operating system ("ubuntu", "debian")' })),
    standardOutputFilePath: t.Optional(t.String({ maxLength: 4096, description: "where its stdout goes on its master node (absolute)" })),
    standardErrorFilePath: t.Optional(t.String({ maxLength: 4096, description: "where its stderr goes on its master node (absolute)" })),
    environmentRequested: t.Optional(t.Boolean({ description: "true: the environment of a login shell of its user on the node, then environmentVariables" })),
    vmUsagePolicy: t.Optional(t.String({ description: "REQUIREPM or PREFERPM (drover's nodes are physical or plain machines); VM policies are refused" })),
    reservationRequested: t.Optional(t.String({ maxLength: 64, description: "the reservation it runs in (GET /rest/reservations): only on its nodes, once it has begun; its ACL must admit the job" })),
    ...anyOf(unsupportedSubmission),
    templateList: t.Optional(t.Array(t.String({ minLength: 1 }), { maxItems: 16, description: "job templates (GET /rest/job-templates) whose defaults and dependencies apply" })),
  },
  { additionalProperties: false },
);
export type MwsJobSubmission = Static<typeof MwsJobSubmission>;

/** MWS 3.4.2: variable names and values exclude some characters. */
export function checkVariables(vars: Record<string, string>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (/[=;:+?^\\\s]/.test(k) || k === "") throw invalid(`Variable name "${k}" may not contain = ; : + ? ^ \\ or white space`);
    if (/[;:+^]/.test(v)) throw invalid(`Variable ${k}'s value may not contain ; : + or ^`);
  }
}

/** Translates an MWS submission into drover's JobSpec. */
export function fromMwsSubmission(body: MwsJobSubmission): JobSpec {
  const fields = body as Record<string, unknown>;
  const requirement = (body.requirements?.[0] ?? {}) as Record<string, unknown>;
  const refused = [
    ...Object.keys(unsupportedSubmission).filter((k) => unsupportedSubmission[k]!(fields[k])),
  ];
  if (refused.length) throw invalid(`drover does not support ${refused.join(", ")}; leave them out and submit again (nothing was stored)`);
  const access = typeof requirement.nodeAccessPolicy === "string" ? requirement.nodeAccessPolicy.toUpperCase() : undefined;
  if (access !== undefined && access !== "" && !NODE_ACCESS.includes(access)) throw invalid(`requirements.nodeAccessPolicy "${requirement.nodeAccessPolicy}" is not one drover honours: ${NODE_ACCESS.join(", ")}`);
  const vm = body.vmUsagePolicy?.toUpperCase();
  if (vm !== undefined && !PM_POLICIES.includes(vm)) {
    throw invalid(VM_POLICIES.includes(vm) ? `vmUsagePolicy ${body.vmUsagePolicy}: drover runs jobs on physical machines, not in virtual machines; use REQUIREPM or PREFERPM, or leave it out` : `vmUsagePolicy "${body.vmUsagePolicy}" is not one of ${[...PM_POLICIES, ...VM_POLICIES].join(", ")}`);
  }
  let argv: string[];
  if (body.commandLine !== undefined) {
    if (body.commandFile !== undefined) throw invalid("Give either commandFile (with commandLineArguments) or commandLine, not both");
    argv = parseArgsStringToArgv(body.commandLine);
  } else if (body.commandFile !== undefined) {
    argv = [body.commandFile, ...parseArgsStringToArgv(body.commandLineArguments ?? "")];
  } else if (body.templateList?.length) {
    if (body.commandLineArguments !== undefined) {
      throw invalid("commandLineArguments need a commandFile: a template's command runs with the template's args");
    }
    argv = []; // the templates give the command
  } else {
    throw invalid("A job needs commandFile (and optionally commandLineArguments), or commandLine");
  }
  if (body.variables) checkVariables(body.variables);
  let earliestStartAt: Date | undefined;
  if (body.earliestStartDateRequested !== undefined) {
    const ms = parseMwsDate(body.earliestStartDateRequested);
    if (ms === undefined) {
      throw invalid(`earliestStartDateRequested "${body.earliestStartDateRequested}" is not a date like "2011-09-26 16:28:20 MDT" or ISO 8601`);
    }
    earliestStartAt = new Date(ms);
  }
  const req = body.requirements?.[0] ?? {};
  // Tasks of requiredProcessorsPerTask processors each: requiredProcessorCountMinimum counts the
  // tasks, tasksPerNode the tasks on each node (fewer tasks than that: one node has them all).
  const perTask = req.requiredProcessorsPerTask ?? 1;
  const tasks = req.requiredProcessorCountMinimum === undefined ? (req.tasksPerNode !== undefined && body.hosts?.length ? body.hosts.length * req.tasksPerNode : undefined) : Number(req.requiredProcessorCountMinimum);
  const oneNode = tasks !== undefined && req.tasksPerNode !== undefined && tasks < req.tasksPerNode && !body.hosts?.length;
  const cpus = tasks === undefined ? (perTask > 1 ? perTask : undefined) : tasks * perTask;
  const tasksPerNode = req.tasksPerNode === undefined ? undefined : oneNode ? cpus : req.tasksPerNode * perTask;
  // per task in MWS, per processor in drover
  const perProcessor = (mbPerTask: number | undefined) => (mbPerTask === undefined ? undefined : Math.ceil((mbPerTask * MB) / perTask));
  return {
    argv,
    name: body.name,
    group: body.group,
    hosts: body.hosts,
    workingDirectory: body.initialWorkingDirectory,
    environment: body.environmentVariables,
    variables: body.variables,
    holds: body.holds,
    walltimeMs: body.durationRequested === undefined ? undefined : body.durationRequested * 1000,
    earliestStartAt,
    priority: body.userPriority,
    cpus,
    tasksPerNode,
    memoryBytes: perProcessor(req.requiredMemoryPerTask),
    diskBytes: perProcessor(req.requiredDiskPerTask),
    swapBytes: perProcessor(req.requiredSwapPerTask),
    arch: req.requiredArchitecture || undefined,
    os: body.os || undefined,
    partition: req.requiredPartition || undefined,
    features: req.requiredNodeFeatures,
    stdoutFile: body.standardOutputFilePath || undefined,
    stderrFile: body.standardErrorFilePath || undefined,
    loginEnvironment: body.environmentRequested === true ? true : undefined,
    nodeAccess: access === "SINGLEJOB" || access === "SINGLEUSER" ? access : undefined,
    gres: req.genericResources,
    queue: body.queue,
    qos: body.qosRequested,
    account: body.account,
    reservationRequested: body.reservationRequested || undefined,
    mailEvents: body.emailNotifyTypes,
    mailTo: body.emailNotifyUsers,
    flags: body.flags,
    // Moab's RESTARTABLE flag: the job may be requeued; drover requeues it up to 3 times when lost.
    retries: body.retries ?? (body.flags?.includes("RESTARTABLE") ? 3 : undefined),
    templates: body.templateList,
    extra: {
      commandFile: body.commandFile, commandLineArguments: body.commandLineArguments, submitHost: body.submitHost,
      ...(vm ? { vmUsagePolicy: vm } : {}), ...(perTask > 1 ? { processorsPerTask: perTask } : {}), ...(req.tasksPerNode !== undefined ? { tasksPerNodeRequested: req.tasksPerNode } : {}),
    },
  };
}

/** Fields of MWS 3.4.3.1 drover has no counterpart for: refused by name rather than ignored. */
const unsupportedModifications = ["account", "qosRequested", "queue", "requirements", "reservationRequested", "trigger"] as const;

/** The modification payload of MWS 3.4.3.1. */
export const MwsJobModification = t.Object(
  {
    name: t.Optional(t.String({ maxLength: 256 })),
    durationRequested: t.Optional(t.Integer({ minimum: 1, description: "walltime in seconds" })),
    earliestStartDateRequested: t.Optional(t.String()),
    userPriority: t.Optional(t.Integer({ minimum: -1024, maximum: 1024 })),
    holds: t.Optional(t.Array(t.String())),
    messages: t.Optional(t.Array(t.Object({ message: t.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }), { maxItems: 100 })),
    variables: t.Optional(t.Record(t.String(), t.String())),
    flags: t.Optional(t.Array(t.String())),
    ...Object.fromEntries(unsupportedModifications.map((k) => [k, t.Optional(t.Unknown())])),
  },
  { additionalProperties: false },
);
export type MwsJobModification = Static<typeof MwsJobModification>;

export function fromMwsModification(body: MwsJobModification): JobChanges {
  const refused = unsupportedModifications.filter((k) => (body as Record<string, unknown>)[k] !== undefined);
  if (refused.length) throw invalid(`drover does not support modifying ${refused.join(", ")}; nothing was changed`);
  if (body.variables) checkVariables(body.variables);
  let earliestStartAt: Date | undefined;
  if (body.earliestStartDateRequested !== undefined) {
    const ms = parseMwsDate(body.earliestStartDateRequested);
    if (ms === undefined) throw invalid(`earliestStartDateRequested "${body.earliestStartDateRequested}" is not a date like "2011-08-24 15:02:00 MST" or ISO 8601`);
    earliestStartAt = new Date(ms);
  }
  return {
    name: body.name,
    walltimeMs: body.durationRequested === undefined ? undefined : body.durationRequested * 1000,
    earliestStartAt,
    priority: body.userPriority,
    holds: body.holds,
    messages: body.messages?.map((m) => m.message),
    variables: body.variables,
    flags: body.flags,
  };
}

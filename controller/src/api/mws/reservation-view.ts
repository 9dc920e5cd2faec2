import { invalid } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Reservation } from "../../db/schema.ts";
import { checkAclRules } from "../../reservations/acl.ts";
import { expandHostList } from "../../reservations/host-list.ts";
import type { ReservationRequest } from "../../reservations/reservations.ts";
import { formatMwsDate, parseDateField } from "../conventions/dates.ts";
import { checkVariables } from "./job-submission.ts";
import { parseMwsJobId } from "./job-view.ts";
import { standingAcl, type StandingReservation } from "../../reservations/standing.ts";

const MB = 1024 * 1024;

/** The fields of MWS 3.11.2.1's payload. */
const FIELDS = [
  "accountingAccount", "accountingGroup", "accountingQOS", "accountingUser", "aclRules", "comments", "duration", "endDate", "excludeJobs", "flags",
  "hostListExpression", "idPrefix", "label", "owner", "partitionId", "profile", "requirements", "reservationGroup", "resources", "startDate", "subType", "trigger", "variables",
];
const REQUIREMENT_FIELDS = ["architecture", "featureList", "featureMode", "memory", "nodeCount", "os", "taskCount"];

const str = (v: unknown, field: string, max = 256): string => {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string" || v.length > max) throw invalid(`Invalid field "${field}": must be text of at most ${max} characters`);
  return v;
};
const count = (v: unknown, field: string, min = 0): number | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > 1_000_000_000) throw invalid(`Invalid field "${field}": must be a whole number of at least ${min}`);
  return v;
};

/** Translates MWS 3.11.2.1's payload into a reservation request; a 400 names what is wrong. */
export function fromMwsReservation(body: unknown, creator: string): ReservationRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("The body must be a JSON object with the reservation's fields (MWS 3.11.2.1)");
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!FIELDS.includes(k)) throw invalid(`Invalid field "${k}": a reservation has ${FIELDS.join(", ")}`);
  if (b.trigger !== undefined && b.trigger !== null) throw invalid(`Invalid field "trigger": drover does not run commands when reservations begin or end; leave it out (nothing was created)`);
  const startAt = b.startDate === undefined || b.startDate === null || b.startDate === "" ? now() : parseDateField(str(b.startDate, "startDate"), "startDate");
  const duration = count(b.duration, "duration", 1);
  let endAt: number | null = b.endDate === undefined || b.endDate === null || b.endDate === "" ? null : parseDateField(str(b.endDate, "endDate"), "endDate");
  if (duration !== undefined) {
    const byDuration = startAt + duration * 1000;
    if (endAt !== null && Math.abs(endAt - byDuration) > 1000) throw invalid(`Invalid fields "endDate" and "duration": they disagree (startDate + ${duration} s is ${formatMwsDate(byDuration)}); give one of them`);
    endAt = byDuration;
  }
  if (endAt !== null && endAt <= startAt) throw invalid(`Invalid field "endDate": ${formatMwsDate(endAt)} is not after startDate ${formatMwsDate(startAt)}`);
  const flags = b.flags === undefined || b.flags === null ? [] : b.flags;
  if (!Array.isArray(flags) || flags.some((f) => typeof f !== "string")) throw invalid(`Invalid field "flags": must be a list of flag names`);
  const owner = b.owner === undefined || b.owner === null ? { name: creator, type: "USER" } : (b.owner as { name?: unknown; type?: unknown });
  if (typeof owner !== "object" || typeof owner.name !== "string" || !owner.name || (owner.type !== undefined && String(owner.type).toUpperCase() !== "USER")) {
    throw invalid(`Invalid field "owner": must be {"name": USER, "type": "USER"} (drover's reservations are owned by users)`);
  }
  const req = (b.requirements ?? {}) as Record<string, unknown>;
  if (typeof req !== "object" || Array.isArray(req)) throw invalid(`Invalid field "requirements": must be an object`);
  for (const k of Object.keys(req)) if (!REQUIREMENT_FIELDS.includes(k)) throw invalid(`Invalid field "requirements.${k}": requirements have ${REQUIREMENT_FIELDS.join(", ")}`);
  const features = req.featureList === undefined || req.featureList === null ? [] : req.featureList;
  if (!Array.isArray(features) || features.some((f) => typeof f !== "string")) throw invalid(`Invalid field "requirements.featureList": must be a list of feature names`);
  if (req.featureMode !== undefined && req.featureMode !== "" && String(req.featureMode).toUpperCase() !== "AND") throw invalid(`Invalid field "requirements.featureMode": drover matches every feature (AND)`);
  const resources = (b.resources ?? {}) as Record<string, unknown>;
  if (typeof resources !== "object" || Array.isArray(resources)) throw invalid(`Invalid field "resources": must be an object like {"PROCS": 2, "MEM": 1024}`);
  const res: Record<string, number> = {};
  for (const [k, v] of Object.entries(resources)) res[k] = count(v, `resources.${k}`, k === "PROCS" ? -1 : 0)!;
  const gres = Object.fromEntries(Object.entries(res).filter(([k, v]) => !["PROCS", "MEM", "DISK", "SWAP"].includes(k) && v > 0));
  const memoryMb = res.MEM ?? count(req.memory, "requirements.memory") ?? 0;
  // PROCS −1 (or none): whole nodes; otherwise tasks of PROCS processors (and MEM MB) each
  const perTask = res.PROCS !== undefined && res.PROCS > 0 ? { cpus: res.PROCS, memoryBytes: memoryMb * MB, gres } : undefined;
  const hostListExpression = str(b.hostListExpression, "hostListExpression", 65_536);
  const hosts = hostListExpression ? expandHostList(hostListExpression) : [];
  const taskCount = count(req.taskCount, "requirements.taskCount");
  const nodeCount = count(req.nodeCount, "requirements.nodeCount");
  if (!hosts.length && !taskCount && !nodeCount && !perTask && !features.length) {
    throw invalid(`Say what to reserve: hostListExpression ("node[01-04]"), or requirements (taskCount, nodeCount, featureList) and resources ({"PROCS": 2})`);
  }
  const variables = (b.variables ?? {}) as Record<string, string>;
  if (typeof variables !== "object" || Array.isArray(variables) || Object.values(variables).some((v) => typeof v !== "string")) throw invalid(`Invalid field "variables": must map names to text`);
  checkVariables(variables);
  const excludeJobs = b.excludeJobs ?? [];
  if (!Array.isArray(excludeJobs) || excludeJobs.some((j) => typeof j !== "string")) throw invalid(`Invalid field "excludeJobs": must be a list of job ids`);
  // (ids that are not drover's, like the seed's "job1", exclude nothing)
  const excluded = (excludeJobs as string[]).map(parseMwsJobId).filter((n) => !Number.isNaN(n));
  return {
    idPrefix: str(b.idPrefix, "idPrefix", 32) || undefined,
    owner: owner.name,
    startAt,
    endAt,
    hosts,
    hostListExpression,
    taskCount,
    nodeCount,
    features,
    arch: str(req.architecture, "requirements.architecture", 64) || undefined,
    os: str(req.os, "requirements.os", 128) || undefined,
    partition: str(b.partitionId, "partitionId") || undefined,
    perTask,
    flags: (flags as string[]).map((f) => f.toUpperCase()),
    excludeJobs: excluded,
    aclRules: b.aclRules === undefined || b.aclRules === null ? [] : checkAclRules(b.aclRules),
    variables,
    requirements: Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined && v !== null && v !== "")),
    resources: res,
    details: {
      comments: str(b.comments, "comments", 4096), label: str(b.label, "label"), profile: str(b.profile, "profile"), reservationGroup: str(b.reservationGroup, "reservationGroup"),
      subType: str(b.subType, "subType") || "Other", excludeJobs,
      accountingAccount: str(b.accountingAccount, "accountingAccount"), accountingGroup: str(b.accountingGroup, "accountingGroup"),
      accountingQOS: str(b.accountingQOS, "accountingQOS"), accountingUser: str(b.accountingUser, "accountingUser"),
    },
  };
}

const text = (d: Record<string, unknown>, k: string) => (typeof d[k] === "string" ? (d[k] as string) : "");

/** A reservation as MWS 3.11.1.2 shows it. */
export function mwsReservationView(r: Reservation) {
  const at = now();
  const active = r.startAt.getTime() <= at;
  const req = r.requirements as Record<string, unknown>;
  const cpus = r.holds.reduce((s, h) => s + h.cpus, 0);
  const perTask = r.resources.PROCS && r.resources.PROCS > 0 ? r.resources.PROCS : 0;
  const tasks = perTask ? Math.round(cpus / perTask) : r.holds.length;
  const d = r.details;
  return {
    accountingAccount: text(d, "accountingAccount"),
    accountingGroup: text(d, "accountingGroup"),
    accountingQOS: text(d, "accountingQOS"),
    accountingUser: text(d, "accountingUser") || r.owner,
    aclRules: r.aclRules,
    allocatedNodeCount: r.holds.length,
    allocatedProcessorCount: cpus,
    allocatedTaskCount: tasks,
    allocatedNodes: r.holds.map((h) => ({ id: h.node })),
    comments: text(d, "comments"),
    creationDate: formatMwsDate(r.createdAt),
    // seconds; null for one that never ends
    duration: r.endAt === null ? null : Math.round((r.endAt.getTime() - r.startAt.getTime()) / 1000),
    endDate: formatMwsDate(r.endAt),
    excludeJobs: Array.isArray(d.excludeJobs) ? d.excludeJobs : [],
    expireDate: formatMwsDate(r.endAt),
    flags: [...r.flags, ...(active ? ["ISACTIVE"] : [])],
    globalId: "",
    hostListExpression: r.hostListExpression,
    id: r.id,
    idPrefix: r.prefix,
    isActive: active,
    isTracked: false,
    label: text(d, "label"),
    maxTasks: tasks,
    messages: [],
    owner: { name: r.owner, type: "USER" },
    partitionId: r.partition,
    profile: text(d, "profile"),
    requirements: {
      architecture: typeof req.architecture === "string" ? req.architecture : "",
      featureList: Array.isArray(req.featureList) ? req.featureList : [],
      featureMode: typeof req.featureMode === "string" ? req.featureMode : "",
      memory: typeof req.memory === "number" ? req.memory : 0,
      nodeCount: r.holds.length,
      nodeIds: r.holds.map((h) => `${h.node}:${h.cpus}`),
      os: typeof req.os === "string" ? req.os : "",
      taskCount: tasks,
    },
    reservationGroup: text(d, "reservationGroup") || r.standing || "",
    resources: Object.keys(r.resources).length ? r.resources : { PROCS: cpus },
    startDate: formatMwsDate(r.startAt),
    // (processor-seconds of its jobs and idle: drover does not keep these per reservation yet)
    statistics: { caps: 0, cips: 0, taps: 0, tips: 0 },
    subType: text(d, "subType") || "Other",
    taskCount: tasks,
    trigger: null,
    triggerIds: [],
    uniqueIndex: String(r.seq),
    variables: r.variables,
  };
}

/** A standing reservation as MWS 3.14.1.2 shows it (read-only: its definition is a file). */
export function mwsStandingReservationView(sr: StandingReservation) {
  return {
    access: sr.access,
    accounts: sr.accounts,
    aclRules: standingAcl(sr),
    chargeAccount: "",
    chargeUser: "",
    classes: sr.classes,
    clusters: [],
    comment: sr.comment,
    days: sr.days.length ? sr.days : sr.period === "DAY" ? ["ALL"] : [],
    depth: sr.depth,
    disabled: sr.disabled,
    endTime: sr.endTime,
    flags: sr.flags,
    groups: sr.groups,
    hosts: sr.hosts,
    id: sr.id,
    jobAttributes: [],
    maxJob: 0,
    maxTime: sr.maxTime,
    messages: [],
    nodeFeatures: sr.nodeFeatures,
    os: "",
    owner: { name: sr.owner, type: "USER" },
    partition: sr.partition || "ALL",
    period: sr.period,
    procLimit: null,
    psLimit: null,
    qoses: sr.qoses,
    reservationAccessList: [],
    reservationGroup: sr.id,
    resources: Object.keys(sr.resources).length ? sr.resources : { PROCS: -1 },
    rollbackOffset: 0,
    startTime: sr.startTime,
    taskCount: sr.taskCount,
    tasksPerNode: 0,
    timeLimit: -1,
    triggers: [],
    type: "",
    users: sr.users,
  };
}

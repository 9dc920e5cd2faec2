import { parse } from "yaml";
import { WatchedFile } from "@drover/shared/watched-file";
import { forbidden, invalid } from "@drover/shared/errors";
import { parseDuration } from "@drover/shared/durations";
import type { JobSpec } from "./job-spec.ts";

/** A queue (Moab's class): what its jobs get and who may use it. */
export interface QueueDefinition {
  name: string;
  /** jobs that name no queue go to the default one */
  default: boolean;
  defaultWalltimeMs: number | null;
  maxWalltimeMs: number | null;
  /** who may submit to it; null: everyone */
  users: string[] | null;
  /** the partition its jobs run in; null: any */
  partition: string | null;
  /** added to its jobs' priority */
  priority: number;
}

/** A quality of service: a priority boost and limits. */
export interface QosDefinition {
  name: string;
  priority: number;
  /** the most jobs of one user with this QoS on nodes at once; null: no limit */
  maxRunningPerUser: number | null;
  users: string[] | null;
}

export interface QueueSettings {
  queues: Map<string, QueueDefinition>;
  qos: Map<string, QosDefinition>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Parses queues.yaml; throws naming the first thing that is wrong. */
export function parseQueueSettings(text: string): QueueSettings {
  const doc = (parse(text) ?? {}) as Record<string, unknown>;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new Error("the file must be a mapping with queues: and qos:");
  for (const key of Object.keys(doc)) if (key !== "queues" && key !== "qos") throw new Error(`unknown section "${key}" (queues, qos)`);
  const section = (name: string) => {
    const s = doc[name] ?? {};
    if (typeof s !== "object" || Array.isArray(s) || s === null) throw new Error(`${name} must be a mapping of names to settings`);
    return Object.entries(s as Record<string, unknown>).map(([n, v]) => {
      if (!NAME.test(n)) throw new Error(`${name} name "${n}" must be letters, digits, _ . -`);
      if (v === null) v = {};
      if (typeof v !== "object" || Array.isArray(v)) throw new Error(`${name}.${n} must be a mapping of settings`);
      return [n, v as Record<string, unknown>] as const;
    });
  };
  const known = (where: string, v: Record<string, unknown>, keys: string[]) => {
    for (const k of Object.keys(v)) if (!keys.includes(k)) throw new Error(`${where}: unknown setting "${k}" (${keys.join(", ")})`);
  };
  const int = (where: string, v: unknown, min: number) => {
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new Error(`${where} must be a whole number of at least ${min}`);
    return v;
  };
  const duration = (where: string, v: unknown) => {
    if (v === undefined || v === null) return null;
    try {
      return parseDuration(v as string | number);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  };
  const users = (where: string, v: unknown) => {
    if (v === undefined || v === null || v === "*") return null;
    if (!Array.isArray(v) || v.some((u) => typeof u !== "string")) throw new Error(`${where} must be a list of user names (or "*")`);
    return v as string[];
  };
  const queues = new Map<string, QueueDefinition>();
  for (const [name, v] of section("queues")) {
    const at = `queues.${name}`;
    known(at, v, ["default", "defaultWalltime", "maxWalltime", "users", "partition", "priority"]);
    if (v.default !== undefined && typeof v.default !== "boolean") throw new Error(`${at}.default must be true or false`);
    if (v.partition !== undefined && typeof v.partition !== "string") throw new Error(`${at}.partition must be a partition name`);
    const q: QueueDefinition = {
      name,
      default: v.default === true,
      defaultWalltimeMs: duration(`${at}.defaultWalltime`, v.defaultWalltime),
      maxWalltimeMs: duration(`${at}.maxWalltime`, v.maxWalltime),
      users: users(`${at}.users`, v.users),
      partition: (v.partition as string | undefined) ?? null,
      priority: int(`${at}.priority`, v.priority, -100_000) ?? 0,
    };
    if (q.defaultWalltimeMs !== null && q.maxWalltimeMs !== null && q.defaultWalltimeMs > q.maxWalltimeMs) throw new Error(`${at}: defaultWalltime is longer than maxWalltime`);
    queues.set(name, q);
  }
  const defaults = [...queues.values()].filter((q) => q.default);
  if (defaults.length > 1) throw new Error(`only one queue may be the default (${defaults.map((q) => q.name).join(", ")} are)`);
  const qos = new Map<string, QosDefinition>();
  for (const [name, v] of section("qos")) {
    const at = `qos.${name}`;
    known(at, v, ["priority", "maxRunningPerUser", "users"]);
    qos.set(name, { name, priority: int(`${at}.priority`, v.priority, -100_000) ?? 0, maxRunningPerUser: int(`${at}.maxRunningPerUser`, v.maxRunningPerUser, 1), users: users(`${at}.users`, v.users) });
  }
  return { queues, qos };
}

/** The queues and QoS levels an administrator keeps in DROVER_HOME/etc/queues.yaml (read again when it changes). */
export class QueueCatalogue extends WatchedFile<QueueSettings> {
  constructor(file: string) {
    super(file, "queues and QoS", parseQueueSettings, () => ({ queues: new Map(), qos: new Map() }), (v) => ({
      queues: [...v.queues.keys()].join(",") || "none",
      qos: [...v.qos.keys()].join(",") || "none",
    }));
  }
}

const mayUse = (users: string[] | null, user: string) => users === null || users.includes(user);
const hours = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 1000)} s`);

/**
 * A submission's queue and QoS: the queue named (or the default one), the QoS named; unknown is a
 * 400 naming it, not open to the user a 403 saying so. The queue's default walltime fills an
 * unset one and its maximum bounds it; its partition is where the job runs; the queue's and the
 * QoS's priorities are added to the job's.
 */
export function applyQueue(settings: QueueSettings, user: string, spec: JobSpec): JobSpec {
  let queue: QueueDefinition | undefined;
  if (spec.queue !== undefined) {
    queue = settings.queues.get(spec.queue);
    if (!queue) throw invalid(`Queue "${spec.queue}" does not exist${settings.queues.size ? ` (queues: ${[...settings.queues.keys()].join(", ")})` : ": no queues are defined"}`);
    if (!mayUse(queue.users, user)) throw forbidden(`Queue ${queue.name} is not open to user ${user}`);
  } else {
    const fallback = [...settings.queues.values()].find((q) => q.default);
    if (fallback && mayUse(fallback.users, user)) queue = fallback;
  }
  let qos: QosDefinition | undefined;
  if (spec.qos !== undefined) {
    qos = settings.qos.get(spec.qos);
    if (!qos) throw invalid(`QoS "${spec.qos}" does not exist${settings.qos.size ? ` (QoS: ${[...settings.qos.keys()].join(", ")})` : ": no QoS levels are defined"}`);
    if (!mayUse(qos.users, user)) throw forbidden(`QoS ${qos.name} is not open to user ${user}`);
  }
  if (!queue && !qos) return spec;
  let walltimeMs = spec.walltimeMs ?? queue?.defaultWalltimeMs ?? undefined;
  if (queue?.maxWalltimeMs && walltimeMs !== undefined && walltimeMs > queue.maxWalltimeMs) {
    throw invalid(`The walltime of ${hours(walltimeMs)} is longer than queue ${queue.name} allows (${hours(queue.maxWalltimeMs)})`);
  }
  if (queue?.maxWalltimeMs && walltimeMs === undefined) walltimeMs = queue.maxWalltimeMs;
  if (queue?.partition && spec.partition && spec.partition !== queue.partition) {
    throw invalid(`Queue ${queue.name} runs jobs in partition ${queue.partition}, not ${spec.partition}`);
  }
  const boost = (queue?.priority ?? 0) + (qos?.priority ?? 0);
  return {
    ...spec,
    queue: queue?.name,
    qos: qos?.name,
    walltimeMs,
    partition: queue?.partition ?? spec.partition,
    priority: (spec.priority ?? 0) + boost,
    extra: { ...spec.extra, ...(boost ? { priorityBoost: boost, userPriority: spec.priority ?? 0 } : {}) },
  };
}

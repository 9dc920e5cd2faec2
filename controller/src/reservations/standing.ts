import { createHash } from "node:crypto";
import { parse } from "yaml";
import { WatchedFile } from "@drover/shared/watched-file";
import type { AclRule } from "../db/schema.ts";
import { expandHostList } from "./host-list.ts";
import { RESERVATION_FLAGS, type ReservationRequest } from "./reservations.ts";

// Standing reservations (MWS 3.14, Moab's SRCFG): an administrator defines them in
// DROVER_HOME/etc/standing-reservations.yaml; drover materialises each as ordinary reservations
// for its next `depth` periods (ids ID.1, ID.2, …), which the scheduler honours like any other.
// Times are UTC: a DAY period begins at 00:00, a WEEK at Sunday 00:00.

export interface StandingReservation {
  id: string;
  period: "DAY" | "WEEK";
  /** DAY: the weekdays it is on (all when empty) */
  days: string[];
  /** seconds into the period */
  startTime: number;
  endTime: number;
  depth: number;
  hosts: string[];
  nodeFeatures: string[];
  partition: string;
  taskCount: number;
  resources: Record<string, number>;
  /** who may use it (its ACL): users, groups, accounts, QoS, queues (classes), and jobs of at most maxTime seconds */
  users: string[];
  groups: string[];
  accounts: string[];
  qoses: string[];
  classes: string[];
  maxTime: number;
  access: "DEDICATED" | "SHARED";
  flags: string[];
  owner: string;
  comment: string;
  disabled: boolean;
}

const DAY_MS = 86_400_000;
export const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const KEYS = ["period", "days", "startTime", "endTime", "depth", "hosts", "nodeFeatures", "partition", "taskCount", "resources", "users", "groups", "accounts", "qoses", "classes", "maxTime", "access", "flags", "owner", "comment", "disabled"];

/** Parses standing-reservations.yaml; throws naming the first thing that is wrong. */
export function parseStandingReservations(text: string): Map<string, StandingReservation> {
  const doc = (parse(text) ?? {}) as Record<string, unknown>;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new Error("the file must map standing reservation names to their settings");
  const out = new Map<string, StandingReservation>();
  for (const [id, raw] of Object.entries(doc)) {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(id)) throw new Error(`"${id}": a name begins with a letter and holds letters, digits, _ and - (at most 32)`);
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${id} must be a mapping of settings`);
    const v = raw as Record<string, unknown>;
    for (const k of Object.keys(v)) if (!KEYS.includes(k)) throw new Error(`${id}: unknown setting "${k}" (${KEYS.join(", ")})`);
    const list = (k: string) => {
      const x = v[k] ?? [];
      if (!Array.isArray(x) || x.some((e) => typeof e !== "string")) throw new Error(`${id}.${k} must be a list of names`);
      return x as string[];
    };
    const int = (k: string, def: number, min = 0) => {
      const x = v[k] ?? def;
      if (typeof x !== "number" || !Number.isInteger(x) || x < min) throw new Error(`${id}.${k} must be a whole number of at least ${min}`);
      return x;
    };
    const period = String(v.period ?? "DAY").toUpperCase();
    if (period !== "DAY" && period !== "WEEK") throw new Error(`${id}.period must be DAY or WEEK`);
    const length = period === "DAY" ? 86_400 : 7 * 86_400;
    const days = list("days").map((d) => {
      const day = WEEKDAYS.find((w) => w.toLowerCase() === d.toLowerCase() || w.slice(0, 3).toLowerCase() === d.toLowerCase());
      if (!day) throw new Error(`${id}.days: "${d}" is not a weekday`);
      return day;
    });
    if (days.length && period !== "DAY") throw new Error(`${id}.days apply to a DAY period (a WEEK's startTime says the day)`);
    const startTime = int("startTime", 0);
    const endTime = int("endTime", length);
    if (startTime >= length) throw new Error(`${id}.startTime must be less than the period (${length} s)`);
    if (endTime <= startTime) throw new Error(`${id}.endTime must be after startTime`);
    const hosts = typeof v.hosts === "string" ? expandHostList(v.hosts) : list("hosts").flatMap((h) => expandHostList(h));
    const access = String(v.access ?? "SHARED").toUpperCase();
    if (access !== "DEDICATED" && access !== "SHARED") throw new Error(`${id}.access must be DEDICATED or SHARED`);
    const flags = list("flags").map((f) => f.toUpperCase());
    for (const f of flags) if (!RESERVATION_FLAGS.includes(f)) throw new Error(`${id}.flags: drover does not honour ${f} (${RESERVATION_FLAGS.join(", ")})`);
    const resources = (v.resources ?? {}) as Record<string, unknown>;
    if (typeof resources !== "object" || Object.values(resources).some((x) => typeof x !== "number")) throw new Error(`${id}.resources must map PROCS, MEM (MB) and generic resources to numbers`);
    if (!hosts.length && !list("nodeFeatures").length && !v.taskCount) throw new Error(`${id}: say which nodes (hosts, or nodeFeatures and taskCount)`);
    out.set(id, {
      id, period, days, startTime, endTime, depth: int("depth", 1, 1), hosts, nodeFeatures: list("nodeFeatures"), partition: typeof v.partition === "string" ? v.partition : "",
      taskCount: int("taskCount", 0), resources: resources as Record<string, number>, users: list("users"), groups: list("groups"), accounts: list("accounts"),
      qoses: list("qoses"), classes: list("classes"), maxTime: int("maxTime", 0), access, flags, owner: typeof v.owner === "string" ? v.owner : "root",
      comment: typeof v.comment === "string" ? v.comment : "", disabled: v.disabled === true,
    });
  }
  return out;
}

/** The windows a standing reservation holds from the period `at` falls in, `depth` periods on (those not ended yet). */
export function standingWindows(sr: StandingReservation, at: number): { startAt: number; endAt: number }[] {
  const dayStart = Math.floor(at / DAY_MS) * DAY_MS;
  const windows: { startAt: number; endAt: number }[] = [];
  if (sr.period === "DAY") {
    // (the day before too: a window may run past midnight)
    for (let k = -1; k < sr.depth; k++) {
      const start = dayStart + k * DAY_MS;
      if (sr.days.length && !sr.days.includes(WEEKDAYS[new Date(start).getUTCDay()]!)) continue;
      windows.push({ startAt: start + sr.startTime * 1000, endAt: start + sr.endTime * 1000 });
    }
  } else {
    const weekStart = dayStart - new Date(dayStart).getUTCDay() * DAY_MS;
    for (let k = -1; k < sr.depth; k++) {
      const start = weekStart + k * 7 * DAY_MS;
      windows.push({ startAt: start + sr.startTime * 1000, endAt: start + sr.endTime * 1000 });
    }
  }
  return windows.filter((w) => w.endAt > at);
}

/** Its ACL as rules (what MWS shows and the scheduler checks). */
export function standingAcl(sr: StandingReservation): AclRule[] {
  const rule = (type: string, value: string, comparator = "LEXIGRAPHIC_EQUAL") => ({ type, value, comparator, affinity: "POSITIVE" });
  return [
    ...sr.users.map((u) => rule("USER", u)),
    ...sr.groups.map((g) => rule("GROUP", g)),
    ...sr.accounts.map((a) => rule("ACCOUNT", a)),
    ...sr.qoses.map((q) => rule("QOS", q)),
    ...sr.classes.map((c) => rule("CLASS", c)),
    ...(sr.maxTime ? [rule("DURATION", String(sr.maxTime), "LESS_THAN_OR_EQUAL")] : []),
  ];
}

/** The request that materialises one window of it. */
export function standingRequest(sr: StandingReservation, window: { startAt: number; endAt: number }): ReservationRequest {
  const procs = sr.resources.PROCS ?? 0;
  const gres = Object.fromEntries(Object.entries(sr.resources).filter(([k]) => !["PROCS", "MEM", "DISK", "SWAP"].includes(k)));
  return {
    idPrefix: sr.id, owner: sr.owner, startAt: window.startAt, endAt: window.endAt, hosts: sr.hosts, hostListExpression: sr.hosts.join(","),
    taskCount: sr.taskCount || undefined, features: sr.nodeFeatures, partition: sr.partition || undefined,
    perTask: procs > 0 ? { cpus: procs, memoryBytes: (sr.resources.MEM ?? 0) * 1024 * 1024, gres } : undefined,
    flags: [...new Set([...sr.flags, ...(sr.access === "DEDICATED" ? ["DEDICATEDRESOURCE"] : [])])],
    aclRules: standingAcl(sr), variables: {}, requirements: { featureList: sr.nodeFeatures, taskCount: sr.taskCount }, resources: sr.resources,
    details: { comments: sr.comment, reservationGroup: sr.id },
    standing: { id: sr.id, signature: signatureOf(sr) },
  };
}

/** Changes when its definition changes (its materialised reservations that have not begun are then made anew). */
export const signatureOf = (sr: StandingReservation) => createHash("sha256").update(JSON.stringify(sr)).digest("hex").slice(0, 16);

/** The definitions an administrator keeps in DROVER_HOME/etc/standing-reservations.yaml (read again when it changes). */
export class StandingCatalogue extends WatchedFile<Map<string, StandingReservation>> {
  constructor(file: string) {
    super(file, "standing reservations", parseStandingReservations, () => new Map(), (v) => ({ ids: [...v.keys()].join(",") || "none" }));
  }
}

import { invalid } from "@drover/shared/errors";
import type { AclRule } from "../db/schema.ts";

// Reservation access control lists (MWS 3.1, Moab's ACLs): a job may use a reservation's
// resources when ANY rule matches it (Moab's default). Affinity says how much it wants them:
// POSITIVE (it prefers the reserved nodes), NEUTRAL (no preference), NEGATIVE (only as a last
// resort). A rule that should keep someone out is written with a NOT_EQUAL comparator, or by
// granting only the others.

/** What a rule can be about, and whether its value is a name or a number of seconds. */
const TYPES: Record<string, "name" | "seconds"> = {
  USER: "name",
  GROUP: "name",
  ACCOUNT: "name",
  QOS: "name",
  CLASS: "name",
  QUEUE: "name",
  JOB_TEMPLATE: "name",
  "JOB-TEMPLATE": "name",
  RESERVATION_ID: "name",
  DURATION: "seconds",
};
const NAME_COMPARATORS = ["EQUAL", "LEXIGRAPHIC_EQUAL", "NOT_EQUAL", "LEXIGRAPHIC_NOT_EQUAL"];
const NUMBER_COMPARATORS = ["EQUAL", "NOT_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL"];
const AFFINITIES = ["POSITIVE", "NEUTRAL", "NEGATIVE"];

/** What a job is, as ACL rules look at it. */
export interface AclSubject {
  owner: string;
  groups: string[];
  account: string | null;
  qos: string | null;
  queue: string | null;
  templates: string[];
  /** null: none (it may run for ever) */
  walltimeMs: number | null;
  reservationRequested: string | null;
}

/** Checks rules a client sent and fills in the defaults; a 400 names what is wrong. */
export function checkAclRules(input: unknown, field = "aclRules"): AclRule[] {
  if (!Array.isArray(input)) throw invalid(`Invalid field "${field}": must be a list of rules like {"type": "USER", "value": "ted"}`);
  if (input.length > 1000) throw invalid(`Invalid field "${field}": at most 1000 rules`);
  return input.map((r, i) => {
    const at = `${field}[${i}]`;
    if (typeof r !== "object" || r === null || Array.isArray(r)) throw invalid(`Invalid field "${at}": must be an object with type and value`);
    const rule = r as Record<string, unknown>;
    for (const k of Object.keys(rule)) if (!["type", "value", "comparator", "affinity"].includes(k)) throw invalid(`Invalid field "${at}.${k}": a rule has type, value, comparator and affinity`);
    const type = typeof rule.type === "string" ? rule.type.toUpperCase() : "";
    const kind = TYPES[type];
    if (!kind) throw invalid(`Invalid field "${at}.type": "${String(rule.type ?? "")}" is not a rule type drover supports (${Object.keys(TYPES).join(", ")})`);
    const value = typeof rule.value === "number" ? String(rule.value) : rule.value;
    if (typeof value !== "string" || !value.trim() || value.length > 256) throw invalid(`Invalid field "${at}.value": must be a name (or, for DURATION, seconds)`);
    if (kind === "seconds" && !/^\d{1,10}$/.test(value.trim())) throw invalid(`Invalid field "${at}.value": a DURATION rule's value is a number of seconds, not "${value}"`);
    const comparators = kind === "seconds" ? NUMBER_COMPARATORS : NAME_COMPARATORS;
    const comparator = rule.comparator === undefined || rule.comparator === null ? (kind === "seconds" ? "LESS_THAN_OR_EQUAL" : "LEXIGRAPHIC_EQUAL") : String(rule.comparator).toUpperCase();
    if (!comparators.includes(comparator)) throw invalid(`Invalid field "${at}.comparator": "${String(rule.comparator)}" does not apply to ${type} rules (${comparators.join(", ")})`);
    const affinity = rule.affinity === undefined || rule.affinity === null ? "POSITIVE" : String(rule.affinity).toUpperCase();
    if (!AFFINITIES.includes(affinity)) throw invalid(`Invalid field "${at}.affinity": "${String(rule.affinity)}" is not one drover honours (${AFFINITIES.join(", ")})`);
    return { type, value: value.trim(), comparator, affinity };
  });
}

/** The id of a rule in URLs (DELETE …/acl-rules/TYPE:VALUE). */
export const aclRuleId = (rule: Pick<AclRule, "type" | "value">) => `${rule.type}:${rule.value}`;

/** Rules with another rule's type and value replace it (MWS 3.1.2); new ones are added. */
export function mergeAclRules(existing: AclRule[], changes: AclRule[]): AclRule[] {
  const merged = [...existing];
  for (const rule of changes) {
    const at = merged.findIndex((r) => r.type === rule.type && r.value === rule.value);
    if (at >= 0) merged[at] = rule;
    else merged.push(rule);
  }
  return merged;
}

function compareNames(comparator: string, candidates: (string | null)[], value: string): boolean {
  const equal = candidates.some((c) => c === value);
  return comparator.endsWith("NOT_EQUAL") ? !equal : equal;
}

function compareSeconds(comparator: string, walltimeMs: number | null, value: string): boolean {
  const seconds = walltimeMs === null ? Infinity : walltimeMs / 1000;
  const limit = Number(value);
  switch (comparator) {
    case "EQUAL": return seconds === limit;
    case "NOT_EQUAL": return seconds !== limit;
    case "LESS_THAN": return seconds < limit;
    case "LESS_THAN_OR_EQUAL": return seconds <= limit;
    case "GREATER_THAN": return seconds > limit;
    default: return seconds >= limit;
  }
}

/** Whether one rule matches the job. */
export function ruleMatches(rule: AclRule, job: AclSubject): boolean {
  switch (rule.type) {
    case "USER": return compareNames(rule.comparator, [job.owner], rule.value);
    case "GROUP": return compareNames(rule.comparator, job.groups, rule.value);
    case "ACCOUNT": return compareNames(rule.comparator, [job.account], rule.value);
    case "QOS": return compareNames(rule.comparator, [job.qos], rule.value);
    case "CLASS":
    case "QUEUE": return compareNames(rule.comparator, [job.queue], rule.value);
    case "JOB_TEMPLATE":
    case "JOB-TEMPLATE": return compareNames(rule.comparator, job.templates, rule.value);
    case "RESERVATION_ID": return compareNames(rule.comparator, [job.reservationRequested], rule.value);
    case "DURATION": return compareSeconds(rule.comparator, job.walltimeMs, rule.value);
    default: return false;
  }
}

/**
 * How a reservation takes a job: undefined when it does not admit it; else the affinity of the
 * first matching rule (its owner's jobs: POSITIVE).
 */
export function admission(reservation: { owner: string; aclRules: AclRule[] }, job: AclSubject): string | undefined {
  if (job.owner === reservation.owner) return "POSITIVE";
  return reservation.aclRules.find((r) => ruleMatches(r, job))?.affinity;
}

/** The rules in words, for a job's reason ("USER = alice, DURATION <= 3600 s"). */
export function describeAcl(rules: AclRule[]): string {
  const op: Record<string, string> = { EQUAL: "=", LEXIGRAPHIC_EQUAL: "=", NOT_EQUAL: "≠", LEXIGRAPHIC_NOT_EQUAL: "≠", LESS_THAN: "<", LESS_THAN_OR_EQUAL: "<=", GREATER_THAN: ">", GREATER_THAN_OR_EQUAL: ">=" };
  return rules.length ? rules.map((r) => `${r.type} ${op[r.comparator] ?? r.comparator} ${r.value}${r.type === "DURATION" ? " s" : ""}`).join(", ") : "no rules: its owner's jobs only";
}

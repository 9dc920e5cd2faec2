import JSON5 from "json5";
import { invalid } from "@drover/shared/errors";
import { parseMwsDate } from "./dates.ts";

// MWS 2.2 / 3.12.1.1 queries: a MongoDB-style filter over the rendered objects.
// Keys are dotted paths (through objects and lists); values are literals or operator objects.

export type Filter = Record<string, unknown>;

const operators = new Set(["$ne", "$in", "$nin", "$lt", "$lte", "$gt", "$gte", "$type", "$exists", "$eq"]);

/** Parses the `query` parameter; MWS accepts unquoted keys (`{user:"bob"}`), so JSON5 is used. */
export function parseFilter(text: string): Filter {
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch (e) {
    throw invalid(`The query parameter is not valid JSON: ${(e as Error).message}`, 'Example: query={"state":"Running"}');
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalid('The query parameter must be a JSON object such as {"user":"bob"}');
  }
  checkOperators(parsed as Filter);
  return parsed as Filter;
}

function checkOperators(filter: Filter): void {
  for (const [key, cond] of Object.entries(filter)) {
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(cond)) throw invalid(`${key} in query must be a list of queries`);
      cond.forEach((c) => checkOperators(c as Filter));
      continue;
    }
    if (key.startsWith("$")) throw invalid(`Unsupported query operator ${key}`);
    if (isOperatorObject(cond)) {
      for (const op of Object.keys(cond)) {
        if (!operators.has(op)) throw invalid(`Unsupported query operator ${op}; supported: ${[...operators].join(", ")}`);
      }
      if ("$in" in cond && !Array.isArray(cond.$in)) throw invalid("$in in query takes a list");
      if ("$nin" in cond && !Array.isArray(cond.$nin)) throw invalid("$nin in query takes a list");
    }
  }
}

function isOperatorObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).some((k) => k.startsWith("$"));
}

/** Every value reachable at a dotted path; lists are walked into as MongoDB does. */
function valuesAt(obj: unknown, path: string[]): unknown[] {
  if (path.length === 0) return Array.isArray(obj) ? [obj, ...obj] : [obj];
  if (Array.isArray(obj)) return obj.flatMap((el) => valuesAt(el, path));
  if (obj === null || typeof obj !== "object") return [undefined];
  return valuesAt((obj as Record<string, unknown>)[path[0]!], path.slice(1));
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined && b === null) return true;
  return typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b);
}

/** Orders two values: numbers numerically, dates (ISO or MWS form) by time, strings by text. */
export function compareValues(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") {
    const da = parseMwsDate(a);
    const db = parseMwsDate(b);
    if (da !== undefined && db !== undefined) return da - db;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  return undefined;
}

function matchOperator(values: unknown[], op: string, arg: unknown): boolean {
  const cmp = (test: (c: number) => boolean) =>
    values.some((v) => {
      const c = compareValues(v, arg);
      return c !== undefined && test(c);
    });
  switch (op) {
    case "$eq":
      return values.some((v) => equal(v, arg));
    case "$ne":
      return !values.some((v) => equal(v, arg));
    case "$in":
      return values.some((v) => (arg as unknown[]).some((a) => equal(v, a)));
    case "$nin":
      return !values.some((v) => (arg as unknown[]).some((a) => equal(v, a)));
    case "$lt":
      return cmp((c) => c < 0);
    case "$lte":
      return cmp((c) => c <= 0);
    case "$gt":
      return cmp((c) => c > 0);
    case "$gte":
      return cmp((c) => c >= 0);
    case "$exists":
      return values.some((v) => v !== undefined) === Boolean(arg);
    case "$type":
      return values.some((v) => bsonType(v) === Number(arg));
    default:
      throw invalid(`Unsupported query operator ${op}`);
  }
}

/** The BSON type numbers MongoDB uses with $type (10 is null, which MWS documents). */
function bsonType(v: unknown): number | undefined {
  if (v === null || v === undefined) return 10;
  if (typeof v === "number") return 1;
  if (typeof v === "string") return 2;
  if (Array.isArray(v)) return 4;
  if (typeof v === "object") return 3;
  if (typeof v === "boolean") return 8;
  return undefined;
}

/** True when the object satisfies the filter. */
export function matches(obj: unknown, filter: Filter): boolean {
  for (const [key, cond] of Object.entries(filter)) {
    if (key === "$and") {
      if (!(cond as Filter[]).every((c) => matches(obj, c))) return false;
      continue;
    }
    if (key === "$or") {
      if (!(cond as Filter[]).some((c) => matches(obj, c))) return false;
      continue;
    }
    const values = valuesAt(obj, key.split("."));
    if (isOperatorObject(cond)) {
      for (const [op, arg] of Object.entries(cond)) if (!matchOperator(values, op, arg)) return false;
    } else if (!values.some((v) => equal(v, cond))) {
      return false;
    }
  }
  return true;
}

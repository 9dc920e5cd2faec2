import JSON5 from "json5";
import { invalid } from "@drover/shared/errors";
import { compareValues } from "./query.ts";

export type SortSpec = [path: string[], direction: 1 | -1][];

/** Parses MWS's `sort={"field.sub":1,"other":-1}`. */
export function parseSort(text: string): SortSpec {
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch {
    throw invalid('The sort parameter must be a JSON object such as {"name":1} or {"name":-1}');
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalid('The sort parameter must be a JSON object such as {"name":1} or {"name":-1}');
  }
  return Object.entries(parsed).map(([key, dir]) => {
    if (dir !== 1 && dir !== -1) throw invalid(`Sort direction for "${key}" must be 1 (ascending) or -1 (descending)`);
    return [key.split("."), dir];
  });
}

function valueAt(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const part of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** A stable sort by the spec; missing and null values sort first, as MongoDB does. */
export function sortBy<T>(items: T[], spec: SortSpec): T[] {
  return [...items].sort((a, b) => {
    for (const [path, dir] of spec) {
      const va = valueAt(a, path);
      const vb = valueAt(b, path);
      const aNull = va === undefined || va === null;
      const bNull = vb === undefined || vb === null;
      if (aNull || bNull) {
        if (aNull !== bNull) return (aNull ? -1 : 1) * dir;
        continue;
      }
      const c = compareValues(va, vb) ?? String(va).localeCompare(String(vb));
      if (c !== 0) return (c < 0 ? -1 : 1) * dir;
    }
    return 0;
  });
}

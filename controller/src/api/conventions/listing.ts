import { invalid } from "@drover/shared/errors";
import { excludeFields, pathTree, selectFields } from "./fields.ts";
import { matches, parseFilter, type Filter } from "./query.ts";
import { parseSort, sortBy, type SortSpec } from "./sort.ts";

/** The global URL parameters of MWS 2.2, parsed once per request. */
export interface ListParams {
  pretty: boolean;
  fields?: ReturnType<typeof pathTree>;
  excludeFields?: ReturnType<typeof pathTree>;
  max?: number;
  offset: number;
  sort?: SortSpec;
  query?: Filter;
}

export interface ListEnvelope<T> {
  totalCount: number;
  resultCount: number;
  results: T[];
}

function wholeNumber(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw invalid(`The ${name} parameter must be a whole number of 0 or more, not "${value}"`);
  // (max=99999999999999999999 asks for everything: held to the largest whole number a query can
  // take instead of reaching the database as 1e+20)
  return Math.min(Number(value), Number.MAX_SAFE_INTEGER);
}

/** Reads pretty, fields, exclude-fields, max, offset, sort and query from the query string. */
export function parseListParams(q: Record<string, string | undefined>): ListParams {
  const params: ListParams = { pretty: q.pretty === "true", offset: 0 };
  if (q.pretty !== undefined && q.pretty !== "true" && q.pretty !== "false") {
    throw invalid(`The pretty parameter must be true or false, not "${q.pretty}"`);
  }
  if (q.fields) params.fields = pathTree(q.fields);
  if (q["exclude-fields"]) params.excludeFields = pathTree(q["exclude-fields"]);
  if (q.max !== undefined) params.max = wholeNumber("max", q.max);
  if (q.offset !== undefined) params.offset = wholeNumber("offset", q.offset);
  if (q.sort) params.sort = parseSort(q.sort);
  if (q.query) params.query = parseFilter(q.query);
  return params;
}

/** Applies field selection and exclusion to one rendered object. */
export function shapeObject<T>(obj: T, params: Pick<ListParams, "fields" | "excludeFields">): unknown {
  let out: unknown = obj;
  if (params.fields) out = selectFields(out, params.fields);
  if (params.excludeFields) out = excludeFields(out, params.excludeFields);
  return out;
}

/**
 * Builds the MWS list envelope from rendered objects: query, then sort, then offset/max, then
 * field selection on each result. totalCount counts every record available to the caller
 * (MWS 2.3: it differs from resultCount when querying or paging).
 */
export function listEnvelope<T>(items: T[], params: ListParams, totalAvailable = items.length): ListEnvelope<unknown> {
  let selected = params.query ? items.filter((i) => matches(i, params.query!)) : items;
  if (params.sort) selected = sortBy(selected, params.sort);
  const page = selected.slice(params.offset, params.max === undefined ? undefined : params.offset + params.max);
  return {
    totalCount: totalAvailable,
    resultCount: page.length,
    results: page.map((i) => shapeObject(i, params)),
  };
}

/** True when paging can be pushed down to the database (no query or sort on rendered fields). */
export function pageable(params: ListParams): boolean {
  return !params.query && !params.sort;
}

/** Serialises a body, pretty-printed when asked. */
export function jsonResponse(body: unknown, params: { pretty: boolean }, status = 200, headers: Record<string, string> = {}): Response {
  const text = params.pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  return new Response(text, { status, headers: { "content-type": "application/json;charset=utf-8", ...headers } });
}

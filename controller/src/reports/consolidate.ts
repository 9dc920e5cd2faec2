// The "average" consolidation function of MWS 4.1.2 and 4.2.3, applied to the data of the samples
// of one datapoint window:
//   numbers            → averaged
//   strings            → gathered into an array
//   objects            → consolidated field by field, recursively
//   lists              → combined into one flat list
//   mixed types        → gathered into one flat array (lists spread, other values appended),
//                        except that when at least one value is a number the others are
//                        ignored and the numbers averaged
//   null               → ignored, unless every value is null: then the result is null

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Sums are taken in the order given; the average is rounded to 15 significant digits so that
 * binary floating-point noise (0.05 + 0.1 = 0.15000000000000002) does not reach the report.
 */
function average(numbers: number[]): number {
  let sum = 0;
  for (const n of numbers) sum += n;
  return Number((sum / numbers.length).toPrecision(15));
}

/**
 * Consolidates the values one field took across the samples of a window (undefined = the
 * sample did not have the field, which is not a value at all).
 */
export function consolidateValues(values: unknown[]): unknown {
  const present = values.filter((v) => v !== undefined);
  const nonNull = present.filter((v) => v !== null);
  if (nonNull.length === 0) return null;

  const numbers = nonNull.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (numbers.length > 0) return average(numbers);

  if (nonNull.every(isPlainObject)) {
    const keys = new Set<string>();
    for (const o of nonNull) for (const k of Object.keys(o)) keys.add(k);
    const out: Record<string, unknown> = {};
    for (const k of [...keys].sort()) out[k] = consolidateValues(nonNull.map((o) => (o as Record<string, unknown>)[k]));
    return out;
  }

  // strings, lists, booleans and any mixture of them: one flat list, in sample order
  const out: unknown[] = [];
  for (const v of nonNull) {
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return out;
}

/** The consolidation functions drover knows; MWS defines only "average". */
export const consolidationFunctions = ["average"] as const;
export type ConsolidationFunction = (typeof consolidationFunctions)[number];

/** Consolidates the data of every sample of a window into the data of one datapoint. */
export function consolidate(_fn: ConsolidationFunction, data: unknown[]): unknown {
  return consolidateValues(data);
}

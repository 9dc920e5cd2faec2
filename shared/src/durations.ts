import { invalid } from "./errors.ts";

const unitMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration: a number of milliseconds, "90s", "15m", "12h", "1d", "500ms",
 * or a clock form "[[D:]HH:]MM:SS" as schedulers write walltimes.
 */
export function parseDuration(value: string | number, what = "duration"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw invalid(`${what} must be a non-negative number of milliseconds`);
    return value;
  }
  const text = value.trim();
  const unit = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?$/i.exec(text);
  if (unit) {
    const factor = unitMs[(unit[2] ?? "ms").toLowerCase()]!;
    return Math.round(Number(unit[1]) * factor);
  }
  const clock = /^(?:(?:(\d+):)?(\d+):)?(\d+):(\d+)$/.exec(text);
  if (clock) {
    const [, d, h, m, s] = clock;
    return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(m)) * 60_000 + Number(s) * 1000;
  }
  throw invalid(`${what} "${value}" is not a duration; use milliseconds or forms like 90s, 15m, 12h, 1d, HH:MM:SS`);
}

const sizeUnits: Record<string, number> = {
  b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4,
};

/** Parses a size such as 512, "64k", "2MB", "1.5G" into bytes (binary units). */
export function parseSize(value: string | number, what = "size"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw invalid(`${what} must be a non-negative number of bytes`);
    return value;
  }
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?b?)?$/i.exec(value.trim());
  if (!m) throw invalid(`${what} "${value}" is not a size; use bytes or forms like 64k, 2MB, 1.5G`);
  return Math.round(Number(m[1]) * sizeUnits[(m[2] || "b").toLowerCase()]!);
}

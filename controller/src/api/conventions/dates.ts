// MWS renders dates as "2012-01-01 12:00:00 MST" and accepts that form (and ISO 8601) in
// queries and payloads. drover renders in UTC ("2012-01-01 19:00:00 UTC").

import { invalid } from "@drover/shared/errors";

const zoneOffsetMinutes: Record<string, number> = {
  UTC: 0, GMT: 0, Z: 0,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
  AKST: -540, AKDT: -480, HST: -600,
  WET: 0, WEST: 60, CET: 60, CEST: 120, EET: 120, EEST: 180, IST: 330, JST: 540, AEST: 600, AEDT: 660,
};

const mwsForm = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([A-Za-z]{1,5}|[+-]\d{2}:?\d{2})?$/;

/** Milliseconds since the epoch for an MWS or ISO 8601 date string, else undefined. */
export function parseMwsDate(text: string): number | undefined {
  const m = mwsForm.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  let offset = 0;
  if (zone) {
    if (/^[+-]/.test(zone)) {
      const digits = zone.replace(":", "");
      offset = (zone[0] === "-" ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
    } else {
      const known = zoneOffsetMinutes[zone.toUpperCase()];
      if (known === undefined) return undefined;
      offset = known;
    }
  }
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  return Number.isNaN(utc) ? undefined : utc - offset * 60_000;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Renders a date the MWS way, in UTC. */
export function formatMwsDate(date: Date | number | null | undefined): string | null {
  if (date === null || date === undefined) return null;
  const d = typeof date === "number" ? new Date(date) : date;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** Parses a date a client sent in a named field; a 400 names the field and the accepted forms. */
export function parseDateField(text: string, field: string): number {
  const ms = parseMwsDate(text);
  if (ms === undefined) {
    throw invalid(`Invalid field "${field}": "${text}" is not a date; use "2012-01-01 12:00:00 MST" or ISO 8601 ("2012-01-01T19:00:00Z")`);
  }
  return ms;
}

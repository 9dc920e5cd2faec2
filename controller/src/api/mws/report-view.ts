import { Type as T } from "@sinclair/typebox";
import type { Datapoint, Report, Sample } from "../../db/schema.ts";
import type { ReportDefinition } from "../../reports/reports.ts";
import type { NewSample } from "../../reports/samples.ts";
import { formatMwsDate, parseDateField } from "../conventions/dates.ts";

/** A report as MWS renders it (3.10.1): datapoints only when showing a single report. */
export function mwsReportView(r: Report, points?: Datapoint[]) {
  return {
    consolidationFunction: r.consolidationFunction,
    datapointDuration: r.datapointDurationS,
    ...(points ? { datapoints: points.map(mwsDatapointView) } : {}),
    description: r.description,
    id: String(r.id),
    keepSamples: r.keepSamples,
    minimumSampleSize: r.minimumSampleSize,
    name: r.name,
    reportSize: r.reportSize,
    version: r.version,
  };
}

export function mwsDatapointView(d: Datapoint) {
  return {
    startDate: formatMwsDate(d.startDate),
    endDate: formatMwsDate(d.endDate),
    firstSampleDate: formatMwsDate(d.firstSampleDate),
    lastSampleDate: formatMwsDate(d.lastSampleDate),
    data: d.data ?? null,
  };
}

export function mwsSampleView(s: Sample) {
  return { timestamp: formatMwsDate(s.timestamp), agent: s.agent, data: s.data };
}

const MwsDate = T.String({ description: 'MWS form ("2012-01-01 12:00:00 MST") or ISO 8601' });

/** The report creation payload of 3.10.3, every field of it. */
export const MwsReportPayload = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 128 }),
    description: T.Optional(T.Union([T.String({ maxLength: 10_000 }), T.Null()])),
    consolidationFunction: T.Optional(T.String()),
    datapointDuration: T.Integer({ minimum: 1, description: "seconds" }),
    minimumSampleSize: T.Optional(T.Integer({ minimum: 0 })),
    reportSize: T.Integer({ minimum: 1 }),
    keepSamples: T.Optional(T.Boolean()),
    datapoints: T.Optional(
      T.Array(
        T.Object(
          {
            startDate: MwsDate,
            endDate: MwsDate,
            firstSampleDate: T.Optional(T.Union([MwsDate, T.Null()])),
            lastSampleDate: T.Optional(T.Union([MwsDate, T.Null()])),
            data: T.Unknown(),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100_000 },
      ),
    ),
  },
  { additionalProperties: false },
);

export function fromMwsReportPayload(p: typeof MwsReportPayload.static): ReportDefinition {
  return {
    name: p.name,
    description: p.description,
    consolidationFunction: p.consolidationFunction,
    datapointDurationS: p.datapointDuration,
    minimumSampleSize: p.minimumSampleSize,
    reportSize: p.reportSize,
    keepSamples: p.keepSamples,
    datapoints: p.datapoints?.map((d, i) => ({
      startDate: parseDateField(d.startDate, `datapoints.${i}.startDate`),
      endDate: parseDateField(d.endDate, `datapoints.${i}.endDate`),
      firstSampleDate: d.firstSampleDate == null ? null : parseDateField(d.firstSampleDate, `datapoints.${i}.firstSampleDate`),
      lastSampleDate: d.lastSampleDate == null ? null : parseDateField(d.lastSampleDate, `datapoints.${i}.lastSampleDate`),
      data: d.data ?? null,
    })),
  };
}

/** One sample of 3.10.4: data (any JSON) and an optional timestamp and agent. */
export const MwsSamplePayload = T.Object(
  {
    timestamp: T.Optional(MwsDate),
    agent: T.Optional(T.Union([T.String({ maxLength: 1000 }), T.Null()])),
    data: T.Unknown(),
  },
  { additionalProperties: false },
);

export function fromMwsSamplePayload(p: typeof MwsSamplePayload.static, field: string): NewSample {
  return {
    timestamp: p.timestamp === undefined ? undefined : parseDateField(p.timestamp, `${field}timestamp`),
    agent: p.agent ?? null,
    data: p.data,
  };
}

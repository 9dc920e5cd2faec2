import { Elysia, t } from "elysia";
import { Type as T } from "@sinclair/typebox";
import type { Principal } from "../../auth/principal.ts";
import {
  countSamples,
  createReport,
  deleteReport,
  findReport,
  findReportToChange,
  listReports,
  reportDatapoints,
  reportSamples,
  type TimeRange,
} from "../../reports/reports.ts";
import { addSamples } from "../../reports/samples.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { formatMwsDate, parseDateField } from "../conventions/dates.ts";
import { jsonResponse, listEnvelope, pageable, parseListParams, shapeObject } from "../conventions/listing.ts";
import { checker } from "../conventions/validate.ts";
import { invalid } from "@drover/shared/errors";
import { fromMwsReportPayload, fromMwsSamplePayload, MwsReportPayload, MwsSamplePayload, mwsDatapointView, mwsReportView, mwsSampleView } from "./report-view.ts";

type Query = Record<string, string | undefined>;

/** drover's extension: datapoints overlapping [from, to), either bound optional. */
function timeRange(query: Query): TimeRange {
  const range: TimeRange = {};
  if (query.from !== undefined) range.from = parseDateField(query.from, "from");
  if (query.to !== undefined) range.to = parseDateField(query.to, "to");
  if (range.from !== undefined && range.to !== undefined && range.to < range.from) throw invalid(`The "to" parameter is before "from"`);
  return range;
}

const checkSample = checker(MwsSamplePayload);
const checkSamples = checker(T.Array(T.Unknown(), { minItems: 1, maxItems: 100_000 }));

/** MWS 3.10: reports, their datapoints and samples, by id or by name. */
export function reportRoutes(ctx: ApiContext, prefix: string) {
  const { db } = ctx;
  type Req = { params: { id: string }; query: Query; principal: Principal };

  return new Elysia()
    .use(authPlugin(ctx))
    .get(
      "/reports",
      async ({ query, principal }) => {
        const params = parseListParams(query);
        return jsonResponse(listEnvelope((await listReports(db, principal)).map((r) => mwsReportView(r)), params), params);
      },
      { detail: { summary: "Get all reports (no datapoints)", tags: ["mws reports"] } },
    )
    .post(
      "/reports",
      async ({ body, principal, query }) => {
        const params = parseListParams(query);
        const report = await createReport(db, principal.username, fromMwsReportPayload(body));
        return jsonResponse({ messages: [`Report ${report.name} created`], id: String(report.id), name: report.name }, params, 201, {
          location: `${prefix}/reports/${report.id}`,
        });
      },
      { body: MwsReportPayload, detail: { summary: "Create a report, optionally with historical datapoints", tags: ["mws reports"] } },
    )
    .get(
      "/reports/:id",
      async ({ params: { id }, query, principal }: Req) => {
        const p = parseListParams(query);
        const report = await findReport(db, principal, id);
        const points = await reportDatapoints(db, report.id, timeRange(query));
        return jsonResponse(shapeObject(mwsReportView(report, points), p), p);
      },
      { detail: { summary: "Get a single report with its datapoints (from/to select a time range)", tags: ["mws reports"] } },
    )
    .delete(
      "/reports/:id",
      async ({ params: { id }, principal }: Req) => {
        const report = await deleteReport(db, principal, id);
        return { messages: [`Report ${report.name} deleted`] };
      },
      { detail: { summary: "Delete a report with its samples and datapoints", tags: ["mws reports"] } },
    )
    .get(
      "/reports/:id/datapoints",
      async ({ params: { id }, query, principal }: Req) => {
        const p = parseListParams(query);
        const report = await findReport(db, principal, id);
        const points = await reportDatapoints(db, report.id, timeRange(query));
        return jsonResponse(listEnvelope(points.map(mwsDatapointView), p), p);
      },
      { detail: { summary: "Get a report's datapoints (from/to select a time range)", tags: ["mws reports"] } },
    )
    .get(
      "/reports/:id/samples",
      async ({ params: { id }, query, principal }: Req) => {
        const p = parseListParams(query);
        const report = await findReport(db, principal, id);
        const total = await countSamples(db, report.id);
        if (pageable(p)) {
          const rows = await reportSamples(db, report.id, { offset: p.offset, limit: p.max });
          return jsonResponse(listEnvelope(rows.map(mwsSampleView), { ...p, offset: 0, max: undefined }, total), p);
        }
        return jsonResponse(listEnvelope((await reportSamples(db, report.id)).map(mwsSampleView), p, total), p);
      },
      { detail: { summary: "Get the samples stored for a report", tags: ["mws reports"] } },
    )
    .post(
      "/reports/:id/samples",
      async ({ params: { id }, body, query, principal }: Req & { body: unknown }) => {
        const p = parseListParams(query);
        const batch = Array.isArray(body)
          ? checkSamples(body, "samples").map((s, i) => fromMwsSamplePayload(checkSample(s, `sample ${i}`), `${i}.`))
          : [fromMwsSamplePayload(checkSample(body, "sample"), "")];
        const { report, added } = await db.transaction(async (tx) => {
          const report = await findReportToChange(tx, principal, id);
          return { report, added: await addSamples(tx, report, batch) };
        });
        const messages = [`${added.created} sample(s) created for report ${report.name}`];
        if (added.late) {
          messages.push(
            `${added.late} sample(s) are dated before the window still open (from ${formatMwsDate(added.openWindowStart)}); they are stored but no datapoint will include them`,
          );
        }
        return jsonResponse({ messages }, p, 201, { location: `${prefix}/reports/${report.id}/samples` });
      },
      { body: t.Unknown(), detail: { summary: "Add one sample or an array of samples to a report", tags: ["mws reports"] } },
    );
}

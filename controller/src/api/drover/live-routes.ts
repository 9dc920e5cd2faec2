import { Elysia, t } from "elysia";
import { unauthenticated } from "@drover/shared/errors";
import { EventFeed, eventStream } from "../../events/event-feed.ts";
import { getJob } from "../../jobs/find-jobs.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

/**
 * GET /events: the live event stream (Server-Sent Events) of job state changes and node
 * changes the caller may see, and with ?job=ID that job's output as it grows. Authenticated
 * like every route, by the Authorization header: never a token in the URL (browsers read it
 * with fetch rather than EventSource, which cannot send headers).
 */
export function eventRoutes(ctx: ApiContext, feed: EventFeed) {
  return new Elysia().use(authPlugin(ctx)).get(
    "/events",
    async ({ query, principal, request }) => {
      if (query.job !== undefined) await getJob(ctx.db, principal, query.job);
      const listener = feed.listen(principal, query.job);
      return new Response(eventStream(feed, listener, request.signal), {
        headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
      });
    },
    {
      query: t.Object({ job: t.Optional(t.Numeric()) }),
      detail: { summary: "live events (text/event-stream): job, node, and with ?job=ID output events; dropped tells how many a slow client lost", tags: ["drover"] },
    },
  );
}

/**
 * GET /metrics in Prometheus's text format: for administrators, or with the metrics token
 * (metrics.token) as a bearer token, for a Prometheus server's scrape.
 */
export function metricsRoutes(ctx: ApiContext) {
  return new Elysia().get(
    "/metrics",
    async ({ request }) => {
      const header = request.headers.get("authorization") ?? "";
      const token = ctx.config.metrics.token;
      const byToken = token !== "" && header === `Bearer ${token}`;
      if (!byToken) {
        const principal = await ctx.auth.fromHeader(header || null);
        if (principal.role !== "admin") throw unauthenticated("Metrics are for administrators, or for the metrics token (metrics.token)");
      }
      const registry = ctx.core.metrics!.registry;
      return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
    },
    { detail: { summary: "Prometheus metrics (admins, or Authorization: Bearer <metrics.token>)", tags: ["drover"] } },
  );
}

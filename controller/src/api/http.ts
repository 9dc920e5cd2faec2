import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import { buildInfo } from "@drover/shared/build-info";
import type { ApiContext } from "./context.ts";
import { errorResponse, translateError } from "./errors.ts";
import { healthRoutes } from "./drover/health.ts";
import { wrVersionRoutes } from "./wr/version.ts";
import { wrApi } from "./wr/index.ts";
import { caesarApi } from "./caesar/index.ts";
import { appRoutes } from "./drover/app-routes.ts";
import { mdworkbenchApi } from "./mdworkbench/index.ts";
import { openmoleApi } from "./openmole/index.ts";
import { drainRoutes } from "./drover/drain-routes.ts";
import { controllerRoutes } from "./drover/controller-routes.ts";
import { queueRoutes } from "./drover/queue-routes.ts";
import { tokenRoutes, userRoutes } from "./drover/auth-routes.ts";
import { mwsApi } from "./mws/index.ts";
import { agentTokenRoutes } from "./drover/agent-token-routes.ts";
import { jobRoutes } from "./drover/job-routes.ts";
import { eventRoutes, metricsRoutes } from "./drover/live-routes.ts";
import { uiRoutes } from "./drover/ui-routes.ts";

/** Route patterns turned into regular expressions, to tell 405 (known path) from 404. */
function methodTable(routes: { method: string; path: string }[]) {
  const table = routes.map((r) => ({
    method: r.method.toUpperCase(),
    pattern: new RegExp(
      "^" + r.path.replace(/\/$/, "").replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+").replace(/\*/g, ".*") + "/?$",
    ),
  }));
  return (path: string) => [...new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method))];
}

/** Builds the REST server: drover's own routes, every dialect, OpenAPI at /docs. */
export function buildHttpApi(ctx: ApiContext) {
  let allowedMethods: (path: string) => string[] = () => [];
  const maxBody = ctx.config.http.maxBodyBytes;
  // normalize: false — a body with a field the schema does not know is refused (400), never silently trimmed
  // Bun itself refuses bodies over its own limit with an empty 413 before any handler runs: it is
  // set well above http.maxBodyBytes so that the check below (a declared length) answers in the
  // dialect's shape; bodies streamed without a length are counted by the readers that take them
  const started = new WeakMap<Request, number>();
  const metrics = ctx.core.metrics;
  const app = new Elysia({ normalize: false, serve: { maxRequestBodySize: maxBody * 2 + 1024 * 1024 } })
    .onRequest(({ request }) => {
      started.set(request, performance.now());
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > maxBody) {
        return errorResponse(new URL(request.url).pathname, "too_large", [
          `The request body is ${length} bytes; the limit is ${maxBody} (http.maxBodyBytes)`,
        ]);
      }
    })
    .onError({ as: "global" }, ({ code, error, request }) => translateError(code, error, request, allowedMethods))
    // requests by route (its pattern, not the path: ids stay out of the labels) and status
    .onAfterResponse({ as: "global" }, ({ request, route, set, response }) => {
      const t0 = started.get(request);
      if (!metrics || t0 === undefined) return;
      const status = response instanceof Response ? response.status : typeof set.status === "number" ? set.status : 200;
      const labels = { method: request.method, route: route || "unmatched" };
      metrics.httpRequests.inc({ ...labels, status: String(status) });
      metrics.httpSeconds.observe(labels, (performance.now() - t0) / 1000);
    })
    .use(
      openapi({
        path: "/docs",
        // paths with a dot are taken for static files by default: caesar's /caesar/api/v1.0/… are not
        exclude: { staticFile: false },
        documentation: {
          info: { title: "drover", version: buildInfo().version, description: "drover's REST API: its own routes and the dialects it speaks." },
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" }, basic: { type: "http", scheme: "basic" } } },
          security: [{ bearer: [] }, { basic: [] }],
        },
      }),
    )
    .use(healthRoutes(ctx))
    .use(wrVersionRoutes())
    .use(tokenRoutes(ctx))
    .use(userRoutes(ctx))
    .use(agentTokenRoutes(ctx))
    .use(drainRoutes(ctx))
    .use(controllerRoutes(ctx))
    .use(queueRoutes(ctx))
    .use(appRoutes(ctx))
    .use(jobRoutes(ctx))
    .use(eventRoutes(ctx, ctx.events))
    .use(metricsRoutes(ctx))
    .use(uiRoutes())
    .use(wrApi(ctx))
    .use(caesarApi(ctx))
    .use(mdworkbenchApi(ctx))
    .use(openmoleApi(ctx))
    .use(mwsApi(ctx));
  allowedMethods = methodTable(app.routes);
  return app;
}

export type HttpApi = ReturnType<typeof buildHttpApi>;

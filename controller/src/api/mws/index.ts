import { Elysia } from "elysia";
import type { ApiContext } from "../context.ts";
import { diagRoutes } from "./diag.ts";
import { jobRoutes } from "./jobs.ts";
import { jobTemplateRoutes } from "./job-templates.ts";
import { nodeRoutes } from "./nodes.ts";
import { pendingActionRoutes } from "./pending-actions.ts";
import { reportRoutes } from "./reports.ts";
import { reservationRoutes } from "./reservations.ts";

/** The Moab Web Services dialect, served under both /rest and /mws/rest. */
export function mwsApi(ctx: ApiContext) {
  const routes = (prefix: string) => new Elysia({ prefix }).use(diagRoutes(ctx)).use(jobRoutes(ctx, prefix)).use(jobTemplateRoutes(ctx, prefix)).use(nodeRoutes(ctx)).use(pendingActionRoutes(ctx)).use(reportRoutes(ctx, prefix)).use(reservationRoutes(ctx, prefix));
  return new Elysia({ name: "mws" }).use(routes("/rest")).use(routes("/mws/rest"));
}

import { Elysia } from "elysia";
import type { ApiContext } from "../context.ts";
import { diagRoutes } from "./diag.ts";

/** The Moab Web Services dialect, served under both /rest and /mws/rest. */
export function mwsApi(ctx: ApiContext) {
  const routes = (prefix: string) => new Elysia({ prefix }).use(diagRoutes(ctx));
  return new Elysia({ name: "mws" }).use(routes("/rest")).use(routes("/mws/rest"));
}

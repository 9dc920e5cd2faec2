import { Elysia } from "elysia";
import { forbidden } from "@drover/shared/errors";
import type { Principal } from "../auth/principal.ts";
import type { ApiContext } from "./context.ts";

/**
 * Requires authentication on every route of the plugin that uses it: adds `principal`
 * (Bearer JWT, or HTTP Basic for clients of MWS and MDWorkbench).
 */
export function authPlugin(ctx: ApiContext) {
  return new Elysia().derive({ as: "scoped" }, async ({ request, server }) => ({
    principal: await ctx.auth.fromHeader(request.headers.get("authorization"), server?.requestIP(request)?.address ?? ""),
  }));
}

/** Throws 403 unless the principal is an administrator. */
export function requireAdmin(principal: Principal, what: string): void {
  if (principal.role !== "admin") throw forbidden(`Only administrators can ${what}`);
}

import { Elysia, t } from "elysia";
import { invalid } from "@drover/shared/errors";
import { createAgentToken, listAgentTokens, revokeAgentToken } from "../../nodes/agent-tokens.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

/** Enrollment: admins create the tokens agents join with, list and revoke them. */
export function agentTokenRoutes(ctx: ApiContext) {
  return new Elysia({ prefix: "/auth/agent-tokens" })
    .use(authPlugin(ctx))
    .post(
      "/",
      async ({ body, principal, set }) => {
        requireAdmin(principal, "create agent tokens");
        const created = await createAgentToken(ctx.db, principal.username, body.name);
        set.status = 201;
        set.headers.location = `/auth/agent-tokens/${created.id}`;
        return created;
      },
      { body: t.Object({ name: t.String({ minLength: 1, maxLength: 64 }) }), detail: { summary: "Create an agent token (admin); the secret is shown once", tags: ["auth"] } },
    )
    .get(
      "/",
      async ({ principal }) => {
        requireAdmin(principal, "list agent tokens");
        return listAgentTokens(ctx.db);
      },
      { detail: { summary: "List agent tokens (admin)", tags: ["auth"] } },
    )
    .delete(
      "/:id",
      async ({ params, principal }) => {
        requireAdmin(principal, "revoke agent tokens");
        const id = Number(params.id);
        if (!Number.isSafeInteger(id) || id < 1) throw invalid(`"${params.id}" is not an agent token id`);
        await revokeAgentToken(ctx.db, id);
        // agents connected with it are cut off (they cannot connect again with it)
        ctx.core.links.disconnectToken(id, "the agent token this agent connected with was revoked");
        return new Response(null, { status: 200 });
      },
      { detail: { summary: "Revoke an agent token (admin)", tags: ["auth"] } },
    );
}

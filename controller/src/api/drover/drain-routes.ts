import { Elysia, t } from "elysia";
import { isDraining, setDraining } from "../../scheduler/drain.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

/**
 * drover's drain switch (wr's "draining" Mode, MDWorkbench's maintenance): while on, nothing
 * new starts and running jobs finish. Everyone may read it; administrators switch it.
 */
export function drainRoutes(ctx: ApiContext) {
  return new Elysia()
    .use(authPlugin(ctx))
    .get("/cluster/drain", async () => ({ draining: await isDraining(ctx.db) }), { detail: { summary: "whether the cluster is draining", tags: ["drover"] } })
    .put(
      "/cluster/drain",
      async ({ body, principal }) => {
        requireAdmin(principal, "drain the cluster or end a drain");
        await setDraining(ctx.db, body.draining, principal.username);
        if (!body.draining) ctx.core.kick();
        return { draining: body.draining };
      },
      { body: t.Object({ draining: t.Boolean() }), detail: { summary: "drain the cluster (nothing new starts) or end the drain; admins only", tags: ["drover"] } },
    );
}

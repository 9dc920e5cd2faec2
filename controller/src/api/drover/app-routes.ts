import { Elysia, t } from "elysia";
import { invalid } from "@drover/shared/errors";
import { appDefinitionJson } from "../../apps/app-definition.ts";
import { deleteApp, getApp, listApps, putApp } from "../../apps/app-catalogue.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

/** drover's app catalogue: everyone reads it; administrators define apps (see README, "Apps"). */
export function appRoutes(ctx: ApiContext) {
  return new Elysia()
    .use(authPlugin(ctx))
    .get("/apps", async () => (await listApps(ctx.db)).map(appDefinitionJson), { detail: { summary: "the app catalogue", tags: ["drover"] } })
    .get("/apps/:name", async ({ params }) => appDefinitionJson(await getApp(ctx.db, params.name)), { detail: { summary: "one app's definition", tags: ["drover"] } })
    .put(
      "/apps/:name",
      async ({ params, body, principal, set }) => {
        requireAdmin(principal, "define apps");
        const name = (body as { name?: unknown }).name;
        if (name !== undefined && name !== params.name) throw invalid(`The definition's name "${String(name)}" differs from the path's "${params.name}"`);
        const { app, created } = await putApp(ctx.db, { ...(body as object), name: params.name });
        set.status = created ? 201 : 200;
        return appDefinitionJson(app);
      },
      { body: t.Object({}, { additionalProperties: true }), detail: { summary: "create or replace an app (admins)", tags: ["drover"] } },
    )
    .delete(
      "/apps/:name",
      async ({ params, principal }) => {
        requireAdmin(principal, "remove apps");
        await deleteApp(ctx.db, params.name);
        return new Response(null, { status: 204 });
      },
      { detail: { summary: "remove an app (admins)", tags: ["drover"] } },
    );
}

import { Elysia } from "elysia";
import { createTemplate, deleteTemplate, getTemplate, listTemplates, putTemplate } from "../../jobs/job-templates.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { jsonResponse, listEnvelope, parseListParams, shapeObject } from "../conventions/listing.ts";
import { fromMwsTemplate, MwsJobTemplatePayload, mwsTemplateView } from "./job-template-format.ts";

type Query = Record<string, string | undefined>;

/**
 * MWS 3.5: job templates, listed and shown to every user. drover adds POST, PUT and DELETE for
 * administrators (templates can also be files under DROVER_HOME/etc/job-templates).
 */
export function jobTemplateRoutes(ctx: ApiContext, prefix: string) {
  const { db } = ctx;
  return new Elysia()
    .use(authPlugin(ctx))
    .get(
      "/job-templates",
      async ({ query }: { query: Query }) => {
        const params = parseListParams(query);
        return jsonResponse(listEnvelope((await listTemplates(db)).map(mwsTemplateView), params), params);
      },
      { detail: { summary: "Get all job templates", tags: ["mws"] } },
    )
    .get(
      "/job-templates/:id",
      async ({ params: { id }, query }: { params: { id: string }; query: Query }) => {
        const p = parseListParams(query);
        return jsonResponse(shapeObject(mwsTemplateView(await getTemplate(db, id)), p), p);
      },
      { detail: { summary: "Get a single job template", tags: ["mws"] } },
    )
    .post(
      "/job-templates",
      async ({ body, principal, query }) => {
        const template = await createTemplate(db, principal, fromMwsTemplate(body));
        return jsonResponse({ messages: [`Job template ${template.id} created`], id: template.id }, parseListParams(query), 201, {
          location: `${prefix}/job-templates/${template.id}`,
        });
      },
      { body: MwsJobTemplatePayload, detail: { summary: "drover (admin): create a job template", tags: ["mws"] } },
    )
    .put(
      "/job-templates/:id",
      async ({ params: { id }, body, principal }) => {
        const template = await putTemplate(db, principal, fromMwsTemplate(body, id));
        return { messages: [template.created ? `Job template ${id} created` : `Job template ${id} replaced`] };
      },
      { body: MwsJobTemplatePayload, detail: { summary: "drover (admin): create or replace a job template", tags: ["mws"] } },
    )
    .delete(
      "/job-templates/:id",
      async ({ params: { id }, principal }) => {
        await deleteTemplate(db, principal, id);
        return { messages: [`Job template ${id} deleted; jobs made from it keep their settings`] };
      },
      { detail: { summary: "drover (admin): delete a job template", tags: ["mws"] } },
    );
}

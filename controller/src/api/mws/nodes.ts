import { Elysia } from "elysia";
import { getNode, listNodes } from "../../nodes/find-nodes.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { jsonResponse, listEnvelope, parseListParams, shapeObject } from "../conventions/listing.ts";
import { mwsNodeView } from "./node-view.ts";

/** MWS 3.6: nodes, from what agents registered and report. */
export function nodeRoutes(ctx: ApiContext) {
  return new Elysia()
    .use(authPlugin(ctx))
    .get(
      "/nodes",
      async ({ query }) => {
        const params = parseListParams(query);
        return jsonResponse(listEnvelope((await listNodes(ctx.db)).map(mwsNodeView), params), params);
      },
      { detail: { summary: "Get all nodes", tags: ["mws"] } },
    )
    .get(
      "/nodes/:id",
      async ({ params: { id }, query }) => {
        const p = parseListParams(query);
        return jsonResponse(shapeObject(mwsNodeView(await getNode(ctx.db, id)), p), p);
      },
      { detail: { summary: "Get a single node", tags: ["mws"] } },
    );
}

import { Elysia } from "elysia";
import { buildInfo } from "@drover/shared/build-info";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { jsonResponse, parseListParams, shapeObject } from "../conventions/listing.ts";

/** MWS 3.2: GET /rest/diag/about — version, build, buildDate, revision. */
export function diagRoutes(ctx: ApiContext) {
  return new Elysia().use(authPlugin(ctx)).get(
    "/diag/about",
    ({ query }) => {
      const params = parseListParams(query);
      const { version, build, buildDate, revision } = buildInfo();
      return jsonResponse(shapeObject({ version, build, buildDate, revision }, params), params);
    },
    { detail: { summary: "Version and build information", tags: ["mws"] } },
  );
}

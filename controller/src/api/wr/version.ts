import { Elysia } from "elysia";
import { buildInfo } from "@drover/shared/build-info";

/** wr's GET /rest/version/ (open, the only wr endpoint without authentication): {Version, API}. */
export function wrVersionRoutes() {
  const handler = () => ({ Version: buildInfo().version, API: "1" });
  return new Elysia()
    .get("/rest/version/", handler, { detail: { summary: "wr: the manager's version and API version (open)", tags: ["wr"] } })
    .get("/rest/version", handler, { detail: { hide: true } });
}

import { Elysia } from "elysia";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../db/migrate.ts";
import { PEER_TIMEOUT_MS } from "../../peers/peers.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

/**
 * GET /cluster/controllers: the controllers sharing this database — which live, which leads
 * (does liveness, reservation upkeep and workflows), how many nodes each holds. Any signed-in user.
 */
export function controllerRoutes(ctx: ApiContext) {
  return new Elysia().use(authPlugin(ctx)).get(
    "/cluster/controllers",
    async () => {
      type Row = { id: string; http_url: string; grpc_address: string; hostname: string; started_at: string | Date; seen_at: string | Date; leader_since: string | Date | null; alive: boolean; nodes: number | string };
      const rows = rowsOf<Row>(
        await ctx.db.execute(sql`
          select c.*, c.seen_at > now() - make_interval(secs => ${PEER_TIMEOUT_MS / 1000}) as alive, (select count(*) from nodes n where n.controller_id = c.id) as nodes
          from controllers c order by c.started_at`),
      );
      const iso = (v: string | Date | null) => (v === null ? null : new Date(v).toISOString());
      return {
        controllers: rows.map((r) => ({
          id: r.id,
          url: r.http_url,
          grpcAddress: r.grpc_address,
          hostname: r.hostname,
          startedAt: iso(r.started_at),
          seenAt: iso(r.seen_at),
          alive: r.alive,
          leader: r.alive && r.leader_since !== null,
          leaderSince: r.alive ? iso(r.leader_since) : null,
          nodes: Number(r.nodes),
          self: r.id === ctx.core.controllerId,
        })),
      };
    },
    { detail: { summary: "the controllers sharing the database: alive, leading, nodes held", tags: ["drover"] } },
  );
}

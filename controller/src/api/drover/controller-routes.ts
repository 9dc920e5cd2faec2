import { Elysia, t } from "elysia";
import { DroverError } from "@drover/shared/errors";
import { archiveFrom } from "../../files/job-archive.ts";
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
  return new Elysia().use(peerRoutes(ctx)).use(authPlugin(ctx)).get(
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

/**
 * What controllers ask one another over REST, with a peer token (TokenIssuer.issuePeer; no
 * user's token is taken): POST /cluster/peer/job-archive streams something of a job's directory
 * from a node whose stream this controller holds, for a controller asked for it that does not.
 */
function peerRoutes(ctx: ApiContext) {
  return new Elysia()
    // (before the body is looked at: a caller without a peer token learns nothing but 401)
    .derive(async ({ request }) => ({ peer: await ctx.auth.tokens.verifyPeer((request.headers.get("authorization") ?? "").replace(/^Bearer\s+/i, "")) }))
    .post(
      "/cluster/peer/job-archive",
      async ({ body }) => {
        const { node, jobId, attempt, ...what } = body;
        // (held here or nowhere: a request is passed on once at most)
        const opening = ctx.core.links.openArchive(node, jobId, attempt, what);
        if (!opening) throw new DroverError("unavailable", `Node ${node}, which holds job ${jobId}'s directory, is not connected; try again when it is back`);
        return new Response(await archiveFrom(node, jobId, opening), { headers: { "content-type": "application/octet-stream" } });
      },
      {
        body: t.Object({
          node: t.String({ minLength: 1 }),
          jobId: t.Integer({ minimum: 1 }),
          attempt: t.Integer({ minimum: 1 }),
          top: t.String(),
          format: t.Optional(t.Integer({ minimum: 0 })),
          paths: t.Optional(t.Array(t.String())),
          directory: t.Optional(t.String()),
        }),
        detail: { summary: "(between controllers) something of a job's directory from a node this controller holds", tags: ["drover"] },
      },
    );
}

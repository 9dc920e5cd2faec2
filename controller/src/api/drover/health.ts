import { Elysia } from "elysia";
import { sql } from "drizzle-orm";
import type { ApiContext } from "../context.ts";

/** GET /health (open): 200 when the database answers, 503 otherwise. */
export function healthRoutes(ctx: ApiContext) {
  return new Elysia().get(
    "/health",
    async ({ set }) => {
      try {
        await ctx.db.execute(sql`select 1`);
        return { status: "ok" };
      } catch {
        set.status = 503;
        return { status: "unavailable", messages: ["The database does not answer"] };
      }
    },
    { detail: { summary: "Liveness and database check", tags: ["drover"] } },
  );
}

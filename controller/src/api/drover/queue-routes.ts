import { Elysia } from "elysia";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../db/migrate.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

/**
 * Administrators' views of queues and accounts: the queues and QoS levels of
 * DROVER_HOME/etc/queues.yaml as loaded now, and the processor-seconds charged to each account.
 */
export function queueRoutes(ctx: ApiContext) {
  return new Elysia()
    .use(authPlugin(ctx))
    .get(
      "/queues",
      ({ principal }) => {
        requireAdmin(principal, "see the queues and QoS levels");
        const settings = ctx.core.queues?.current();
        return { queues: [...(settings?.queues.values() ?? [])], qos: [...(settings?.qos.values() ?? [])] };
      },
      { detail: { summary: "the queues and QoS levels (DROVER_HOME/etc/queues.yaml, as loaded now); admins only", tags: ["drover"] } },
    )
    .get(
      "/accounting/accounts",
      async ({ principal }) => {
        requireAdmin(principal, "see what accounts were charged");
        type Row = { account: string; jobs: number | string; running: number | string; processor_seconds: number | string | null };
        // processors × the time each run held them: ended runs, and running ones so far
        const rows = rowsOf<Row>(
          await ctx.db.execute(sql`
            select account, count(*) as jobs, count(*) filter (where state in ('running', 'suspended')) as running,
                   sum(greatest(cpus, 1) * coalesce(walltime_used_ms,
                     case when started_at is not null and state in ('running', 'suspended') then extract(epoch from now() - started_at) * 1000 - suspended_ms end, 0)) / 1000.0 as processor_seconds
            from jobs where account is not null group by account order by account`),
        );
        return rows.map((r) => ({ account: r.account, jobs: Number(r.jobs), running: Number(r.running), processorSeconds: Math.round(Number(r.processor_seconds ?? 0) * 1000) / 1000 }));
      },
      { detail: { summary: "processor-seconds charged to each account (MWS account), ended and running jobs; admins only", tags: ["drover"] } },
    );
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rowsOf } from "../db/migrate.ts";
import type { AgentLinks } from "../nodes/agent-links.ts";
import { DIALECT_SQL } from "../jobs/dialect.ts";

// The controller's metrics in Prometheus's text format (GET /metrics), with prom-client: one
// registry per controller (a test process may run several). Counters and histograms are fed
// where things happen; the gauges of jobs and nodes are read from the database at each scrape.

export class Metrics {
  readonly registry = new Registry();
  readonly submissions = new Counter({ name: "drover_job_submissions_total", help: "Jobs submitted", registers: [this.registry] });
  readonly dispatches = new Counter({ name: "drover_job_dispatches_total", help: "Jobs sent to nodes", registers: [this.registry] });
  readonly jobRunSeconds = new Histogram({
    name: "drover_job_run_seconds",
    help: "How long jobs' processes ran",
    buckets: [0.01, 0.1, 1, 10, 60, 600, 3600, 6 * 3600, 24 * 3600],
    registers: [this.registry],
  });
  readonly passSeconds = new Histogram({
    name: "drover_scheduling_pass_seconds",
    help: "Duration of scheduling passes",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly agentEvents = new Counter({ name: "drover_agent_events_total", help: "Job events and samples received from agents", registers: [this.registry] });
  readonly httpRequests = new Counter({ name: "drover_http_requests_total", help: "HTTP requests by route and status", labelNames: ["method", "route", "status"], registers: [this.registry] });
  readonly httpSeconds = new Histogram({
    name: "drover_http_request_seconds",
    help: "HTTP request latency by route",
    labelNames: ["method", "route"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly eventClients = new Gauge({ name: "drover_event_stream_clients", help: "Clients connected to GET /events", registers: [this.registry] });

  constructor(db: Db, links: AgentLinks, databaseKind: "postgres" | "pglite") {
    collectDefaultMetrics({ register: this.registry, prefix: "drover_" });
    const registers = [this.registry];
    new Gauge({
      name: "drover_jobs",
      help: "Jobs by state and dialect",
      labelNames: ["state", "dialect"],
      registers,
      async collect() {
        this.reset();
        type Row = { state: string; dialect: string; n: number | string };
        const rows = rowsOf<Row>(await db.execute(sql`select state, ${DIALECT_SQL} as dialect, count(*) as n from jobs group by 1, 2`));
        for (const r of rows) this.set({ state: r.state, dialect: r.dialect }, Number(r.n));
      },
    });
    new Gauge({
      name: "drover_nodes",
      help: "Nodes by state",
      labelNames: ["state"],
      registers,
      async collect() {
        this.reset();
        const rows = rowsOf<{ state: string; n: number | string }>(await db.execute(sql`select state, count(*) as n from nodes group by state`));
        for (const r of rows) this.set({ state: r.state }, Number(r.n));
      },
    });
    new Gauge({
      name: "drover_agents_connected",
      help: "Agents connected to this controller",
      registers,
      collect() {
        this.set(links.connectedNodeIds().length);
      },
    });
    new Gauge({
      name: "drover_db_connections",
      help: "drover's connections to Postgres (application_name drover), busy or all; the embedded database has one",
      labelNames: ["use"],
      registers,
      async collect() {
        if (databaseKind === "pglite") {
          this.set({ use: "all" }, 1);
          return;
        }
        type Row = { total: number | string; busy: number | string };
        const [row] = rowsOf<Row>(
          await db.execute(sql`select count(*) as total, count(*) filter (where state <> 'idle' and pid <> pg_backend_pid()) as busy from pg_stat_activity where application_name = 'drover'`),
        );
        this.set({ use: "all" }, Number(row?.total ?? 0));
        this.set({ use: "busy" }, Number(row?.busy ?? 0));
      },
    });
  }
}

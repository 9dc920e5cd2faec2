import type { QueueCatalogue } from "./jobs/queues.ts";
import type { StandingCatalogue } from "./reservations/standing.ts";
import type { HeartbeatWriter } from "./nodes/heartbeats.ts";
import type { NodeCache } from "./scheduler/node-cache.ts";
import type { Config } from "@drover/shared/config";
import type { Db } from "./db/connect.ts";
import type { AgentLinks } from "./nodes/agent-links.ts";
import type { Metrics } from "./metrics/metrics.ts";
import type { Peers } from "./peers/peers.ts";
import type { Leadership } from "./peers/leadership.ts";
import type { Batches } from "./jobs/submission-batches.ts";
import type { PlainSubmission, SubmittedJob } from "./jobs/submit-job.ts";

/** What the core's operations need: the database, the connected agents, a way to ask for a scheduling pass. */
export interface Core {
  db: Db;
  config: Config;
  links: AgentLinks;
  /** asks the scheduler for a pass soon (coalesced) */
  kick(): void;
  /** asks the workflow engine for a turn soon (when it runs in this process) */
  kickWorkflows?(): void;
  /** the controller's Prometheus metrics (GET /metrics) */
  metrics?: Metrics;
  /** identifies this controller process (several may share one Postgres) */
  controllerId: string;
  /** when this controller started: heartbeat deadlines never reach back before it */
  startedAt: number;
  /** the queues and QoS levels an administrator defined (DROVER_HOME/etc/queues.yaml) */
  queues?: QueueCatalogue;
  /** the standing reservations an administrator defined (DROVER_HOME/etc/standing-reservations.yaml) */
  standing?: StandingCatalogue;
  /** stores agents' heartbeats together, once a second (else each is written as it comes) */
  heartbeats?: HeartbeatWriter;
  /** the registered nodes as scheduling passes see them (read again at most once a second) */
  nodeCache?: NodeCache;
  /** the other controllers sharing the database (Postgres only), through which their agents are reached */
  peers?: Peers;
  /** whether this controller does the work that must happen once (liveness, reservation upkeep, workflows) */
  leadership?: Leadership;
  /** plain submissions arriving together are stored together (else each in its own transaction) */
  submissions?: Batches<PlainSubmission, SubmittedJob[]>;
}

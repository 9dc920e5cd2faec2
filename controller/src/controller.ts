import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { isLoopback, type Config } from "@drover/shared/config";
import { DroverError } from "@drover/shared/errors";
import { logger } from "@drover/shared/log";
import { sql } from "drizzle-orm";
import { Peers } from "./peers/peers.ts";
import { Leadership } from "./peers/leadership.ts";
import { Authenticator } from "./auth/authenticate.ts";
import { loadSigningSecret } from "./auth/secret.ts";
import { TokenIssuer } from "./auth/tokens.ts";
import { openDatabase, type Database } from "./db/connect.ts";
import { migrate } from "./db/migrate.ts";
import { buildHttpApi } from "./api/http.ts";
import { loadAppFiles } from "./apps/app-catalogue.ts";
import { startWorkflowEngine } from "./workflows/engine.ts";
import { Metrics } from "./metrics/metrics.ts";
import { EventFeed } from "./events/event-feed.ts";
import { startAccounting } from "./accounting/accounting.ts";
import { startCallbackNotifier } from "./jobs/callbacks.ts";
import { startMailer } from "./jobs/mailer.ts";
import { startReservationUpkeep } from "./reservations/upkeep.ts";
import { StandingCatalogue } from "./reservations/standing.ts";
import { HeartbeatWriter } from "./nodes/heartbeats.ts";
import { NodeCache } from "./scheduler/node-cache.ts";
import { QueueCatalogue } from "./jobs/queues.ts";
import { launchCallbackRenderer } from "./api/mdworkbench/index.ts";
import { loadTemplateFiles } from "./api/mws/template-files.ts";
import type { ApiContext } from "./api/context.ts";
import { ensureAdmin } from "./users/bootstrap-admin.ts";
import { submissionBatches } from "./jobs/submit-job.ts";
import type { Core } from "./core.ts";
import { AgentLinks } from "./nodes/agent-links.ts";
import { watchLiveness } from "./nodes/liveness.ts";
import { Scheduler } from "./scheduler/scheduler.ts";
import { startGrpcServer } from "./grpc/server.ts";
import { ensureServerTls, needsTls } from "./tls/certificates.ts";
import { startConsolidator } from "./reports/consolidator.ts";
import { startClusterSampler } from "./reports/node-reports.ts";
import { now } from "@drover/shared/clock";

const log = logger("controller");

export interface ControllerOptions {
  config: Config;
  /** password for the first-start admin; random when absent */
  adminPassword?: string;
  /** an already open database (tests share one per file) */
  database?: Database;
}

export interface RunningController {
  config: Config;
  database: Database;
  context: ApiContext;
  core: Core;
  /** the REST base URL, e.g. http://127.0.0.1:7070 */
  url: string;
  /** the agent gRPC address, host:port */
  grpcAddress: string;
  /** the CA agents must trust (--ca-file) when the stream uses TLS */
  grpcCaFile?: string;
  /** the controller's CA, when a listener uses TLS */
  caFile?: string;
  /** the generated admin password on first start, to print once */
  generatedAdminPassword?: string;
  stop(): Promise<void>;
  /** what stop() is stopping now ("" when not stopping) */
  stoppingAt: string;
}

/** Starts the controller: database and migrations, first-start admin, REST server. */
export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const { config } = opts;
  // Tokens must not cross a network in clear text: beyond loopback both listeners use TLS.
  if (!isLoopback(config.http.host) && config.http.tls === "off" && process.env.DROVER_ALLOW_INSECURE_HTTP !== "1") {
    throw new Error(
      `http.host is ${config.http.host}, which is not loopback, and http.tls is "off": tokens would cross the network in clear text. ` +
        'Set http.tls to "auto" (the default), or put drover behind a TLS proxy and set DROVER_ALLOW_INSECURE_HTTP=1, or listen on 127.0.0.1.',
    );
  }
  if (!isLoopback(config.grpc.host) && config.grpc.tls === "off") {
    throw new Error(
      `grpc.host is ${config.grpc.host}, which is not loopback, and grpc.tls is "off": agent tokens would cross the network in clear text. ` +
        'Set grpc.tls to "auto" (the default) or listen on 127.0.0.1.',
    );
  }
  const database = opts.database ?? (await openDatabase({ url: config.database.url, dataDir: join(config.home, "data", "pglite") }));
  const ownsDatabase = !opts.database;
  try {
    const applied = await migrate(database.db);
    if (applied.length) log.info("applied migrations", { migrations: applied.join(",") });
    const admin = await ensureAdmin(database.db, opts.adminPassword);
    await loadTemplateFiles(database.db, join(config.home, "etc", "job-templates"));
    await loadAppFiles(database.db, join(config.home, "apps"));
    const tokens = new TokenIssuer(loadSigningSecret(config.home), config.auth.tokenLifetimeMs);
    const scheduler = new Scheduler(() => core);
    const links = new AgentLinks();
    const core: Core = {
      metrics: new Metrics(database.db, links, database.kind),
      db: database.db,
      config,
      links,
      kick: () => scheduler.kick(),
      controllerId: `${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
      startedAt: now(),
      queues: new QueueCatalogue(join(config.home, "etc", "queues.yaml")),
      standing: new StandingCatalogue(join(config.home, "etc", "standing-reservations.yaml")),
      nodeCache: new NodeCache(),
    };
    core.submissions = submissionBatches(core);
    core.heartbeats = new HeartbeatWriter(database.db, Math.min(1000, Math.max(50, config.nodes.heartbeatTimeoutMs / 8)), { id: core.controllerId, holds: (node) => links.isConnected(node) });
    // the work that must happen once in the cluster waits until this controller leads
    core.leadership = new Leadership(database, (leader) => database.db.execute(sql`update controllers set leader_since = ${leader ? sql`now()` : null} where id = ${core.controllerId}`).then(() => {}));
    // a node whose stream ends here is held by no controller until it registers again
    links.onDetach = (nodeId) => {
      database.db
        .execute(sql`update nodes set controller_id = null where id = ${nodeId} and controller_id = ${core.controllerId}`)
        .catch((e) => log.warn("could not record that a node left this controller", { node: nodeId, error: e }));
    };
    const httpTls = needsTls(config.http.host, config.http.tls);
    const grpcTls = needsTls(config.grpc.host, config.grpc.tls);
    const tls = httpTls || grpcTls ? ensureServerTls(config.home, config.tls.names) : undefined;
    if (tls) log.info("TLS: clients and agents trust the controller's CA", { caFile: tls.caFile, rest: httpTls, agents: grpcTls });
    const grpc = await startGrpcServer(core, config.grpc.host, config.grpc.port, grpcTls ? tls : undefined).catch((e) => {
      throw portInUse(e, config.grpc.host, config.grpc.port, "grpc.port", "DROVER_GRPC_PORT", "the agents' gRPC service");
    });
    const grpcAddress = `${config.grpc.host}:${grpc.port}`;
    scheduler.start(config.scheduler.intervalMs);
    const stopLiveness = watchLiveness(core);
    const stopConsolidator = config.reports.consolidationPollMs > 0 ? startConsolidator(database.db, config.reports.consolidationPollMs) : async () => {};
    const stopClusterSampler = startClusterSampler(database.db, config.nodes.sampleIntervalMs);
    const stopAccounting = startAccounting(database.db, config.accounting.intervalMs);
    const workflows = startWorkflowEngine(core);
    core.kickWorkflows = workflows.kick;
    const events = new EventFeed(core);
    const context: ApiContext = { db: database.db, config, core, auth: new Authenticator(database.db, tokens), events };
    let app: ReturnType<typeof buildHttpApi>;
    try {
      app = buildHttpApi(context).listen({
        hostname: config.http.host,
        port: config.http.port,
        // (Elysia asks for SO_REUSEPORT: a second controller on the port would then share it silently)
        reusePort: false,
        ...(httpTls && tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      });
    } catch (e) {
      await grpc.stop();
      scheduler.stop();
      stopLiveness();
      await core.heartbeats!.stop();
      throw portInUse(e, config.http.host, config.http.port, "http.port", "DROVER_HTTP_PORT", "the REST API");
    }
    const port = app.server!.port;
    const url = `${httpTls ? "https" : "http"}://${config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host}:${port}`;
    log.info("REST API listening", { url });
    // (the address the others reach this one at: a wildcard bind is this machine's name)
    const wildcard = (host: string) => ["0.0.0.0", "::", "[::]", ""].includes(host);
    const reachableUrl = wildcard(config.http.host) ? url.replace(/\/\/(\[[^\]]*\]|[^:/]*)/, `//${hostname()}`) : url;
    const reachableGrpc = wildcard(config.grpc.host) ? `${hostname()}:${grpc.port}` : grpcAddress;
    core.peers = new Peers(core, database, { id: core.controllerId, httpUrl: reachableUrl, grpcAddress: reachableGrpc }, { tokens, ca: tls?.caFile ? readFileSync(tls.caFile, "utf8") : undefined });
    await core.peers.start();
    links.relay = core.peers;
    await core.leadership.start();
    const stopCallbacks = startCallbackNotifier(database.db, launchCallbackRenderer(context, url));
    const stopMailer = config.mail.smtpUrl ? startMailer(database.db, config.mail) : async () => {};
    const stopReservations = startReservationUpkeep(core, core.standing!);
    const running: RunningController = {
      config,
      database,
      context,
      core,
      url,
      grpcAddress,
      grpcCaFile: grpcTls ? tls?.caFile : undefined,
      caFile: tls?.caFile,
      generatedAdminPassword: admin?.generated ? admin.password : undefined,
      stoppingAt: "",
      async stop() {
        stopLiveness();
        stopClusterSampler();
        stopAccounting();
        // in order, each named while it runs (a stop that hangs says where: see cli.ts)
        const steps: [string, () => unknown][] = [
          ["the workflow engine", () => workflows.stop()],
          ["the event feed", () => events.stop()],
          ["the callback notifier", () => stopCallbacks()],
          ["the mailer", () => stopMailer()],
          ["the reservation upkeep", () => stopReservations()],
          ["the report consolidator", () => stopConsolidator()],
          ["the scheduler", () => scheduler.stop()],
          ["the REST API", () => app.stop(true)],
          ["the agents' gRPC server", () => grpc.stop()],
          ["the heartbeat writer", () => core.heartbeats!.stop()],
          ["the leadership", () => core.leadership!.stop()],
          ["this controller's row", () => core.peers!.stop()],
          ["the database", () => (ownsDatabase ? database.close() : undefined)],
        ];
        for (const [name, step] of steps) {
          running.stoppingAt = name;
          await step();
        }
        running.stoppingAt = "";
      },
    };
    return running;
  } catch (e) {
    if (ownsDatabase) await database.close();
    throw e;
  }
}

/** A port already taken, said with the setting that moves it; any other error as it is. */
function portInUse(e: unknown, host: string, port: number, key: string, env: string, what: string): unknown {
  const text = e instanceof Error ? `${e.message} ${(e as { code?: string }).code ?? ""}` : String(e);
  if (!/in use|EADDRINUSE|No address added/i.test(text)) return e;
  return new DroverError("unavailable", `port ${port} on ${host} (${what}) is already in use: stop what holds it, or choose another port with ${env} or ${key} in DROVER_HOME/etc/drover.toml`);
}

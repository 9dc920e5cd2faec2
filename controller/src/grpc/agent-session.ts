import type { ServerDuplexStream } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { once } from "node:events";
import {
  batchesOf,
  create,
  ControllerMessageSchema,
  encodeControllerBatch,
  encodeControllerMessage,
  type AgentMessage,
  type ControllerMessage,
  type FetchFile,
  type JobFinished,
} from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import { atEndOfTurn } from "@drover/shared/end-of-turn";
import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { runFailed } from "../jobs/retry.ts";
import { fileWindowForNode } from "../files/serve-file.ts";

/** Stored files cross the stream in pieces of this size. */
const FILE_PIECE = 256 * 1024;

/** After this many failed jobs in a row on one node (and every as many more), a warning says so. */
const FAILING_NODE = 5;
import type { AgentLink } from "../nodes/agent-links.ts";
import type { BurstWriter } from "./burst-writer.ts";
import { checkNodeName, recordHeartbeat, registerNode } from "../nodes/register-node.ts";
import { reconcileNode } from "../nodes/node-loss.ts";
import { verifyAgentToken } from "../nodes/agent-tokens.ts";
import { RateMeter } from "../nodes/rate-meter.ts";
import { ensureNodeReports } from "../reports/node-reports.ts";

const log = logger("grpc");

type Stream = ServerDuplexStream<AgentMessage, ControllerMessage | Uint8Array>;

/**
 * One agent's Connect stream: authenticates it, registers its node, applies what it sends
 * (in order, in bursts written together with other agents' by the BurstWriter) and
 * acknowledges what was stored.
 */
export class AgentSession implements AgentLink {
  nodeId = "";
  tokenId: number | undefined;
  lastSeen = now();
  private inbox: AgentMessage[] = [];
  private outbox: ControllerMessage[] = [];
  private draining: Promise<void> | undefined;
  private closed = false;
  private registered = false;
  private readonly ends = new RateMeter();
  /** jobs that ran and failed on this node one after another (a warning every FAILING_NODE of them) */
  private failedInARow = 0;
  /** the file windows being sent, one after another */
  private serving: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: Core,
    private readonly call: Stream,
    private readonly writer: BurstWriter,
  ) {}

  async begin(): Promise<void> {
    const header = String(this.call.metadata.get("authorization")[0] ?? "");
    const token = header.replace(/^Bearer\s+/i, "");
    const known = token ? await verifyAgentToken(this.core.db, token) : undefined;
    this.tokenId = known?.id;
    if (!known) {
      this.fail(status.UNAUTHENTICATED, "unknown or revoked agent token: ask an administrator for one (POST /auth/agent-tokens)");
      return;
    }
    this.call.on("data", (m: AgentMessage) => {
      this.lastSeen = now();
      // file pieces and archives are answered at once, beside the stored events
      if (this.registered && m.body.case === "fetchFile") {
        // windows are sent one after another, in the order asked for (the agent writes them in order)
        const ask = m.body.value;
        this.serving = this.serving.then(() => this.serveFile(ask));
        return;
      }
      if (this.registered && m.body.case === "archiveChunk") return this.core.links.deliverArchive(this.nodeId, m.body.value);
      // a batch is its messages, in order (a replay after a reconnect may carry thousands)
      if (m.body.case === "batch") {
        for (const inner of m.body.value.messages) if (inner.body.case !== "batch") this.inbox.push(inner);
      } else this.inbox.push(m);
      // any message is a sign of life, recorded as it arrives: a node must not be taken for lost
      // while what it sent waits behind other nodes' samples to be written
      if (this.registered) this.core.heartbeats?.record(this.nodeId);
      this.drain();
    });
    this.call.on("end", () => this.end("the agent closed the stream"));
    this.call.on("error", (e: Error) => this.end(`stream error: ${e.message}`));
    this.call.on("cancelled", () => this.end("the stream was cancelled"));
  }

  endsPerSecond(): number {
    return this.ends.perSecond();
  }

  /** Sends at the end of this turn of the event loop, with whatever else is sent to this agent meanwhile, in one gRPC message. */
  send(message: ControllerMessage): void {
    if (this.closed) return;
    this.outbox.push(message);
    this.sendSoon();
  }

  private readonly sendSoon = atEndOfTurn(() => this.sendOutbox());

  private sendOutbox(): void {
    const messages = this.outbox;
    this.outbox = [];
    if (this.closed || !messages.length) return;
    for (const batch of batchesOf(messages.map(encodeControllerMessage))) this.call.write(batch.length === 1 ? batch[0]! : encodeControllerBatch(batch));
  }

  close(reason: string): void {
    if (this.closed) return;
    log.info("closing agent stream", { node: this.nodeId, reason });
    this.fail(status.UNAVAILABLE, reason);
  }

  private fail(code: status, details: string): void {
    this.closed = true;
    this.call.emit("error", { code, details, name: "Error", message: details });
    this.core.links.detach(this);
  }

  private end(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.core.links.detach(this);
    if (this.nodeId) log.info("agent disconnected", { node: this.nodeId, why });
    this.call.end();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = (async () => {
      try {
        while (this.inbox.length && !this.closed) {
          const batch = this.inbox.splice(0, this.inbox.length);
          await this.process(batch);
        }
      } catch (e) {
        log.error("failed to apply agent messages; closing the stream so the agent replays them", { node: this.nodeId, error: e });
        this.close("controller error while storing messages");
      } finally {
        this.draining = undefined;
      }
    })();
  }

  private async process(batch: AgentMessage[]): Promise<void> {
    let i = 0;
    if (!this.registered) {
      const first = batch[i++]!;
      if (first.body.case !== "register") {
        this.fail(status.FAILED_PRECONDITION, "the first message on a stream must be register");
        return;
      }
      await this.register(first.body.value);
    }
    let ackSeq = 0n;
    let finished = false;
    const rest = batch.slice(i);
    const samples = rest.flatMap((m) => (m.body.case === "samples" ? m.body.value.samples : []));
    const of = <C extends NonNullable<AgentMessage["body"]["case"]>>(c: C) =>
      rest.flatMap((m) => (m.body.case === c ? [m.body.value as Extract<AgentMessage["body"], { case: C }>["value"]] : []));
    for (const m of rest) {
      if (m.seq > ackSeq) ackSeq = m.seq;
      if (m.body.case === "jobFinished") {
        finished = true;
        if (m.body.value.started) this.ends.add();
      }
      if (m.body.case === "register") log.warn("ignoring a second register on one stream", { node: this.nodeId });
    }
    const burst = { started: of("jobStarted"), outputs: of("jobOutput"), finished: of("jobFinished"), signalled: of("jobSignalled"), progress: of("jobProgress") };
    const events = burst.started.length + burst.outputs.length + burst.finished.length + burst.signalled.length + burst.progress.length;
    if (events || samples.length) {
      const metrics = this.core.metrics;
      if (metrics) {
        metrics.agentEvents.inc(events + samples.length);
        for (const f of burst.finished) if (f.started && !f.returned) metrics.jobRunSeconds.observe(Number(f.walltimeMs) / 1000);
      }
      const warnings = this.countFailures(burst.finished);
      await this.writer.write({ nodeId: this.nodeId, burst, warnings, events }, samples.length ? { nodeId: this.nodeId, samples } : undefined);
    }
    // (any message is a sign of life: an agent sends heartbeats only into silences)
    if (!samples.length && !this.core.heartbeats) await recordHeartbeat(this.core.db, this.nodeId);
    if (ackSeq > 0n) this.send(create(ControllerMessageSchema, { body: { case: "ack", value: { seq: ackSeq } } }));
    if (finished) {
      this.core.kick();
      this.core.kickWorkflows?.();
    }
  }

  /**
   * Sends a window of a stored file the node asked for, in pieces read one by one and written
   * straight to the stream as it drains (see FetchFile): a large file never sits in memory here.
   */
  private async serveFile(ask: FetchFile): Promise<void> {
    const reply = (value: { offset: number; data?: Uint8Array; last?: boolean; error?: string }) =>
      encodeControllerMessage(create(ControllerMessageSchema, { body: { case: "fileChunk", value: { sha256: ask.sha256, ...value, offset: BigInt(value.offset) } } }));
    const write = async (bytes: Uint8Array) => {
      if (this.closed) throw new Error("the stream closed");
      if (!this.call.write(bytes)) await once(this.call, "drain");
    };
    try {
      const window = await fileWindowForNode(this.core, this.nodeId, ask.sha256, Number(ask.offset), Number(ask.length));
      for await (const piece of window.pieces(FILE_PIECE)) await write(reply(piece));
    } catch (e) {
      if (!this.closed) this.call.write(reply({ offset: Number(ask.offset), last: true, error: (e as Error).message }));
    }
  }

  /** A node on which job after job fails is worth a warning (a broken node, a full disk…). */
  private countFailures(finished: JobFinished[]): string[] {
    const warnings: string[] = [];
    for (const ev of finished) {
      if (!ev.started || ev.returned || ev.cause === "cancelled") continue;
      if (!runFailed(ev)) {
        this.failedInARow = 0;
        continue;
      }
      if (++this.failedInARow % FAILING_NODE === 0) warnings.push(`node ${this.nodeId} failed ${this.failedInARow} jobs in a row`);
    }
    return warnings;
  }

  private async register(reg: Extract<AgentMessage["body"], { case: "register" }>["value"]): Promise<void> {
    const problem = checkNodeName(reg.nodeName);
    if (problem) {
      this.fail(status.INVALID_ARGUMENT, problem);
      return;
    }
    const node = await registerNode(this.core.db, reg, this.core.controllerId);
    this.core.nodeCache?.forget();
    await ensureNodeReports(this.core.db, this.core.config, node.id);
    this.nodeId = node.id;
    this.registered = true;
    this.core.links.attach(this);
    this.send(
      create(ControllerMessageSchema, {
        body: {
          case: "registered",
          value: {
            nodeId: node.id,
            settings: {
              heartbeatIntervalMs: BigInt(this.core.config.nodes.heartbeatIntervalMs),
              sampleIntervalMs: BigInt(this.core.config.nodes.sampleIntervalMs),
              backlogWaitMs: BigInt(this.core.config.scheduler.backlogWaitMs),
            },
          },
        },
      }),
    );
    log.info("agent registered", { node: node.id, cores: node.cores, running: reg.running.length });
    await reconcileNode(this.core, node.id, reg.running, reg.finishedUnacknowledged);
  }
}

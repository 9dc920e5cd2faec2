import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, makeGenericClientConstructor, Metadata, status, type ClientDuplexStream } from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import {
  agentServiceDefinition,
  AgentMessageSchema,
  SignalJob_Kind,
  type AgentMessage,
  type ControllerMessage,
  type RunJob,
} from "@drover/proto/service";
import { logger } from "@drover/shared/log";
import { buildInfo } from "@drover/shared/build-info";
import { readNodeFacts, type NodeFacts } from "./facts.ts";
import { JobProcess } from "./job-process.ts";
import { groupAlive, signalGroup } from "./process-group.ts";
import { Sampler } from "./sampler.ts";
import { Spool, type AgentBody } from "./spool.ts";

const log = logger("agent");

export interface AgentOptions {
  /** controller gRPC address, host:port */
  controller: string;
  token: string;
  /** node name; defaults to the hostname */
  name?: string;
  dataDir: string;
  partition?: string;
  features?: string[];
  /** SIGTERM → SIGKILL grace when a job is cancelled or over a limit */
  graceMs?: number;
  /** the longest wait between reconnection attempts; keep it well under the controller's node timeout */
  maxBackoffMs?: number;
  /** how the node's facts are read (the standalone daemon reads them in a child process) */
  readFacts?: (dataDir: string) => Promise<NodeFacts>;
}

const AgentClient = makeGenericClientConstructor(agentServiceDefinition, "AgentService");

/**
 * The node daemon: keeps one Connect stream to the controller (reconnecting with exponential
 * backoff and jitter), runs the jobs it is sent, and delivers their events and the node's
 * samples through an on-disk spool so that nothing is lost while the controller is away.
 */
export class Agent {
  private readonly spool: Spool;
  private readonly jobs = new Map<string, JobProcess>();
  private readonly sampler = new Sampler();
  private readonly jobsDir: string;
  private readonly stateFile: string;
  private client: InstanceType<typeof AgentClient> | undefined;
  private stream: ClientDuplexStream<AgentMessage, ControllerMessage> | undefined;
  private registered = false;
  private cursor = 0n;
  private failures = 0;
  private facts: NodeFacts | undefined;
  private timers: ReturnType<typeof setInterval>[] = [];
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private sampleTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private tick = 0;
  nodeId = "";

  constructor(private readonly opts: AgentOptions) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.spool = new Spool(opts.dataDir);
    this.jobsDir = join(opts.dataDir, "jobs");
    this.stateFile = join(opts.dataDir, "running.json");
  }

  /** True while the stream is open and the controller has accepted our registration. */
  get connected(): boolean {
    return this.registered;
  }

  async start(): Promise<void> {
    this.killLeftovers();
    this.facts = await (this.opts.readFacts ?? readNodeFacts)(this.opts.dataDir);
    this.client = new AgentClient(this.opts.controller, credentials.createInsecure(), {
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
    });
    this.timers.push(setInterval(() => this.superviseJobs(), 1000));
    this.setIntervals(5000, 10_000);
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const job of this.jobs.values()) job.terminate("the agent is stopping");
    this.stream?.cancel();
    this.client?.close();
  }

  // ---- connection ----

  private connect(): void {
    if (this.stopped) return;
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${this.opts.token}`);
    const stream = this.client!.connect(metadata) as ClientDuplexStream<AgentMessage, ControllerMessage>;
    this.stream = stream;
    this.registered = false;
    this.cursor = 0n;
    let ended = false;
    const onEnd = (code: number | undefined, details: string) => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) {
        this.stream = undefined;
        this.registered = false;
      }
      if (this.stopped) return;
      if (code === status.UNAUTHENTICATED) {
        log.error(`the controller refused this agent's token: ${details}. Retrying in 60 s.`);
        this.scheduleReconnect(60_000);
        return;
      }
      this.failures++;
      const delay = Math.min(this.opts.maxBackoffMs ?? 5000, 250 * 2 ** Math.min(this.failures, 10)) * (0.5 + Math.random());
      log.warn("disconnected from the controller; reconnecting", { reason: details, inMs: Math.round(delay) });
      this.scheduleReconnect(delay);
    };
    stream.on("data", (m: ControllerMessage) => this.handle(m));
    stream.on("error", (e: { code?: number; details?: string; message: string }) => onEnd(e.code, e.details ?? e.message));
    stream.on("end", () => onEnd(undefined, "the controller closed the stream"));
    stream.write(this.registerMessage());
  }

  private scheduleReconnect(delay: number): void {
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private registerMessage(): AgentMessage {
    const f = this.facts!;
    const running = [...this.jobs.values()].filter((j) => j.pid).map((j) => ({ jobId: j.jobId, attempt: j.attempt, suspended: j.suspended }));
    return create(AgentMessageSchema, {
      body: {
        case: "register",
        value: {
          nodeName: this.opts.name ?? f.hostname,
          hostname: f.hostname,
          addresses: f.addresses,
          cores: f.cores,
          memoryBytes: BigInt(f.memoryBytes),
          swapBytes: BigInt(f.swapBytes),
          diskBytes: BigInt(f.diskBytes),
          os: f.os,
          arch: f.arch,
          gpus: f.gpus.map((g) => ({ model: g.model, memoryBytes: BigInt(g.memoryBytes) })),
          features: this.opts.features ?? [],
          partition: this.opts.partition ?? "",
          agentVersion: buildInfo().version,
          running,
          finishedUnacknowledged: this.spool.unacknowledgedFinishes(),
        },
      },
    });
  }

  /** Sends every spooled message the current stream has not carried yet, in order. */
  private flush(): void {
    if (!this.stream || !this.registered) return;
    for (const m of this.spool.pendingAfter(this.cursor)) {
      this.stream.write(m);
      this.cursor = m.seq;
    }
  }

  private sendLive(body: AgentBody): void {
    if (this.stream && this.registered) this.stream.write(create(AgentMessageSchema, { body }));
  }

  private handle(m: ControllerMessage): void {
    switch (m.body.case) {
      case "registered": {
        this.registered = true;
        this.failures = 0;
        this.nodeId = m.body.value.nodeId;
        const s = m.body.value.settings;
        if (s) this.setIntervals(Number(s.heartbeatIntervalMs), Number(s.sampleIntervalMs));
        log.info("registered with the controller", { node: this.nodeId, replaying: this.spool.size });
        this.flush();
        break;
      }
      case "ack":
        this.spool.ack(m.body.value.seq);
        break;
      case "run":
        this.runJob(m.body.value);
        break;
      case "signal": {
        const { jobId, attempt, kind, reason } = m.body.value;
        const job = this.jobs.get(`${jobId}.${attempt}`);
        if (!job) break;
        if (kind === SignalJob_Kind.CANCEL) job.terminate(reason || "cancelled");
        else if (kind === SignalJob_Kind.SUSPEND) job.suspend();
        else if (kind === SignalJob_Kind.RESUME) job.resume();
        this.saveState();
        // a cancel is confirmed by the job's end; a suspend or resume right away
        if (kind === SignalJob_Kind.SUSPEND || kind === SignalJob_Kind.RESUME) this.sendLive({ case: "jobSignalled", value: { jobId, attempt, kind } });
        break;
      }
      case "settings":
        this.setIntervals(Number(m.body.value.heartbeatIntervalMs), Number(m.body.value.sampleIntervalMs));
        break;
      case "drain":
        log.info(m.body.value.drain ? "node drained by the controller" : "node undrained");
        break;
    }
  }

  private setIntervals(heartbeatMs: number, sampleMs: number): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    this.heartbeatTimer = setInterval(() => this.sendLive({ case: "heartbeat", value: { runningJobs: this.jobs.size } }), heartbeatMs);
    this.sampleTimer = setInterval(() => {
      this.spool.append({ case: "samples", value: { samples: [this.sampler.sample()] } });
      this.flush();
    }, sampleMs);
  }

  // ---- jobs ----

  private runJob(spec: RunJob): void {
    const key = `${spec.jobId}.${spec.attempt}`;
    if (this.jobs.has(key)) return;
    const job = new JobProcess(spec, this.jobsDir, this.opts.graceMs ?? 10_000);
    this.jobs.set(key, job);
    void job
      .run((pid) => {
        this.saveState();
        this.spool.append({
          case: "jobStarted",
          value: { jobId: spec.jobId, attempt: spec.attempt, pid, startedAtMs: BigInt(job.startedAtMs), stdoutPath: job.stdoutPath, stderrPath: job.stderrPath },
        });
        this.flush();
      })
      .then((end) => {
        this.jobs.delete(key);
        this.saveState();
        this.spool.append({
          case: "jobFinished",
          value: {
            jobId: spec.jobId,
            attempt: spec.attempt,
            exitCode: end.exitCode,
            signal: end.signal,
            startedAtMs: BigInt(end.startedAtMs),
            endedAtMs: BigInt(end.endedAtMs),
            walltimeMs: BigInt(end.walltimeMs),
            cpuTimeMs: BigInt(end.cpuTimeMs),
            peakRssBytes: BigInt(end.peakRssBytes),
            failReason: end.failReason,
            stdoutTail: end.stdoutTail,
            stderrTail: end.stderrTail,
            started: end.started,
          },
        });
        this.flush();
      })
      .catch((e) => log.error("job supervision failed", { job: key, error: e }));
  }

  private superviseJobs(): void {
    this.tick++;
    for (const job of this.jobs.values()) {
      job.enforceLimits();
      if (this.tick % 2 === 0 && this.registered) {
        const out = job.outputIfChanged();
        if (out) this.sendLive({ case: "jobOutput", value: { jobId: job.jobId, attempt: job.attempt, stdoutTail: out.stdout, stderrTail: out.stderr } });
      }
    }
  }

  /** Which process groups are ours, so that a restarted agent can clean up after a crash. */
  private saveState(): void {
    const running = [...this.jobs.values()].filter((j) => j.pid).map((j) => ({ jobId: String(j.jobId), attempt: j.attempt, pid: j.pid }));
    writeFileSync(this.stateFile, JSON.stringify(running));
  }

  /**
   * After a crash the previous agent's jobs are orphans nobody can supervise or report on:
   * they are killed, and the controller (which no longer hears of them) requeues them.
   */
  private killLeftovers(): void {
    if (!existsSync(this.stateFile)) return;
    try {
      const leftovers = JSON.parse(readFileSync(this.stateFile, "utf8")) as { jobId: string; pid: number }[];
      for (const l of leftovers) {
        if (groupAlive(l.pid)) {
          signalGroup(l.pid, "SIGKILL");
          log.warn("killed a job left running by a previous agent process", { job: l.jobId, pid: l.pid });
        }
      }
    } catch (e) {
      log.warn("could not read the previous agent's job list", { error: e });
    }
    writeFileSync(this.stateFile, "[]");
  }
}

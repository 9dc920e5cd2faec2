// Thousands of simulated agents in one process, speaking the real agent protocol over real gRPC
// connections to a controller: each registers as a node, sends heartbeats and samples at the
// intervals the controller sets, accepts the jobs it is sent and "runs" each for a simulated time
// (a job `sleep N` for N seconds, any other for --job-time), reporting its start and end. With
// them a controller can be measured at scale without thousands of machines.
//
//   bun scripts/simulate-agents.ts --controller 127.0.0.1:7071 --token-file agent.token
//        [--agents 1000] [--cores 4] [--memory 16G] [--prefix sim] [--job-time 1s] [--connections 100]
//        [--ramp 500] [--stats 5s]
//
// --connections: the gRPC connections the agents' streams are spread over (a real agent has one
// each; a process cannot hold 10,000 TLS-free HTTP/2 connections cheaply, so agents share them,
// each still with its own stream). --ramp: agents connecting per second. Every --stats it prints
// how many are registered and the jobs started and ended per second; SIGINT or SIGTERM ends it.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { credentials, makeGenericClientConstructor, Metadata, type ClientDuplexStream } from "@grpc/grpc-js";
import { agentServiceDefinition, AgentMessageSchema, SignalJob_Kind, type AgentMessage, type ControllerMessage, type RunJob } from "@drover/proto/service";
import { parseDuration, parseSize } from "@drover/shared/durations";

const { values } = parseArgs({
  options: {
    controller: { type: "string" },
    "token-file": { type: "string" },
    token: { type: "string" },
    agents: { type: "string", default: "1000" },
    cores: { type: "string", default: "4" },
    memory: { type: "string", default: "16G" },
    prefix: { type: "string", default: "sim" },
    "job-time": { type: "string", default: "1s" },
    connections: { type: "string", default: "100" },
    ramp: { type: "string", default: "500" },
    stats: { type: "string", default: "5s" },
    quiet: { type: "boolean" },
  },
});
const controller = values.controller ?? process.env.DROVER_CONTROLLER;
const token = values.token ?? (values["token-file"] ? readFileSync(values["token-file"], "utf8").trim() : process.env.DROVER_AGENT_TOKEN);
if (!controller || !token) {
  process.stderr.write("simulate-agents: --controller HOST:PORT and --token-file F (an agent token: POST /auth/agent-tokens) are required\n");
  process.exit(2);
}
const AGENTS = Number(values.agents);
const CORES = Number(values.cores);
const MEMORY = parseSize(values.memory!);
const JOB_MS = parseDuration(values["job-time"]!);
const CONNECTIONS = Math.max(1, Math.min(AGENTS, Number(values.connections)));
const RAMP = Math.max(1, Number(values.ramp));
const AgentClient = makeGenericClientConstructor(agentServiceDefinition, "AgentService");

// (a distinct channel option per connection: grpc-js would otherwise share one connection)
const clients = Array.from({ length: CONNECTIONS }, (_, i) =>
  new AgentClient(controller, credentials.createInsecure(), { "grpc.keepalive_time_ms": 10_000, "grpc.keepalive_permit_without_calls": 1, "drover.simulated-connection": i, "grpc.max_receive_message_length": 16 * 1024 * 1024 }),
);

export const counters = { registered: 0, started: 0, finished: 0, heartbeats: 0, samples: 0, disconnects: 0 };

/** A running job: when it ends. */
interface SimJob {
  jobId: bigint;
  attempt: number;
  startedAt: number;
  endsAt: number;
  timer: ReturnType<typeof setTimeout>;
}

class SimAgent {
  private stream: ClientDuplexStream<AgentMessage, ControllerMessage> | undefined;
  private seq = 1n;
  private registered = false;
  readonly jobs = new Map<string, SimJob>();
  heartbeatMs = 5000;
  sampleMs = 10_000;
  private lastHeartbeat = 0;
  private lastSample = 0;

  constructor(readonly name: string, private readonly client: InstanceType<typeof AgentClient>) {}

  connect(): void {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    const stream = this.client.connect(metadata) as ClientDuplexStream<AgentMessage, ControllerMessage>;
    this.stream = stream;
    stream.on("data", (m: ControllerMessage) => this.handle(m));
    const ended = () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      if (this.registered) counters.registered--;
      this.registered = false;
      counters.disconnects++;
      // (asked again when the timer fires: a stop in between has closed the clients)
      if (!stopping) setTimeout(() => !stopping && this.connect(), 1000 + Math.random() * 2000);
    };
    stream.on("error", ended);
    stream.on("end", ended);
    stream.write(create(AgentMessageSchema, {
      body: {
        case: "register",
        value: {
          nodeName: this.name, hostname: this.name, addresses: ["192.0.2.1"], cores: CORES, memoryBytes: BigInt(MEMORY), swapBytes: 0n, diskBytes: 1n << 40n,
          os: "Simulated Linux", arch: "x86_64", agentVersion: "simulated", partition: "sim",
          // (its jobs live in this process: after a reconnect they are still "running")
          running: [...this.jobs.values()].map((j) => ({ jobId: j.jobId, attempt: j.attempt })),
        },
      },
    }));
  }

  private send(body: MessageInitShape<typeof AgentMessageSchema>["body"], spooled: boolean): void {
    this.stream?.write(create(AgentMessageSchema, { seq: spooled ? this.seq++ : 0n, body }));
  }

  private handle(m: ControllerMessage): void {
    switch (m.body.case) {
      case "registered":
        this.registered = true;
        counters.registered++;
        if (m.body.value.settings) this.settings(m.body.value.settings);
        break;
      case "settings":
        this.settings(m.body.value);
        break;
      case "run":
        this.run(m.body.value);
        break;
      case "signal": {
        const { jobId, attempt, kind } = m.body.value;
        const job = this.jobs.get(`${jobId}.${attempt}`);
        if (!job) break;
        if (kind === SignalJob_Kind.CANCEL) this.finish(job, undefined, "SIGTERM");
        else this.send({ case: "jobSignalled", value: { jobId, attempt, kind } }, false);
        break;
      }
      case "batch":
        for (const inner of m.body.value.messages) this.handle(inner);
        break;
      default:
        break;
    }
  }

  private settings(s: { heartbeatIntervalMs: bigint; sampleIntervalMs: bigint }): void {
    if (s.heartbeatIntervalMs) this.heartbeatMs = Number(s.heartbeatIntervalMs);
    if (s.sampleIntervalMs) this.sampleMs = Number(s.sampleIntervalMs);
  }

  private run(spec: RunJob): void {
    const key = `${spec.jobId}.${spec.attempt}`;
    if (this.jobs.has(key)) return;
    const now = Date.now();
    const sleep = spec.argv[0]?.endsWith("sleep") && spec.argv[1] !== undefined ? Number(spec.argv[1]) * 1000 : NaN;
    const duration = Number.isFinite(sleep) ? sleep : JOB_MS;
    const job: SimJob = { jobId: spec.jobId, attempt: spec.attempt, startedAt: now, endsAt: now + duration, timer: setTimeout(() => this.finish(job, 0, ""), duration) };
    this.jobs.set(key, job);
    counters.started++;
    this.send({ case: "jobStarted", value: { jobId: spec.jobId, attempt: spec.attempt, pid: 1, startedAtMs: BigInt(now) } }, true);
  }

  private finish(job: SimJob, exitCode: number | undefined, signal: string): void {
    clearTimeout(job.timer);
    this.jobs.delete(`${job.jobId}.${job.attempt}`);
    counters.finished++;
    const now = Date.now();
    this.send({
      case: "jobFinished",
      value: {
        jobId: job.jobId, attempt: job.attempt, exitCode, signal, started: true, startedAtMs: BigInt(job.startedAt), endedAtMs: BigInt(now),
        walltimeMs: BigInt(now - job.startedAt), cpuTimeMs: 0n, peakRssBytes: 1n << 20n, failReason: "", stdoutTail: "", stderrTail: "", cause: signal ? "cancelled" : "exit",
      },
    }, true);
  }

  /** Called every 250 ms: a heartbeat and a sample when theirs are due. */
  tick(now: number): void {
    if (!this.registered) return;
    if (now - this.lastHeartbeat >= this.heartbeatMs) {
      this.lastHeartbeat = now;
      counters.heartbeats++;
      this.send({ case: "heartbeat", value: { runningJobs: this.jobs.size } }, false);
    }
    if (now - this.lastSample >= this.sampleMs) {
      this.lastSample = now;
      counters.samples++;
      const busy = Math.min(1, this.jobs.size / CORES);
      this.send({
        case: "samples",
        value: {
          samples: [{
            timestampMs: BigInt(now), cpuTotal: busy, cpuPerCore: Array.from({ length: CORES }, () => busy), memoryUsedBytes: BigInt(Math.round(MEMORY * 0.1)), memoryTotalBytes: BigInt(MEMORY),
            load1: this.jobs.size, load5: this.jobs.size, load15: this.jobs.size, diskFreeBytes: 1n << 39n, swapFreeBytes: 0n, networkBytesPerSecond: 0, ioBytesPerSecond: 0,
          }],
        },
      }, true);
    }
  }

  close(): void {
    this.stream?.cancel();
  }
}

let stopping = false;
const agents = Array.from({ length: AGENTS }, (_, i) => new SimAgent(`${values.prefix}-${String(i + 1).padStart(5, "0")}`, clients[i % CONNECTIONS]!));
// connect at --ramp per second, spreading heartbeats over their interval as real nodes do
let next = 0;
const ramp = setInterval(() => {
  const until = Math.min(AGENTS, next + Math.ceil(RAMP / 10));
  for (; next < until; next++) agents[next]!.connect();
  if (next >= AGENTS) clearInterval(ramp);
}, 100);
const ticker = setInterval(() => {
  const now = Date.now();
  for (const a of agents) a.tick(now - Math.random() * 0); // (each agent keeps its own phase from when it registered)
}, 250);
const statsMs = parseDuration(values.stats!);
let last = { ...counters, at: Date.now() };
const stats = setInterval(() => {
  const now = Date.now();
  const secs = (now - last.at) / 1000;
  const rate = (k: keyof typeof counters) => ((counters[k] - last[k]) / secs).toFixed(0);
  if (!values.quiet) {
    process.stdout.write(
      `${new Date(now).toISOString()} registered=${counters.registered}/${AGENTS} running=${agents.reduce((s, a) => s + a.jobs.size, 0)} started/s=${rate("started")} finished/s=${rate("finished")} heartbeats/s=${rate("heartbeats")} samples/s=${rate("samples")} disconnects=${counters.disconnects}\n`,
    );
  }
  last = { ...counters, at: now };
}, statsMs);

const stop = () => {
  stopping = true;
  clearInterval(ramp);
  clearInterval(ticker);
  clearInterval(stats);
  for (const a of agents) a.close();
  for (const c of clients) c.close();
  setTimeout(() => process.exit(0), 200);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, makeGenericClientConstructor, Metadata, status, type ClientDuplexStream } from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import {
  agentServiceDefinition,
  AgentMessageSchema,
  batchesOf,
  encodeAgentBatch,
  SignalJob_Kind,
  type AgentMessage,
  type ControllerMessage,
  type RunJob,
} from "@drover/proto/service";
import { logger } from "@drover/shared/log";
import { buildInfo } from "@drover/shared/build-info";
import { atEndOfTurn } from "@drover/shared/end-of-turn";
import { CONTROLLER_TLS_NAME } from "@drover/shared/tls";
import { readNodeFacts, type NodeFacts } from "./facts.ts";
import { JobProcess, notStarted, type JobEnd } from "./job-process.ts";
import { groupAlive, memoryByGroup, signalGroup } from "./process-group.ts";
import { Backlog } from "./backlog.ts";
import { FileFetcher } from "./file-fetch.ts";
import { streamJobArchive } from "./job-archive.ts";
import { Sampler } from "./sampler.ts";
import { JobCgroups } from "./cgroup.ts";
import { OrphanGuard } from "./orphan-guard.ts";
import { becomeSubreaper, Escapees } from "./escapees.ts";
import { Spool, type AgentBody } from "./spool.ts";
import { RunAs, type RunJobsAs } from "./run-as.ts";

const log = logger("agent");
/** How long after the last job ended the agent still looks for its escapees every second. */
const IDLE_SWEEP_AFTER_MS = 10_000;

export interface AgentOptions {
  /** controller gRPC address, host:port; several separated by commas: it fails over from one to the next */
  controller: string;
  token: string;
  /** the controller's CA certificate (PEM): the stream uses TLS and trusts only it; without, plain text (loopback) */
  ca?: Buffer;
  /** node name; defaults to the hostname */
  name?: string;
  dataDir: string;
  partition?: string;
  features?: string[];
  /** processors offered to jobs, instead of all the node's cores */
  cpus?: number;
  /** SIGTERM → SIGKILL grace when a job is cancelled or over a limit */
  graceMs?: number;
  /** the longest wait between reconnection attempts; keep it well under the controller's node timeout */
  maxBackoffMs?: number;
  /** how the node's facts are read (the standalone daemon reads them in a child process) */
  readFacts?: (dataDir: string) => Promise<NodeFacts>;
  /** whom jobs run as when the agent is root (default: their users' accounts; see run-as.ts) */
  runJobsAs?: RunJobsAs;
  /** countable resources offered besides the GPUs found (which count as "gpu" unless given here) */
  gres?: Record<string, number>;
}

const AgentClient = makeGenericClientConstructor(agentServiceDefinition, "AgentService");

/** True when HOST:PORT names its host by IPv4 or [IPv6] address. */
const isIpAddress = (address: string) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(address) || address.startsWith("[");

/**
 * The node daemon: keeps one Connect stream to the controller (reconnecting with exponential
 * backoff and jitter), runs the jobs it is sent, and delivers their events and the node's
 * samples through an on-disk spool so that nothing is lost while the controller is away.
 */
export class Agent {
  private readonly spool: Spool;
  private readonly jobs = new Map<string, JobProcess>();
  /** jobs sent while this node's processors were taken, in queue order (see startWaiting) */
  private readonly backlog = new Backlog();
  private readonly fetcher: FileFetcher;
  private backlogWaitMs = 2000;
  private readonly sampler: Sampler;
  private readonly jobsDir: string;
  private readonly stateFile: string;
  /** one client per controller address, made as it is first tried */
  private readonly clients = new Map<string, InstanceType<typeof AgentClient>>();
  /** which of the addresses the stream is (or is next) opened to */
  private current = 0;
  private stream: ClientDuplexStream<AgentMessage | Uint8Array, ControllerMessage> | undefined;
  private registered = false;
  private cursor = 0n;
  private failures = 0;
  private facts: NodeFacts | undefined;
  /** superviseJobs each second, while the node has jobs or just had one (undefined when idle) */
  private superviseTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private sampleTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private tick = 0;
  private cgroups: JobCgroups | undefined;
  private readonly guard: OrphanGuard;
  /** the processes of ended jobs that left their process groups (escapees.ts) */
  private escapees: Escapees;
  private lastSweep = 0;
  /** when the last job ended here (sweeps for its escapees go on a while after) */
  private lastJobEndAt = Date.now();
  /** a message went to the controller since the last heartbeat tick */
  private sentSinceHeartbeat = false;
  private readonly runAs: RunAs;
  nodeId = "";

  constructor(private readonly opts: AgentOptions) {
    this.runAs = new RunAs(opts.runJobsAs ?? "user");
    this.sampler = new Sampler(opts.dataDir);
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    if (this.runAs.switchesAccount) {
      // jobs' accounts pass through to their own directories (DATA_DIR/jobs/ID.ATTEMPT) and read
      // their node files, without listing anything; drover's other files here stay the agent's
      for (const [dir, mode] of [[opts.dataDir, 0o711], [join(opts.dataDir, "jobs"), 0o711], [join(opts.dataDir, "nodefiles"), 0o755]] as const) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, mode);
      }
    }
    this.spool = new Spool(opts.dataDir);
    this.jobsDir = join(opts.dataDir, "jobs");
    this.guard = new OrphanGuard(this.jobsDir);
    this.escapees = new Escapees(this.jobsDir, false);
    this.stateFile = join(opts.dataDir, "running.json");
    this.fetcher = new FileFetcher(join(opts.dataDir, "cache"), (sha256, offset, length) => {
      if (!this.stream || !this.registered) return false;
      this.sendLive({ case: "fetchFile", value: { sha256, offset: BigInt(offset), length: BigInt(length) } });
      return true;
    });
  }

  /** GPU indices held by running jobs, by job key */
  private readonly gpusHeld = new Map<string, number[]>();

  /** Gives a job `count` GPU indices no running job holds (the controller counted them: they are free). */
  private takeGpus(key: string, count: number): number[] | undefined {
    if (!count) return undefined;
    const held = new Set([...this.gpusHeld.values()].flat());
    const free = Array.from({ length: this.gres().gpu ?? 0 }, (_, i) => i).filter((i) => !held.has(i));
    const given = free.slice(0, count);
    this.gpusHeld.set(key, given);
    return given;
  }

  /** The generic resources the node offers: its GPUs as "gpu" (unless --gres names gpu), and --gres. */
  private gres(): Record<string, number> {
    const gpus = this.facts?.gpus.length ?? 0;
    return { ...(gpus ? { gpu: gpus } : {}), ...this.opts.gres };
  }

  /** True while the stream is open and the controller has accepted our registration. */
  get connected(): boolean {
    return this.registered;
  }

  async start(): Promise<void> {
    // processes whose parent dies come back to the agent: it can end those of ended jobs
    const subreaper = becomeSubreaper();
    this.escapees = new Escapees(this.jobsDir, subreaper);
    if (!subreaper) log.info("not a child subreaper: processes that leave a job's process group are found by scanning /proc");
    this.killLeftovers();
    this.guard.start();
    log.info(this.runAs.describe());
    const cgroups = JobCgroups.setUp(createHash("sha1").update(this.opts.dataDir).digest("hex").slice(0, 8));
    if (typeof cgroups === "string") log.info("jobs' memory limits are enforced by polling their processes' RSS", { why: cgroups });
    else {
      this.cgroups = cgroups;
      log.info("jobs' memory limits are enforced by the kernel (cgroup v2)", { cgroups: cgroups.jobsDir });
    }
    const facts = await (this.opts.readFacts ?? readNodeFacts)(this.opts.dataDir);
    this.facts = this.opts.cpus ? { ...facts, cores: this.opts.cpus } : facts;
    this.superviseSoon();
    this.setIntervals(5000, 10_000);
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.superviseTimer) clearInterval(this.superviseTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.backlog.clear(); // unstarted: the controller queues them again when this node is reconciled or lost
    for (const job of this.jobs.values()) job.terminate("the agent is stopping", "stopped");
    this.stream?.cancel();
    for (const client of this.clients.values()) client.close();
    this.guard.stop();
  }

  // ---- connection ----

  /** The controllers it may connect to (--controller a:7071,b:7071), in the order tried. */
  private get addresses(): string[] {
    return this.opts.controller.split(",").map((a) => a.trim()).filter(Boolean);
  }

  /** The address the stream is (or is next) opened to. */
  get controllerAddress(): string {
    const all = this.addresses;
    return all[this.current % all.length]!;
  }

  private clientFor(address: string): InstanceType<typeof AgentClient> {
    let client = this.clients.get(address);
    if (!client) {
      client = new AgentClient(address, this.opts.ca ? credentials.createSsl(this.opts.ca) : credentials.createInsecure(), {
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.max_receive_message_length": 16 * 1024 * 1024,
        // TLS cannot name a server by IP address: a controller reached by address is checked
        // against the name its CA gives every controller certificate (CONTROLLER_TLS_NAME)
        ...(this.opts.ca && isIpAddress(address) ? { "grpc.ssl_target_name_override": CONTROLLER_TLS_NAME } : {}),
      });
      this.clients.set(address, client);
    }
    return client;
  }

  private connect(): void {
    if (this.stopped) return;
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${this.opts.token}`);
    const stream = this.clientFor(this.controllerAddress).connect(metadata) as ClientDuplexStream<AgentMessage | Uint8Array, ControllerMessage>;
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
        // unstarted jobs must not start while the controller cannot hear of it: it will
        // queue them again (see connect)
        this.backlog.clear();
        this.fetcher.failAll("the connection to the controller was lost");
      }
      if (this.stopped) return;
      if (code === status.UNAUTHENTICATED) {
        log.error(`the controller refused this agent's token: ${details}. Retrying in 60 s.`);
        this.scheduleReconnect(60_000);
        return;
      }
      this.failures++;
      // with several controllers, the next one is tried at once; once each has failed, with backoff
      const several = this.addresses.length > 1;
      const was = this.controllerAddress;
      if (several) this.current = (this.current + 1) % this.addresses.length;
      const round = several ? Math.floor((this.failures - 1) / this.addresses.length) : this.failures;
      const delay = several && (this.failures - 1) % this.addresses.length === 0 ? 100 : Math.min(this.opts.maxBackoffMs ?? 5000, 250 * 2 ** Math.min(round, 10)) * (0.5 + Math.random());
      log.warn("disconnected from the controller; reconnecting", { controller: was, reason: details, next: this.controllerAddress, inMs: Math.round(delay) });
      this.scheduleReconnect(delay);
    };
    // Jobs waiting in the backlog are not reported as running, so the controller queues them
    // again when this registration is reconciled: they must not start here any more.
    this.backlog.clear();
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
          gres: this.gres(),
          partition: this.opts.partition ?? "",
          agentVersion: buildInfo().version,
          running,
          finishedUnacknowledged: this.spool.unacknowledgedFinishes(),
        },
      },
    });
  }

  /**
   * Writes what was spooled, then sends it, once at the end of this turn of the event loop:
   * the jobs that start and end together cost one write to disk and one to the stream.
   */
  private readonly flushSoon = atEndOfTurn(() => this.flush());

  /**
   * Sends every spooled message the current stream has not carried yet, in order (once it is
   * on disk), in batches: one gRPC message each.
   */
  private flush(): void {
    this.spool.sync();
    if (!this.stream || !this.registered) return;
    const pending = this.spool.pendingAfter(this.cursor);
    if (!pending.length) return;
    for (const batch of batchesOf(pending.map((e) => e.bytes))) this.stream.write(batch.length === 1 ? batch[0]! : encodeAgentBatch(batch));
    this.cursor = pending.at(-1)!.seq;
    this.sentSinceHeartbeat = true;
  }

  private sendLive(body: AgentBody): void {
    if (!this.stream || !this.registered) return;
    this.stream.write(create(AgentMessageSchema, { body }));
    this.sentSinceHeartbeat = true;
  }

  /**
   * Any message is a sign of life to the controller: a heartbeat only fills a silence of one
   * interval (so an idle node sends half as many messages; the gap between two stays under
   * two intervals).
   */
  private heartbeat(): void {
    if (!this.sentSinceHeartbeat) this.sendLive({ case: "heartbeat", value: { runningJobs: this.jobs.size } });
    this.sentSinceHeartbeat = false;
  }

  private handle(m: ControllerMessage): void {
    switch (m.body.case) {
      case "registered": {
        this.registered = true;
        this.failures = 0;
        this.nodeId = m.body.value.nodeId;
        const s = m.body.value.settings;
        if (s) {
          this.setIntervals(Number(s.heartbeatIntervalMs), Number(s.sampleIntervalMs));
          this.backlogWaitMs = Number(s.backlogWaitMs);
        }
        log.info("registered with the controller", { node: this.nodeId, controller: this.controllerAddress, replaying: this.spool.size });
        this.flush();
        break;
      }
      case "ack":
        this.spool.ack(m.body.value.seq);
        break;
      case "run":
        this.runOrWait(m.body.value);
        break;
      case "signal": {
        const { jobId, attempt, kind, reason } = m.body.value;
        const key = `${jobId}.${attempt}`;
        const job = this.jobs.get(key);
        const waiting = this.backlog.get(key);
        if (!job && waiting && kind === SignalJob_Kind.CANCEL) {
          this.backlog.delete(key);
          this.reportEnd(waiting.spec, notStarted(reason || "cancelled before it started", Date.now(), "cancelled"));
          break;
        }
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
        this.backlogWaitMs = Number(m.body.value.backlogWaitMs);
        break;
      case "drain":
        log.info(m.body.value.drain ? "node drained by the controller" : "node undrained");
        break;
      case "batch":
        for (const inner of m.body.value.messages) if (inner.body.case !== "batch") this.handle(inner);
        break;
      case "fileChunk":
        this.fetcher.receive(m.body.value);
        break;
      case "archiveJob": {
        const request = m.body.value;
        const { requestId } = request;
        void streamJobArchive(this.jobsDir, request, (data, last, error) =>
          this.sendLive({ case: "archiveChunk", value: { requestId, data, last, error } }),
        ).catch((e) => this.sendLive({ case: "archiveChunk", value: { requestId, last: true, error: (e as Error).message } }));
        break;
      }
      case "returnJobs":
        this.returnJobs(m.body.value.jobs);
        break;
    }
  }

  private setIntervals(heartbeatMs: number, sampleMs: number): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), heartbeatMs);
    this.sampleTimer = setInterval(() => {
      this.spool.append({ case: "samples", value: { samples: [this.sampler.sample()] } });
      this.flushSoon();
    }, sampleMs);
  }

  // ---- jobs ----

  /** Processors and memory the running jobs take; what a job needs must fit beside them. */
  private fits(spec: RunJob): boolean {
    const f = this.facts!;
    let cpus = 0;
    let memory = 0;
    for (const j of this.jobs.values()) {
      cpus += j.spec.cpus;
      memory += Number(j.spec.memoryBytes);
    }
    // a job bigger than the node alone would wait forever: it runs, as the controller decided
    if (spec.cpus > f.cores) return this.jobs.size === 0;
    return cpus + spec.cpus <= f.cores && (spec.memoryBytes === 0n || memory + Number(spec.memoryBytes) <= f.memoryBytes);
  }

  /**
   * A job the controller sent: it starts now if it fits beside the running ones and no job
   * before it in queue order waits here, else it waits in the backlog (in queue order) for
   * running jobs to end, for at most backlogWaitMs.
   */
  private runOrWait(spec: RunJob): void {
    const key = `${spec.jobId}.${spec.attempt}`;
    if (this.jobs.has(key) || this.backlog.has(key)) return;
    if (!this.backlog.size && this.fits(spec)) return this.runJob(spec);
    if (this.backlogWaitMs <= 0) return this.reportEnd(spec, { ...notStarted("the node's processors were taken", Date.now(), ""), returned: true, overdue: true });
    this.backlog.add({ key, spec, since: Date.now() });
    this.superviseSoon();
    // it may come before the ones waiting (a higher priority) and fit now
    this.startWaiting();
  }

  /** Starts waiting jobs in queue order while they fit: none starts ahead of one before it. */
  private startWaiting(): void {
    for (let next = this.backlog.first(); next && this.fits(next.spec); next = this.backlog.first()) {
      this.backlog.delete(next.key);
      this.runJob(next.spec);
    }
  }

  /**
   * Hands back a job that waited longer than backlogWaitMs, so the controller may place it
   * elsewhere, and with it every job behind it here (each would otherwise start ahead of it as
   * processors free up).
   */
  private returnOverdue(at = Date.now()): void {
    const taken = this.backlog.takeFrom((e) => at - e.since >= this.backlogWaitMs);
    taken.forEach(({ spec }, i) =>
      this.reportEnd(spec, i === 0
        ? { ...notStarted("waited too long for the node's processors", Date.now(), ""), returned: true, overdue: true }
        : { ...notStarted("handed back with a job before it that waited too long", Date.now(), ""), returned: true }),
    );
  }

  /** Spools the progress lines a job printed since the last look (README, "Progress"). */
  private reportProgress(job: JobProcess): void {
    const found = job.takeProgress();
    for (const p of found) this.spool.append({ case: "jobProgress", value: { jobId: job.jobId, attempt: job.attempt, message: p.message, atMs: BigInt(p.atMs) } });
    if (found.length) this.flushSoon();
  }

  /** Hands back jobs still waiting in the backlog, as the controller asks after reordering its queue. */
  private returnJobs(refs: { jobId: bigint; attempt: number }[]): void {
    for (const ref of refs) {
      const entry = this.backlog.get(`${ref.jobId}.${ref.attempt}`);
      if (!entry) continue; // started meanwhile, or never here: nothing to hand back
      this.backlog.delete(entry.key);
      this.reportEnd(entry.spec, { ...notStarted("handed back: the queue was reordered", Date.now(), ""), returned: true });
    }
    this.startWaiting();
  }

  /** Spools a job's end (or that it never started, or was handed back) for the controller. */
  private reportEnd(spec: RunJob, end: JobEnd & { returned?: boolean; overdue?: boolean }): void {
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
        returned: end.returned ?? false,
        overdue: end.overdue ?? false,
        cause: end.cause,
        behaviourNotes: end.behaviourNotes ?? [],
        outputs: end.outputs ?? [],
      },
    });
    // a job's end is on disk at once: an agent killed right after would otherwise lose it,
    // and the controller would run the job again (the rest goes at the end of this turn)
    this.spool.sync();
    this.flushSoon();
  }

  private runJob(spec: RunJob): void {
    const key = `${spec.jobId}.${spec.attempt}`;
    if (this.jobs.has(key)) return;
    // the GPUs it holds, by index (CUDA_VISIBLE_DEVICES), and its generic resources in its environment
    const gpus = this.takeGpus(key, spec.gres.gpu ?? 0);
    if (Object.keys(spec.gres).length) {
      spec.environment = { ...spec.environment, DROVER_GRES: Object.entries(spec.gres).map(([k, v]) => `${k}=${v}`).join(","), ...(gpus ? { CUDA_VISIBLE_DEVICES: gpus.join(",") } : {}) };
    }
    const job = new JobProcess(spec, this.jobsDir, join(this.opts.dataDir, "nodefiles"), this.opts.graceMs ?? 10_000, this.cgroups, this.guard, this.fetcher, this.runAs);
    this.jobs.set(key, job);
    this.superviseSoon();
    void job
      .run((pid) => {
        this.saveStateSoon();
        this.spool.append({
          case: "jobStarted",
          value: { jobId: spec.jobId, attempt: spec.attempt, pid, startedAtMs: BigInt(job.startedAtMs), stdoutPath: job.stdoutPath, stderrPath: job.stderrPath },
        });
        this.flushSoon();
      })
      // a job whose supervision failed still ends (else it would hold its node as running for
      // ever): its exit status is unknown, and it is not run again (it may have done its work)
      .catch((e: Error): JobEnd => {
        log.error("job supervision failed", { job: key, error: e });
        const at = Date.now();
        const started = job.startedAtMs || at;
        return { ...notStarted(`the agent lost track of the job's process: ${e.message}`, at, "lost"), started: job.pid > 0, startedAtMs: started, walltimeMs: at - started };
      })
      .then((end) => {
        this.jobs.delete(key);
        this.gpusHeld.delete(key);
        this.saveStateSoon();
        this.lastJobEndAt = Date.now();
        this.sweepSoon();
        this.reportProgress(job);
        this.reportEnd(spec, end);
        this.startWaiting();
      })
      .catch((e) => log.error("reporting a job's end failed", { job: key, error: e }));
  }

  /** Ends what ended jobs left behind (at most every 100 ms; each supervision tick too). */
  private sweepEscapees(): void {
    if (Date.now() - this.lastSweep < 100) return;
    this.lastSweep = Date.now();
    const killed = this.escapees.sweep(new Set(this.jobs.keys()));
    for (const [job, n] of killed) log.info("killed processes an ended job left behind (they had left its process group)", { job, processes: n });
  }

  private readonly sweepSoon = atEndOfTurn(() => setTimeout(() => this.sweepEscapees(), 100));

  /** Supervises the jobs each second from now on (until the node is idle again). */
  private superviseSoon(): void {
    this.superviseTimer ??= setInterval(() => this.superviseJobs(), 1000);
  }

  private superviseJobs(): void {
    this.tick++;
    // Escapees exist only while jobs run or just after one ended (they come back to the agent
    // within moments of their parent's end): an idle node does not look through /proc each
    // second (that was most of an idle agent's CPU).
    const recent = this.jobs.size || Date.now() - this.lastJobEndAt < IDLE_SWEEP_AFTER_MS || this.escapees.pending;
    if (recent) this.sweepEscapees();
    if (!this.jobs.size && !this.backlog.size) {
      // nothing to supervise: the timer stops until a job comes (an idle node runs no code
      // of ours but for its heartbeats and samples)
      if (!recent) {
        clearInterval(this.superviseTimer);
        this.superviseTimer = undefined;
      }
      return;
    }
    this.returnOverdue();
    // one look at /proc for all jobs whose memory the kernel does not watch
    const polled = new Set([...this.jobs.values()].filter((j) => j.pollsRss && j.pid).map((j) => j.pid));
    const rss = polled.size ? memoryByGroup(polled) : undefined;
    for (const job of this.jobs.values()) {
      job.enforceLimits(Date.now(), rss);
      this.reportProgress(job);
      if (this.tick % 2 === 0 && this.registered) {
        const out = job.outputIfChanged();
        if (out) this.sendLive({ case: "jobOutput", value: { jobId: job.jobId, attempt: job.attempt, stdoutTail: out.stdout, stderrTail: out.stderr } });
      }
    }
  }

  /**
   * saveState at the end of this turn of the event loop (once for the jobs that start and end
   * together). The orphan guard covers a crash before then: it kills the groups itself.
   */
  private readonly saveStateSoon = atEndOfTurn(() => this.saveState());

  /** Which process groups are ours, so that a restarted agent can clean up after a crash. */
  private saveState(): void {
    const running = [...this.jobs.values()].filter((j) => j.pid).map((j) => ({ jobId: String(j.jobId), attempt: j.attempt, pid: j.pid }));
    try {
      writeFileSync(this.stateFile, JSON.stringify(running), { mode: 0o600 });
    } catch (e) {
      // a full disk: the orphan guard still knows the groups; the list is written once there is room
      if (!["ENOSPC", "EDQUOT"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
      log.warn("the agent's data directory is full: the list of running jobs could not be saved", { file: this.stateFile });
    }
  }

  /**
   * After a crash the previous agent's jobs are orphans nobody can supervise or report on:
   * they are killed, and the controller (which no longer hears of them) requeues them.
   */
  private killLeftovers(): void {
    // what a previous agent process's jobs left that escaped their groups
    for (const [job, n] of this.escapees.sweep(undefined, true)) log.warn("killed processes a previous agent process's job left running", { job, processes: n });
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
    writeFileSync(this.stateFile, "[]", { mode: 0o600 });
  }
}

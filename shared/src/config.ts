import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseDuration, parseSize } from "./durations.ts";
import { DroverError } from "./errors.ts";

export type TlsMode = "auto" | "on" | "off";

/** drover's settings after defaults, `etc/drover.toml` and `DROVER_*` variables are applied. */
export interface Config {
  home: string;
  /** tls as for grpc; "off" beyond loopback only with DROVER_ALLOW_INSECURE_HTTP=1 (behind a TLS proxy) */
  http: { host: string; port: number; maxBodyBytes: number; tls: TlsMode };
  /**
   * tls: "auto" = TLS whenever host is not loopback (agent tokens never cross a network in clear
   * text), "on" = always, "off" = never (refused beyond loopback).
   */
  grpc: { host: string; port: number; tls: TlsMode };
  /** names: more names or addresses clients and agents use to reach this controller, for its certificate */
  tls: { names: string[] };
  database: { url: string };
  auth: { tokenLifetimeMs: number };
  nodes: { heartbeatTimeoutMs: number; heartbeatIntervalMs: number; sampleIntervalMs: number };
  /**
   * nodeBacklog: besides what fits in its free processors, a node may be sent single-node jobs
   * worth this many times its processors, to start as soon as its running jobs end (0 = never);
   * backlogWaitMs: how long such a job may wait there before its agent hands it back;
   * batchWindowMs: under load, passes (and the writes of agents' events) are spaced this far
   * apart so each handles many jobs at once; a lightly loaded cluster answers at once.
   */
  scheduler: { intervalMs: number; nodeBacklog: number; backlogWaitMs: number; batchWindowMs: number; retryDelayMs: number };
  /**
   * dir: where the file store keeps uploads ("" = DROVER_HOME/files/store); uploadRoots: absolute
   * directories under which administrators may upload files by absolute path (wr's upload)
   */
  files: { dir: string; uploadRoots: string[] };
  /** anonymousUser: caesar requests without credentials act as this user ("" = refused, the default) */
  caesar: { anonymousUser: string };
  /** intervalMs: how often every user's usage is aggregated (caesar's accounting) */
  accounting: { intervalMs: number };
  /** hosts: the only hosts job-end callbacks (MDWorkbench's Status-Location) may go to; empty = any */
  callbacks: { hosts: string[] };
  /** token: a bearer token that may read GET /metrics (for Prometheus); "" = administrators only */
  metrics: { token: string };
  /** user: the drover user OpenMOLE's server password (POST /openmole/token with password alone) stands for */
  openmole: { user: string };
  /** smtpUrl: the SMTP server jobs' mail goes through (smtp://host:port, smtps://user:pass@host); "" = no mail; from: its sender */
  mail: { smtpUrl: string; from: string };
  /** consolidationPollMs = 0: this controller never consolidates (another one does, or a test drives it) */
  reports: { nodeDatapointDurationMs: number; nodeReportSize: number; consolidationPollMs: number };
}

type Setting = {
  /** dotted path in the TOML file and in Config */
  key: string;
  env: string[];
  default: unknown;
  /** turns the raw value into the typed one, or throws with what is allowed */
  parse: (raw: unknown) => unknown;
};

const port = (raw: unknown) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error("must be a port number from 0 to 65535");
  return n;
};
const text = (raw: unknown) => {
  if (typeof raw !== "string") throw new Error("must be a string");
  return raw;
};
const host = (raw: unknown) => {
  const s = text(raw);
  if (!/^[A-Za-z0-9.:\-\[\]]+$/.test(s)) throw new Error("must be a host name or IP address");
  return s;
};
const smtpUrl = (raw: unknown) => {
  const s = text(raw);
  if (s && !/^smtps?:\/\/[^\s/]+(:\d+)?\/?(\?.*)?$/.test(s)) throw new Error("must be an smtp:// or smtps:// URL (smtp://host:port), or empty");
  return s;
};
const duration = (min: number) => (raw: unknown) => {
  const ms = parseDuration(raw as string | number);
  if (ms < min) throw new Error(`must be at least ${min} ms`);
  return ms;
};
const durationOrOff = (min: number) => (raw: unknown) => {
  if (raw === 0 || raw === "0" || raw === "off") return 0;
  try {
    return duration(min)(raw);
  } catch {
    throw new Error(`must be a duration of at least ${min} ms, or 0 / "off"`);
  }
};
const backlogFactor = (raw: unknown) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 16) throw new Error("must be a number from 0 (no backlog) to 16 (times a node's processors)");
  return n;
};
const positiveInt = (raw: unknown) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error("must be a whole number of at least 1");
  return n;
};
const tlsMode = (raw: unknown) => {
  if (raw !== "auto" && raw !== "on" && raw !== "off") throw new Error('must be "auto", "on" or "off"');
  return raw;
};
const nameList = (raw: unknown) => {
  const names = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
  const list = names.map((n) => n.trim()).filter(Boolean);
  for (const n of list) if (!/^[A-Za-z0-9.:\-]+$/.test(n)) throw new Error(`"${n}" is not a host name or IP address`);
  return list;
};
const size = (raw: unknown) => parseSize(raw as string | number);
const absolutePathOrEmpty = (raw: unknown) => {
  const s = text(raw);
  if (s !== "" && (!s.startsWith("/") || s.split("/").includes(".."))) throw new Error("must be an absolute path (or empty)");
  return s;
};
const absolutePaths = (raw: unknown) => {
  const list = (Array.isArray(raw) ? raw.map(String) : String(raw).split(",")).map((p) => p.trim()).filter(Boolean);
  for (const p of list) if (!p.startsWith("/") || p.split("/").includes("..")) throw new Error(`"${p}" is not an absolute path`);
  return list.map((p) => (p.length > 1 ? p.replace(/\/+$/, "") : p));
};
const databaseUrl = (raw: unknown) => {
  const s = text(raw);
  if (s !== "" && !/^postgres(ql)?:\/\//.test(s)) throw new Error('must be empty (embedded database) or a "postgres://" URL');
  return s;
};

const settings: Setting[] = [
  { key: "http.host", env: ["DROVER_HTTP_HOST"], default: "127.0.0.1", parse: host },
  { key: "http.port", env: ["DROVER_HTTP_PORT"], default: 7070, parse: port },
  { key: "http.maxBodyBytes", env: ["DROVER_HTTP_MAX_BODY"], default: 64 * 1024 * 1024, parse: size },
  { key: "http.tls", env: ["DROVER_HTTP_TLS"], default: "auto", parse: tlsMode },
  { key: "grpc.host", env: ["DROVER_GRPC_HOST"], default: "127.0.0.1", parse: host },
  { key: "grpc.port", env: ["DROVER_GRPC_PORT"], default: 7071, parse: port },
  { key: "grpc.tls", env: ["DROVER_GRPC_TLS"], default: "auto", parse: tlsMode },
  { key: "tls.names", env: ["DROVER_TLS_NAMES"], default: [], parse: nameList },
  { key: "database.url", env: ["DATABASE_URL", "DROVER_DATABASE_URL"], default: "", parse: databaseUrl },
  { key: "auth.tokenLifetimeMs", env: ["DROVER_TOKEN_LIFETIME"], default: "12h", parse: duration(1000) },
  { key: "nodes.heartbeatTimeoutMs", env: ["DROVER_NODE_TIMEOUT"], default: "30s", parse: duration(100) },
  { key: "nodes.heartbeatIntervalMs", env: ["DROVER_HEARTBEAT_INTERVAL"], default: "5s", parse: duration(50) },
  { key: "nodes.sampleIntervalMs", env: ["DROVER_SAMPLE_INTERVAL"], default: "10s", parse: duration(100) },
  { key: "scheduler.intervalMs", env: ["DROVER_SCHEDULER_INTERVAL"], default: "1s", parse: duration(10) },
  { key: "scheduler.nodeBacklog", env: ["DROVER_NODE_BACKLOG"], default: 4, parse: backlogFactor },
  { key: "scheduler.backlogWaitMs", env: ["DROVER_BACKLOG_WAIT"], default: "2s", parse: duration(0) },
  { key: "scheduler.batchWindowMs", env: ["DROVER_BATCH_WINDOW"], default: "25ms", parse: durationOrOff(1) },
  { key: "scheduler.retryDelayMs", env: ["DROVER_RETRY_DELAY"], default: "30s", parse: duration(1) },
  { key: "files.uploadRoots", env: ["DROVER_UPLOAD_ROOTS"], default: [], parse: absolutePaths },
  { key: "files.dir", env: ["DROVER_FILES_DIR"], default: "", parse: absolutePathOrEmpty },
  { key: "caesar.anonymousUser", env: ["DROVER_CAESAR_ANONYMOUS_USER"], default: "", parse: text },
  { key: "accounting.intervalMs", env: ["DROVER_ACCOUNTING_INTERVAL"], default: "1m", parse: duration(100) },
  { key: "callbacks.hosts", env: ["DROVER_CALLBACK_HOSTS"], default: [], parse: nameList },
  { key: "openmole.user", env: ["DROVER_OPENMOLE_USER"], default: "admin", parse: text },
  { key: "mail.smtpUrl", env: ["DROVER_SMTP_URL"], default: "", parse: smtpUrl },
  { key: "mail.from", env: ["DROVER_MAIL_FROM"], default: "drover@localhost", parse: text },
  { key: "metrics.token", env: ["DROVER_METRICS_TOKEN"], default: "", parse: text },
  { key: "reports.nodeDatapointDurationMs", env: ["DROVER_NODE_REPORT_DATAPOINT"], default: "1m", parse: duration(1000) },
  { key: "reports.nodeReportSize", env: ["DROVER_NODE_REPORT_SIZE"], default: 1440, parse: positiveInt },
  { key: "reports.consolidationPollMs", env: ["DROVER_REPORTS_POLL"], default: "1s", parse: durationOrOff(10) },
];

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) cur = (cur[part] ??= {}) as Record<string, unknown>;
  cur[parts.at(-1)!] = value;
}

/** The data directory: DROVER_HOME, else ~/.drover. */
export function droverHome(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.DROVER_HOME || join(homedir(), ".drover"));
}

/**
 * Loads the configuration. A bad value throws a DroverError naming the key, where it came
 * from and what is allowed; the CLI prints it and exits.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, home = droverHome(env)): Config {
  const file = join(home, "etc", "drover.toml");
  let fromFile: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      fromFile = Bun.TOML.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new DroverError("invalid", `${file} is not valid TOML: ${(e as Error).message}`);
    }
  }
  const known = new Set(settings.map((s) => s.key));
  for (const [section, body] of Object.entries(fromFile)) {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new DroverError("invalid", `${file}: [${section}] must be a table`);
    }
    for (const key of Object.keys(body)) {
      if (!known.has(`${section}.${key}`)) {
        throw new DroverError("invalid", `${file}: unknown setting "${section}.${key}"; known settings: ${[...known].join(", ")}`);
      }
    }
  }
  const config: Record<string, unknown> = { home };
  for (const s of settings) {
    let raw: unknown = s.default;
    let origin = "default";
    const inFile = getPath(fromFile, s.key);
    if (inFile !== undefined) {
      raw = inFile;
      origin = file;
    }
    for (const name of s.env) {
      if (env[name] !== undefined && env[name] !== "") {
        raw = env[name];
        origin = `environment variable ${name}`;
        break;
      }
    }
    try {
      setPath(config, s.key, s.parse(raw));
    } catch (e) {
      throw new DroverError("invalid", `configuration "${s.key}" (from ${origin}) is ${JSON.stringify(raw)}: ${(e as Error).message}`);
    }
  }
  return config as unknown as Config;
}

/** True for addresses that never leave this machine. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname === "[::1]" || hostname.startsWith("127.");
}

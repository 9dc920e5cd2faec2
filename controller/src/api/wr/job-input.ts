import { basename } from "node:path";
import { invalid } from "@drover/shared/errors";
import type { JobBehaviour, JobBehaviours, JobContainer } from "../../db/schema.ts";
import type { JobSpec } from "../../jobs/job-spec.ts";
import { wrJobKey } from "./job-key.ts";

// wr's job objects (POST /rest/v1/jobs/) and the URL parameters that give their defaults,
// translated into the core's JobSpec. Every property is checked; an unknown one is refused.

const MB = 1024 * 1024;

/** What drover answers for properties it cannot honour (never silently dropped). */
const NOT_PROVIDED: Record<string, string> = {
  mounts: "drover does not provide mounts (remote file systems mounted for the job); mount them on the nodes",
  cloud_flavor: "drover does not provide cloud_flavor: it does not create cloud servers; jobs run on the nodes whose agents joined",
  cloud_os: "drover does not provide cloud_os: it does not create cloud servers",
  cloud_username: "drover does not provide cloud_username: it does not create cloud servers",
  cloud_script: "drover does not provide cloud_script: it does not create cloud servers",
  cloud_config_files: "drover does not provide cloud_config_files: it does not create cloud servers",
  cloud_ram: "drover does not provide cloud_ram: it does not create cloud servers",
};

const KNOWN = new Set([
  "cmd", "cwd", "cwd_matters", "change_home", "req_grp", "rep_grp", "monitor_docker", "with_docker", "with_singularity", "container_mounts",
  "memory", "time", "cpus", "disk", "override", "priority", "retries", "dep_grps", "deps", "on_failure", "on_success", "on_exit", "rerun", "env",
  ...Object.keys(NOT_PROVIDED),
]);

/** A wr job object after its properties were checked (defaults not yet applied). */
export interface WrJobInput {
  cmd?: string;
  cwd?: string;
  cwd_matters?: boolean;
  change_home?: boolean;
  req_grp?: string;
  rep_grp?: string;
  monitor_docker?: string;
  with_docker?: string;
  with_singularity?: string;
  container_mounts?: string;
  memory?: string;
  time?: string;
  cpus?: number;
  disk?: number;
  override?: number;
  priority?: number;
  retries?: number;
  dep_grps?: string[];
  deps?: string[];
  on_failure?: JobBehaviour[];
  on_success?: JobBehaviour[];
  on_exit?: JobBehaviour[];
  rerun?: boolean;
  env?: string[];
}

const problem = (message: string) => invalid(`there was a problem interpreting your job: ${message}`);

/** "5M", "3G", "512MB", "1.5GiB" → megabytes (binary units, as wr reads them). */
export function parseMemoryMb(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]I?B?|B)\s*$/i.exec(text);
  const scale: Record<string, number> = { B: 1 / MB, K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, P: 1024 * 1024 * 1024 };
  if (!m || Number(m[1]) <= 0) {
    throw problem(`memory value (${text}) was not specified correctly: give a positive number with a unit of measurement like M, MB, MiB, G, GiB, or GB`);
  }
  return Math.floor(Number(m[1]) * scale[m[2]!.toUpperCase()[0]!]!);
}

/** Go-style durations: "5s", "30m", "1h", "1h30m", "1.5h", "500ms" → milliseconds. */
export function parseTimeMs(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  const s = text.trim();
  if (s === "0") return 0;
  while (at < s.length) {
    part.lastIndex = at;
    const m = part.exec(s);
    if (!m) break;
    total += Number(m[1]) * units[m[2]!]!;
    at = part.lastIndex;
  }
  if (!s.length || at !== s.length) throw problem(`time value (${text}) was not specified correctly: give a duration like 5s, 30m, 1h or 1h30m`);
  return Math.round(total);
}

function checkString(name: string, v: unknown): string {
  if (typeof v !== "string") throw problem(`${name} must be a string, not ${JSON.stringify(v)}`);
  if (v.includes("\0")) throw problem(`${name} must not hold NUL characters`);
  return v;
}

function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw problem(`${name} must be true or false, not ${JSON.stringify(v)}`);
  return v;
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw problem(`${name} must be a whole number, not ${JSON.stringify(v)}`);
  if (v < min || v > max) throw problem(`${name} value (${v}) is not in the range ${min}..${max}`);
  return v;
}

function checkStrings(name: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw problem(`${name} must be a list of strings, not ${JSON.stringify(v)}`);
  return v.map((x, i) => checkString(`${name}[${i}]`, x));
}

function checkBehaviours(name: string, v: unknown): JobBehaviour[] {
  if (!Array.isArray(v)) throw problem(`${name} must be a list of behaviour objects like {"cleanup":true} or {"run":"command"}`);
  return v.map((b, i) => {
    const keys = b && typeof b === "object" && !Array.isArray(b) ? Object.keys(b) : [];
    if (keys.length !== 1) throw problem(`${name}[${i}] must be an object with one of cleanup, cleanup_all or run`);
    const [key] = keys;
    const value = (b as Record<string, unknown>)[key!];
    if (key === "cleanup" && value === true) return { cleanup: true };
    if (key === "cleanup_all" && value === true) return { cleanupAll: true };
    if (key === "run" && typeof value === "string" && value.trim() !== "" && !value.includes("\0")) return { run: value };
    throw problem(`${name}[${i}]: ${JSON.stringify(b)} is not a behaviour; use {"cleanup":true}, {"cleanup_all":true} or {"run":"unix command line"}`);
  });
}

/** Checks one job object (or the defaults from the URL): every property known and of its type. */
export function checkWrJob(raw: unknown, where = "your job"): WrJobInput {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw problem(`${where} must be a JSON object`);
  const out: WrJobInput = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (NOT_PROVIDED[key]) throw problem(NOT_PROVIDED[key]!);
    if (!KNOWN.has(key)) throw problem(`unknown property "${key}"; the properties of a job are ${[...KNOWN].filter((k) => !NOT_PROVIDED[k]).join(", ")}`);
    if (value === null) continue;
    switch (key) {
      case "cmd": case "cwd": case "req_grp": case "rep_grp": case "monitor_docker": case "with_docker": case "with_singularity": case "container_mounts": case "memory": case "time":
        out[key] = checkString(key, value);
        break;
      case "cwd_matters": case "change_home": case "rerun":
        out[key] = checkBool(key, value);
        break;
      case "cpus":
        out.cpus = checkInt(key, value, 0, 100_000);
        break;
      case "disk":
        out.disk = checkInt(key, value, 0, 1_000_000_000);
        break;
      case "override":
        out.override = checkInt(key, value, 0, 2);
        break;
      case "priority": case "retries":
        out[key] = checkInt(key, value, 0, 255);
        break;
      case "dep_grps": case "deps": case "env":
        out[key] = checkStrings(key, value);
        break;
      case "on_failure": case "on_success": case "on_exit":
        out[key] = checkBehaviours(key, value);
        break;
    }
  }
  if (out.memory !== undefined) parseMemoryMb(out.memory);
  if (out.time !== undefined) parseTimeMs(out.time);
  return out;
}

/**
 * The defaults URL parameters give (every property but cmd): dep_grps, deps and env
 * comma-separated; on_failure, on_success, on_exit URL-escaped JSON; numbers and booleans as text.
 */
export function defaultsFromQuery(query: Record<string, string | undefined>): WrJobInput {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || ["std", "env_show", "limit", "state"].includes(key)) continue;
    if (key === "cmd") throw problem("cmd cannot be given as a URL parameter: put it in each job object");
    if (["dep_grps", "deps", "env"].includes(key)) raw[key] = value.split(",").map((x) => x.trim()).filter(Boolean);
    else if (["on_failure", "on_success", "on_exit", "mounts"].includes(key)) {
      try {
        raw[key] = JSON.parse(value);
      } catch {
        throw problem(`${key} must be URL-escaped JSON, like ${encodeURIComponent('[{"cleanup":true}]')}`);
      }
    } else if (["cwd_matters", "change_home", "rerun"].includes(key)) {
      if (value !== "true" && value !== "false") throw problem(`${key} must be true or false, not "${value}"`);
      raw[key] = value === "true";
    } else if (["cpus", "disk", "override", "priority", "retries", "cloud_ram"].includes(key)) {
      if (!/^-?\d+$/.test(value)) throw problem(`${key} must be a whole number, not "${value}"`);
      raw[key] = Number(value);
    } else raw[key] = value;
  }
  return checkWrJob(raw, "the URL parameters");
}

const firstWord = (cmd: string) => basename(cmd.trim().split(/\s+/)[0] ?? "");

/** The parts of a wr job drover keeps to show it as wr would (in JobSpec.extra). */
export interface WrExtra {
  dialect: "wr";
  cmd: string;
  cwdBase: string;
  cwdMatters: boolean;
  changeHome: boolean;
  monitorDocker: string;
  withDocker: string;
  withSingularity: string;
  containerMounts: string;
  diskGb: number;
  env: string[];
}

/** One job object with the URL defaults applied, as the core's JobSpec (and whether to run it again). */
export function wrJobSpec(job: WrJobInput, defaults: WrJobInput): { spec: JobSpec; rerun: boolean } {
  const pick = <K extends keyof WrJobInput>(k: K): WrJobInput[K] => (job[k] !== undefined ? job[k] : defaults[k]);
  const cmd = job.cmd;
  if (!cmd || !cmd.trim()) throw problem("cmd was not specified");
  const cwd = pick("cwd") ?? "/tmp";
  if (!cwd.startsWith("/") || cwd.split("/").includes("..")) throw problem(`cwd must be an absolute path without "..", not "${cwd}"`);
  // booleans add up: a job cannot turn off a true default
  const cwdMatters = !!(job.cwd_matters || defaults.cwd_matters);
  const changeHome = !!(job.change_home || defaults.change_home);
  const memoryMb = parseMemoryMb(pick("memory") ?? "1G");
  const timeMs = parseTimeMs(pick("time") ?? "1h");
  const cpus = pick("cpus") ?? 0;
  const env: Record<string, string> = {};
  const envList = pick("env") ?? [];
  for (const e of envList) {
    const eq = e.indexOf("=");
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.slice(0, eq))) throw problem(`env entry "${e}" is not KEY=VALUE with a valid variable name`);
    env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const withDocker = pick("with_docker") ?? "";
  const withSingularity = pick("with_singularity") ?? "";
  if (withDocker && withSingularity) throw problem("give with_docker or with_singularity, not both");
  const containerMounts = pick("container_mounts") ?? "";
  const mounts = containerMounts.split(",").map((m) => m.trim()).filter(Boolean);
  for (const m of mounts) if (!/^\/[^:]*:\/[^:]*(:(ro|rw))?$/.test(m)) throw problem(`container_mounts entry "${m}" is not /outside:/inside`);
  const container: JobContainer | undefined = withDocker
    ? { runtime: "docker", image: withDocker, mounts }
    : withSingularity
      ? { runtime: "singularity", image: withSingularity, mounts }
      : undefined;
  const behaviours: JobBehaviours = {};
  const onSuccess = pick("on_success");
  const onFailure = pick("on_failure");
  const onExit = pick("on_exit");
  if (onSuccess?.length) behaviours.onSuccess = onSuccess;
  if (onFailure?.length) behaviours.onFailure = onFailure;
  if (onExit?.length) behaviours.onExit = onExit;
  const containerImage = container ? `${container.runtime}:${container.image}` : undefined;
  const extra: WrExtra = {
    dialect: "wr",
    cmd,
    cwdBase: cwd,
    cwdMatters,
    changeHome,
    monitorDocker: pick("monitor_docker") ?? "",
    withDocker,
    withSingularity,
    containerMounts,
    diskGb: pick("disk") ?? 0,
    env: envList,
  };
  const spec: JobSpec = {
    // wr runs commands with bash (and pipefail when they pipe)
    argv: ["bash", "-c", cmd.includes(" | ") ? `set -o pipefail; ${cmd}` : cmd],
    workingDirectory: cwdMatters ? cwd : undefined,
    scratchBase: cwdMatters ? undefined : cwd,
    scratchHome: !cwdMatters && changeHome,
    environment: env,
    group: pick("rep_grp") || "manually_added",
    reqGroup: pick("req_grp") || firstWord(cmd),
    cpus,
    memoryBytes: Math.ceil((memoryMb * MB) / Math.max(cpus, 1)),
    // (free disk in the node's jobs' file system, per processor in drover as memory is)
    diskBytes: Math.ceil(((pick("disk") ?? 0) * 1024 * MB) / Math.max(cpus, 1)),
    walltimeMs: timeMs > 0 ? timeMs : undefined,
    walltimeEnforced: false,
    learnOverride: (pick("override") ?? 0) as 0 | 1 | 2,
    priority: pick("priority") ?? 0,
    retries: pick("retries") ?? 0,
    retryFailures: true,
    depGroups: pick("dep_grps") ?? [],
    afterGroups: pick("deps") ?? [],
    behaviours,
    container,
    identity: wrJobKey({ cmd, cwd, cwdMatters, containerImage, containerMounts: container ? containerMounts : undefined }),
    extra: extra as unknown as Record<string, unknown>,
  };
  return { spec, rerun: !!(job.rerun || defaults.rerun) };
}

import { parse as parseYaml } from "yaml";
import { invalid } from "@drover/shared/errors";
import { parseDuration, parseSize } from "@drover/shared/durations";

// A workflow file (YAML): tasks run as drover jobs, in the order their inputs and `after` lists
// imply; a task may be explored — fanned out over values — and a later task gathers what its
// instances left. README.md, "Workflows", documents the schema; this file is its only reader.
//
//   name: pi
//   environments: { big: { partition: hpc, features: [bigmem] } }   # "local" (any node) needs no entry
//   tasks:
//     prepare:  { command: [sh, -c, "seq 1 20 > seeds.txt"], outputs: [seeds.txt] }
//     simulate:
//       explore: { SEED: { range: [1, 20] } }           # or list: [...], files: "data/*.csv"
//       command: [sh, -c, 'echo $SEED > result.txt']
//       inputs: ["prepare:seeds.txt"]
//       outputs: [result.txt]
//       retries: 2
//       environment: big
//     gather:
//       inputs: ["simulate:result.txt"]                 # at simulate/<instance>/result.txt
//       command: [sh, -c, 'cat simulate/*/result.txt > all.txt']
//       outputs: [all.txt]

/** A file a task needs: one of the work directory's, or an output of an earlier task. */
export interface TaskInput {
  /** the task whose output it is; absent: a file of the work directory */
  from?: string;
  /** a relative path, or "*" for every output of `from` */
  path: string;
}

export interface Factor {
  name: string;
  values: string[];
  /** the values are files of the work directory: each instance gets its own as an input */
  files?: boolean;
}

export interface WorkflowTask {
  name: string;
  argv: string[];
  inputs: TaskInput[];
  /** relative paths it leaves; "*" for every file it leaves */
  outputs: string[];
  env: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  walltimeMs: number | null;
  retries: number;
  environment: string;
  /** every task that must have completed first (named in `after`, or whose outputs it takes) */
  after: string[];
  explore: { factors: Factor[]; combine: "product" | "zip" } | null;
}

export interface Workflow {
  name: string;
  /** where tasks run: nodes of a partition and/or with features */
  environments: Record<string, { features: string[]; partition?: string }>;
  /** in an order where each task comes after those it waits for */
  tasks: WorkflowTask[];
}

/** The most instances one task may have. */
export const MAX_INSTANCES = 100_000;
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const FACTOR = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const TASK_KEYS = ["command", "script", "inputs", "outputs", "env", "resources", "retries", "environment", "after", "explore", "combine"];

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** A relative path inside the work directory: no "..", no absolute path, no empty or "." segment. */
export function checkRelativePath(path: string, what: string): string {
  if (typeof path !== "string" || !path || path.startsWith("/") || path.includes("\0") || path.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw invalid(`${what}: "${path}" must be a relative path inside the work directory (no "..", no leading "/")`);
  }
  return path;
}

const text = (v: unknown) => (typeof v === "number" || typeof v === "boolean" ? String(v) : typeof v === "string" ? v : undefined);

function factorValues(task: string, name: string, raw: unknown, workFiles: string[]): string[] {
  const where = `task ${task}, factor ${name}`;
  if (!isObject(raw) || Object.keys(raw).length !== 1) throw invalid(`${where}: give one of list: [...], range: [from, to, step], files: "pattern"`);
  const [kind, value] = Object.entries(raw)[0]!;
  if (kind === "list") {
    if (!Array.isArray(value) || !value.length) throw invalid(`${where}: list must be a non-empty list of values`);
    return value.map((v, i) => {
      const t = text(v);
      if (t === undefined) throw invalid(`${where}: value ${i + 1} of the list must be a string or a number`);
      return t;
    });
  }
  if (kind === "range") {
    if (!Array.isArray(value) || value.length < 2 || value.length > 3 || value.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
      throw invalid(`${where}: range must be [from, to] or [from, to, step], numbers`);
    }
    const [from, to, step = 1] = value as number[];
    if (step <= 0) throw invalid(`${where}: the range's step must be above 0, not ${step}`);
    if (to! < from!) throw invalid(`${where}: the range goes from ${from} to ${to}: "to" must not be below "from"`);
    const count = Math.floor((to! - from!) / step + 1e-9) + 1;
    if (count > MAX_INSTANCES) throw invalid(`${where}: the range has ${count} values; at most ${MAX_INSTANCES}`);
    // decimals as written (0.1 + 0.2 is shown as 0.3)
    const decimals = Math.max(...[from!, step].map((n) => (String(n).split(".")[1] ?? "").length));
    return Array.from({ length: count }, (_, i) => String(Number((from! + i * step).toFixed(decimals))));
  }
  if (kind === "files") {
    if (typeof value !== "string" || !value) throw invalid(`${where}: files must be a pattern such as "data/*.csv"`);
    checkRelativePath(value.replaceAll("*", "x").replaceAll("?", "x"), where);
    const glob = new Bun.Glob(value);
    const matching = workFiles.filter((f) => glob.match(f)).sort();
    if (!matching.length) throw invalid(`${where}: no file of the work directory matches "${value}"`);
    return matching;
  }
  throw invalid(`${where}: unknown kind "${kind}": use list, range or files`);
}

function parseTask(name: string, raw: unknown, taskNames: Set<string>, environments: Set<string>, workFiles: Set<string>, workList: string[]): WorkflowTask {
  if (!NAME.test(name)) throw invalid(`task name "${name}" must start with a letter and hold only letters, digits, - and _ (at most 64)`);
  if (!isObject(raw)) throw invalid(`task ${name} must be a mapping (command, inputs, outputs…)`);
  for (const k of Object.keys(raw)) if (!TASK_KEYS.includes(k)) throw invalid(`task ${name}: unknown field "${k}" (known: ${TASK_KEYS.join(", ")})`);
  const where = `task ${name}`;

  const inputs: TaskInput[] = [];
  let argv: string[];
  if (raw.command !== undefined && raw.script !== undefined) throw invalid(`${where}: give command or script, not both`);
  if (raw.script !== undefined) {
    const script = checkRelativePath(String(raw.script), `${where}, script`);
    if (!workFiles.has(script)) throw invalid(`${where}: its script ${script} is not in the work directory`);
    argv = ["sh", script];
    inputs.push({ path: script });
  } else if (Array.isArray(raw.command) && raw.command.length && raw.command.every((a) => text(a) !== undefined)) {
    argv = raw.command.map((a) => text(a)!);
  } else if (typeof raw.command === "string" && raw.command.trim()) {
    // a command line is run by sh, as a one-line script
    argv = ["sh", "-c", raw.command];
  } else {
    throw invalid(`${where}: command must be a list of arguments (or a command line), or give script: a shell script of the work directory`);
  }

  for (const [i, entry] of (raw.inputs === undefined ? [] : Array.isArray(raw.inputs) ? raw.inputs : [null]).entries()) {
    if (typeof entry !== "string") throw invalid(`${where}: inputs must be a list of paths ("data.csv") and task outputs ("prepare:seeds.txt"); entry ${i + 1} is not`);
    const colon = entry.indexOf(":");
    const from = colon > 0 ? entry.slice(0, colon) : undefined;
    if (from !== undefined && taskNames.has(from)) {
      const path = entry.slice(colon + 1);
      if (path !== "*") checkRelativePath(path, `${where}, input ${entry}`);
      if (from === name) throw invalid(`${where}: it cannot take its own output ${entry}`);
      inputs.push({ from, path });
    } else {
      if (from !== undefined && NAME.test(from) && !workFiles.has(entry)) throw invalid(`${where}: input ${entry} names task ${from}, which the workflow does not have`);
      const path = checkRelativePath(entry, `${where}, input`);
      if (!workFiles.has(path)) throw invalid(`${where}: input ${path} is not a file of the work directory`);
      inputs.push({ path });
    }
  }

  const outputs: string[] = [];
  for (const [i, entry] of (raw.outputs === undefined ? [] : Array.isArray(raw.outputs) ? raw.outputs : [null]).entries()) {
    if (typeof entry !== "string") throw invalid(`${where}: outputs must be a list of relative paths (or "*"); entry ${i + 1} is not`);
    outputs.push(entry === "*" ? "*" : checkRelativePath(entry, `${where}, output`));
  }

  const env: Record<string, string> = {};
  if (raw.env !== undefined) {
    if (!isObject(raw.env)) throw invalid(`${where}: env must be a mapping of variable names to values`);
    for (const [k, v] of Object.entries(raw.env)) {
      if (!FACTOR.test(k)) throw invalid(`${where}: environment variable name "${k}" is not valid`);
      const t = text(v);
      if (t === undefined) throw invalid(`${where}: environment variable ${k} must be a string or a number`);
      env[k] = t;
    }
  }

  let cpus = 1;
  let memoryBytes = 0;
  let walltimeMs: number | null = null;
  if (raw.resources !== undefined) {
    if (!isObject(raw.resources)) throw invalid(`${where}: resources must be a mapping (cpus, memory, walltime)`);
    for (const k of Object.keys(raw.resources)) if (!["cpus", "memory", "walltime"].includes(k)) throw invalid(`${where}: unknown resource "${k}" (cpus, memory, walltime)`);
    const r = raw.resources;
    if (r.cpus !== undefined) {
      if (!Number.isInteger(r.cpus) || (r.cpus as number) < 1 || (r.cpus as number) > 4096) throw invalid(`${where}: cpus must be a whole number from 1 to 4096`);
      cpus = r.cpus as number;
    }
    try {
      if (r.memory !== undefined) memoryBytes = parseSize(r.memory as string | number, "memory");
      if (r.walltime !== undefined) walltimeMs = parseDuration(r.walltime as string | number, "walltime");
    } catch (e) {
      throw invalid(`${where}: ${(e as Error).message}`);
    }
  }

  let retries = 0;
  if (raw.retries !== undefined) {
    if (!Number.isInteger(raw.retries) || (raw.retries as number) < 0 || (raw.retries as number) > 100) throw invalid(`${where}: retries must be a whole number from 0 to 100`);
    retries = raw.retries as number;
  }

  const environment = raw.environment === undefined ? "local" : String(raw.environment);
  if (!environments.has(environment)) throw invalid(`${where}: environment ${environment} is not declared under environments (nor "local")`);

  const after = new Set<string>();
  if (raw.after !== undefined) {
    if (!Array.isArray(raw.after)) throw invalid(`${where}: after must be a list of task names`);
    for (const t of raw.after) {
      if (typeof t !== "string" || !taskNames.has(t)) throw invalid(`${where}: after names ${String(t)}, which the workflow does not have`);
      if (t === name) throw invalid(`${where}: it cannot come after itself`);
      after.add(t);
    }
  }
  for (const i of inputs) if (i.from) after.add(i.from);

  let explore: WorkflowTask["explore"] = null;
  if (raw.explore !== undefined) {
    if (!isObject(raw.explore) || !Object.keys(raw.explore).length) throw invalid(`${where}: explore must map factor names to their values`);
    const factors = Object.entries(raw.explore).map(([factor, values]) => {
      if (!FACTOR.test(factor)) throw invalid(`${where}: factor name "${factor}" must be a valid environment variable name`);
      const files = isObject(values) && "files" in values;
      return { name: factor, values: factorValues(name, factor, values, workList), ...(files ? { files } : {}) };
    });
    const combine = raw.combine === undefined ? "product" : raw.combine;
    if (combine !== "product" && combine !== "zip") throw invalid(`${where}: combine must be product or zip, not ${String(combine)}`);
    if (combine === "zip" && new Set(factors.map((f) => f.values.length)).size > 1) {
      throw invalid(`${where}: zipped factors must have as many values each (${factors.map((f) => `${f.name}: ${f.values.length}`).join(", ")})`);
    }
    const count = combine === "zip" ? factors[0]!.values.length : factors.reduce((n, f) => n * f.values.length, 1);
    if (count > MAX_INSTANCES) throw invalid(`${where}: its exploration makes ${count} instances; at most ${MAX_INSTANCES}`);
    explore = { factors, combine };
  } else if (raw.combine !== undefined) {
    throw invalid(`${where}: combine is for explored tasks (explore: …)`);
  }

  return { name, argv, inputs, outputs, env, cpus, memoryBytes, walltimeMs, retries, environment, after: [...after], explore };
}

/** Orders tasks so that each comes after those it waits for; a cycle is an error naming it. */
function ordered(tasks: WorkflowTask[]): WorkflowTask[] {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const state = new Map<string, "visiting" | "done">();
  const out: WorkflowTask[] = [];
  const visit = (t: WorkflowTask, path: string[]) => {
    if (state.get(t.name) === "done") return;
    if (state.get(t.name) === "visiting") {
      const cycle = [...path.slice(path.indexOf(t.name)), t.name];
      throw invalid(`the workflow has a cycle: ${cycle.join(" → ")}`);
    }
    state.set(t.name, "visiting");
    for (const a of t.after) visit(byName.get(a)!, [...path, t.name]);
    state.set(t.name, "done");
    out.push(t);
  };
  for (const t of tasks) visit(t, []);
  return out;
}

/** Checks that every output a task takes is one its source declares. */
function checkOutputsTaken(tasks: WorkflowTask[]): void {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  for (const t of tasks) {
    for (const i of t.inputs) {
      if (!i.from) continue;
      const source = byName.get(i.from)!;
      if (i.path !== "*" && !source.outputs.includes(i.path) && !source.outputs.includes("*")) {
        throw invalid(`task ${t.name}: input ${i.from}:${i.path} is not an output of task ${i.from} (its outputs: ${source.outputs.join(", ") || "none"})`);
      }
    }
  }
}

/**
 * Reads and validates a workflow file against the files of its work directory (relative
 * paths). Nothing runs before this passes: an unknown task, a cycle, a missing input or a bad
 * value is a 400 naming it.
 */
export function parseWorkflow(source: string, workFiles: string[], fileName = "workflow"): Workflow {
  let raw: unknown;
  try {
    raw = parseYaml(source, { maxAliasCount: 100 });
  } catch (e) {
    throw invalid(`${fileName} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!isObject(raw)) throw invalid(`${fileName} must be a YAML mapping with tasks: …`);
  for (const k of Object.keys(raw)) if (!["name", "environments", "tasks"].includes(k)) throw invalid(`${fileName}: unknown field "${k}" (name, environments, tasks)`);
  const environments: Workflow["environments"] = {};
  if (raw.environments !== undefined) {
    if (!isObject(raw.environments)) throw invalid(`${fileName}: environments must map names to { partition: NAME, features: [...] }`);
    for (const [name, env] of Object.entries(raw.environments)) {
      if (!NAME.test(name)) throw invalid(`environment name "${name}" must start with a letter and hold only letters, digits, - and _`);
      if (name === "local") throw invalid(`environment "local" is drover's own (any node): it cannot be redefined`);
      const shape = `environment ${name} must be { partition: NAME, features: [names of node features] } (either or both)`;
      if (!isObject(env) || !Object.keys(env).length || Object.keys(env).some((k) => k !== "features" && k !== "partition")) throw invalid(shape);
      const features = env.features ?? [];
      if (!Array.isArray(features) || features.some((f) => typeof f !== "string" || !f)) throw invalid(shape);
      if (env.partition !== undefined && (typeof env.partition !== "string" || !env.partition)) throw invalid(shape);
      environments[name] = { features: features as string[], ...(env.partition ? { partition: env.partition as string } : {}) };
    }
  }
  if (!isObject(raw.tasks) || !Object.keys(raw.tasks).length) throw invalid(`${fileName} has no tasks: give tasks: { NAME: { command: [...] } }`);
  const taskNames = new Set(Object.keys(raw.tasks));
  const workSet = new Set(workFiles);
  const envNames = new Set(["local", ...Object.keys(environments)]);
  const tasks = Object.entries(raw.tasks).map(([name, t]) => parseTask(name, t, taskNames, envNames, workSet, workFiles));
  const sorted = ordered(tasks);
  checkOutputsTaken(sorted);
  return { name: typeof raw.name === "string" && raw.name ? raw.name.slice(0, 200) : fileName, environments, tasks: sorted };
}

/** A plain shell script as a one-task workflow: it sees the whole work directory, and everything it leaves is its output. */
export function shellScriptWorkflow(script: string, workFiles: string[]): Workflow {
  return {
    name: script,
    environments: {},
    tasks: [
      {
        name: "main",
        argv: ["sh", script],
        inputs: workFiles.map((path) => ({ path })),
        outputs: ["*"],
        env: {},
        cpus: 1,
        memoryBytes: 0,
        walltimeMs: null,
        retries: 0,
        environment: "local",
        after: [],
        explore: null,
      },
    ],
  };
}

/** How many instances a task has. */
export function instanceCount(task: WorkflowTask): number {
  if (!task.explore) return 1;
  const { factors, combine } = task.explore;
  return combine === "zip" ? factors[0]!.values.length : factors.reduce((n, f) => n * f.values.length, 1);
}

/** A task's instances: each one's factor values (one instance with none when it is not explored). */
export function instancesOf(task: WorkflowTask): Record<string, string>[] {
  if (!task.explore) return [{}];
  const { factors, combine } = task.explore;
  if (combine === "zip") return factors[0]!.values.map((_, i) => Object.fromEntries(factors.map((f) => [f.name, f.values[i]!])));
  let out: Record<string, string>[] = [{}];
  for (const f of factors) out = out.flatMap((o) => f.values.map((v) => ({ ...o, [f.name]: v })));
  return out;
}

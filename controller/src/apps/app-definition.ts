import { invalid } from "@drover/shared/errors";
import { parseDuration, parseSize } from "@drover/shared/durations";
import type { JobContainer } from "../db/schema.ts";

// An app: an application users run by name with typed options (caesar apps, MDWorkbench
// services). Administrators define apps as JSON files in DROVER_HOME/apps/ or over REST:
//
//   { "name": "wordcount", "description": "…",
//     "command": ["wc", "{lines}", "{inputfile}"],
//     "options": { "inputfile": { "type": "file", "mandatory": true, "description": "…" },
//                  "lines": { "type": "bool", "flag": "-l", "description": "…" } },
//     "resources": { "cpus": 1, "memory": "64M", "walltime": "5m" } }
//
// The command is an argv template, never a shell string: an element "{name}" becomes the
// option's value as one argument (a bool option becomes its flag when true); "{name}" inside a
// longer element ("--thr={thr}") is replaced there; an element naming an option without a value
// is left out.

export const optionTypes = ["str", "int", "float", "bool", "file"] as const;
export type OptionType = (typeof optionTypes)[number];

export interface AppOption {
  type: OptionType;
  mandatory: boolean;
  description: string;
  default?: string | number | boolean;
  min?: number;
  max?: number;
  /** the values allowed (an enumeration) */
  allowedValues?: (string | number)[];
  /** for bool options: the argument the option adds when true (default --NAME) */
  flag?: string;
  advanced?: boolean;
  category?: string;
}

export interface AppDefinition {
  name: string;
  description: string;
  command: string[];
  options: Record<string, AppOption>;
  resources: { cpus: number; memoryBytes: number; walltimeMs: number | null };
  container?: JobContainer;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const OPTION = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const PLACEHOLDER = /\{([A-Za-z0-9][A-Za-z0-9_-]*)\}/g;

const fail = (app: string, message: string) => invalid(`app ${app || "(no name)"}: ${message}`);

function checkOption(app: string, name: string, raw: unknown): AppOption {
  if (!OPTION.test(name)) throw fail(app, `option name "${name}" must be letters, digits, - and _`);
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw fail(app, `option ${name} must be an object`);
  const o = raw as Record<string, unknown>;
  const known = ["type", "mandatory", "description", "default", "min", "max", "allowed_values", "flag", "advanced", "category"];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw fail(app, `option ${name}: unknown field "${k}" (known: ${known.join(", ")})`);
  if (!optionTypes.includes(o.type as OptionType)) throw fail(app, `option ${name}: type must be one of ${optionTypes.join(", ")}`);
  const type = o.type as OptionType;
  const option: AppOption = { type, mandatory: o.mandatory === true, description: typeof o.description === "string" ? o.description : "" };
  if (o.mandatory !== undefined && typeof o.mandatory !== "boolean") throw fail(app, `option ${name}: mandatory must be true or false`);
  for (const k of ["min", "max"] as const) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== "number" || (type !== "int" && type !== "float")) throw fail(app, `option ${name}: ${k} is for int and float options, as a number`);
    option[k] = o[k] as number;
  }
  if (o.allowed_values !== undefined) {
    if (!Array.isArray(o.allowed_values) || !o.allowed_values.length || o.allowed_values.some((v) => typeof v !== "string" && typeof v !== "number")) {
      throw fail(app, `option ${name}: allowed_values must be a non-empty list of strings or numbers`);
    }
    option.allowedValues = o.allowed_values as (string | number)[];
  }
  if (o.flag !== undefined) {
    if (type !== "bool" || typeof o.flag !== "string" || !o.flag) throw fail(app, `option ${name}: flag is for bool options, as a string`);
    option.flag = o.flag;
  }
  if (o.advanced !== undefined) option.advanced = o.advanced === true;
  if (o.category !== undefined) option.category = String(o.category);
  if (o.default !== undefined) {
    if (type === "file") throw fail(app, `option ${name}: a file option has no default`);
    option.default = checkValue(app, name, option, o.default);
  }
  return option;
}

/** A value given for an option, checked against its type, range and allowed values (400 naming the option). */
export function checkValue(app: string, name: string, option: AppOption, value: unknown): string | number | boolean {
  const bad = (why: string) => invalid(`Option ${name} of app ${app} ${why}`);
  let v: string | number | boolean;
  switch (option.type) {
    case "bool":
      if (typeof value !== "boolean") throw bad(`expects true or false, not ${JSON.stringify(value)}`);
      return value;
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) throw bad(`expects a whole number, not ${JSON.stringify(value)}`);
      v = value;
      break;
    case "float":
      if (typeof value !== "number" || !Number.isFinite(value)) throw bad(`expects a number, not ${JSON.stringify(value)}`);
      v = value;
      break;
    case "str":
    case "file":
      if (typeof value !== "string") throw bad(`expects a string, not ${JSON.stringify(value)}`);
      if (value.includes("\0")) throw bad("must not hold NUL characters");
      if (value.length > 4096) throw bad("is longer than 4096 characters");
      v = value;
      break;
  }
  if (typeof v === "number" && option.min !== undefined && v < option.min) throw bad(`must be at least ${option.min}, not ${v}`);
  if (typeof v === "number" && option.max !== undefined && v > option.max) throw bad(`must be at most ${option.max}, not ${v}`);
  if (option.allowedValues && !option.allowedValues.includes(v as string | number)) throw bad(`must be one of ${option.allowedValues.join(", ")}, not ${JSON.stringify(v)}`);
  return v;
}

/** Checks an app definition as given (from a file or a request) and returns it in drover's form. */
export function parseAppDefinition(raw: unknown): AppDefinition {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw invalid("An app definition must be a JSON object");
  const d = raw as Record<string, unknown>;
  const name = typeof d.name === "string" ? d.name : "";
  if (!NAME.test(name)) throw fail(name, `name must be 1-64 letters, digits, ., - and _`);
  const known = ["name", "description", "command", "options", "resources", "container"];
  for (const k of Object.keys(d)) if (!known.includes(k)) throw fail(name, `unknown field "${k}" (known: ${known.join(", ")})`);
  if (!Array.isArray(d.command) || !d.command.length || d.command.some((c) => typeof c !== "string" || c.includes("\0"))) {
    throw fail(name, "command must be a non-empty list of strings (an argv template, no shell)");
  }
  const command = d.command as string[];
  if (command[0]!.includes("{")) throw fail(name, "the program (the command's first element) cannot come from an option");
  const options: Record<string, AppOption> = {};
  const rawOptions = d.options ?? {};
  if (typeof rawOptions !== "object" || Array.isArray(rawOptions)) throw fail(name, "options must be an object of option definitions");
  for (const [k, v] of Object.entries(rawOptions as Record<string, unknown>)) options[k] = checkOption(name, k, v);
  for (const element of command) {
    for (const m of element.matchAll(PLACEHOLDER)) {
      const option = options[m[1]!];
      if (!option) throw fail(name, `command refers to {${m[1]}}, which is not an option`);
      if (option.type === "bool" && element !== `{${m[1]}}`) throw fail(name, `bool option ${m[1]} must stand alone in a command element (it becomes its flag)`);
    }
  }
  const res = (d.resources ?? {}) as Record<string, unknown>;
  if (typeof res !== "object" || Array.isArray(res)) throw fail(name, "resources must be an object");
  const cpus = res.cpus === undefined ? 1 : Number(res.cpus);
  if (!Number.isInteger(cpus) || cpus < 1) throw fail(name, "resources.cpus must be a whole number of at least 1");
  let memoryBytes = 0;
  let walltimeMs: number | null = null;
  try {
    if (res.memory !== undefined) memoryBytes = parseSize(res.memory as string | number);
    if (res.walltime !== undefined) walltimeMs = parseDuration(res.walltime as string | number);
  } catch (e) {
    throw fail(name, `resources: ${(e as Error).message}`);
  }
  let container: JobContainer | undefined;
  if (d.container !== undefined && d.container !== null) {
    const c = d.container as Record<string, unknown>;
    if ((c.runtime !== "docker" && c.runtime !== "singularity") || typeof c.image !== "string" || !c.image) throw fail(name, 'container must be {"runtime":"docker"|"singularity","image":"…"}');
    container = { runtime: c.runtime, image: c.image, mounts: Array.isArray(c.mounts) ? c.mounts.map(String) : [] };
  }
  return {
    name,
    description: typeof d.description === "string" ? d.description : "",
    command,
    options,
    resources: { cpus, memoryBytes, walltimeMs },
    ...(container ? { container } : {}),
  };
}

/** The definition in the form it is given and stored (what GET shows and a file holds). */
export function appDefinitionJson(app: AppDefinition): Record<string, unknown> {
  const options = Object.fromEntries(
    Object.entries(app.options).map(([k, o]) => [
      k,
      {
        type: o.type,
        mandatory: o.mandatory,
        description: o.description,
        ...(o.default !== undefined ? { default: o.default } : {}),
        ...(o.min !== undefined ? { min: o.min } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        ...(o.allowedValues ? { allowed_values: o.allowedValues } : {}),
        ...(o.flag ? { flag: o.flag } : {}),
        ...(o.advanced !== undefined ? { advanced: o.advanced } : {}),
        ...(o.category !== undefined ? { category: o.category } : {}),
      },
    ]),
  );
  return {
    name: app.name,
    description: app.description,
    command: app.command,
    options,
    resources: { cpus: app.resources.cpus, memory: app.resources.memoryBytes, ...(app.resources.walltimeMs !== null ? { walltime: app.resources.walltimeMs } : {}) },
    ...(app.container ? { container: app.container } : {}),
  };
}

/**
 * The argv of a run: each element of the template with the options' values put in; an element
 * naming an option without a value is left out; bool options become their flag when true.
 * Values are arguments, never parsed by a shell.
 */
export function renderCommand(app: AppDefinition, values: Record<string, string | number | boolean>): string[] {
  const argv: string[] = [];
  for (const element of app.command) {
    const names = [...element.matchAll(PLACEHOLDER)].map((m) => m[1]!);
    if (!names.length) {
      argv.push(element);
      continue;
    }
    if (names.some((n) => values[n] === undefined)) continue;
    if (names.length === 1 && element === `{${names[0]}}` && app.options[names[0]!]!.type === "bool") {
      if (values[names[0]!] === true) argv.push(app.options[names[0]!]!.flag ?? `--${names[0]}`);
      continue;
    }
    argv.push(element.replace(PLACEHOLDER, (_, n: string) => String(values[n])));
  }
  return argv;
}

import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import parseArgsStringToArgv from "string-argv";
import { parse } from "./args.ts";
import { CliError, type Client } from "./connection.ts";
import { printJson } from "./output.ts";

export const SUBMIT_OPTIONS = {
  cpus: { type: "string", short: "c" },
  mem: { type: "string" },
  time: { type: "string", short: "t" },
  name: { type: "string", short: "J" },
  group: { type: "string", short: "g" },
  after: { type: "string", multiple: true },
  array: { type: "string", short: "a" },
  chdir: { type: "string", short: "D" },
  env: { type: "string", multiple: true, short: "e" },
  priority: { type: "string" },
  hold: { type: "boolean" },
  file: { type: "string", short: "f" },
  quiet: { type: "boolean", short: "q" },
} as const;

/** What drover's POST /jobs takes. */
interface Submission {
  command: string[];
  name?: string;
  group?: string;
  cpus?: number;
  memory?: string;
  walltime?: string;
  after?: number[];
  array?: string;
  environment?: Record<string, string>;
  workingDirectory?: string;
  priority?: number;
  hold?: boolean;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The options as a submission's fields (the command aside); a usage error names a bad value. */
function fields(v: Values): Omit<Submission, "command"> {
  const out: Omit<Submission, "command"> = {};
  if (v.cpus !== undefined) {
    if (!/^[1-9]\d{0,5}$/.test(String(v.cpus))) throw new CliError(`--cpus takes a number of processors, not "${v.cpus}"`, 2);
    out.cpus = Number(v.cpus);
  }
  if (v.mem !== undefined) out.memory = String(v.mem);
  if (v.time !== undefined) out.walltime = String(v.time);
  if (v.name !== undefined) out.name = String(v.name);
  if (v.group !== undefined) out.group = String(v.group);
  if (v.array !== undefined) out.array = String(v.array);
  if (v.chdir !== undefined) out.workingDirectory = resolve(String(v.chdir));
  if (v.priority !== undefined) {
    if (!/^-?\d{1,4}$/.test(String(v.priority))) throw new CliError(`--priority takes a whole number, not "${v.priority}"`, 2);
    out.priority = Number(v.priority);
  }
  if (v.hold) out.hold = true;
  const after = ((v.after as string[] | undefined) ?? []).flatMap((a) => a.split(/[,:]/)).filter(Boolean);
  if (after.length) {
    out.after = after.map((a) => {
      const m = /^(?:drover\.)?(\d{1,15})$/.exec(a);
      if (!m) throw new CliError(`--after takes job ids, not "${a}"`, 2);
      return Number(m[1]);
    });
  }
  const env = (v.env as string[] | undefined) ?? [];
  if (env.length) {
    out.environment = {};
    for (const e of env) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(e);
      if (!m) throw new CliError(`--env takes NAME=VALUE, not "${e}"`, 2);
      out.environment[m[1]!] = m[2]!;
    }
  }
  return out;
}

/** How a script's interpreter is given the script's text, by the interpreter's name. */
function inlineFlag(interpreter: string): string | undefined {
  const name = basename(interpreter);
  if (/^(sh|bash|dash|zsh|ksh|ash)$/.test(name)) return "-c";
  if (/^python[0-9.]*$/.test(name)) return "-c";
  if (/^(perl|ruby|node|bun)$/.test(name)) return "-e";
  return undefined;
}

/**
 * A script with #DROVER directives (read as #SBATCH lines are: option lines at its top, before
 * its first command) becomes a job that runs the script's text with its interpreter (its #! line,
 * /bin/sh without one), so the script need not exist on the nodes.
 */
export function scriptSubmission(path: string, scriptArgs: string[]): { directives: string[]; command: string[]; name: string } {
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const directives: string[] = [];
  for (const [i, line] of lines.entries()) {
    const trimmed = line.trim();
    if (i === 0 && trimmed.startsWith("#!")) continue;
    if (trimmed === "") continue;
    const m = /^#DROVER\s+(.*)$/.exec(trimmed);
    if (m) directives.push(...parseArgsStringToArgv(m[1]!));
    else if (!trimmed.startsWith("#")) break;
  }
  const shebang = lines[0]?.startsWith("#!") ? parseArgsStringToArgv(lines[0].slice(2).trim()) : ["/bin/sh"];
  // "#!/usr/bin/env python3": the interpreter is the one env runs
  const interpreter = basename(shebang[0] ?? "") === "env" ? (shebang.find((p, i) => i > 0 && !p.startsWith("-")) ?? "") : (shebang[0] ?? "");
  const flag = inlineFlag(interpreter);
  if (!flag) throw new CliError(`${path}: drover passes a script to its interpreter as text and does not know how to with ${interpreter}; put the script on the nodes and submit its path after --`, 2);
  // (sh -c TEXT NAME ARGS…: $0 is its name, $1… its arguments; python -c TEXT ARGS…)
  const named = flag === "-c" && !/^python/.test(basename(interpreter)) ? [basename(path)] : [];
  return { directives, command: [...shebang, flag, text, ...named, ...scriptArgs], name: basename(path) };
}

/** `drover submit`. */
export async function submit(client: Client, args: string[]): Promise<number> {
  // the command comes after "--"; options before it
  const dash = args.indexOf("--");
  const optionArgs = dash < 0 ? args : args.slice(0, dash);
  const { values, positionals } = parse("submit", optionArgs, SUBMIT_OPTIONS);
  const given = values as Values;
  if (given.file !== undefined) {
    if (dash >= 0 || positionals.length) throw new CliError("--file takes its commands from the file: give no command besides it", 2);
    return submitFile(client, String(given.file), fields(given), !!given.json, !!given.quiet);
  }
  let submission: Submission;
  if (dash >= 0) {
    const command = args.slice(dash + 1);
    if (!command.length) throw new CliError('no command after "--" (see "drover submit --help")', 2);
    submission = { ...fields(given), command };
  } else if (positionals.length && existsSync(positionals[0]!) && statSync(positionals[0]!).isFile()) {
    const script = scriptSubmission(positionals[0]!, positionals.slice(1));
    const fromScript = parse("submit", script.directives, SUBMIT_OPTIONS).values as Values;
    // the command line wins over the script's directives, as with sbatch
    const merged = { ...fromScript, ...Object.fromEntries(Object.entries(given).filter(([, x]) => x !== undefined)) };
    submission = { name: script.name, ...fields(merged), command: script.command };
  } else if (positionals.length) {
    submission = { ...fields(given), command: positionals };
  } else {
    throw new CliError('nothing to submit: give a command after "--", a script, or --file (see "drover submit --help")', 2);
  }
  const { ids } = await client.request<{ ids: number[] }>("POST", "/jobs", submission);
  report(ids, !!given.json, !!given.quiet);
  return 0;
}

function report(ids: number[], json: boolean, quiet: boolean): void {
  if (json) return printJson({ ids });
  if (quiet) {
    process.stdout.write(ids.join("\n") + "\n");
    return;
  }
  const consecutive = ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1);
  process.stdout.write(ids.length === 1 ? `submitted job ${ids[0]}\n` : consecutive ? `submitted ${ids.length} jobs: ${ids[0]}-${ids.at(-1)}\n` : `submitted ${ids.length} jobs: ${ids.join(" ")}\n`);
}

const BATCH = 1000;

/** `drover submit --file F`: one command a line, run by /bin/sh (as `wr add` takes them), in batches; a progress bar on a terminal. */
async function submitFile(client: Client, path: string, common: Omit<Submission, "command">, json: boolean, quiet: boolean): Promise<number> {
  let text: string;
  try {
    text = path === "-" ? await Bun.stdin.text() : readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`, 2);
  }
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (!lines.length) throw new CliError(`${path} holds no command (one a line; # begins a comment)`, 2);
  const ids: number[] = [];
  const bar = process.stderr.isTTY && lines.length > BATCH && !json && !quiet;
  for (let i = 0; i < lines.length; i += BATCH) {
    const batch = lines.slice(i, i + BATCH).map((line) => ({ ...common, command: ["/bin/sh", "-c", line] }));
    try {
      ids.push(...(await client.request<{ ids: number[] }>("POST", "/jobs", batch)).ids);
    } catch (e) {
      if (bar) process.stderr.write("\n");
      // each batch is all or none: what came before it stays submitted
      throw new CliError(`lines ${i + 1}-${i + batch.length} of ${path} were not submitted: ${(e as Error).message}${ids.length ? ` (the ${ids.length} before them were: ${ids[0]}-${ids.at(-1)})` : ""}`);
    }
    if (bar) {
      const done = Math.min(lines.length, i + BATCH);
      const width = 30;
      const filled = Math.round((done / lines.length) * width);
      process.stderr.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${lines.length} jobs`);
    }
  }
  if (bar) process.stderr.write("\n");
  report(ids, json, quiet);
  return 0;
}

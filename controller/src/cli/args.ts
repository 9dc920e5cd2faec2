import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./connection.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every client command takes. */
export const COMMON: Options = {
  url: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** Parses a command's arguments; a mistake is a usage error (exit 2) that points at --help. */
export function parse(command: string, args: string[], options: Options, positionals = true) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: positionals, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message.replace(/\. To specify a positional argument.*$/s, "")} (see "drover ${command} --help")`, 2);
  }
}

/** Job ids as given (12, drover.12); a usage error names one that is not. */
export function jobIds(command: string, values: string[]): number[] {
  if (!values.length) throw new CliError(`drover ${command} needs at least one job id (see "drover ${command} --help")`, 2);
  return values.map((v) => {
    const m = /^(?:drover\.)?(\d{1,15})$/.exec(v);
    if (!m) throw new CliError(`"${v}" is not a job id`, 2);
    return Number(m[1]);
  });
}

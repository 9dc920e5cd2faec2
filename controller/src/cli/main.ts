import { jobIds, parse } from "./args.ts";
import { Client, CliError, resolveConnection } from "./connection.ts";
import { act, showHistory, showJob, showJobs, showLogs, waitFor } from "./job-commands.ts";
import { login, logout } from "./login.ts";
import { drain, showNodes } from "./node-commands.ts";
import { submit } from "./submit.ts";
import { completion } from "./completion.ts";
import { COMMON_HELP, HELP } from "./help.ts";

// drover's command line for people at a terminal: it talks to a controller over REST with the
// same tokens as any client. Exit codes: 0 done, 1 failed (refused, unreachable, or the job
// failed), 2 a usage mistake.

/** Runs a client command; answers its exit code. */
export async function runClient(command: string, args: string[]): Promise<number> {
  const help = () => (process.stdout.write(`${HELP[command]}\n\nOptions every command takes:\n${COMMON_HELP}\n`), 0);
  if (args.includes("--help") || args.includes("-h")) {
    // (submit: only before its command)
    const dash = args.indexOf("--");
    const at = args.findIndex((a) => a === "--help" || a === "-h");
    if (dash < 0 || at < dash) return help();
  }
  if (command === "completion") return completion(args[0]);
  if (command === "logout") return logout();
  const connect = (url: unknown) => new Client(resolveConnection({ url: url as string | undefined }));
  switch (command) {
    case "login": {
      const { values } = parse(command, args, { user: { type: "string", short: "u" } }, false);
      return login(connect(values.url), values.user as string | undefined, !!values.json);
    }
    case "submit": {
      // (--url before the command only)
      const dash = args.indexOf("--");
      const head = dash < 0 ? args : args.slice(0, dash);
      const urlAt = head.indexOf("--url");
      const url = urlAt >= 0 ? head[urlAt + 1] : head.find((a) => a.startsWith("--url="))?.slice(6);
      return submit(connect(url), args);
    }
    case "jobs":
    case "history": {
      const { values } = parse(command, args, { all: { type: "boolean" }, state: { type: "string" }, user: { type: "string" }, group: { type: "string" }, name: { type: "string" }, limit: { type: "string" } }, false);
      if (values.limit !== undefined && !/^[1-9]\d{0,5}$/.test(String(values.limit))) throw new CliError(`--limit takes a number of jobs, not "${values.limit}"`, 2);
      return command === "jobs" ? showJobs(connect(values.url), values) : showHistory(connect(values.url), values);
    }
    case "show": {
      const { values, positionals } = parse(command, args, {});
      const [id] = jobIds(command, positionals);
      if (positionals.length > 1) throw new CliError("drover show takes one job id", 2);
      return showJob(connect(values.url), id!, !!values.json);
    }
    case "logs": {
      const { values, positionals } = parse(command, args, { follow: { type: "boolean", short: "f" }, stderr: { type: "boolean" } });
      const [id] = jobIds(command, positionals);
      if (positionals.length > 1) throw new CliError("drover logs takes one job id", 2);
      return showLogs(connect(values.url), id!, { follow: !!values.follow, stderr: !!values.stderr });
    }
    case "wait": {
      const { values, positionals } = parse(command, args, { timeout: { type: "string" }, quiet: { type: "boolean", short: "q" } });
      const { parseDuration } = await import("@drover/shared/durations");
      let timeoutMs: number | undefined;
      try {
        timeoutMs = values.timeout === undefined ? undefined : parseDuration(/^\d+$/.test(String(values.timeout)) ? `${values.timeout}s` : String(values.timeout), "--timeout");
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      return waitFor(connect(values.url), jobIds(command, positionals), { timeoutMs, quiet: !!values.quiet, json: !!values.json });
    }
    case "nodes": {
      const { values } = parse(command, args, {}, false);
      return showNodes(connect(values.url), !!values.json);
    }
    case "drain":
    case "undrain": {
      const { values, positionals } = parse(command, args, command === "drain" ? { reason: { type: "string" } } : {});
      if (positionals.length !== 1) throw new CliError(`drover ${command} takes one node name (see "drover ${command} --help")`, 2);
      return drain(connect(values.url), positionals[0]!, command === "drain", values.reason as string | undefined, !!values.json);
    }
    default: {
      const { values, positionals } = parse(command, args, {});
      return act(connect(values.url), command, jobIds(command, positionals), !!values.json);
    }
  }
}

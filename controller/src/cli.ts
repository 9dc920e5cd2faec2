#!/usr/bin/env bun
// The `drover` command: `start` (controller + local agent), `controller`, `agent`, `version`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { logger, logUnhandledErrors } from "@drover/shared/log";
import { loadConfig } from "@drover/shared/config";
import { DroverError } from "@drover/shared/errors";
import { buildInfo } from "@drover/shared/build-info";
import { startController } from "./controller.ts";
import { installExampleApps } from "./apps/example-apps.ts";
import { localAgentTokenFile } from "./nodes/local-agent-token.ts";
import { runAgent, agentUsage } from "../../agent/src/main.ts";
import type { Agent } from "../../agent/src/agent.ts";
import { CLIENT_COMMANDS, SUMMARY } from "./cli/help.ts";
import { CliError } from "./cli/connection.ts";

const log = logger("drover");

/** How long a stop may take before the process exits regardless. */
const STOP_DEADLINE_MS = 15_000;

const usage = `drover — distributed job execution

Servers:
  drover start       [--admin-password-file F]   controller on the embedded database + one local agent
  drover controller  [--admin-password-file F]   the controller only
  drover agent       --controller HOST:PORT --token-file F [--name N] [--data-dir D]   a node agent
  drover version

${SUMMARY}

Configuration: DROVER_HOME (default ~/.drover), DROVER_HOME/etc/drover.toml, DROVER_* variables.
See README.md for every setting.`;

function fail(message: string): never {
  process.stderr.write(`drover: ${message}\n`);
  process.exit(2);
}

function adminPassword(file: string | undefined): string | undefined {
  if (file) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch (e) {
      fail(`cannot read --admin-password-file ${file}: ${(e as Error).message}`);
    }
  }
  return process.env.DROVER_ADMIN_PASSWORD || undefined;
}

async function runController(args: string[], withAgent: boolean): Promise<void> {
  const { values } = parseArgs({ args, options: { "admin-password-file": { type: "string" } }, strict: true });
  const config = loadConfig();
  logUnhandledErrors("drover");
  // the one-node cluster of `drover start` comes with the example apps (a new installation only)
  if (withAgent && installExampleApps(join(config.home, "apps"))) log.info("installed the example apps", { dir: join(config.home, "apps") });
  const controller = await startController({ config, adminPassword: adminPassword(values["admin-password-file"]) });
  // over HTTPS, curl must trust the controller's own CA
  const cacert = controller.url.startsWith("https:") && controller.caFile ? ` --cacert ${controller.caFile}` : "";
  const lines = [``, `drover is running: ${controller.url}  (data in ${config.home})`];
  if (controller.generatedAdminPassword) {
    lines.push(`First start: created user "admin" with password ${controller.generatedAdminPassword}`);
    lines.push(`(shown only this once; set DROVER_ADMIN_PASSWORD on first start to choose it)`);
  }
  lines.push(
    `Try:`,
    `  TOKEN=$(curl -s${cacert} -X POST ${controller.url}/auth/token -H 'Content-Type: application/json' \\`,
    `          -d '{"username":"admin","password":"<password>"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')`,
    `  curl${cacert} -H "Authorization: Bearer $TOKEN" ${controller.url}/rest/diag/about`,
    `API docs: ${controller.url}/docs     Stop: Ctrl-C`,
    ``,
  );
  process.stdout.write(lines.join("\n") + "\n");
  let agent: Agent | undefined;
  if (withAgent) {
    const tokenFile = await localAgentTokenFile(controller.database.db, config.home);
    // the local agent reaches a controller listening on every interface through loopback
    const [, host, port] = /^(.*):(\d+)$/.exec(controller.grpcAddress)!;
    const address = host === "0.0.0.0" || host === "::" || host === "[::]" ? `127.0.0.1:${port}` : controller.grpcAddress;
    const ca = controller.grpcCaFile ? ["--ca-file", controller.grpcCaFile] : [];
    // a one-node cluster is its starter's own: jobs run as the account that started it
    agent = await runAgent(["--controller", address, "--token-file", tokenFile, "--data-dir", `${config.home}/agent`, "--run-jobs-as", "agent", ...ca]);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // a stop that hangs must not keep the service from ending (systemd would kill it later)
    setTimeout(() => {
      log.error(`could not stop within ${STOP_DEADLINE_MS / 1000} s: exiting now`, { stuckAt: controller.stoppingAt || "the local agent" });
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    await agent?.stop();
    await controller.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case "start":
      return runController(rest, true);
    case "controller":
      return runController(rest, false);
    case "agent": {
      if (rest[0] === "--print-facts") {
        const { readNodeFacts } = await import("../../agent/src/facts.ts");
        process.stdout.write(JSON.stringify(await readNodeFacts(rest[1] ?? "/")));
        return;
      }
      logUnhandledErrors("agent");
      const agent = await runAgent(rest, { subcommand: ["agent"] });
      const stop = async () => {
        await agent.stop();
        process.exit(0);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      return;
    }
    case "version": {
      const b = buildInfo();
      process.stdout.write(`drover ${b.version} (build ${b.build}, ${b.buildDate}, ${b.revision})\n`);
      return;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage + "\n");
      return;
    default:
      if (CLIENT_COMMANDS.includes(command)) {
        const { runClient } = await import("./cli/main.ts");
        process.exit(await runClient(command, rest));
      }
      fail(`unknown command "${command}" (see "drover help")`);
  }
}

main().catch((e) => {
  if (e instanceof CliError) {
    process.stderr.write(`drover: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  if (e instanceof DroverError) fail(e.message);
  if (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) fail(e.message);
  if (e instanceof Error && /--controller|--token-file|--grace|--run-jobs-as/.test(e.message)) fail(`${e.message}\n${agentUsage}`);
  // one line; the stack only when asked for (DROVER_LOG_LEVEL=debug)
  const debug = process.env.DROVER_LOG_LEVEL === "debug";
  process.stderr.write(`drover: ${debug ? ((e as Error).stack ?? e) : ((e as Error).message ?? e)}${debug ? "" : " (DROVER_LOG_LEVEL=debug shows where)"}\n`);
  process.exit(1);
});

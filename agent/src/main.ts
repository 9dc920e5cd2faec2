#!/usr/bin/env bun
// `drover agent` / `drover-agent`: the node daemon.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { droverHome } from "@drover/shared/config";
import { parseDuration } from "@drover/shared/durations";
import { logUnhandledErrors } from "@drover/shared/log";
import { Agent } from "./agent.ts";
import { readNodeFacts, readNodeFactsInChild } from "./facts.ts";

export const agentUsage = `Usage: drover agent --controller HOST:PORT[,HOST:PORT…] --token-file FILE [--ca-file CA.pem] [--name NAME]
                    [--data-dir DIR] [--partition P] [--features a,b] [--cpus N] [--grace 10s] [--max-backoff 5s]
                    [--run-jobs-as user|agent] [--gres name=N,…]
  --controller: the controller's gRPC address; several, separated by commas, are controllers
             sharing one database: the agent fails over to the next when its controller goes
  --cpus:    processors this node offers to jobs (default: all its cores), e.g. to keep some for
             other work
  --ca-file: the controller's CA (DROVER_HOME/keys/ca.pem there): the stream then uses TLS, as a
             controller listening beyond loopback requires
  --run-jobs-as: an agent running as root starts each job as the Unix account of its drover
             user ("user", the default: the same name unless an administrator maps it); "agent"
             runs every job as the agent's own account (a node given to one person)
  --gres:    countable resources the node offers jobs besides its GPUs (found as "gpu"), e.g.
             licence=4,scratch=2`;

/**
 * Parses the agent's command line and starts it. `standalone` agents (their own process)
 * read the node's facts in a child process to stay small.
 */
export async function runAgent(args: string[], standalone?: { subcommand: string[] }): Promise<Agent> {
  const { values } = parseArgs({
    args,
    options: {
      controller: { type: "string" },
      "token-file": { type: "string" },
      "ca-file": { type: "string" },
      name: { type: "string" },
      "data-dir": { type: "string" },
      partition: { type: "string" },
      features: { type: "string" },
      cpus: { type: "string" },
      grace: { type: "string" },
      "max-backoff": { type: "string" },
      "run-jobs-as": { type: "string" },
      gres: { type: "string" },
    },
    strict: true,
  });
  const controller = values.controller ?? process.env.DROVER_CONTROLLER;
  const tokenFile = values["token-file"] ?? process.env.DROVER_AGENT_TOKEN_FILE;
  if (!controller || !tokenFile) throw new Error(`--controller and --token-file are required\n${agentUsage}`);
  for (const one of controller.split(",")) {
    if (!/^[^\s:,]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(one.trim())) throw new Error(`--controller must be HOST:PORT (or several, separated by commas), not "${one}"`);
  }
  let token: string;
  try {
    token = readFileSync(tokenFile, "utf8").trim();
  } catch (e) {
    throw new Error(`cannot read --token-file ${tokenFile}: ${(e as Error).message}`);
  }
  if (!token) throw new Error(`--token-file ${tokenFile} is empty`);
  const caFile = values["ca-file"] ?? process.env.DROVER_AGENT_CA_FILE;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new Error(`cannot read --ca-file ${caFile}: ${(e as Error).message}`);
    }
    if (!ca.toString("utf8").includes("BEGIN CERTIFICATE")) throw new Error(`--ca-file ${caFile} holds no PEM certificate`);
  }
  const cpus = values.cpus === undefined ? undefined : Number(values.cpus);
  if (cpus !== undefined && !(Number.isInteger(cpus) && cpus >= 1)) throw new Error(`--cpus must be a whole number of processors, at least 1, not "${values.cpus}"`);
  const runJobsAs = values["run-jobs-as"] ?? process.env.DROVER_AGENT_RUN_JOBS_AS ?? "user";
  if (runJobsAs !== "user" && runJobsAs !== "agent") throw new Error(`--run-jobs-as must be "user" or "agent", not "${runJobsAs}"`);
  const gres: Record<string, number> = {};
  for (const item of (values.gres ?? "").split(",").map((g) => g.trim()).filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9_.-]{0,63})=(\d{1,9})$/.exec(item);
    if (!m) throw new Error(`--gres takes name=count pairs separated by commas (e.g. licence=4), not "${item}"`);
    gres[m[1]!] = Number(m[2]);
  }
  const agent = new Agent({
    runJobsAs,
    gres,
    controller,
    token,
    ca,
    name: values.name,
    dataDir: values["data-dir"] ?? join(droverHome(), "agent"),
    partition: values.partition,
    features: values.features?.split(",").map((f) => f.trim()).filter(Boolean),
    cpus,
    graceMs: values.grace ? parseDuration(values.grace, "--grace") : undefined,
    readFacts: standalone ? (dir) => readNodeFactsInChild(dir, standalone.subcommand) : undefined,
    maxBackoffMs: values["max-backoff"] ? parseDuration(values["max-backoff"], "--max-backoff") : undefined,
  });
  await agent.start();
  return agent;
}

if (import.meta.main && process.argv[2] === "--print-facts") {
  // the child of readNodeFactsInChild
  process.stdout.write(JSON.stringify(await readNodeFacts(process.argv[3] ?? "/")));
  process.exit(0);
} else if (import.meta.main) {
  logUnhandledErrors("agent");
  runAgent(process.argv.slice(2), { subcommand: [] })
    .then((agent) => {
      const stop = async () => {
        await agent.stop();
        process.exit(0);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    })
    .catch((e) => {
      process.stderr.write(`drover agent: ${(e as Error).message}\n`);
      process.exit(2);
    });
}

// A real cluster for end-to-end tests: the controller and each agent are separate `bun`
// processes talking gRPC over loopback; jobs are real child processes of the agents.
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { until } from "./until.ts";

const ROOT = join(import.meta.dir, "..", "..");
export const ADMIN = { username: "admin", password: "cluster-admin-password" };

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ClusterOptions {
  /** "" for the embedded database in the controller's home, else a postgres:// URL */
  databaseUrl: string;
  env?: Record<string, string>;
}

interface Proc {
  proc: Subprocess<"ignore", "ignore", "pipe">;
  stderr: string[];
  /** set before a test stops or kills it */
  expectExit: boolean;
}

function spawnBun(args: string[], env: Record<string, string>, prefix: string[] = []): Proc {
  // DROVER_CPU_PROFILE=agent (or controller): that process writes a CPU profile (see scripts/profile-cpu.ts)
  const component = args[0]!.split("/")[0]!;
  const prof = process.env.DROVER_CPU_PROFILE === component ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${join(tmpdir(), `drover-profile-${component}`)}`] : [];
  // DROVER_AGENT_BINARY=dist/drover-agent: agents run from that compiled binary (as installed) instead of the sources
  const binary = component === "agent" ? process.env.DROVER_AGENT_BINARY : undefined;
  const proc = Bun.spawn([...prefix, ...(binary ? [binary, ...args.slice(1)] : [process.execPath, ...prof, ...args])], {
    cwd: ROOT,
    env: { ...process.env, DROVER_LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr: string[] = [];
  const p: Proc = { proc, stderr, expectExit: false };
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) stderr.push(decoder.decode(chunk));
  })();
  // a process that ends when no test ended it is shown with its last words: the failure it causes
  // next (a refused connection, a timeout) says nothing of why
  void proc.exited.then(async (code) => {
    if (p.expectExit) return;
    await reading.catch(() => {});
    console.error(`${args[0]} (pid ${proc.pid}) ended by itself: exit code ${code}${proc.signalCode ? `, signal ${proc.signalCode}` : ""}. It printed last:\n${stderr.join("").slice(-4000)}`);
  });
  return p;
}

export class Cluster {
  readonly home = mkdtempSync(join(tmpdir(), "drover-cluster-"));
  httpPort = 0;
  grpcPort = 0;
  controller: Proc | undefined;
  agents = new Map<string, Proc>();
  private token = "";
  private agentToken = "";

  constructor(private readonly opts: ClusterOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Starts (or restarts, on the same home, ports and database) the controller process. */
  async startController(): Promise<void> {
    if (!this.httpPort) {
      this.httpPort = await freePort();
      this.grpcPort = await freePort();
    }
    this.controller = spawnBun(["controller/src/cli.ts", "controller"], {
      DROVER_HOME: this.home,
      DROVER_HTTP_PORT: String(this.httpPort),
      DROVER_GRPC_PORT: String(this.grpcPort),
      DATABASE_URL: this.opts.databaseUrl,
      DROVER_ADMIN_PASSWORD: ADMIN.password,
      DROVER_NODE_TIMEOUT: "4s",
      DROVER_HEARTBEAT_INTERVAL: "300ms",
      DROVER_SAMPLE_INTERVAL: "1s",
      ...this.opts.env,
    });
    await until(async () => (await fetch(`${this.url}/health`)).ok, 60_000, "the controller to answer /health");
    this.token = "";
  }

  /** kill -9 of the controller. */
  async killController(): Promise<void> {
    if (this.controller) this.controller.expectExit = true;
    this.controller?.proc.kill("SIGKILL");
    await this.controller?.proc.exited;
  }

  async adminToken(): Promise<string> {
    if (!this.token) {
      const res = await fetch(`${this.url}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ADMIN) });
      this.token = ((await res.json()) as { token: string }).token;
    }
    return this.token;
  }

  async api(path: string, init: { method?: string; json?: unknown } = {}): Promise<Response> {
    return fetch(this.url + path, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${await this.adminToken()}`, "content-type": "application/json" },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
  }

  async json<T = any>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> {
    const res = await this.api(path, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** Starts an agent process named `name` with a token from the REST API (or the given one). */
  /**
   * Starts an agent process. Its jobs run as the agent's own account unless runJobsAsUsers
   * (the suite's drover users have no Unix accounts; run-as-user.test.ts makes real ones).
   */
  /** controllers: the addresses it connects to, in order (default: this cluster's controller). */
  async startAgent(name: string, opts: { token?: string; waitForRegistration?: boolean; args?: string[]; runJobsAsUsers?: boolean; as?: string; controllers?: string[] } = {}): Promise<Proc> {
    if (!opts.token && !this.agentToken) {
      this.agentToken = (await this.json<{ token: string }>("/auth/agent-tokens", { method: "POST", json: { name: "tests" } })).token;
    }
    const tokenFile = join(this.home, `token-${name}`);
    writeFileSync(tokenFile, opts.token ?? this.agentToken, { mode: 0o600 });
    const dataDir = join(this.home, "agents", name);
    mkdirSync(dataDir, { recursive: true });
    // as: the agent runs as that Unix account (the test made it; its token file and directory are given to it)
    const account = opts.as ? (await Bun.$`getent passwd ${opts.as}`.text()).trim().split(":") : undefined;
    const prefix: string[] = [];
    const asEnv: Record<string, string> = {};
    if (account) {
      const [user, , uid, gid, , home] = account as [string, string, string, string, string, string];
      chownSync(tokenFile, Number(uid), Number(gid));
      chownSync(dataDir, Number(uid), Number(gid));
      prefix.push("setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--");
      Object.assign(asEnv, { HOME: home, USER: user });
    }
    const agent = spawnBun(
      ["agent/src/main.ts", "--controller", (opts.controllers ?? [`127.0.0.1:${this.grpcPort}`]).join(","), "--token-file", tokenFile, "--name", name, "--data-dir", dataDir, "--grace", "1s", "--max-backoff", "500ms", ...(opts.runJobsAsUsers ? [] : ["--run-jobs-as", "agent"]), ...(opts.args ?? [])],
      // as the systemd unit of scripts/install-agent runs it
      // (DROVER_AGENT_JIT=1: with the JIT, for measurements)
      { BUN_JSC_useJIT: process.env.DROVER_AGENT_JIT === "1" ? "1" : "0", BUN_JSC_numberOfGCMarkers: "1", ...asEnv },
      prefix,
    );
    this.agents.set(name, agent);
    if (opts.waitForRegistration !== false) {
      await until(async () => (await this.api(`/rest/nodes/${name}`)).ok && (await this.json(`/rest/nodes/${name}`)).state !== "Down", 30_000, `agent ${name} to register`);
    }
    return agent;
  }

  agentDataDir(name: string): string {
    return join(this.home, "agents", name);
  }

  async killAgent(name: string): Promise<void> {
    const a = this.agents.get(name);
    if (a) a.expectExit = true;
    a?.proc.kill("SIGKILL");
    await a?.proc.exited;
  }

  /** Submits through MWS and returns the job id ("drover.N"). */
  async submit(payload: Record<string, unknown>): Promise<string> {
    return (await this.json<{ id: string }>("/rest/jobs", { method: "POST", json: payload })).id;
  }

  async job(id: string): Promise<any> {
    return this.json(`/rest/jobs/${id}`);
  }

  /** Waits until the MWS job is IDLE with a blockReason that says `text`; the job then. */
  async waitForBlockReason(id: string, text: string, timeoutMs = 20_000): Promise<any> {
    return until(async () => {
      const j = await this.job(id);
      return j.state === "IDLE" && j.blockReason?.message?.includes(text) ? j : undefined;
    }, timeoutMs, `job ${id} to wait saying "${text}"`);
  }

  async waitForState(id: string, states: string[], timeoutMs = 30_000): Promise<any> {
    return until(async () => {
      const j = await this.job(id);
      return states.includes(j.state) ? j : undefined;
    }, timeoutMs, `job ${id} to reach ${states.join("/")}`);
  }

  /**
   * SIGTERM to every process, and waits for them to end; one still there after 25 s (the
   * controller gives itself 15 s) is killed, and what it printed last is shown.
   */
  async stop(): Promise<void> {
    const procs: [string, Proc][] = [...[...this.agents].map(([name, a]): [string, Proc] => [`agent ${name}`, a]), ...(this.controller ? [["controller", this.controller] as [string, Proc]] : [])];
    for (const [, p] of procs) {
      p.expectExit = true;
      p.proc.kill("SIGTERM");
    }
    await Promise.all(
      procs.map(async ([name, p]) => {
        if (await Promise.race([p.proc.exited.then(() => true), Bun.sleep(25_000).then(() => false)])) return;
        console.error(`${name} did not stop within 25 s of SIGTERM; killed. It printed last:\n${p.stderr.join("").slice(-4000)}`);
        p.proc.kill("SIGKILL");
        await p.proc.exited;
      }),
    );
    rmSync(this.home, { recursive: true, force: true });
  }
}

/**
 * Two controllers sharing one Postgres database, started one after the other (the first applies
 * the migrations); the second signs tokens with the first's secret, as the README's "Several
 * controllers" asks, so that a token of one is good at the other.
 */
export async function peerControllers(databaseUrl: string, env: Record<string, string> = {}): Promise<[Cluster, Cluster]> {
  const a = new Cluster({ databaseUrl, env });
  const b = new Cluster({ databaseUrl, env });
  await a.startController();
  mkdirSync(join(b.home, "keys"), { recursive: true, mode: 0o700 });
  copyFileSync(join(a.home, "keys", "jwt-secret"), join(b.home, "keys", "jwt-secret"));
  await b.startController();
  return [a, b];
}

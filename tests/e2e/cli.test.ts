// The drover command line as a person types it: each command runs as a subprocess against a real
// cluster (a controller process and an agent), with its own HOME for the saved token.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { ADMIN, Cluster, freePort } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const ROOT = resolve(import.meta.dir, "../..");

await forEachDatabaseUrl("the drover command line", (url) => {
  let c: Cluster;
  let home: string;
  /** Runs `drover ARGS…` as a person would; its exit code and what it printed. */
  const drover = async (args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) => {
    const proc = Bun.spawn([process.execPath, "controller/src/cli.ts", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH!, HOME: home, DROVER_URL: c.url, ...opts.env },
      stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  };
  const submitted = (out: string) => Number(/submitted job (\d+)/.exec(out)?.[1]);

  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_BACKLOG: "0" } });
    await c.startController();
    await c.startAgent("cli-node", { args: ["--cpus", "2"] });
    home = mkdtempSync(join(tmpdir(), "drover-cli-home-"));
  }, 90_000);
  afterAll(async () => {
    await c.stop();
    rmSync(home, { recursive: true, force: true });
  });

  test("login: a wrong password is one line and exit 1; the right one keeps the token in a 0600 file", async () => {
    const wrong = await drover(["login", "--user", ADMIN.username], { stdin: "not-the-password\n" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrong.stderr).toContain("login as admin");
    const before = await drover(["jobs"]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain('run "drover login"');
    const ok = await drover(["login", "--user", ADMIN.username], { stdin: `${ADMIN.password}\n` });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`logged in to ${c.url} as admin`);
    expect(statSync(join(home, ".config", "drover", "credentials.json")).mode & 0o777).toBe(0o600);
  });

  test("submit -- COMMAND, wait with its exit code, logs, show, history; --json parses", async () => {
    const sub = await drover(["submit", "--name", "three", "--time", "5m", "--", "/bin/sh", "-c", "echo hello from $DROVER_JOB_ID; exit 3"]);
    expect(sub.code).toBe(0);
    const id = submitted(sub.stdout);
    const waited = await drover(["wait", String(id)]);
    expect(waited.code).toBe(3);
    expect(waited.stderr).toContain(`job ${id} failed (exit 3)`);
    expect((await drover(["logs", String(id)])).stdout).toContain("hello from");
    const shown = JSON.parse((await drover(["show", "--json", String(id)])).stdout);
    expect(shown).toMatchObject({ id, name: "three", state: "failed", exitCode: 3, walltimeMs: 300_000, argv: ["/bin/sh", "-c", "echo hello from $DROVER_JOB_ID; exit 3"] });
    const history = await drover(["history"]);
    expect(history.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+USER\s+STATE\s+EXIT\s+START\s+END\s+ELAPSED\s+CPU\s+MAXRSS\s+NODE$/);
    expect(history.stdout).toMatch(new RegExp(`^${id}\\s+three\\s+admin\\s+FAILED\\s+3\\s`, "m"));
    // not a terminal: no colour codes
    expect(history.stdout).not.toContain("\x1b[");
    const listed = JSON.parse((await drover(["jobs", "--all", "--json"])).stdout) as { id: number; state: string }[];
    expect(listed.find((j) => j.id === id)?.state).toBe("failed");
    const ok = submitted((await drover(["submit", "-q", "--", "true"])).stdout.replace(/^(\d+)$/m, "submitted job $1"));
    expect((await drover(["wait", String(ok)])).code).toBe(0);
  }, 60_000);

  test("a script with #DROVER directives; the command line wins over them", async () => {
    const script = join(home, "job.sh");
    writeFileSync(script, "#!/bin/bash\n#DROVER --cpus 2 --name scripted\n#DROVER --time 10m\n# a comment\necho \"cpus=$DROVER_CPUS args=$1,$2 name=$0\"\n");
    const sub = await drover(["submit", "--time", "20m", script, "a b", "c"]);
    expect(sub.code).toBe(0);
    const id = submitted(sub.stdout);
    expect((await drover(["wait", String(id)])).code).toBe(0);
    const shown = JSON.parse((await drover(["show", "--json", String(id)])).stdout);
    expect(shown).toMatchObject({ name: "scripted", cpus: 2, walltimeMs: 1_200_000 });
    expect(shown.stdout).toContain("cpus=2 args=a b,c name=job.sh");
  }, 60_000);

  test("logs -f follows a running job's output to its end", async () => {
    const id = submitted((await drover(["submit", "--", "/bin/sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.4; done"])).stdout);
    const followed = await drover(["logs", "-f", String(id)]);
    expect(followed.code).toBe(0);
    expect(followed.stdout.match(/line \d/g)).toEqual(["line 1", "line 2", "line 3", "line 4", "line 5"]);
    expect(followed.stderr).toContain(`job ${id} completed`);
  }, 60_000);

  test("hold, release, cancel; --after; --array; --file of commands", async () => {
    const held = submitted((await drover(["submit", "--hold", "--", "true"])).stdout);
    expect((await drover(["show", "--json", String(held)])).stdout).toContain('"USER"');
    const listed = await drover(["jobs", "--state", "queued"]);
    expect(listed.stdout).toMatch(new RegExp(`^${held}\\s`, "m"));
    expect((await drover(["release", String(held)])).code).toBe(0);
    expect((await drover(["wait", String(held)])).code).toBe(0);

    const first = submitted((await drover(["submit", "--", "sleep", "1"])).stdout);
    const second = submitted((await drover(["submit", "--after", String(first), "--", "true"])).stdout);
    expect((await drover(["wait", String(second)])).code).toBe(0);
    const a = JSON.parse((await drover(["show", "--json", String(first)])).stdout);
    const b = JSON.parse((await drover(["show", "--json", String(second)])).stdout);
    expect(Date.parse(b.startedAt)).toBeGreaterThanOrEqual(Date.parse(a.endedAt));

    const sleeper = submitted((await drover(["submit", "--", "sleep", "60"])).stdout);
    const stateOf = async (id: number) => (JSON.parse((await drover(["show", "--json", String(id)])).stdout) as { state: string }).state;
    await until(async () => (await stateOf(sleeper)) === "running", 20_000, "the sleeper to run");
    for (const [action, state] of [["suspend", "suspended"], ["resume", "running"]] as const) {
      expect((await drover([action, String(sleeper)])).code).toBe(0);
      await until(async () => (await stateOf(sleeper)) === state, 20_000, `the sleeper to be ${state}`);
    }
    const requeued = await drover(["requeue", String(sleeper)]);
    expect(requeued.code).toBe(0);
    await until(async () => (JSON.parse((await drover(["show", "--json", String(sleeper)])).stdout) as { attempt: number; state: string }).attempt === 2, 30_000, "the sleeper to run again");
    expect((await drover(["cancel", String(sleeper)])).code).toBe(0);
    expect((await drover(["wait", String(sleeper)])).code).toBe(1);
    // acting on a job that has ended is refused, in one line, exit 1
    const again = await drover(["cancel", String(sleeper)]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);

    const array = JSON.parse((await drover(["submit", "--json", "--array", "1-3", "--", "/bin/sh", "-c", "echo index=$DROVER_ARRAY_INDEX"])).stdout) as { ids: number[] };
    expect(array.ids).toHaveLength(3);
    expect((await drover(["wait", ...array.ids.map(String)])).code).toBe(0);
    expect((await drover(["logs", String(array.ids[2])])).stdout).toContain("index=3");

    const file = join(home, "commands.txt");
    writeFileSync(file, "# five commands\necho one\necho two\n\necho three\necho four\necho five\n");
    const many = JSON.parse((await drover(["submit", "--json", "--file", file, "--group", "five"])).stdout) as { ids: number[] };
    expect(many.ids).toHaveLength(5);
    expect((await drover(["wait", "-q", ...many.ids.map(String)])).code).toBe(0);
    expect(JSON.parse((await drover(["history", "--json", "--group", "five"])).stdout)).toHaveLength(5);
  }, 90_000);

  test("nodes, drain and undrain", async () => {
    const nodes = JSON.parse((await drover(["nodes", "--json"])).stdout) as { id: string; state: string }[];
    expect(nodes.map((n) => n.id)).toEqual(["cli-node"]);
    expect((await drover(["nodes"])).stdout).toMatch(/^NODE\s+STATE/);
    const drained = await drover(["drain", "cli-node", "--reason", "new disk"]);
    expect(drained.code).toBe(0);
    expect(JSON.parse((await drover(["nodes", "--json"])).stdout)[0]).toMatchObject({ state: "Drained", blockReason: "drained by admin: new disk" });
    expect((await drover(["undrain", "cli-node"])).code).toBe(0);
    expect(JSON.parse((await drover(["nodes", "--json"])).stdout)[0].state).not.toMatch(/^Drain/);
  });

  test("mistakes: unknown job, usage, a controller that is down — one line each, and the exit code says which", async () => {
    const unknown = await drover(["show", "999999"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
    const usage = await drover(["submit", "--cpus", "many", "--", "true"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--cpus takes a number of processors, not "many"');
    expect((await drover(["wait"])).code).toBe(2);
    expect((await drover(["frobnicate"])).code).toBe(2);
    const down = await drover(["jobs"], { env: { DROVER_URL: `http://127.0.0.1:${await freePort()}`, DROVER_TOKEN: "a-token" } });
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
    expect(down.stderr).toContain("cannot reach the controller");
    for (const cmd of ["submit", "jobs", "logs", "wait", "drain", "cancel"]) {
      const help = await drover([cmd, "--help"]);
      expect({ cmd, code: help.code }).toEqual({ cmd, code: 0 });
      expect(help.stdout).toContain(`drover ${cmd}`);
    }
  });

  test("completion scripts for bash and zsh; a server whose port is taken says which setting moves it, in one line", async () => {
    const bash = await drover(["completion", "bash"]);
    expect(bash.stdout).toContain("complete -o default -F _drover drover");
    const check = Bun.spawnSync(["bash", "-n"], { stdin: new TextEncoder().encode(bash.stdout) });
    expect(check.exitCode).toBe(0);
    expect((await drover(["completion", "zsh"])).stdout).toContain("#compdef drover");
    const taken = await drover(["controller"], { env: { DROVER_HOME: join(home, "second"), DROVER_HTTP_PORT: String(c.httpPort), DROVER_GRPC_PORT: String(await freePort()), DATABASE_URL: url(), DROVER_ADMIN_PASSWORD: "another-password", DROVER_LOG_LEVEL: "error" } });
    expect(taken.code).not.toBe(0);
    const lines = taken.stderr.trim().split("\n").filter((l) => l.startsWith("drover:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${c.httpPort}`);
    expect(lines[0]).toContain("DROVER_HTTP_PORT");
    expect(taken.stderr).not.toMatch(/^\s+at /m);
    // logout forgets the token
    expect((await drover(["logout"])).code).toBe(0);
    expect((await drover(["jobs"])).stderr).toContain('run "drover login"');
  }, 60_000);
});

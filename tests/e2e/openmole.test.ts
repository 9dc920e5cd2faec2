// OpenMOLE's REST API (seed 000) on drover's workflows, on a real cluster: a controller and two
// agents as processes; work directories are real tar.gz archives built here.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import * as tar from "tar";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const scratch = mkdtempSync(join(tmpdir(), "drover-openmole-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A tar.gz of the given files (path → content), as a client would send its work directory. */
async function workDirectory(files: Record<string, string>, opts: { preservePaths?: boolean; entries?: string[]; prepare?: (dir: string) => void } = {}): Promise<Uint8Array> {
  const dir = mkdtempSync(join(scratch, "wd-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  opts.prepare?.(dir);
  const file = join(scratch, `${crypto.randomUUID()}.tgz`);
  await tar.c({ gzip: true, file, cwd: dir, preservePaths: opts.preservePaths }, opts.entries ?? Object.keys(files));
  return new Uint8Array(await Bun.file(file).arrayBuffer());
}

const THREE_STAGES = `
name: three-stages
tasks:
  prepare:
    command: [sh, -c, "seq 1 20 > seeds.txt; echo prepared"]
    outputs: [seeds.txt]
  simulate:
    explore:
      SEED: { range: [1, 20] }
    command: [sh, -c, 'grep -qx "$SEED" seeds.txt && echo $((SEED * SEED)) > square.txt && echo "$DROVER_HOSTS" > host.txt && sleep 0.3 && echo "square of $SEED"']
    inputs: ["prepare:seeds.txt"]
    outputs: [square.txt, host.txt]
  gather:
    inputs: ["simulate:square.txt", "simulate:host.txt"]
    command: [sh, -c, 'cat simulate/*/square.txt | awk "{ s += \\$1 } END { print s }" > total.txt; cat simulate/*/host.txt | sort -u | wc -l | tr -d " " > hosts.txt; ls simulate | wc -l | tr -d " "']
    outputs: [total.txt, hosts.txt]
`;

await forEachDatabaseUrl("OpenMOLE's REST API", (url) => {
  let c: Cluster;
  let token = "";
  const post = (path: string, params: Record<string, string> = {}, body?: FormData) =>
    fetch(`${c.url}/openmole${path}?${new URLSearchParams(params)}`, { method: "POST", body });
  const start = async (archive: Uint8Array, script: string, as = token) => {
    const form = new FormData();
    form.append("workDirectory", new File([archive], "work.tgz"));
    return post("/start", { token: as, script }, form);
  };
  const state = async (id: string) => (await (await post("/state", { token, id })).json()) as any;

  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url(), env: { DROVER_RETRY_DELAY: "200ms" } });
    await c.startController();
    await c.startAgent("node-a", { args: ["--cpus", "1"] });
    await c.startAgent("node-b", { args: ["--cpus", "1", "--partition", "hpc"] });
  }, 90_000);
  afterAll(() => c.stop());

  test("token: 202 with a day's duration for the server password (the admin's); 403 for a wrong one, 417 without; 401 for calls without a valid token", async () => {
    const res = await post("/token", { password: "cluster-admin-password" });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { token: string; duration: number };
    expect(body.duration).toBe(86_400_000);
    token = body.token;
    const wrong = await post("/token", { password: "nope" });
    expect([wrong.status, await wrong.json()]).toEqual([403, { message: "Server password is incorrect" }]);
    const none = await post("/token");
    expect([none.status, ((await none.json()) as any).message]).toEqual([417, "No password sent with request"]);
    // a form body serves as well as the query string
    const form = await fetch(`${c.url}/openmole/token`, { method: "POST", body: new URLSearchParams({ password: "cluster-admin-password" }) });
    expect(form.status).toBe(202);
    for (const t of [undefined, "forged", `${token}x`]) {
      const res = await post("/list", t === undefined ? {} : { token: t });
      expect([res.status, await res.json()]).toEqual([401, { message: "This service requires a valid token" }]);
    }
  });

  test("a three-stage workflow: prepare → 20 instances over both agents → gather; state, output and downloads", async () => {
    const res = await start(await workDirectory({ "workflow.yaml": THREE_STAGES }), "workflow.yaml");
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    expect((await (await post("/list", { token })).json()) as any[]).toContainEqual({ id });
    const seen: any[] = [];
    const final = await until(async () => {
      const s = await state(id);
      seen.push(s);
      return s.state === "running" ? undefined : s;
    }, 90_000, "the workflow to end");
    expect(final).toEqual({ state: "finished" });
    // while running: the counts and the one environment (local)
    const running = seen.filter((s) => s.state === "running");
    expect(running.length).toBeGreaterThan(0);
    expect(Object.keys(running[0])).toEqual(["ready", "running", "completed", "environments", "state"]);
    expect(running[0].environments.map((e: any) => Object.keys(e))).toEqual([["name", "submitted", "running", "done", "failed", "errors"]]);
    expect(Math.max(...running.map((s) => s.environments[0].running + s.environments[0].submitted + s.environments[0].done))).toBeGreaterThanOrEqual(20);

    const output = ((await (await post("/output", { token, id })).json()) as { output: string }).output;
    expect(output).toContain("[prepare] prepared");
    expect(output.split("\n").filter((l) => /^\[simulate#\d+\] square of \d+$/.test(l))).toHaveLength(20);
    expect(output).toContain("[gather] 20");

    const file = await post("/download", { token, id, path: "total.txt" });
    expect(file.status).toBe(200);
    expect(file.headers.get("content-disposition")).toContain("total.txt.gz");
    expect(gunzipSync(new Uint8Array(await file.arrayBuffer())).toString()).toBe("2870\n");
    const hosts = await post("/download", { token, id, path: "hosts.txt" });
    expect(gunzipSync(new Uint8Array(await hosts.arrayBuffer())).toString()).toBe("2\n");
    // a directory comes as a tar.gz: every instance's outputs under simulate/<instance>/
    const dir = await post("/download", { token, id, path: "simulate" });
    expect(dir.headers.get("content-disposition")).toContain("archive.tgz");
    const archive = join(scratch, "simulate.tgz");
    writeFileSync(archive, new Uint8Array(await dir.arrayBuffer()));
    const entries: string[] = [];
    await tar.t({ file: archive, onReadEntry: (e) => entries.push(e.path.replace(/^\.\//, "")) });
    expect(entries.filter((e) => e.endsWith("square.txt"))).toHaveLength(20);
    expect(entries).toContain("7/square.txt");
    // outside the work directory: refused; missing: 404
    const outside = await post("/download", { token, id, path: "../../etc/passwd" });
    expect(outside.status).toBe(417);
    expect((await post("/download", { token, id, path: "nope.txt" })).status).toBe(404);
  }, 120_000);

  test("files of the work directory explored (zipped with a list), in an environment that names a partition", async () => {
    const workflow = `
environments:
  hpc: { partition: hpc }
tasks:
  count:
    explore:
      F: { files: "data/*.csv" }
      N: { list: [1, 2, 3] }
    combine: zip
    command: [sh, -c, 'wc -l < "$F" | tr -d " " > lines.txt; echo "$DROVER_HOSTS $N $F" > where.txt']
    outputs: [lines.txt, where.txt]
    environment: hpc
`;
    const data = { "data/a.csv": "1\n2\n", "data/b.csv": "1\n2\n3\n", "data/c.csv": "1\n", "data/notes.txt": "not explored\n" };
    const { id } = (await (await start(await workDirectory({ "count.yaml": workflow, ...data }), "count.yaml")).json()) as { id: string };
    await until(async () => {
      const s = await state(id);
      if (s.state === "failed") throw new Error(JSON.stringify(s.error));
      return s.state === "finished" ? true : undefined;
    }, 60_000, "the workflow to finish");
    const read = async (path: string) => gunzipSync(new Uint8Array(await (await post("/download", { token, id, path })).arrayBuffer())).toString();
    expect([await read("count/0/lines.txt"), await read("count/1/lines.txt"), await read("count/2/lines.txt")]).toEqual(["2\n", "3\n", "1\n"]);
    expect([await read("count/0/where.txt"), await read("count/2/where.txt")]).toEqual(["node-b 1 data/a.csv\n", "node-b 3 data/c.csv\n"]);
  }, 60_000);

  test("a failing instance is reported once in errors, retried, then the workflow fails with its error", async () => {
    const workflow = `
tasks:
  try:
    explore: { N: { list: [1, 2, 3] } }
    command: [sh, -c, '[ "$N" != 2 ] || { echo "bad value $N" >&2; exit 3; }']
    retries: 1
`;
    const { id } = (await (await start(await workDirectory({ "flow.yml": workflow }), "flow.yml")).json()) as { id: string };
    const errors: any[] = [];
    const final = await until(async () => {
      const s = await state(id);
      for (const e of s.environments ?? []) errors.push(...e.errors);
      return s.state === "running" ? undefined : s;
    }, 60_000, "the workflow to fail");
    expect(final.state).toBe("failed");
    expect(final.error.message).toMatch(/^task try, instance 1 failed: exited with code 3/);
    expect(final.error.stackTrace).toContain("bad value 2");
    const retried = errors.filter((e) => e.message.includes("retry 1 of 1"));
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ level: "WARNING", message: expect.stringContaining("task try, instance 1 failed") });
    // handed out once: a later state query has no errors left
    expect((await state(id)).environments).toBeUndefined();
  }, 90_000);

  test("remove while running: the processes die on their nodes, the execution and its files are gone", async () => {
    const marker = `sleep 60.${Date.now() % 100000}`;
    const workflow = `tasks:\n  wait:\n    script: wait.sh\n`;
    const { id } = (await (await start(await workDirectory({ "wait.yaml": workflow, "wait.sh": `${marker}\n` }), "wait.yaml")).json()) as { id: string };
    await until(async () => ((await state(id)).running === 1 ? true : undefined), 30_000, "the task to run");
    await until(async () => (Bun.spawnSync(["pgrep", "-f", marker]).exitCode === 0 ? true : undefined), 10_000, "the process to show");
    const res = await post("/remove", { token, id });
    expect([res.status, await res.text()]).toEqual([200, ""]);
    await until(async () => (Bun.spawnSync(["pgrep", "-f", marker]).exitCode === 1 ? true : undefined), 20_000, "the process to die");
    const gone = await post("/state", { token, id });
    expect([gone.status, ((await gone.json()) as any).message]).toEqual([417, "Execution not found"]);
    expect((await (await post("/list", { token })).json()) as any[]).not.toContainEqual({ id });
  }, 60_000);

  test("hostile or broken work directories and bad workflows are refused, naming what is wrong, and nothing starts", async () => {
    const before = ((await (await post("/list", { token })).json()) as any[]).length;
    const plain = new TextEncoder().encode("not an archive at all");
    const cases: [string, Uint8Array, string, RegExp][] = [
      ["not gzip", plain, "x.sh", /not a gzip file/],
      ["gzip, not tar", new Uint8Array(gzipSync(plain)), "x.sh", /not a tar archive/],
      ["absolute path", await workDirectory({ "a.sh": "true" }, { preservePaths: true, entries: [join(scratch, "abs-entry")], prepare: () => writeFileSync(join(scratch, "abs-entry"), "x") }), "a.sh", /absolute path/],
      ["..", await workDirectory({ "sub/a.sh": "true" }, { preservePaths: true, entries: ["sub/../../escape.sh"], prepare: (d) => writeFileSync(join(d, "..", "escape.sh"), "x") }), "a.sh", /leads outside the work directory/],
      ["link out", await workDirectory({ "a.sh": "true" }, { entries: ["a.sh", "passwd"], prepare: (d) => symlinkSync("/etc/passwd", join(d, "passwd")) }), "a.sh", /link to \/etc\/passwd, outside/],
      ["no script", await workDirectory({ "a.sh": "true" }), "b.sh", /The script doesn't exist/],
      ["cycle", await workDirectory({ "w.yaml": "tasks:\n  a: { command: [true], after: [c] }\n  b: { command: [true], after: [a] }\n  c: { command: [true], after: [b] }\n" }), "w.yaml", /cycle: a → c → b → a/],
      ["unknown task", await workDirectory({ "w.yaml": "tasks:\n  a: { command: [true], inputs: ['nope:x.txt'] }\n" }), "w.yaml", /names task nope, which the workflow does not have/],
      ["missing input", await workDirectory({ "w.yaml": "tasks:\n  a: { command: [true], inputs: [data.csv] }\n" }), "w.yaml", /input data.csv is not a file of the work directory/],
      ["bad value", await workDirectory({ "w.yaml": "tasks:\n  a: { command: [true], explore: { X: { range: [1, 5, 0] } } }\n" }), "w.yaml", /step must be above 0/],
      ["not an output", await workDirectory({ "w.yaml": "tasks:\n  a: { command: [true], outputs: [o.txt] }\n  b: { command: [true], inputs: ['a:p.txt'] }\n" }), "w.yaml", /input a:p.txt is not an output of task a/],
    ];
    for (const [what, archive, script, message] of cases) {
      const res = await start(archive, script);
      const body = (await res.json()) as any;
      expect({ what, status: res.status }).toEqual({ what, status: 417 });
      expect({ what, message: body.message }).toEqual({ what, message: expect.stringMatching(message) });
      expect(typeof body.stackTrace).toBe("string");
    }
    expect((await (await post("/start", { token, script: "x.sh" })).json()) as any).toMatchObject({ message: "Missing mandatory workDirectory parameter." });
    expect(((await (await post("/state", { token })).json()) as any).message).toBe("id is missing");
    expect(((await (await post("/list", { token })).json()) as any[]).length).toBe(before);
  }, 60_000);

  test("a controller killed while a workflow runs goes on with it once restarted", async () => {
    const workflow = `
tasks:
  slow:
    explore: { I: { range: [1, 4] } }
    command: [sh, -c, 'sleep 1; echo $((I * 10)) > v.txt']
    outputs: [v.txt]
  sum:
    inputs: ["slow:v.txt"]
    command: [sh, -c, 'cat slow/*/v.txt | awk "{ s += \\$1 } END { print s }"']
`;
    const { id } = (await (await start(await workDirectory({ "slow.yaml": workflow }), "slow.yaml")).json()) as { id: string };
    await until(async () => ((await state(id)).running > 0 ? true : undefined), 30_000, "the instances to run");
    await c.killController();
    await c.startController();
    await until(async () => {
      const s = await state(id);
      if (s.state === "failed") throw new Error(JSON.stringify(s.error));
      return s.state === "finished" ? true : undefined;
    }, 60_000, "the workflow to finish after the restart");
    expect(((await (await post("/output", { token, id })).json()) as any).output).toContain("[sum] 100\n");
  }, 90_000);

  test("users are confined to their own executions; username + password gives a user's token", async () => {
    await c.json("/auth/users", { method: "POST", json: { username: "mole", password: "mole-password" } });
    const res = await post("/token", { username: "mole", password: "mole-password" });
    const mole = ((await res.json()) as { token: string }).token;
    const { id } = (await (await start(await workDirectory({ "hi.sh": "echo hi\n" }), "hi.sh")).json()) as { id: string };
    const other = await post("/state", { token: mole, id });
    expect([other.status, ((await other.json()) as any).message]).toEqual([417, "Execution not found"]);
    expect(await (await post("/list", { token: mole })).json()).toEqual([]);
    // a plain shell script is a one-task workflow: what it prints is the output
    await until(async () => ((await state(id)).state === "finished" ? true : undefined), 30_000, "the script to finish");
    expect(((await (await post("/output", { token, id })).json()) as any).output).toBe("[main] hi\n");
  }, 60_000);
});

// caesar-rest's API (seed 003) on a real cluster: a controller and two agents as processes with
// data directories of their own (no shared file system assumed), jobs as real processes. Files
// reach the node that runs a job through that agent's own connection.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";
import { exampleApps } from "../../controller/src/apps/example-apps.ts";

const API = "/caesar/api/v1.0";
const fits = (cards: string[]) => cards.map((c) => c.padEnd(80, " ")).join("").padEnd(2880, " ");

await forEachDatabaseUrl("caesar-rest's API", (url) => {
  let c: Cluster;
  let token = "";
  let work: string;
  const auth = () => ({ authorization: `Bearer ${token}` });
  const call = async (method: string, path: string, body?: string | FormData, headers: Record<string, string> = {}) => {
    const res = await fetch(c.url + API + path, { method, headers: { ...auth(), ...headers }, body });
    return res;
  };
  const upload = async (name: string, content: string | Uint8Array, field = "file") => {
    const form = new FormData();
    form.append(field, new File([content], name));
    return call("POST", "/upload", form);
  };
  const submit = (app: string, inputs: Record<string, unknown>) =>
    call("POST", "/job", JSON.stringify({ app, job_inputs: inputs }), { "content-type": "application/json" });
  const status = async (id: string) => (await (await call("GET", `/job/${id}/status`)).json()) as any;
  const waitState = (id: string, states: string[]) =>
    until(async () => {
      const s = await status(id);
      return states.includes(s.state) ? s : undefined;
    }, 30_000, `job ${id} to reach ${states.join("/")}`);

  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_BACKLOG: "0", DROVER_HTTP_MAX_BODY: "1M" } });
    await c.startController();
    // the apps: the shipped examples, plus a short-walltime one for TIMED-OUT
    for (const app of exampleApps) expect((await c.api(`/apps/${app.name}`, { method: "PUT", json: app })).status).toBeLessThan(300);
    await c.api("/apps/short", { method: "PUT", json: { name: "short", description: "sleeps past its walltime", command: ["sleep", "{seconds}"], options: { seconds: { type: "int", mandatory: true, description: "s" } }, resources: { walltime: "1s" } } });
    await Promise.all([c.startAgent("node-a", { args: ["--cpus", "1"] }), c.startAgent("node-b", { args: ["--cpus", "1"] })]);
    token = await c.adminToken();
    work = join(c.home, "caesar-work");
    mkdirSync(work, { recursive: true });
  }, 90_000);
  afterAll(() => c.stop());

  test("upload a FITS file, run an app on it on whichever node, and fetch the job's directory as a tar.gz with the staged input and the results", async () => {
    const content = fits(["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0", "OBJECT  = 'VGPS_cont_MOS017'", "END"]);
    const up = await upload("VGPS_cont_MOS017.fits", content);
    expect(up.status).toBe(200);
    const file = (await up.json()) as any;
    expect(file).toMatchObject({ filename_orig: "VGPS_cont_MOS017.fits", format: "fits", size: 2880 / 1024 / 1024, status: "File uploaded with success" });
    expect(file.uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(file.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect(((await (await call("GET", "/fileids")).json()) as any).file_ids).toContain(file.uuid);
    const down = await call("GET", `/download/${file.uuid}`);
    expect(down.status).toBe(200);
    expect(await down.text()).toBe(content);

    // one job on each node: both must get the file through their own connection
    const jobs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await submit("fits-header", { inputfile: file.uuid });
      expect(res.status).toBe(202);
      const job = (await res.json()) as any;
      expect(job).toMatchObject({ app: "fits-header", job_inputs: { inputfile: file.uuid }, state: "PENDING", status: "Job submitted with success" });
      expect(job.job_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      jobs.push(job.job_id);
    }
    const hosts = new Set<string>();
    for (const id of jobs) {
      const done = await waitState(id, ["SUCCESS", "FAILURE", "ABORTED"]);
      expect(done).toMatchObject({ state: "SUCCESS", status: "Process terminated with success", exit_status: 0, exit_code: 0 });
      expect(Number(done.elapsed_time)).toBeGreaterThanOrEqual(0);
      expect(done.pid).toMatch(/^\d+$/);
      const mws = await c.job(`drover.${parseInt(id.slice(-12), 16)}`);
      hosts.add(mws.masterHost);
      const out = await call("GET", `/job/${id}/output`);
      expect(out.status).toBe(200);
      expect(out.headers.get("content-disposition")).toContain(`job_${id}.tar.gz`);
      const archive = join(work, `${id}.tar.gz`);
      writeFileSync(archive, new Uint8Array(await out.arrayBuffer()));
      const dir = join(work, id);
      mkdirSync(dir);
      expect(Bun.spawnSync(["tar", "-xzf", archive, "-C", dir]).exitCode).toBe(0);
      const top = join(dir, `job_${id}`);
      expect(readdirSync(top).sort()).toEqual(["VGPS_cont_MOS017.fits", "run.sh", "stderr", "stdout"]);
      expect(readFileSync(join(top, "run.sh"), "utf8")).toContain("exec 'fold' '-w' '80' 'VGPS_cont_MOS017.fits'");
      expect(readFileSync(join(top, "VGPS_cont_MOS017.fits"), "utf8")).toBe(content);
      expect(readFileSync(join(top, "stdout"), "utf8")).toContain("OBJECT  = 'VGPS_cont_MOS017'");
    }
    expect([...hosts].sort()).toEqual(["node-a", "node-b"]);
    expect(((await (await call("GET", "/jobs")).json()) as any).job_ids).toEqual(expect.arrayContaining(jobs));
  }, 90_000);

  test("apps and their options in the seed's form", async () => {
    expect(((await (await call("GET", "/apps")).json()) as any).apps).toEqual(expect.arrayContaining(["fits-header", "sleeper", "wordcount"]));
    const described = (await (await call("GET", "/app/wordcount/describe")).json()) as any;
    expect(described.inputfile).toEqual({ description: "The file to count (a stored file's uuid)", mandatory: true, type: "file" });
    expect(described.lines).toMatchObject({ mandatory: false, type: "bool" });
    expect(((await (await call("GET", "/app/fits-header/describe")).json()) as any).width).toMatchObject({ type: "int", default: 80, min: 1, max: 4096, advanced: 1, category: "OUTPUT" });
    const unknown = await call("GET", "/app/nope/describe");
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ status: "Unknown app nope!" });
  });

  test("every state for real: TIMED-OUT by walltime, CANCELED by cancel, ABORTED when the input file was removed, FAILURE by exit code", async () => {
    const timed = ((await (await submit("short", { seconds: 30 })).json()) as any).job_id;
    expect(await waitState(timed, ["TIMED-OUT"])).toMatchObject({ status: "Task exceeded time limits", exit_status: 124 });

    const long = ((await (await submit("sleeper", { seconds: 60 })).json()) as any).job_id;
    await waitState(long, ["RUNNING"]);
    const cancelled = await call("POST", `/job/${long}/cancel`);
    expect(await cancelled.json()).toEqual({ status: "Job canceled and status updated in DB" });
    expect(await waitState(long, ["CANCELED"])).toMatchObject({ status: "Job canceled by user" });
    const again = await call("POST", `/job/${long}/cancel`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: `Job ${long} already completed with state CANCELED, nothing to be canceled.` });

    // the file goes after the job was accepted and before its node fetches it: the node is busy
    const blocker = ((await (await submit("sleeper", { seconds: 6 })).json()) as any).job_id;
    const blocker2 = ((await (await submit("sleeper", { seconds: 6 })).json()) as any).job_id;
    await waitState(blocker, ["RUNNING"]);
    await waitState(blocker2, ["RUNNING"]);
    const file = (await (await upload("gone.json", "[1, 2, 3]\n")).json()) as any;
    const aborted = ((await (await submit("wordcount", { inputfile: file.uuid })).json()) as any).job_id;
    expect((await status(aborted)).state).toBe("PENDING");
    expect((await call("GET", `/delete/${file.uuid}`)).status).toBe(200);
    const abort = await waitState(aborted, ["ABORTED", "SUCCESS", "FAILURE"]);
    expect(abort.state).toBe("ABORTED");
    expect(abort.status).toMatch(/input file gone\.json/);

    const failed = ((await (await submit("wordcount", { inputfile: (await (await upload("x.png", "png")).json() as any).uuid, lines: true, words: true })).json()) as any).job_id;
    const done = await waitState(failed, ["SUCCESS", "FAILURE"]);
    expect(done.state).toBe("SUCCESS"); // wc -l -w works; a failing one:
    const missing = await c.api("/apps/fail", { method: "PUT", json: { name: "fail", command: ["ls", "/no/such/path"], options: {} } });
    expect(missing.status).toBe(201);
    const bad = ((await (await submit("fail", {})).json()) as any).job_id;
    expect(await waitState(bad, ["FAILURE"])).toMatchObject({ exit_status: 2, status: "Process terminated with return code 2" });
    const running = ((await (await submit("sleeper", { seconds: 20 })).json()) as any).job_id;
    const early = await call("GET", `/job/${running}/output`);
    expect(early.status).toBe(202);
    expect(((await early.json()) as any).status).toMatch(/not yet completed/);
    await call("POST", `/job/${running}/cancel`);
  }, 90_000);

  test("bad uploads: no file field, a format caesar does not take, a body over the limit; a ../ file name is made safe", async () => {
    const noFile = await upload("a.fits", "x", "data");
    expect(noFile.status).toBe(400);
    expect(await noFile.json()).toEqual({ status: "Missing file field in request!" });
    const format = await upload("a.exe", "x");
    expect(format.status).toBe(415);
    expect(((await format.json()) as any).status).toBe("File format not allowed, allowed file types are: {png|jpg|jpeg|gif|fits|json}");
    const notMultipart = await call("POST", "/upload", "plain", { "content-type": "text/plain" });
    expect(notMultipart.status).toBe(400);
    const big = await upload("big.fits", new Uint8Array(2 * 1024 * 1024));
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).status).toMatch(/limit is 1048576/);
    const sneaky = (await (await upload("../../etc/passwd.json", "{}")).json()) as any;
    expect(sneaky.filename_orig).toBe("passwd.json");
  });

  test("app inputs are checked and never reach a shell", async () => {
    const bad = async (inputs: Record<string, unknown>, message: RegExp) => {
      const r = await submit("sleeper", inputs);
      expect({ inputs, status: r.status }).toEqual({ inputs, status: 400 });
      expect(((await r.json()) as any).status).toMatch(message);
    };
    await bad({ seconds: "1; rm -rf ~" }, /Option seconds of app sleeper expects a whole number/);
    await bad({ seconds: 1, colour: "red" }, /Option colour is not an option of app sleeper/);
    await bad({ seconds: -1 }, /must be at least 0/);
    const missing = await submit("wordcount", {});
    expect(((await missing.json()) as any).status).toBe("Mandatory option inputfile not present!");
    expect((await submit("nope", {})).status).toBe(400);
    // a str option's value is one argument: a shell would run the rm, echo only prints it
    await c.api("/apps/echo", { method: "PUT", json: { name: "echo", command: ["echo", "{text}"], options: { text: { type: "str", mandatory: true, description: "t" } } } });
    const marker = join(work, "injected");
    const id = ((await (await submit("echo", { text: `hi; touch ${marker} $(touch ${marker}) \`touch ${marker}\`` })).json()) as any).job_id;
    await waitState(id, ["SUCCESS"]);
    expect(require("node:fs").existsSync(marker)).toBe(false);
  }, 30_000);

  test("another user's file and job are 404", async () => {
    await c.json("/auth/users", { method: "POST", json: { username: "cuser", password: "cuser-password" } });
    const mine = (await (await upload("mine.json", "{}")).json()) as any;
    const job = ((await (await submit("sleeper", { seconds: 0 })).json()) as any).job_id;
    const basic = { authorization: `Basic ${btoa("cuser:cuser-password")}` };
    const other = (path: string, method = "GET") => fetch(c.url + API + path, { method, headers: basic });
    const d = await other(`/download/${mine.uuid}`);
    expect(d.status).toBe(404);
    expect(await d.json()).toEqual({ status: `File with uuid ${mine.uuid} not found on the system!` });
    expect((await other(`/delete/${mine.uuid}`)).status).toBe(404);
    expect((await other(`/job/${job}/status`)).status).toBe(404);
    expect((await other(`/job/${job}/output`)).status).toBe(404);
    expect((await other(`/job/${job}/cancel`, "POST")).status).toBe(404);
    expect(((await (await other("/fileids")).json()) as any).file_ids).toEqual([]);
    expect((await fetch(c.url + API + "/fileids")).status).toBe(401);
  });

  test("a job's output while the node that holds its directory is down is 503 saying so", async () => {
    const id = ((await (await submit("sleeper", { seconds: 0 })).json()) as any).job_id;
    await waitState(id, ["SUCCESS"]);
    const node = (await c.job(`drover.${parseInt(id.slice(-12), 16)}`)).masterHost as string;
    await c.killAgent(node);
    await until(async () => (await c.json(`/rest/nodes/${node}`)).state === "Down" || undefined, 20_000, "the node to be down");
    const out = await call("GET", `/job/${id}/output`);
    expect(out.status).toBe(503);
    expect(((await out.json()) as any).status).toMatch(new RegExp(`Node ${node}, which holds job \\d+'s directory, is not connected`));
  }, 40_000);
});

// wr's REST API (seed 004) against a real cluster: the controller and an agent as processes,
// jobs as real processes. The seed's Quick Start replays with only host, port and token changed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const ZERO = -62135596800;

/** A small wr client: the token as wr's clients send it, bodies as text. */
function wrClient(c: Cluster, token: () => Promise<string>) {
  const call = async (method: string, path: string, body?: string) => {
    const res = await fetch(c.url + path, {
      method,
      headers: { authorization: `Bearer ${await token()}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body,
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) };
  };
  return {
    call,
    post: (path: string, jobs: unknown) => call("POST", path, typeof jobs === "string" ? jobs : JSON.stringify(jobs)),
    get: async (path: string) => {
      const r = await call("GET", path);
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
      return r.json() as any[];
    },
    /** The job with this key once `ok` holds for it. */
    waitFor: (key: string, ok: (j: any) => boolean, ms = 30_000) =>
      until(async () => {
        const r = await call("GET", `/rest/v1/jobs/${key}`);
        const j = r.status === 200 ? (r.json() as any[])[0] : undefined;
        return j && ok(j) ? j : undefined;
      }, ms, `job ${key} to reach the expected state`),
  };
}

const SEED_JOBS = '[{"cmd":"sleep 5 && echo mymsg && false","memory":"5M","cpus":1},{"cmd":"sleep 5","cpus":1}]';
const K1 = "58cef10e7a340c3b7fa09ea304a3cb98";
const K2 = "ea4266bc0fc7dd493caeb2fff1963e4a";

await forEachDatabaseUrl("wr's REST API", (url) => {
  let c: Cluster;
  let wr: ReturnType<typeof wrClient>;
  let scratch: string;
  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url(), env: { DROVER_RETRY_DELAY: "500ms", DROVER_NODE_BACKLOG: "0" } });
    await c.startController();
    await c.startAgent("node-a", { args: ["--cpus", "4"] });
    wr = wrClient(c, () => c.adminToken());
    scratch = join(c.home, "wr-scratch");
    mkdirSync(scratch, { recursive: true });
  }, 90_000);
  afterAll(() => c.stop());

  test("the seed's Quick Start replays: add with URL defaults, then every incomplete job, a rep group with std=true, and jobs by key", async () => {
    const added = await wr.post("/rest/v1/jobs/?rep_grp=myid&cpus=2&memory=3G&time=5s", SEED_JOBS);
    expect(added.status).toBe(201);
    const [a, b] = added.json();
    // as the seed shows them (Cores: a job's own cpus wins over the URL default, as wr's code does)
    expect(a).toMatchObject({ Key: K1, RepGroup: "myid", DepGroups: null, Dependencies: null, Cmd: "sleep 5 && echo mymsg && false", State: "ready", Cwd: "", CwdBase: "/tmp", HomeChanged: false, Behaviours: "", Mounts: "", ExpectedRAM: 5, ExpectedTime: 5, RequestedDisk: 0, OtherRequests: null, Cores: 1, PeakRAM: 0, Exited: false, Exitcode: 0, FailReason: "", Pid: 0, Host: "", HostID: "", HostIP: "", Walltime: 0, CPUtime: 0, Started: ZERO, Ended: ZERO, StdErr: "", StdOut: "", Env: null, Attempts: 0, Similar: 0 });
    expect(b).toMatchObject({ Key: K2, RepGroup: "myid", Cmd: "sleep 5", State: "ready", ExpectedRAM: 3072, ExpectedTime: 5, Cores: 1 });
    // every property of the seed's table, in its order
    expect(Object.keys(a)).toEqual(["Key", "RepGroup", "DepGroups", "Dependencies", "Cmd", "State", "Cwd", "CwdBase", "HomeChanged", "Behaviours", "Mounts", "MonitorDocker", "WithDocker", "WithSingularity", "ContainerMounts", "ExpectedRAM", "ExpectedTime", "RequestedDisk", "OtherRequests", "Cores", "PeakRAM", "Exited", "Exitcode", "FailReason", "Pid", "Host", "HostID", "HostIP", "Walltime", "CPUtime", "Started", "Ended", "StdErr", "StdOut", "Env", "Attempts", "Similar"]);

    await wr.waitFor(K1, (j) => j.State === "buried");
    await wr.waitFor(K2, (j) => j.State === "complete");
    const incomplete = await wr.get("/rest/v1/jobs/");
    expect(incomplete.map((j) => j.Key)).toEqual([K1]);
    const buried = incomplete[0];
    expect(buried).toMatchObject({ State: "buried", CwdBase: "/tmp", Exited: true, Exitcode: 1, FailReason: "command exited non-zero", Host: hostname(), Attempts: 1, StdOut: "" });
    expect(buried.Cwd).toMatch(/^\/drover_cwd\/5\/8\/c\/ef10e7a340c3b7fa09ea304a3cb98\S*\/cwd$/);
    expect(buried.Pid).toBeGreaterThan(0);
    expect(buried.Walltime).toBeGreaterThanOrEqual(4.9);
    expect(buried.Ended - buried.Started).toBeGreaterThanOrEqual(4);

    const group = await wr.get("/rest/v1/jobs/myid?std=true");
    expect(group.map((j) => [j.Key, j.State, j.StdOut])).toEqual([[K1, "buried", "mymsg"], [K2, "complete", ""]]);
    const byKeys = await wr.get(`/rest/v1/jobs/${K1},${K2}`);
    expect(byKeys.map((j) => [j.Key, j.State, j.StdOut, j.Exitcode])).toEqual([[K1, "buried", "", 1], [K2, "complete", "", 0]]);
    // a rep group in the path is decoded once, as wr's own server decodes it: its "%" stays
    const [percent] = (await wr.post(`/rest/v1/jobs/?rep_grp=${encodeURIComponent("50%done")}`, [{ cmd: "echo percent" }])).json();
    expect((await wr.get(`/rest/v1/jobs/${encodeURIComponent("50%done")}`)).map((j) => [j.Key, j.RepGroup])).toEqual([[percent.Key, "50%done"]]);
  }, 60_000);

  test("adding a job identical to an incomplete one adds nothing; identical to a complete one, nothing unless rerun", async () => {
    const again = await wr.post("/rest/v1/jobs/?rep_grp=myid", SEED_JOBS);
    expect(again.status).toBe(201);
    // the buried one answers as it is; the complete one is left out
    expect(again.json().map((j: any) => [j.Key, j.State])).toEqual([[K1, "buried"]]);
    expect((await wr.get("/rest/v1/jobs/myid")).length).toBe(2);
    const rerun = await wr.post("/rest/v1/jobs/?rep_grp=myid&rerun=true", '[{"cmd":"sleep 5"}]');
    expect(rerun.json().map((j: any) => [j.Key, j.State])).toEqual([[K2, "ready"]]);
    expect((await wr.get("/rest/v1/jobs/myid")).length).toBe(3);
  }, 30_000);

  test("a failing job with retries is delayed between attempts, then buried; a command not found is buried at once", async () => {
    const [job] = (await wr.post("/rest/v1/jobs/?rep_grp=retries", [{ cmd: "echo try; false", retries: 2 }])).json();
    const delayed = await wr.waitFor(job.Key, (j) => j.State === "delayed", 20_000);
    expect(delayed).toMatchObject({ Exited: true, Exitcode: 1, FailReason: "command exited non-zero" });
    const buried = await wr.waitFor(job.Key, (j) => j.State === "buried", 30_000);
    expect(buried.Attempts).toBe(3);
    const [missing] = (await wr.post("/rest/v1/jobs/?rep_grp=retries", [{ cmd: "no-such-command-here", retries: 3 }])).json();
    const gone = await wr.waitFor(missing.Key, (j) => j.State === "buried");
    expect(gone).toMatchObject({ Exitcode: 127, FailReason: "command not found", Attempts: 1 });
  }, 60_000);

  test("dependency groups: a dependant waits for every job of the group, including one added later; a buried one keeps it waiting", async () => {
    const [first] = (await wr.post("/rest/v1/jobs/?rep_grp=deps", [{ cmd: "sleep 2; echo first", dep_grps: ["g1"] }])).json();
    const [dependant] = (await wr.post("/rest/v1/jobs/?rep_grp=deps", [{ cmd: "echo dependant", deps: ["g1"] }])).json();
    expect(dependant.State).toBe("dependent");
    expect(dependant.Dependencies).toEqual(["g1"]);
    const [late] = (await wr.post("/rest/v1/jobs/?rep_grp=deps&dep_grps=g1", [{ cmd: "sleep 7; echo late" }])).json();
    expect(late.DepGroups).toEqual(["g1"]);
    await wr.waitFor(first.Key, (j) => j.State === "complete");
    expect((await wr.waitFor(dependant.Key, () => true)).State).toBe("dependent");
    const lateDone = await wr.waitFor(late.Key, (j) => j.State === "complete");
    const ran = await wr.waitFor(dependant.Key, (j) => j.State === "complete");
    expect(ran.Started).toBeGreaterThanOrEqual(lateDone.Ended);

    const [bad] = (await wr.post("/rest/v1/jobs/?rep_grp=deps", [{ cmd: "exit 3", dep_grps: ["g2"] }])).json();
    const [stuck] = (await wr.post("/rest/v1/jobs/?rep_grp=deps", [{ cmd: "echo never", deps: ["g2"] }])).json();
    await wr.waitFor(bad.Key, (j) => j.State === "buried");
    await Bun.sleep(1500); // a few scheduling passes
    expect((await wr.waitFor(stuck.Key, () => true)).State).toBe("dependent");
  }, 60_000);

  test("behaviours: cleanup removes the job's own directory; run runs after the job; on_success or on_failure, then on_exit", async () => {
    const marks = join(scratch, "marks");
    mkdirSync(marks, { recursive: true });
    const behaviours = (name: string) =>
      `on_failure=${encodeURIComponent(JSON.stringify([{ run: `echo ${name} > ${marks}/${name}-failure` }]))}&on_success=${encodeURIComponent(JSON.stringify([{ run: `pwd > ${marks}/${name}-success` }, { cleanup: true }]))}&on_exit=${encodeURIComponent(JSON.stringify([{ run: `echo ${name} > ${marks}/${name}-exit` }]))}`;
    const [ok] = (await wr.post(`/rest/v1/jobs/?rep_grp=behave&cwd=${scratch}&${behaviours("ok")}`, [{ cmd: "echo data > out.txt" }])).json();
    expect(JSON.parse(ok.Behaviours)).toEqual({ on_failure: [{ run: `echo ok > ${marks}/ok-failure` }], on_success: [{ run: `pwd > ${marks}/ok-success` }, { cleanup: true }], on_exit: [{ run: `echo ok > ${marks}/ok-exit` }] });
    const done = await wr.waitFor(ok.Key, (j) => j.State === "complete");
    const ranIn = readFileSync(join(marks, "ok-success"), "utf8").trim();
    expect(ranIn).toBe(join(done.CwdBase, done.Cwd));
    expect(existsSync(ranIn)).toBe(false); // cleaned up, with its empty parents
    expect(existsSync(join(scratch, "drover_cwd"))).toBe(false);
    expect(existsSync(join(marks, "ok-exit"))).toBe(true);
    expect(existsSync(join(marks, "ok-failure"))).toBe(false);

    const [failing] = (await wr.post(`/rest/v1/jobs/?rep_grp=behave&cwd=${scratch}&${behaviours("bad")}`, [{ cmd: "false" }])).json();
    await wr.waitFor(failing.Key, (j) => j.State === "buried");
    expect(existsSync(join(marks, "bad-failure"))).toBe(true);
    expect(existsSync(join(marks, "bad-exit"))).toBe(true);
    expect(existsSync(join(marks, "bad-success"))).toBe(false);

    // a cwd_matters job runs in its cwd, which a cleanup never removes
    const [kept] = (await wr.post(`/rest/v1/jobs/?rep_grp=behave`, [{ cmd: "touch kept-file", cwd: scratch, cwd_matters: true, on_exit: [{ cleanup_all: true }] }])).json();
    const keptDone = await wr.waitFor(kept.Key, (j) => j.State === "complete");
    expect(keptDone.Cwd).toBe("");
    expect(existsSync(join(scratch, "kept-file"))).toBe(true);
  }, 60_000);

  test("change_home: HOME is the job's own directory; env sets variables; env=true shows them", async () => {
    const [job] = (await wr.post(`/rest/v1/jobs/?rep_grp=home&change_home=true&env=GREETING%3Dhello`, [{ cmd: 'test "$HOME" = "$PWD" && echo "$GREETING"' }])).json();
    expect(job.HomeChanged).toBe(true);
    await wr.waitFor(job.Key, (j) => j.State === "complete");
    const [shown] = await wr.get(`/rest/v1/jobs/${job.Key}?env=true`);
    expect(shown.Env).toContain("GREETING=hello");
  }, 30_000);

  test("requirements groups learn memory and time from completed jobs, per override; a memory kill retries with more", async () => {
    const hog = (mb: number, s: number) => `${process.execPath} -e 'const a = Buffer.alloc(${mb} * 1024 * 1024, 1); await Bun.sleep(${s * 1000}); console.log(a.length)'`;
    const [teacher] = (await wr.post("/rest/v1/jobs/?rep_grp=learn&req_grp=hog", [{ cmd: hog(150, 3), memory: "1G", time: "1h" }])).json();
    const taught = await wr.waitFor(teacher.Key, (j) => j.State === "complete", 30_000);
    expect(taught.PeakRAM).toBeGreaterThanOrEqual(150);
    const learners = (await wr.post("/rest/v1/jobs/?rep_grp=learn&req_grp=hog", [0, 1, 2].map((o) => ({ cmd: `echo learner ${o}`, memory: "1G", time: "1h", override: o })))).json();
    const [o0, o1, o2] = learners;
    // override 0: the learned values (memory rounded up to 100 MB, time to the second)
    expect(o0.ExpectedRAM % 100).toBe(0);
    expect(o0.ExpectedRAM).toBeGreaterThanOrEqual(200);
    expect(o0.ExpectedRAM).toBeLessThan(1024);
    expect(o0.ExpectedTime).toBeGreaterThanOrEqual(3);
    expect(o0.ExpectedTime).toBeLessThan(10);
    // override 1: the larger of given and learned; 2: as given
    expect([o1.ExpectedRAM, o1.ExpectedTime]).toEqual([1024, 3600]);
    expect([o2.ExpectedRAM, o2.ExpectedTime]).toEqual([1024, 3600]);

    const [greedy] = (await wr.post("/rest/v1/jobs/?rep_grp=learn", [{ cmd: hog(300, 4), memory: "100M", retries: 1 }])).json();
    const killed = await wr.waitFor(greedy.Key, (j) => j.State === "delayed" || j.Attempts >= 1 && j.State !== "running", 40_000);
    expect(killed.FailReason).toBe("command used too much RAM");
    // wr's rule: twice the peak, at least 1 GB more, rounded up to 100 MB
    expect(killed.ExpectedRAM).toBeGreaterThanOrEqual(1100);
    expect(killed.ExpectedRAM % 100).toBe(0);
    const second = await wr.waitFor(greedy.Key, (j) => j.State === "complete", 40_000);
    expect(second.Attempts).toBe(2);
  }, 120_000);

  test("DELETE needs a state; running jobs are killed and buried; deletable ones are removed, but not one another job depends on unless its whole tree goes", async () => {
    const noState = await wr.call("DELETE", "/rest/v1/jobs/");
    expect(noState.status).toBe(400);
    expect(noState.text).toBe("state must be supplied as one of running|lost|deletable\n");

    const [long] = (await wr.post("/rest/v1/jobs/?rep_grp=kill", [{ cmd: "sleep 60" }])).json();
    await wr.waitFor(long.Key, (j) => j.State === "running");
    const killed = await wr.call("DELETE", `/rest/v1/jobs/${long.Key}?state=running`);
    expect(killed.status).toBe(202);
    expect(killed.json().map((j: any) => [j.Key, j.State])).toEqual([[long.Key, "running"]]);
    const buried = await wr.waitFor(long.Key, (j) => j.State === "buried", 20_000);
    expect(buried.FailReason).toBe("killed by user request");

    const [root] = (await wr.post("/rest/v1/jobs/?rep_grp=tree", [{ cmd: "exit 2", dep_grps: ["tree-root"] }])).json();
    const [leaf] = (await wr.post("/rest/v1/jobs/?rep_grp=tree", [{ cmd: "echo leaf", deps: ["tree-root"] }])).json();
    await wr.waitFor(root.Key, (j) => j.State === "buried");
    const alone = await wr.call("DELETE", `/rest/v1/jobs/${root.Key}?state=deletable`);
    expect(alone.status).toBe(200);
    expect(alone.json()).toEqual([]);
    const whole = await wr.call("DELETE", "/rest/v1/jobs/tree?state=deletable");
    expect(whole.json().map((j: any) => [j.Key, j.State]).sort()).toEqual([[root.Key, "deleted"], [leaf.Key, "deleted"]].sort());
    expect(await wr.get("/rest/v1/jobs/tree")).toEqual([]);
  }, 60_000);

  test("limit groups similar jobs and counts the rest in Similar; state filters", async () => {
    const held = Array.from({ length: 5 }, (_, i) => ({ cmd: `echo similar ${i}`, deps: ["never-completes"], dep_grps: [] }));
    const [sleeper] = (await wr.post("/rest/v1/jobs/?rep_grp=similar", [{ cmd: "sleep 120", dep_grps: ["never-completes"] }])).json();
    await wr.post("/rest/v1/jobs/?rep_grp=similar", held);
    const limited = await wr.get("/rest/v1/jobs/similar?limit=2&state=dependent");
    expect(limited.length).toBe(2);
    expect(limited.map((j) => j.Similar)).toEqual([0, 3]);
    const dependent = await wr.get("/rest/v1/jobs/similar?state=dependent");
    expect(dependent.length).toBe(5);
    // (the sleeper must be running for state=running to find it)
    await wr.waitFor(sleeper.Key, (j) => j.State === "running");
    const [runner] = (await wr.call("DELETE", "/rest/v1/jobs/similar?state=running")).json();
    await wr.waitFor(runner.Key, (j) => j.State === "buried");
    const gone = await wr.call("DELETE", "/rest/v1/jobs/similar?state=deletable");
    expect(gone.json().length).toBe(6);
  }, 60_000);

  test("bad input is answered 400 in plain text naming what is wrong, and adds nothing", async () => {
    const before = (await wr.get("/rest/v1/jobs/")).length;
    const cases: [string, string | unknown, RegExp][] = [
      ["/rest/v1/jobs/", [{ cmd: "true", colour: "red" }], /unknown property "colour"/],
      ["/rest/v1/jobs/", [{ cmd: "true", memory: "5X" }], /memory value \(5X\) was not specified correctly/],
      ["/rest/v1/jobs/", [{ cmd: "true", priority: 300 }], /priority value \(300\) is not in the range 0\.\.255/],
      ["/rest/v1/jobs/", [{ cmd: "true", retries: -1 }], /retries value \(-1\) is not in the range 0\.\.255/],
      ["/rest/v1/jobs/", '[{"cmd":"true"},', /not valid JSON/],
      ["/rest/v1/jobs/", { cmd: "true" }, /must be a JSON array/],
      ["/rest/v1/jobs/", [{ cmd: "true", mounts: [] }], /drover does not provide mounts/],
      ["/rest/v1/jobs/", [{ cmd: "true", cloud_flavor: "big" }], /drover does not provide cloud_flavor/],
      ["/rest/v1/jobs/", [{ memory: "1G" }], /cmd was not specified/],
      ["/rest/v1/jobs/?time=forever", [{ cmd: "true" }], /time value \(forever\)/],
      ["/rest/v1/jobs/?priority=abc", [{ cmd: "true" }], /priority must be a whole number/],
      ["/rest/v1/jobs/", [{ cmd: "true" }, { cmd: "true", override: 3 }], /override value \(3\) is not in the range 0\.\.2/],
    ];
    for (const [path, body, message] of cases) {
      const r = await wr.post(path, body);
      expect({ body, status: r.status, type: r.type }).toEqual({ body, status: 400, type: "text/plain; charset=utf-8" });
      expect(r.text).toMatch(message);
      expect(r.text.endsWith("\n")).toBe(true);
    }
    expect((await wr.call("GET", "/rest/v1/jobs/?state=sleeping")).status).toBe(400);
    expect((await wr.call("GET", "/rest/v1/jobs/?limit=x")).status).toBe(400);
    expect((await wr.get("/rest/v1/jobs/")).length).toBe(before);
  }, 30_000);

  test("warnings name a job no node can run, and a GET dismisses them", async () => {
    await wr.get("/rest/v1/warnings/");
    const [wide] = (await wr.post("/rest/v1/jobs/?rep_grp=warn", [{ cmd: "true", cpus: 64 }])).json();
    const warnings = await until(async () => {
      const list = await wr.get("/rest/v1/warnings/");
      return list.length ? list : undefined;
    }, 20_000, "a warning");
    expect(warnings[0].Msg).toMatch(/no node can ever run it: it needs 64 processors/);
    expect(Object.keys(warnings[0])).toEqual(["Msg", "FirstDate", "LastDate", "Count"]);
    expect(warnings[0].Count).toBeGreaterThanOrEqual(1);
    expect(await wr.get("/rest/v1/warnings/")).toEqual([]);
    await wr.call("DELETE", `/rest/v1/jobs/${wide.Key}?state=deletable`);
    // a node on which job after job fails
    const failing = (await wr.post("/rest/v1/jobs/?rep_grp=warn", Array.from({ length: 5 }, (_, i) => ({ cmd: `exit ${i + 1}` })))).json();
    for (const j of failing) await wr.waitFor(j.Key, (x) => x.State === "buried");
    const nodeWarnings = await wr.get("/rest/v1/warnings/");
    expect(nodeWarnings.map((w) => w.Msg)).toContainEqual(expect.stringMatching(/^node node-a failed \d+ jobs in a row$/));
  }, 30_000);

  test("a container runtime missing on the node buries the job, naming the runtime and the node", async () => {
    const [job] = (await wr.post("/rest/v1/jobs/?rep_grp=containers", [{ cmd: "echo inside", with_singularity: "/images/none.sif" }])).json();
    expect(job.WithSingularity).toBe("/images/none.sif");
    const buried = await wr.waitFor(job.Key, (j) => j.State === "buried");
    expect(buried.FailReason).toMatch(/the container runtime singularity \(or apptainer\) is not installed on node/);
  }, 30_000);

  test("uploads land in the requester's files area, by MD5 without a path; .. and absolute paths for users are refused", async () => {
    const put = (path: string, body: string, token?: string) =>
      fetch(`${c.url}/rest/v1/upload/${path}`, { method: "PUT", headers: { authorization: `Bearer ${token ?? ""}` }, body });
    const token = await c.adminToken();
    // as the seed's curl --upload-file sends it: the file's name appended to the path, which is ignored
    const r = await put("my_cloud_script?path=~/scripts/my_cloud_script", "echo hi\n", token);
    expect(r.status).toBe(200);
    const { path } = (await r.json()) as { path: string };
    expect(path).toBe(join(c.home, "files", "home", "admin", "scripts", "my_cloud_script"));
    expect(readFileSync(path, "utf8")).toBe("echo hi\n");
    const hashed = (await (await put("", "echo 1\n", token)).json()) as { path: string };
    expect(hashed.path).toBe(join(c.home, "files", "uploads", "3", "3", "4", "d5669e1fb34a7d0583a9773e1b237"));
    expect(((await (await put("", "echo 1\n", token)).json()) as { path: string }).path).toBe(hashed.path);
    expect((await put("?path=~/../escape", "x", token)).status).toBe(400);
    expect((await put("?path=/etc/drover-test", "x", token)).status).toBe(403); // no upload roots configured
    await c.json("/auth/users", { method: "POST", json: { username: "wruser", password: "wruser-password" } });
    const userToken = ((await (await fetch(`${c.url}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "wruser", password: "wruser-password" }) })).json()) as { token: string }).token;
    const denied = await put("?path=/tmp/x", "x", userToken);
    expect(denied.status).toBe(403);
    expect(await denied.text()).toMatch(/Only administrators may upload to an absolute path/);
    const mine = (await (await put("?path=~/x", "x", userToken)).json()) as { path: string };
    expect(mine.path).toBe(join(c.home, "files", "home", "wruser", "x"));
    // users are confined to their own jobs
    const alice = wrClient(c, async () => userToken);
    expect(await alice.get("/rest/v1/jobs/myid")).toEqual([]);
    expect(await alice.get(`/rest/v1/jobs/${K1}`)).toEqual([]);
  }, 30_000);

  test("version needs no token; info shows the manager and the drain Mode; while draining nothing new starts", async () => {
    const version = await fetch(`${c.url}/rest/version/`);
    expect(await version.json()).toMatchObject({ API: "1" });
    expect((await fetch(`${c.url}/rest/v1/info/`)).status).toBe(401);
    const info = (await wr.call("GET", "/rest/v1/info/")).json();
    expect(info).toMatchObject({ Port: String(c.httpPort), WebPort: String(c.httpPort), Scheduler: "drover", Mode: "started", Deployment: "production" });
    expect(Object.keys(info)).toEqual(["Addr", "Host", "Port", "WebPort", "PID", "Deployment", "Scheduler", "Mode"]);
    await c.json("/cluster/drain", { method: "PUT", json: { draining: true } });
    expect((await wr.call("GET", "/rest/v1/info/")).json().Mode).toBe("draining");
    const [held] = (await wr.post("/rest/v1/jobs/?rep_grp=drain", [{ cmd: "echo after the drain" }])).json();
    await Bun.sleep(1500);
    expect((await wr.waitFor(held.Key, () => true)).State).toBe("ready");
    await c.json("/cluster/drain", { method: "PUT", json: { draining: false } });
    await wr.waitFor(held.Key, (j) => j.State === "complete");
  }, 30_000);
});

await forEachDatabaseUrl("wr's lost jobs and bad servers", (url) => {
  let c: Cluster;
  let wr: ReturnType<typeof wrClient>;
  beforeAll(async () => {
    // one processor and a node backlog: a second job waits on the node, reserved
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_BACKLOG: "1", DROVER_BACKLOG_WAIT: "60s" } });
    await c.startController();
    await c.startAgent("doomed", { args: ["--cpus", "1"] });
    wr = wrClient(c, () => c.adminToken());
  }, 90_000);
  afterAll(() => c.stop());

  test("a job whose node stops answering is lost; DELETE state=lost buries it; the node is a bad server until confirmed dead", async () => {
    const [job, next] = (await wr.post("/rest/v1/jobs/?rep_grp=lost&cpus=1", [{ cmd: "sleep 120" }, { cmd: "sleep 121" }])).json();
    await wr.waitFor(job.Key, (j) => j.State === "running");
    const reserved = await wr.waitFor(next.Key, (j) => j.State === "reserved");
    expect(reserved).toMatchObject({ Exitcode: -1, Pid: 0, Started: ZERO });
    await c.killAgent("doomed");
    const lost = await wr.waitFor(job.Key, (j) => j.State === "lost", 30_000);
    expect(lost.FailReason).toBe("lost contact with runner");
    const servers = await wr.get("/rest/v1/servers/");
    expect(servers).toEqual([expect.objectContaining({ ID: "doomed", IsBad: true })]);
    expect(Object.keys(servers[0])).toEqual(["ID", "Name", "IP", "Date", "IsBad", "Problem"]);
    const confirmed = await wr.call("DELETE", `/rest/v1/jobs/${job.Key}?state=lost`);
    expect(confirmed.status).toBe(202);
    expect(confirmed.json().map((j: any) => j.State)).toEqual(["lost"]);
    expect((await wr.waitFor(job.Key, (j) => j.State === "buried")).FailReason).toBe("lost contact with runner");
    expect((await wr.call("DELETE", "/rest/v1/servers/")).status).toBe(400);
    expect((await wr.call("DELETE", "/rest/v1/servers/?id=nobody")).status).toBe(404);
    expect((await wr.call("DELETE", "/rest/v1/servers/?id=doomed")).status).toBe(200);
    expect(await wr.get("/rest/v1/servers/")).toEqual([]);
  }, 60_000);
});

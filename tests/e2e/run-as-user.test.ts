// Jobs run as their users: an agent running as root starts each job as the Unix account of its
// drover user, with that account's groups; behaviours, directories and input files are the
// account's too. The test makes real accounts (useradd) and removes them afterwards; it needs
// root, as the agents of a real cluster have.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const isRoot = process.getuid?.() === 0;
const sbin = `${process.env.PATH ?? ""}:/usr/sbin:/sbin:/usr/bin:/bin`;
const tools = ["useradd", "userdel", "groupadd", "groupdel", "setpriv"].map((t) => Bun.which(t, { PATH: sbin }));
const canRun = isRoot && tools.every(Boolean);

// names of this run's own (a machine may run two suites at once)
const tag = `${process.pid % 100000}`;
const ann = `dtann${tag}`;
const bob = `dtbob${tag}`;
const group = `dtgrp${tag}`;

const run = (argv: string[]) => {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: sbin } });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
};

if (!canRun) {
  const why = "needs root, useradd/userdel/groupadd/groupdel and setpriv, to make Unix accounts and run jobs as them";
  if (process.env.CI === "true") throw new Error(why);
  test.skip(`jobs run as their users (${why})`, () => {});
} else {
  beforeAll(() => {
    run(["groupadd", group]);
    run(["useradd", "--create-home", "--shell", "/bin/sh", "--groups", group, ann]);
    run(["useradd", "--create-home", "--shell", "/bin/sh", bob]);
  });
  afterAll(async () => {
    // (a process of an account — the agent that ran as bob, its orphan guard — may outlive the
    // cluster's stop by a moment, and userdel refuses an account in use)
    for (const u of [ann, bob]) {
      for (let tries = 0; tries < 10; tries++) {
        Bun.spawnSync(["pkill", "-KILL", "-u", u], { env: { ...process.env, PATH: sbin }, stderr: "ignore" });
        if (Bun.spawnSync(["userdel", "--remove", u], { env: { ...process.env, PATH: sbin }, stderr: "ignore" }).exitCode !== 8) break;
        await Bun.sleep(200);
      }
    }
    Bun.spawnSync(["groupdel", group], { env: { ...process.env, PATH: sbin }, stderr: "ignore" });
  });
  const uidOf = (name: string) => Number(run(["id", "-u", name]));

  await forEachDatabaseUrl("jobs run as their users", (url) => {
    let c: Cluster;
    // a directory every account may write in, for what jobs and behaviours leave
    let shared = "";
    beforeAll(async () => {
      c = new Cluster({ databaseUrl: url() });
      await c.startController();
      await c.startAgent("node-a", { runJobsAsUsers: true });
      for (const username of [ann, bob, "dtnoaccount", "root", "carl"]) {
        await c.json("/auth/users", { method: "POST", json: { username, password: "a-password-1" } });
      }
      shared = join(c.home, "shared");
      mkdirSync(shared);
      chmodSync(c.home, 0o711);
      chmodSync(shared, 0o1777);
    }, 90_000);
    afterAll(() => c.stop());

    const submitAs = async (user: string, job: Record<string, unknown>) => {
      const res = await c.api(`/rest/jobs?proxy-user=${user}`, { method: "POST", json: job });
      expect(res.status).toBe(201);
      return Number(String(((await res.json()) as { id: string }).id).replace(/\D/g, ""));
    };
    const ended = (id: number) =>
      until(async () => {
        const job = (await c.json(`/jobs/${id}`)) as { state: string; reason: string | null; stdout: string; stderr: string; exitCode: number | null };
        return ["completed", "failed", "cancelled"].includes(job.state) ? job : undefined;
      }, 30_000, `job ${id} to end`);

    test("a job runs as its user's account, with the account's groups and home; not as root", async () => {
      const id = await submitAs(ann, {
        commandFile: "/bin/sh",
        commandLineArguments: `-c "id -un; id -Gn; echo HOME=$HOME; touch mine; ls -ln mine | cut -d' ' -f3; touch /etc/dt-${tag} 2>/dev/null || echo refused"`,
      });
      const job = await ended(id);
      expect(job.state).toBe("completed");
      const [user, groups, home, owner, etc] = job.stdout.trim().split("\n");
      expect(user).toBe(ann);
      expect(groups!.split(" ")).toContain(group);
      expect(home).toBe(`HOME=/home/${ann}`);
      expect(Number(owner)).toBe(uidOf(ann));
      expect(etc).toContain("refused");
      expect(existsSync(`/etc/dt-${tag}`)).toBe(false);
      // its directory and output files are the account's
      const dir = join(c.agentDataDir("node-a"), "jobs", `${id}.1`);
      for (const f of [dir, join(dir, "stdout"), join(dir, "stderr")]) expect({ f, uid: statSync(f).uid }).toEqual({ f, uid: uidOf(ann) });
    }, 60_000);

    test("environmentRequested: the job starts from its account's login environment, then its own variables", async () => {
      const profile = `/home/${ann}/.profile`;
      await Bun.write(profile, "export DT_PROFILE=from-profile\nexport DT_BOTH=profile\n");
      chownSync(profile, uidOf(ann), uidOf(ann));
      const id = await submitAs(ann, {
        commandFile: "/bin/sh",
        commandLineArguments: `-c "echo $DT_PROFILE $DT_BOTH $USER"`,
        environmentRequested: true,
        environmentVariables: { DT_BOTH: "job" },
      });
      const job = await ended(id);
      expect({ state: job.state, out: job.stdout.trim() }).toEqual({ state: "completed", out: `from-profile job ${ann}` });
      // without it, the profile is not read
      const plain = await ended(await submitAs(ann, { commandFile: "/bin/sh", commandLineArguments: `-c "echo [$DT_PROFILE]"` }));
      expect(plain.stdout.trim()).toBe("[]");
    }, 60_000);

    test("output paths are made and written by the job's account: where it may write, and nowhere else", async () => {
      const out = join(shared, `out-${ann}`, "job.out");
      const done = await ended(await submitAs(ann, { commandFile: "/usr/bin/id", commandLineArguments: "-un", standardOutputFilePath: out }));
      expect(done.state).toBe("completed");
      expect(readFileSync(out, "utf8").trim()).toBe(ann);
      expect(statSync(out).uid).toBe(uidOf(ann));
      const refused = await ended(await submitAs(ann, { commandFile: "/bin/true", standardOutputFilePath: `/root/dt-${tag}/job.out` }));
      expect(refused.state).toBe("failed");
      expect(refused.reason).toContain(`cannot write its output file as ${ann}`);
      expect(existsSync(`/root/dt-${tag}`)).toBe(false);
    }, 60_000);

    test("another user's job cannot read the first one's directory", async () => {
      const first = await submitAs(ann, { commandFile: "/bin/sh", commandLineArguments: `-c "echo secret > private"` });
      expect((await ended(first)).state).toBe("completed");
      const dir = join(c.agentDataDir("node-a"), "jobs", `${first}.1`);
      const id = await submitAs(bob, { commandFile: "/bin/sh", commandLineArguments: `-c "id -un; cat ${dir}/private 2>&1 || echo refused; ls ${join(c.agentDataDir("node-a"), "jobs")} 2>&1 || echo unlisted"` });
      const job = await ended(id);
      const lines = job.stdout.trim().split("\n");
      expect(lines[0]).toBe(bob);
      expect(job.stdout).not.toContain("secret");
      expect(job.stdout).toContain("refused");
      expect(job.stdout).toContain("unlisted");
    }, 60_000);

    test("a user without an account on the node: the job fails saying so", async () => {
      const id = await submitAs("dtnoaccount", { commandLine: "true" });
      const job = await ended(id);
      expect(job.state).toBe("failed");
      expect(job.reason).toContain(`"dtnoaccount" has no Unix account on node`);
    }, 60_000);

    test("root only by an administrator's mapping; a mapping runs a user's jobs as another account", async () => {
      const refused = await ended(await submitAs("root", { commandFile: "/usr/bin/id", commandLineArguments: "-u" }));
      expect(refused.state).toBe("failed");
      expect(refused.reason).toContain("jobs run as root only for drover users an administrator maps to root");

      expect((await c.api("/auth/users/root", { method: "PATCH", json: { unixUser: "root" } })).status).toBe(200);
      const asRoot = await ended(await submitAs("root", { commandFile: "/usr/bin/id", commandLineArguments: "-u" }));
      expect({ state: asRoot.state, out: asRoot.stdout.trim() }).toEqual({ state: "completed", out: "0" });

      const mapped = await c.json("/auth/users/carl", { method: "PATCH", json: { unixUser: bob } });
      expect(mapped.unixUser).toBe(bob);
      const carl = await ended(await submitAs("carl", { commandFile: "/usr/bin/id", commandLineArguments: "-un" }));
      expect(carl.stdout.trim()).toBe(bob);

      // a bad account name is refused, naming the field; only administrators map
      const bad = await c.api("/auth/users/carl", { method: "PATCH", json: { unixUser: "-o root" } });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain("unixUser");
      const carlToken = ((await (await fetch(`${c.url}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "carl", password: "a-password-1" }) })).json()) as { token: string }).token;
      const self = await fetch(`${c.url}/auth/users/carl`, { method: "PATCH", headers: { authorization: `Bearer ${carlToken}`, "content-type": "application/json" }, body: JSON.stringify({ unixUser: "root" }) });
      expect(self.status).toBe(403);
    }, 60_000);

    test("a wr job's own directory and its behaviours are its user's: made, run and cleaned up as the account", async () => {
      const base = join(shared, "wr");
      mkdirSync(base);
      chmodSync(base, 0o1777);
      const annToken = ((await (await fetch(`${c.url}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: ann, password: "a-password-1" }) })).json()) as { token: string }).token;
      const add = await fetch(`${c.url}/rest/v1/jobs/`, {
        method: "POST",
        headers: { authorization: `Bearer ${annToken}`, "content-type": "application/json" },
        body: JSON.stringify([{ cmd: `id -un > ${shared}/ran`, cwd: base, rep_grp: "runas", on_exit: [{ run: `id -un > ${shared}/behaviour` }, { cleanup: true }] }]),
      });
      expect(add.status).toBe(201);
      // (the file shows before its line is in it)
      await until(() => (existsSync(join(shared, "behaviour")) && readFileSync(join(shared, "behaviour"), "utf8").endsWith("\n") ? true : undefined), 30_000, "the behaviour to run");
      expect(readFileSync(join(shared, "ran"), "utf8").trim()).toBe(ann);
      expect(readFileSync(join(shared, "behaviour"), "utf8").trim()).toBe(ann);
      expect(statSync(join(shared, "behaviour")).uid).toBe(uidOf(ann));
      // the run's own directory was removed by the cleanup, and its parents with it
      await until(() => (!existsSync(join(base, "drover_cwd")) ? true : undefined), 30_000, "the cleanup to remove the run's directory");
    }, 60_000);

    test("an app's input file is placed by the job's account", async () => {
      expect((await c.api("/apps/owner-of", { method: "PUT", json: { name: "owner-of", command: ["stat", "-c", "%U %a", "{inputfile}"], options: { inputfile: { type: "file", mandatory: true } } } })).status).toBeLessThan(300);
      const annToken = ((await (await fetch(`${c.url}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: ann, password: "a-password-1" }) })).json()) as { token: string }).token;
      const form = new FormData();
      form.append("file", new File(['{"a":1}'], "input.json"));
      const uploaded = (await (await fetch(`${c.url}/caesar/api/v1.0/upload`, { method: "POST", headers: { authorization: `Bearer ${annToken}` }, body: form })).json()) as { uuid: string };
      const started = await fetch(`${c.url}/caesar/api/v1.0/job`, {
        method: "POST",
        headers: { authorization: `Bearer ${annToken}`, "content-type": "application/json" },
        body: JSON.stringify({ app: "owner-of", job_inputs: { inputfile: uploaded.uuid } }),
      });
      expect(started.status).toBe(202);
      const { job_id } = (await started.json()) as { job_id: string };
      const job = await ended(parseInt(job_id.slice(-12), 16));
      expect({ state: job.state, out: job.stdout.trim().split(" ")[0] }).toEqual({ state: "completed", out: ann });
    }, 60_000);

    test("an agent that is not root runs jobs as its own account and says so at its start", async () => {
      const dataDir = c.agentDataDir("node-b");
      mkdirSync(dataDir, { recursive: true });
      chownSync(dataDir, uidOf(bob), uidOf(bob));
      chmodSync(join(c.home, "agents"), 0o755);
      const token = ((await c.json("/auth/agent-tokens", { method: "POST", json: { name: "bobs-agent" } })) as { token: string }).token;
      const agent = await c.startAgent("node-b", { token, runJobsAsUsers: true, as: bob, args: ["--features", "bobs"] });
      expect(agent.stderr.join("")).toContain(`jobs run as this agent's own account (${bob})`);
      const job = await ended(await submitAs(ann, { commandFile: "/usr/bin/id", commandLineArguments: "-un", requirements: [{ requiredNodeFeatures: ["bobs"] }] }));
      expect(job.stdout.trim()).toBe(bob);
    }, 90_000);
  });
}

// MWS 3.5 job templates over REST: defined by administrators (REST or files), listed and shown
// to everyone, applied by templateList with their dependencies — all or nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";
import { loadTemplateFiles } from "../../../controller/src/api/mws/template-files.ts";

/** The genericVM example of MWS 3.5.1.2, reduced to what drover honours. */
const genericVM = {
  args: "arg1 'two words'",
  commandFile: "/tmp/script",
  description: "description",
  id: "genericVM",
  jobDependencies: [{ name: "genericVM-setup", type: "JOBSUCCESSFULCOMPLETE" }],
  jobFlags: ["VMTRACKING"],
  jobTemplateFlags: ["SELECT"],
  jobTemplateRequirements: [{ requiredFeatures: ["dvd"], requiredMemoryPerTask: 1024, requiredProcessorsPerTask: 2, taskCount: 4 }],
  priority: 20,
  durationRequested: 600,
  select: true,
  trigger: null,
  version: 0,
};

await forEachDatabase("MWS job templates", (db) => {
  let c: TestController;
  let admin: string;
  let alice: string;
  beforeAll(async () => {
    c = await startTestController(db(), {}, {
      beforeStart: (home) => {
        const dir = join(home, "etc", "job-templates");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "setup.json"), JSON.stringify({ id: "genericVM-setup", commandFile: "/bin/true", select: false }));
        writeFileSync(join(dir, "broken.json"), "{ not json");
      },
    });
    admin = await c.adminToken();
    alice = await c.userToken("alice");
  });
  afterAll(() => c.stop());

  const call = async (path: string, token: string, method = "GET", json?: unknown) => {
    const res = await c.request(path, { method, token, json });
    return { status: res.status, body: (await res.json()) as any };
  };
  const jobCount = async () => (await call("/rest/jobs?fields=id", admin)).body.totalCount as number;

  test("templates in files under DROVER_HOME/etc/job-templates are loaded at start; a bad file is skipped", async () => {
    const t = await call("/rest/job-templates/genericVM-setup", alice);
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ id: "genericVM-setup", commandFile: "/bin/true", select: false, jobTemplateFlags: [], source: "file:setup.json" });
  });

  test("an administrator creates a template; everyone lists and shows it; users may not change templates", async () => {
    expect((await call("/rest/job-templates", alice, "POST", genericVM)).status).toBe(403);
    const created = await call("/rest/job-templates", admin, "POST", genericVM);
    expect(created.status).toBe(201);
    expect(created.body.id).toBe("genericVM");
    expect((await call("/rest/job-templates", admin, "POST", genericVM)).status).toBe(409);

    const list = await call("/mws/rest/job-templates?fields=id", alice);
    expect(list.body).toEqual({ totalCount: 2, resultCount: 2, results: [{ id: "genericVM" }, { id: "genericVM-setup" }] });
    const shown = await call("/rest/job-templates/genericVM", alice);
    expect(shown.body).toMatchObject({
      id: "genericVM",
      description: "description",
      commandFile: "/tmp/script",
      args: 'arg1 "two words"',
      durationRequested: 600,
      priority: 20,
      jobFlags: ["VMTRACKING"],
      jobDependencies: [{ name: "genericVM-setup", type: "JOBSUCCESSFULCOMPLETE" }],
      jobTemplateFlags: ["SELECT"],
      select: true,
      // 4 tasks of 2 processors with 1024 MB each: 8 processors of 512 MB
      jobTemplateRequirements: [{ requiredProcessorsPerTask: 1, taskCount: 8, requiredMemoryPerTask: 512, requiredFeatures: ["dvd"] }],
      version: 0,
    });
    expect((await call("/rest/job-templates/nothing", alice)).status).toBe(404);
    expect((await call("/rest/job-templates/genericVM", alice, "DELETE")).status).toBe(403);
    expect((await call("/rest/job-templates/genericVM", alice, "PUT", genericVM)).status).toBe(403);
  });

  test("fields drover cannot honour are refused by name, nothing is stored", async () => {
    const bad = await call("/rest/job-templates", admin, "POST", { ...genericVM, id: "q", queue: "batch" });
    expect(bad.status).toBe(400);
    expect(bad.body.messages[0]).toContain("queue");
    const req = await call("/rest/job-templates", admin, "POST", { id: "r", jobTemplateRequirements: [{ operatingSystem: "Ubuntu" }] });
    expect(req.body.messages[0]).toContain("jobTemplateRequirements.operatingSystem");
    const dep = await call("/rest/job-templates", admin, "POST", { id: "d", jobDependencies: [{ name: "x", type: "JOBSTART" }] });
    expect(dep.status).toBe(400);
    expect(dep.body.messages[0]).toContain("JOBSTART");
    expect((await call("/rest/job-templates", admin, "POST", { id: "u", colour: "red" })).status).toBe(400);
    expect((await call("/rest/job-templates", admin, "POST", { id: "../etc" })).status).toBe(400);
    expect((await call("/rest/job-templates?fields=id", admin)).body.totalCount).toBe(2);
  });

  test("templateList fills what the job leaves unset and adds the dependency's job first", async () => {
    const before = await jobCount();
    const res = await call("/rest/jobs", alice, "POST", { templateList: ["genericVM"], holds: ["USER"], durationRequested: 60 });
    expect(res.status).toBe(201);
    const job = (await call(`/rest/jobs/${res.body.id}`, alice)).body;
    expect(job).toMatchObject({
      commandFile: "/tmp/script",
      commandLineArguments: "arg1 two words",
      durationRequested: 60, // the job's own value wins
      userPriority: 20,
      flags: ["VMTRACKING"],
      templateList: ["genericVM"],
    });
    expect(job.requirements[0]).toMatchObject({ requiredProcessorCountMinimum: 8, requiredMemoryPerTask: 512, requiredNodeFeatures: ["dvd"] });
    expect(job.dependencies).toHaveLength(1);
    const setup = (await call(`/rest/jobs/${job.dependencies[0]}`, alice)).body;
    expect(setup).toMatchObject({ name: "genericVM-setup", user: "alice", commandFile: "/bin/true", templateList: ["genericVM-setup"] });
    expect(await jobCount()).toBe(before + 2);
  });

  test("an unknown or dependency-only template is a 400 and no job is stored", async () => {
    const before = await jobCount();
    const unknown = await call("/rest/jobs", alice, "POST", { templateList: ["genericVM", "nope"] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.messages[0]).toContain('"nope" does not exist');
    const hidden = await call("/rest/jobs", alice, "POST", { commandLine: "true", templateList: ["genericVM-setup"] });
    expect(hidden.status).toBe(400);
    expect(hidden.body.messages[0]).toContain("cannot be requested");
    // arguments without the command they belong to are not quietly dropped
    const args = await call("/rest/jobs", alice, "POST", { templateList: ["genericVM"], commandLineArguments: "-x" });
    expect(args.status).toBe(400);
    expect(args.body.messages[0]).toContain("commandLineArguments need a commandFile");
    // a template without a command cannot stand in for one
    await call("/rest/job-templates", admin, "POST", { id: "bare", durationRequested: 5 });
    const bare = await call("/rest/jobs", alice, "POST", { templateList: ["bare"] });
    expect(bare.status).toBe(400);
    expect(bare.body.messages[0]).toContain("commandFile");
    // a dependency whose template is missing fails the whole submission
    await call("/rest/job-templates", admin, "POST", { id: "needs-ghost", commandFile: "/bin/true", jobDependencies: [{ name: "ghost", type: "JOBSUCCESSFULCOMPLETE" }] });
    expect((await call("/rest/jobs", alice, "POST", [{ commandLine: "true" }, { templateList: ["needs-ghost"] }])).status).toBe(400);
    expect(await jobCount()).toBe(before);
  });

  test("PUT replaces a template and counts versions; DELETE removes it; removed files remove their templates", async () => {
    const replaced = await call("/rest/job-templates/bare", admin, "PUT", { commandFile: "/bin/echo", args: "hi" });
    expect(replaced.body.messages[0]).toContain("replaced");
    expect((await call("/rest/job-templates/bare", admin)).body).toMatchObject({ commandFile: "/bin/echo", args: "hi", version: 1 });
    // the same definition again is not a change
    await call("/rest/job-templates/bare", admin, "PUT", { commandFile: "/bin/echo", args: "hi" });
    expect((await call("/rest/job-templates/bare", admin)).body.version).toBe(1);
    expect((await call("/rest/job-templates/fresh", admin, "PUT", { commandFile: "/bin/true" })).body.messages[0]).toContain("created");
    expect((await call("/rest/job-templates/bare", admin, "PUT", { id: "other" })).status).toBe(400);
    expect((await call("/rest/job-templates/bare", admin, "DELETE")).status).toBe(200);
    expect((await call("/rest/job-templates/bare", admin)).status).toBe(404);

    // loading the same files again (a restart) changes nothing
    const versionBefore = (await call("/rest/job-templates/genericVM-setup", admin)).body.version;
    await loadTemplateFiles(c.context.db, join(c.home, "etc", "job-templates"));
    expect((await call("/rest/job-templates/genericVM-setup", admin)).body.version).toBe(versionBefore);
    rmSync(join(c.home, "etc", "job-templates", "setup.json"));
    const result = await loadTemplateFiles(c.context.db, join(c.home, "etc", "job-templates"));
    expect(result.failed).toEqual(["broken.json"]);
    expect((await call("/rest/job-templates/genericVM-setup", admin)).status).toBe(404);
    expect((await call("/rest/job-templates/genericVM", admin)).status).toBe(200); // defined over REST, not by a file
  });
});

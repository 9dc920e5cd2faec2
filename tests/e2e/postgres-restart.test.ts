// Postgres restarted while jobs run and are submitted: the controller answers 503 while it is
// down, reconnects by itself, loses nothing it accepted and runs nothing twice. The test runs a
// Postgres of its own (the machine's binaries, as the postgres account), so that the shared one
// the other test files use is never touched.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, freePort } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : [];
const bin = versions.length ? `/usr/lib/postgresql/${versions.sort().at(-1)}/bin` : "";
// (runuser lives in sbin, which a minimal PATH may leave out)
const runuser = Bun.which("runuser", { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin:/usr/bin:/bin` });
const canRun = !!bin && existsSync(`${bin}/initdb`) && process.getuid?.() === 0 && runuser !== null;

if (!canRun) {
  const why = "needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin), root and runuser, to run a Postgres of its own";
  if (process.env.CI === "true") throw new Error(why);
  test.skip(`Postgres restarted under load (${why})`, () => {});
} else {
  const dir = mkdtempSync(join(tmpdir(), "drover-pg-"));
  const data = join(dir, "data");
  let port = 0;
  let c: Cluster;
  const asPostgres = (args: string[]) => {
    const r = Bun.spawnSync([runuser!, "-u", "postgres", "--", ...args], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${args[0]}: ${r.stderr.toString()}`);
  };
  const pgStart = () => asPostgres([`${bin}/pg_ctl`, "-D", data, "-l", join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "start"]);
  const pgStop = () => asPostgres([`${bin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]);

  beforeAll(async () => {
    Bun.spawnSync(["chown", "postgres:postgres", dir]);
    asPostgres([`${bin}/initdb`, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
    port = await freePort();
    pgStart();
    c = new Cluster({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, env: { DROVER_NODE_TIMEOUT: "30s" } });
    await c.startController();
    await c.startAgent("node-a", { args: ["--cpus", "4"] });
  }, 120_000);
  afterAll(async () => {
    await c?.stop();
    try {
      pgStop();
    } catch {
      // stopped already
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("Postgres restarted while jobs run: 503 while it is down, then everything accepted completes, once", async () => {
    const ids: number[] = [];
    const submit = async () => {
      const res = await c.api("/rest/jobs", { method: "POST", json: Array.from({ length: 5 }, () => ({ commandFile: "/bin/sleep", commandLineArguments: "1" })) });
      if (res.status === 201 || res.status === 200) for (const j of (await res.json()) as { id: string }[]) ids.push(Number(String(j.id).replace(/\D/g, "")));
      return res;
    };
    for (let i = 0; i < 4; i++) expect((await submit()).status).toBeLessThan(300);
    await until(async () => (((await c.json("/jobs?state=running")) as { jobs: unknown[] }).jobs.length > 0 ? true : undefined), 20_000, "jobs to run");

    pgStop();
    const during = await submit();
    // (the answer whole, so that a failure shows what the controller made of the outage)
    expect({ status: during.status, body: await during.text() }).toMatchObject({ status: 503, body: expect.stringContaining("database is unreachable") });
    const read = await c.api("/jobs");
    expect({ status: read.status, body: await read.text() }).toMatchObject({ status: 503 });
    await Bun.sleep(2000); // jobs end on the node meanwhile; their events wait in the agent's spool
    pgStart();

    // the controller reconnects by itself; what was accepted before completes, each job once
    await until(async () => ((await c.api("/jobs?limit=1")).status === 200 ? true : undefined), 30_000, "the controller to answer again");
    for (let i = 0; i < 2; i++) expect((await submit()).status).toBeLessThan(300);
    await until(async () => {
      const states = await Promise.all(ids.map(async (id) => ((await c.json(`/jobs/${id}`)) as { state: string }).state));
      return states.every((s) => s === "completed") ? true : undefined;
    }, 90_000, "every accepted job to complete");
    for (const id of ids) {
      const job = (await c.json(`/jobs/${id}`)) as { attempt: number; events: { kind: string }[] };
      expect({ id, starts: job.events.filter((e) => e.kind === "started").length }).toEqual({ id, starts: 1 });
    }
    expect(ids.length).toBe(30);
  }, 180_000);
}

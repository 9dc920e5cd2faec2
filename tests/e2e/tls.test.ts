import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { ensureServerTls } from "../../controller/src/tls/certificates.ts";
import { Cluster } from "../helpers/cluster.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { until } from "../helpers/until.ts";

// The agents' stream over TLS (as beyond loopback, asked for here on loopback): an agent that
// trusts the controller's CA registers and runs jobs; one speaking plain text, or trusting
// another CA, never gets in. (The database does not matter here: the embedded one.)
let c: Cluster;
beforeAll(async () => {
  c = new Cluster({ databaseUrl: "", env: { DROVER_GRPC_TLS: "on" } });
  await c.startController();
}, 60_000);
afterAll(() => c.stop());

test("an agent given the controller's CA registers over TLS and runs a job", async () => {
  await c.startAgent("tls-a", { args: ["--ca-file", join(c.home, "keys", "ca.pem")] });
  const id = await c.submit({ commandLine: "echo over-tls", hosts: ["tls-a"] });
  const done = await c.waitForState(id, ["COMPLETED"], 30_000);
  expect(done.masterHost).toBe("tls-a");
}, 60_000);

test("an agent that reaches the controller by name checks the certificate against that name", async () => {
  await c.startAgent("tls-b", { args: ["--controller", `localhost:${c.grpcPort}`, "--ca-file", join(c.home, "keys", "ca.pem")] });
  expect((await c.json("/rest/nodes/tls-b")).state).not.toBe("Down");
}, 60_000);

test("an agent speaking plain text, or trusting another CA, never registers", async () => {
  const other = ensureServerTls(tempDir("other-ca"), []);
  await c.startAgent("plain", { waitForRegistration: false });
  await c.startAgent("stranger", { waitForRegistration: false, args: ["--ca-file", other.caFile] });
  // both keep trying (with backoff) and saying why; neither node ever appears
  await until(() => c.agents.get("stranger")!.stderr.join("").includes("disconnected from the controller"), 15_000, "the stranger to give up a first time");
  await until(() => c.agents.get("plain")!.stderr.join("").includes("disconnected from the controller"), 15_000, "the plain agent to give up a first time");
  await Bun.sleep(1500);
  for (const name of ["plain", "stranger"]) expect((await c.api(`/rest/nodes/${name}`)).status).toBe(404);
}, 60_000);

// Credentials on a real cluster: an agent token revoked while its agent is connected cuts the
// stream; no password, token or agent token ever reaches a log (every component at debug).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

await forEachDatabaseUrl("credentials on a cluster", (url) => {
  let c: Cluster;
  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url(), env: { DROVER_LOG_LEVEL: "debug" } });
    await c.startController();
  }, 90_000);
  afterAll(() => c.stop());

  test("a revoked agent token cuts its agent's stream, and the agent cannot come back with it; no secret is logged", async () => {
    const { token, id } = await c.json<{ token: string; id: number }>("/auth/agent-tokens", { method: "POST", json: { name: "to-revoke" } });
    await c.startAgent("node-r", { token });
    const metric = async () => {
      const text = await (await c.api("/metrics")).text();
      return Number(/^drover_agents_connected (\d+)/m.exec(text)?.[1] ?? -1);
    };
    await until(async () => ((await metric()) === 1 ? true : undefined), 10_000, "the agent to be connected");
    expect((await c.api(`/auth/agent-tokens/${id}`, { method: "DELETE" })).status).toBe(200);
    await until(async () => ((await metric()) === 0 ? true : undefined), 10_000, "the agent's stream to be cut");
    // it keeps trying, and is refused
    await Bun.sleep(1500);
    expect(await metric()).toBe(0);

    // secrets used in this run: the admin's password, a user's password (also a wrong one), tokens
    await c.json("/auth/users", { method: "POST", json: { username: "carol", password: "carol-secret-password" } });
    const userToken = ((await (await fetch(`${c.url}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "carol", password: "carol-secret-password" }) })).json()) as { token: string }).token;
    await fetch(`${c.url}/jobs`, { headers: { authorization: `Bearer ${userToken}` } });
    await fetch(`${c.url}/rest/jobs`, { headers: { authorization: `Basic ${btoa("carol:wrong-carol-password")}` } });
    await fetch(`${c.url}/openmole/token?password=cluster-admin-password`, { method: "POST" });
    const logs = [...(c.controller?.stderr ?? []), ...[...c.agents.values()].flatMap((a) => a.stderr)].join("");
    expect(logs.length).toBeGreaterThan(1000); // debug logging was on
    for (const secret of ["cluster-admin-password", "carol-secret-password", "wrong-carol-password", userToken, token, await c.adminToken()]) {
      expect({ secret: secret.slice(0, 12), logged: logs.includes(secret) }).toEqual({ secret: secret.slice(0, 12), logged: false });
    }
  }, 60_000);
});

import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "../scripts/bench-database.ts";
const db = await freshDatabase();
const c = new Cluster({ databaseUrl: db.url, env: {} });
await c.startController();
const token = await c.adminToken();
const body = JSON.stringify({ commandFile: "/bin/true", holds: ["USER"] });
const run = async (clients: number, ms: number) => {
  let n = 0; const end = performance.now() + ms;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      const r = await fetch(`${c.url}/rest/jobs`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
      await r.arrayBuffer(); n++;
    }
  }));
  return n / (ms / 1000);
};
await run(4, 2000);
for (const k of [4, 16]) console.log(`${k} clients: ${(await run(k, 8000)).toFixed(0)} jobs/s`);
await c.stop(); await db.drop(); process.exit(0);

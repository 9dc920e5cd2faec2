import { Cluster } from "../tests/helpers/cluster.ts";
import { freshDatabase } from "../scripts/bench-database.ts";
const db = await freshDatabase();
const c = new Cluster({ databaseUrl: db.url, env: { DROVER_HEARTBEAT_INTERVAL: "5s", DROVER_SAMPLE_INTERVAL: "10s" } });
await c.startController();
const a = await c.startAgent("s-0");
await Bun.sleep(15000);
Bun.spawnSync(["perf", "record", "-F", "999", "-g", "-o", "/tmp/perf.data", "-p", String(a.proc.pid), "--", "sleep", "30"], { stderr: "pipe", stdout: "pipe" });
await c.stop(); await db.drop(); process.exit(0);

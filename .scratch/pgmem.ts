import { PGlite } from "@electric-sql/pglite";
const dir = process.argv[2]!;
let peak = 0;
const rss = () => process.memoryUsage().rss / 2 ** 20;
const t = setInterval(() => { peak = Math.max(peak, rss()); }, 20);
const t0 = performance.now();
const pg = await PGlite.create(dir);
await pg.query("select 1");
console.log(`create ${(performance.now() - t0).toFixed(0)} ms, rss ${rss().toFixed(0)} MB, peak ${peak.toFixed(0)} MB`);
Bun.gc(true);
await Bun.sleep(500);
console.log(`after gc rss ${rss().toFixed(0)} MB`);
if (process.argv[3] === "dump") { const b = await pg.dumpDataDir("gzip"); await Bun.write(process.argv[4]!, b); console.log("dump", b.size); }
clearInterval(t);
await pg.close();

import postgres from "postgres";
for (const [name, opts] of [["tcp", { host: "127.0.0.1", port: 5432 }], ["unix", { host: "/var/run/postgresql", port: 5432 }]] as const) {
  const sql = postgres({ ...opts, user: "postgres", database: "test", max: 4 });
  await sql`select 1`;
  const t0 = performance.now(); const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: 8 }, async () => { for (let i = 0; i < 2500; i++) await sql`select ${i}::int`; }));
  const cpu = process.cpuUsage(cpu0);
  console.log(name, (20000 / ((performance.now() - t0) / 1000)).toFixed(0), "q/s", "client cpu µs/q", ((cpu.user + cpu.system) / 20000).toFixed(1));
  await sql.end();
}

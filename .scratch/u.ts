import postgres from "postgres";
const sql = postgres("postgres://postgres@localhost/test?host=/var/run/postgresql", { max: 1 });
console.log(sql.options.path, sql.options.host, await sql`select inet_server_addr() as a`);
await sql.end();

// A fresh Postgres database for a benchmark or a soak (on the test suite's Postgres), dropped afterwards.
import postgres from "postgres";
import { POSTGRES_URL } from "../tests/helpers/databases.ts";

export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `drover_bench_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(POSTGRES_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

import { defineConfig } from "drizzle-kit";

// Migrations are generated offline from the schema; no database connection is needed.
export default defineConfig({
  dialect: "postgresql",
  schema: "./controller/src/db/schema.ts",
  out: "./controller/drizzle",
});

import { eq } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { users } from "../db/schema.ts";
import { insertUser } from "./users.ts";

/**
 * On first start, creates the `admin` user. The password comes from the caller (env var or
 * file, for unattended installs) or is generated; a generated one is returned so the CLI can
 * print it once. Returns undefined when an admin already exists.
 */
export async function ensureAdmin(db: Db, password?: string): Promise<{ password: string; generated: boolean } | undefined> {
  const existing = await db.select({ id: users.id }).from(users).where(eq(users.role, "admin")).limit(1);
  if (existing.length > 0) return undefined;
  const generated = !password;
  const chosen = password ?? Buffer.from(crypto.getRandomValues(new Uint8Array(15))).toString("base64url");
  await insertUser(db, { username: "admin", password: chosen, role: "admin" });
  return { password: chosen, generated };
}

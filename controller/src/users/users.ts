import { eq } from "drizzle-orm";
import { conflict, forbidden, invalid } from "@drover/shared/errors";
import type { Db } from "../db/connect.ts";
import { users, type User } from "../db/schema.ts";
import type { Principal } from "../auth/principal.ts";

const usernamePattern = /^[a-z_][a-z0-9_.-]{0,63}$/;

/** Creates a user; only admins may. */
export async function createUser(
  db: Db,
  actor: Principal,
  input: { username: string; password: string; role?: "admin" | "user" },
): Promise<User> {
  if (actor.role !== "admin") throw forbidden("Only administrators can create users");
  return insertUser(db, input);
}

/** Inserts a user after checking the name and password (used at first start too). */
export async function insertUser(
  db: Db,
  input: { username: string; password: string; role?: "admin" | "user" },
): Promise<User> {
  if (!usernamePattern.test(input.username)) {
    throw invalid(`Username "${input.username}" is not allowed: use lower-case letters, digits, _ . - (at most 64, starting with a letter or _)`);
  }
  // "drover" names drover itself where it acts on its own (pending actions, audit notes)
  if (input.username === "drover") throw invalid(`Username "drover" is reserved for drover itself; choose another`);
  if (input.password.length < 8) throw invalid("The password must have at least 8 characters");
  const passwordHash = await Bun.password.hash(input.password);
  const rows = await db
    .insert(users)
    .values({ username: input.username, passwordHash, role: input.role ?? "user" })
    .onConflictDoNothing()
    .returning();
  if (rows.length === 0) throw conflict(`A user named "${input.username}" already exists`);
  return rows[0]!;
}

/** Looks a user up by name. */
export async function findUser(db: Db, username: string): Promise<User | undefined> {
  const rows = await db.select().from(users).where(eq(users.username, username)).limit(1);
  return rows[0];
}

/** Lists users (admins only). */
export async function listUsers(db: Db, actor: Principal): Promise<User[]> {
  if (actor.role !== "admin") throw forbidden("Only administrators can list users");
  return db.select().from(users).orderBy(users.id);
}

/** Deletes a user (admins only; an admin cannot delete itself). */
export async function deleteUser(db: Db, actor: Principal, username: string): Promise<boolean> {
  if (actor.role !== "admin") throw forbidden("Only administrators can delete users");
  if (actor.username === username) throw invalid("You cannot delete your own account");
  const rows = await db.delete(users).where(eq(users.username, username)).returning({ id: users.id });
  return rows.length > 0;
}

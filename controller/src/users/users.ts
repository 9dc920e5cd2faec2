import { eq } from "drizzle-orm";
import { conflict, forbidden, invalid } from "@drover/shared/errors";
import type { Db } from "../db/connect.ts";
import { users, type User } from "../db/schema.ts";
import type { Principal } from "../auth/principal.ts";
import { hashPassword } from "../auth/password-hash.ts";

const usernamePattern = /^[a-z_][a-z0-9_.-]{0,63}$/;
/** a Unix account name as useradd takes it (never an option to a command: it cannot start with "-") */
const unixUserPattern = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

function checkUnixUser(unixUser: string | null | undefined): void {
  if (unixUser && !unixUserPattern.test(unixUser)) throw invalid(`unixUser "${unixUser}" is not a Unix account name: letters, digits, _ . - (at most 32, starting with a letter or _)`);
}

/** Creates a user; only admins may. */
export async function createUser(
  db: Db,
  actor: Principal,
  input: { username: string; password: string; role?: "admin" | "user"; unixUser?: string | null; groups?: string[] },
): Promise<User> {
  if (actor.role !== "admin") throw forbidden("Only administrators can create users");
  return insertUser(db, input);
}

/**
 * Changes a user (admins only): its role, password, or the Unix account its jobs run as on
 * agents running as root (null: the account of the same name; "root" lets its jobs run as root).
 * Undefined when there is no such user.
 */
export async function updateUser(
  db: Db,
  actor: Principal,
  username: string,
  change: { role?: "admin" | "user"; password?: string; unixUser?: string | null; groups?: string[] },
): Promise<User | undefined> {
  if (actor.role !== "admin") throw forbidden("Only administrators can change users");
  checkUnixUser(change.unixUser);
  if (change.password !== undefined && change.password.length < 8) throw invalid("The password must have at least 8 characters");
  if (actor.username === username && change.role === "user") throw invalid("You cannot take away your own administrator role");
  const values: Partial<User> = {};
  if (change.role !== undefined) values.role = change.role;
  if (change.unixUser !== undefined) values.unixUser = change.unixUser || null;
  if (change.groups !== undefined) values.groups = [...new Set(change.groups)];
  if (change.password !== undefined) values.passwordHash = await hashPassword(change.password);
  if (!Object.keys(values).length) return findUser(db, username);
  const rows = await db.update(users).set(values).where(eq(users.username, username)).returning();
  return rows[0];
}

/** Inserts a user after checking the name and password (used at first start too). */
export async function insertUser(
  db: Db,
  input: { username: string; password: string; role?: "admin" | "user"; unixUser?: string | null; groups?: string[] },
): Promise<User> {
  checkUnixUser(input.unixUser);
  if (!usernamePattern.test(input.username)) {
    throw invalid(`Username "${input.username}" is not allowed: use lower-case letters, digits, _ . - (at most 64, starting with a letter or _)`);
  }
  // "drover" names drover itself where it acts on its own (pending actions, audit notes)
  if (input.username === "drover") throw invalid(`Username "drover" is reserved for drover itself; choose another`);
  if (input.password.length < 8) throw invalid("The password must have at least 8 characters");
  const passwordHash = await hashPassword(input.password);
  const rows = await db
    .insert(users)
    .values({ username: input.username, passwordHash, role: input.role ?? "user", unixUser: input.unixUser || null, groups: [...new Set(input.groups ?? [])] })
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

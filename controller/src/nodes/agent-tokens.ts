import { and, eq, isNull } from "drizzle-orm";
import { invalid, notFound } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Db } from "../db/connect.ts";
import { agentTokens } from "../db/schema.ts";

const hash = (token: string) => new Bun.CryptoHasher("sha256").update(token).digest("hex");

export interface AgentTokenView {
  id: number;
  name: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
}

const view = (r: typeof agentTokens.$inferSelect): AgentTokenView => ({
  id: r.id,
  name: r.name,
  createdBy: r.createdBy,
  createdAt: r.createdAt.toISOString(),
  revokedAt: r.revokedAt?.toISOString() ?? null,
});

/** Creates a token agents present to join; the secret is returned once and only its hash kept. */
export async function createAgentToken(db: Db, createdBy: string, name: string): Promise<AgentTokenView & { token: string }> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw invalid(`Agent token name "${name}" must be 1-64 letters, digits, . _ -`);
  const token = `drover-agent-${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
  const [row] = await db.insert(agentTokens).values({ name, createdBy, tokenHash: hash(token) }).returning();
  return { ...view(row!), token };
}

/** Revokes a token: agents using it are refused from their next connection on. */
export async function revokeAgentToken(db: Db, id: number): Promise<AgentTokenView> {
  const [row] = await db
    .update(agentTokens)
    .set({ revokedAt: new Date(now()) })
    .where(and(eq(agentTokens.id, id), isNull(agentTokens.revokedAt)))
    .returning();
  if (!row) throw notFound(`No active agent token with id ${id}`);
  return view(row);
}

export async function listAgentTokens(db: Db): Promise<AgentTokenView[]> {
  return (await db.select().from(agentTokens).orderBy(agentTokens.id)).map(view);
}

/** The token's record when it exists and is not revoked. */
export async function verifyAgentToken(db: Db, token: string): Promise<AgentTokenView | undefined> {
  const [row] = await db
    .select()
    .from(agentTokens)
    .where(and(eq(agentTokens.tokenHash, hash(token)), isNull(agentTokens.revokedAt)))
    .limit(1);
  return row ? view(row) : undefined;
}

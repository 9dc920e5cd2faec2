import { and, eq } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { nodes, type Node } from "../db/schema.ts";

/** Nodes that stopped answering (down), for wr's bad servers. */
export async function downNodes(db: Db): Promise<Node[]> {
  return db.select().from(nodes).where(eq(nodes.state, "down")).orderBy(nodes.id);
}

/**
 * Forgets a node that is down (wr's DELETE /rest/v1/servers/?id=, confirming it dead): its row
 * goes; its jobs were already handled as lost when it went down. An agent of that name that
 * comes back registers anew. Returns false when no such node is down.
 */
export async function forgetDownNode(db: Db, id: string): Promise<boolean> {
  const gone = await db.delete(nodes).where(and(eq(nodes.id, id), eq(nodes.state, "down"))).returning({ id: nodes.id });
  return gone.length > 0;
}

import { eq } from "drizzle-orm";
import { invalid, notFound } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Core } from "../core.ts";
import { nodes } from "../db/schema.ts";

/** What an administrator may change on a node (MWS 3.6.2). */
export interface NodeChanges {
  /** drain: running jobs finish, nothing new starts; up: back in service */
  state?: "drained" | "up";
  reason?: string;
  messages?: string[];
  variables?: Record<string, string>;
  genericMetrics?: Record<string, number>;
  genericEvents?: { name: string; message: string }[];
  partition?: string;
}

/** Applies the changes in one transaction; answers one line per change (MWS's messages). */
export async function modifyNode(core: Core, id: string, changes: NodeChanges, author: string): Promise<string[]> {
  const done: string[] = [];
  await core.db.transaction(async (tx) => {
    const [node] = await tx.select().from(nodes).where(eq(nodes.id, id)).for("update").limit(1);
    if (!node) throw notFound(`The resource with id '${id}' was not found`);
    const at = new Date(now());
    const set: Partial<typeof nodes.$inferInsert> = {};
    if (changes.state === "drained") {
      if (node.state === "down") throw invalid(`Node ${id} is down (${node.stateReason ?? "its agent does not answer"}); a node is drained while it is up`);
      Object.assign(set, { state: "drained", stateReason: `drained by ${author}${changes.reason ? `: ${changes.reason}` : ""}`, stateChangedAt: at });
      done.push(`Successfully modified state to 'Drained': running jobs finish, no new job starts on ${id}`);
    } else if (changes.state === "up") {
      if (node.state === "drained") Object.assign(set, { state: "up", stateReason: null, stateChangedAt: at });
      done.push(node.state === "down" ? `Node ${id} stays down until its agent connects again` : `Successfully modified state to 'Idle': ${id} takes jobs`);
    }
    if (changes.messages?.length) {
      set.messages = [...node.messages, ...changes.messages.map((message) => ({ message, createdAt: at.toISOString(), author }))].slice(-100);
      done.push(`Successfully added ${changes.messages.length} message(s)`);
    }
    if (changes.variables) {
      set.variables = { ...node.variables, ...changes.variables };
      done.push(`Successfully modified variables`);
    }
    if (changes.genericMetrics) {
      set.genericMetrics = { ...node.genericMetrics, ...changes.genericMetrics };
      done.push(`Successfully modified generic metrics`);
    }
    if (changes.genericEvents?.length) {
      set.genericEvents = [...node.genericEvents, ...changes.genericEvents.map((e) => ({ ...e, createdAt: at.toISOString() }))].slice(-100);
      done.push(`Successfully added ${changes.genericEvents.length} generic event(s)`);
    }
    if (changes.partition !== undefined) {
      set.partition = changes.partition;
      done.push(`Successfully modified partition to '${changes.partition}' (until its agent registers again with its own --partition)`);
    }
    if (Object.keys(set).length) await tx.update(nodes).set(set).where(eq(nodes.id, id));
  });
  core.nodeCache?.forget();
  if (changes.state === "up") core.kick();
  return done;
}

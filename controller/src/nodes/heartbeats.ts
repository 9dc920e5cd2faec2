import { sql } from "drizzle-orm";
import { logger } from "@drover/shared/log";
import { now } from "@drover/shared/clock";
import type { Db } from "../db/connect.ts";
import { recordset } from "../db/recordset.ts";

const log = logger("nodes");

/**
 * Heartbeats written together: each node's latest is kept here and all are stored in one
 * statement every `intervalMs` (10,000 nodes beating every 5 s would otherwise be 2,000
 * statements a second). Liveness reads them from the database, so the interval stays far below
 * the node timeout.
 */
export class HeartbeatWriter {
  private pending = new Map<string, number>();
  /** when each node was last heard from here, stored or not */
  private readonly heard = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  private flushing: Promise<void> = Promise.resolve();

  /**
   * holder: this controller, and whether it holds a node's stream now — said again with each
   * flush for the nodes it holds, so that a row that lost its holder in a race gets it back
   * (see peers/peers.ts)
   */
  constructor(private readonly db: Db, intervalMs = 1000, private readonly holder?: { id: string; holds(nodeId: string): boolean }) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
  }

  record(nodeId: string): void {
    const t = now();
    this.pending.set(nodeId, t);
    this.heard.set(nodeId, t);
  }

  /**
   * Whether this controller heard from the node at `at` or later. A flush kept waiting behind
   * other writers' row locks (a busy cluster: seconds) must not have live nodes taken for lost.
   */
  heardSince(nodeId: string, at: number): boolean {
    return (this.heard.get(nodeId) ?? -Infinity) >= at;
  }

  /** Stores what has come in (one statement); the next flush waits for this one. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.pending.size) return;
      const beats = [...this.pending].map(([node, at]) => ({ node, at: new Date(at).toISOString(), held: this.holder?.holds(node) ?? false }));
      this.pending = new Map();
      try {
        // (rows locked in id order, as the sample writer does: two writers of many nodes must not deadlock)
        await this.db.execute(sql`
          with locked as (select id from nodes where id = any(${`{${beats.map((b) => JSON.stringify(b.node)).join(",")}}`}::text[]) order by id for update)
          update nodes n set last_heartbeat_at = greatest(n.last_heartbeat_at, v.at), controller_id = case when v.held then ${this.holder?.id ?? null}::text else n.controller_id end
          from ${recordset(beats, "node text, at timestamptz, held boolean")}
          where n.id = v.node and n.id in (select id from locked)`);
      } catch (e) {
        log.error("heartbeats not stored; they are taken again with the next ones", { nodes: beats.length, error: e });
        for (const b of beats) if (!this.pending.has(b.node)) this.pending.set(b.node, Date.parse(b.at));
      }
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

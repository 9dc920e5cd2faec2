import type { Tx } from "../jobs/job-events.ts";
import { readNodes, type PlacedNode } from "./queue-reads.ts";

/**
 * The registered nodes as passes see them, read at most once a `ttlMs` (10,000 nodes are
 * 10,000 rows to read and parse: on every pass, that was most of a busy controller's CPU). What
 * changes a node's standing — registration, loss, a drain — forgets it at once; what is sampled
 * (free disk and swap) may be that much older.
 */
export class NodeCache {
  private rows: PlacedNode[] | undefined;
  private readAt = 0;

  constructor(private readonly ttlMs = 1000) {}

  async get(tx: Tx): Promise<PlacedNode[]> {
    const t = performance.now();
    if (this.rows && t - this.readAt < this.ttlMs) return this.rows;
    const rows = await readNodes(tx);
    this.rows = rows;
    this.readAt = t;
    return rows;
  }

  forget(): void {
    this.rows = undefined;
  }
}

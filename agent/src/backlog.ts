import type { RunJob } from "@drover/proto/service";

export interface BacklogEntry {
  key: string;
  spec: RunJob;
  /** when it arrived (Date.now()) */
  since: number;
}

/** a before b in queue order: higher priority first, then the lower queue position, then the lower job id */
const before = (a: RunJob, b: RunJob) =>
  a.priority > b.priority ||
  (a.priority === b.priority && (a.queuePosition < b.queuePosition || (a.queuePosition === b.queuePosition && a.jobId < b.jobId)));

/**
 * Jobs the controller sent while this node's processors were taken, kept in queue order
 * (highest priority first, then by queue position) whatever order they arrived in, so that a node
 * starts them in the order the controller's queue has them.
 */
export class Backlog {
  private entries: BacklogEntry[] = [];
  private readonly byKey = new Map<string, BacklogEntry>();

  get size(): number {
    return this.entries.length;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get(key: string): BacklogEntry | undefined {
    return this.byKey.get(key);
  }

  /** The job that starts next. */
  first(): BacklogEntry | undefined {
    return this.entries[0];
  }

  add(entry: BacklogEntry): void {
    // most jobs arrive in queue order: look for the place from the end
    let i = this.entries.length;
    while (i > 0 && before(entry.spec, this.entries[i - 1]!.spec)) i--;
    this.entries.splice(i, 0, entry);
    this.byKey.set(entry.key, entry);
  }

  delete(key: string): void {
    const entry = this.byKey.get(key);
    if (!entry) return;
    this.byKey.delete(key);
    this.entries.splice(this.entries.indexOf(entry), 1);
  }

  /** Takes the first job and every one behind it out, from the first for which `from` holds. */
  takeFrom(from: (e: BacklogEntry) => boolean): BacklogEntry[] {
    const i = this.entries.findIndex(from);
    if (i < 0) return [];
    const taken = this.entries.splice(i);
    for (const e of taken) this.byKey.delete(e.key);
    return taken;
  }

  clear(): void {
    this.entries = [];
    this.byKey.clear();
  }
}

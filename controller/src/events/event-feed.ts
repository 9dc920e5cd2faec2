import { sql } from "drizzle-orm";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { rowsOf } from "../db/migrate.ts";
import { logger } from "@drover/shared/log";

const log = logger("events");

// The live event feed behind GET /events (Server-Sent Events): job state changes read from
// job_events (every state change writes one, whichever controller made it), node changes, and
// the output of one job as it grows. The feed polls only while someone listens; each listener
// has a bounded queue, and a listener that does not keep up loses events and is told so.

export type LiveEvent =
  | { type: "job"; id: number; kind: string; state: string; owner: string; name: string; group: string; at: string }
  | { type: "node"; id: string; state: string; connected: boolean }
  | { type: "output"; id: number; state: string; stdout: string; stderr: string };

/** Events a listener may have waiting; beyond this they are dropped and counted. */
export const QUEUE_LIMIT = 1000;
const POLL_MS = 250;
/** job_events ids are read again this far behind the newest seen (a transaction that took an id earlier may commit later). */
const LOOK_BACK = 500;

export interface Listener {
  readonly principal: Principal;
  /** the job whose output this listener follows */
  readonly jobId?: number;
  queue: LiveEvent[];
  dropped: number;
  /** called when events are added */
  wake?: () => void;
}

export class EventFeed {
  private listeners = new Set<Listener>();
  private cursor = -1;
  private seen = new Set<number>();
  private nodes = new Map<string, string>();
  private outputs = new Map<number, string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling = false;

  constructor(private readonly core: Core) {}

  get size(): number {
    return this.listeners.size;
  }

  listen(principal: Principal, jobId?: number): Listener {
    const listener: Listener = { principal, jobId, queue: [], dropped: 0 };
    this.listeners.add(listener);
    this.core.metrics?.eventClients.set(this.listeners.size);
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
    return listener;
  }

  unlisten(listener: Listener): void {
    this.listeners.delete(listener);
    this.core.metrics?.eventClients.set(this.listeners.size);
    if (!this.listeners.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      // the next listener starts from what happens then
      this.cursor = -1;
      this.nodes.clear();
      this.outputs.clear();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private deliver(event: LiveEvent, to: (l: Listener) => boolean): void {
    for (const l of this.listeners) {
      if (!to(l)) continue;
      if (l.queue.length >= QUEUE_LIMIT) l.dropped++;
      else l.queue.push(event);
      l.wake?.();
    }
  }

  /** One look at what changed (never two at once). */
  async poll(): Promise<void> {
    if (this.polling || !this.listeners.size) return;
    this.polling = true;
    try {
      await this.pollJobs();
      await this.pollNodes();
      await this.pollOutputs();
    } catch (e) {
      log.warn("event feed poll failed", { error: (e as Error).message });
    } finally {
      this.polling = false;
    }
  }

  private async pollJobs(): Promise<void> {
    if (this.cursor < 0) {
      const [row] = rowsOf<{ max: number | string | null }>(await this.core.db.execute(sql`select max(id) as max from job_events`));
      this.cursor = Number(row?.max ?? 0);
      return;
    }
    type Row = { id: number | string; job_id: number | string; kind: string; at: string | Date; owner: string; state: string; name: string; job_group: string };
    const rows = rowsOf<Row>(
      await this.core.db.execute(sql`
        select e.id, e.job_id, e.kind, e.at, j.owner, j.state, j.name, j.job_group
        from job_events e join jobs j on j.id = e.job_id
        where e.id > ${Math.max(0, this.cursor - LOOK_BACK)}
        order by e.id limit 5000`),
    );
    for (const r of rows) {
      const id = Number(r.id);
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      if (id > this.cursor) this.cursor = id;
      const event: LiveEvent = { type: "job", id: Number(r.job_id), kind: r.kind, state: r.state, owner: r.owner, name: r.name, group: r.job_group, at: new Date(r.at).toISOString() };
      this.deliver(event, (l) => l.principal.role === "admin" || l.principal.username === r.owner);
    }
    // forget what is too far behind to be read again
    if (this.seen.size > 4 * LOOK_BACK) for (const id of this.seen) if (id <= this.cursor - LOOK_BACK) this.seen.delete(id);
  }

  private async pollNodes(): Promise<void> {
    const rows = rowsOf<{ id: string; state: string }>(await this.core.db.execute(sql`select id, state from nodes`));
    for (const r of rows) {
      const connected = this.core.links.isConnected(r.id);
      const key = `${r.state}|${connected}`;
      if (this.nodes.get(r.id) === key) continue;
      const first = !this.nodes.has(r.id);
      this.nodes.set(r.id, key);
      if (!first) this.deliver({ type: "node", id: r.id, state: r.state, connected }, () => true);
    }
  }

  private async pollOutputs(): Promise<void> {
    const ids = [...new Set([...this.listeners].flatMap((l) => (l.jobId === undefined ? [] : [l.jobId])))];
    if (!ids.length) return;
    type Row = { id: number | string; state: string; stdout_tail: string; stderr_tail: string };
    const rows = rowsOf<Row>(await this.core.db.execute(sql`select id, state, stdout_tail, stderr_tail from jobs where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::bigint)`));
    for (const r of rows) {
      const id = Number(r.id);
      const key = `${r.state}\u0000${r.stdout_tail}\u0000${r.stderr_tail}`;
      if (this.outputs.get(id) === key) continue;
      this.outputs.set(id, key);
      this.deliver({ type: "output", id, state: r.state, stdout: r.stdout_tail, stderr: r.stderr_tail }, (l) => l.jobId === id);
    }
  }
}

/**
 * A listener's events as a Server-Sent Events stream: `event: <type>` and `data: <json>`; a
 * comment every 15 s keeps proxies from closing it; `event: dropped` says how many events a
 * listener that fell behind lost (it should read the state afresh).
 */
export function eventStream(feed: EventFeed, listener: Listener, signal?: AbortSignal): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const close = () => {
    if (keepAlive) clearInterval(keepAlive);
    feed.unlisten(listener);
  };
  signal?.addEventListener("abort", close);
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(`retry: 2000\n: drover events\n\n`));
      keepAlive = setInterval(() => {
        try {
          controller.enqueue(encoder.encode(": keep-alive\n\n"));
        } catch {
          close();
        }
      }, 15_000);
    },
    async pull(controller) {
      while (!listener.queue.length && !listener.dropped) {
        await new Promise<void>((resolve) => {
          listener.wake = resolve;
        });
      }
      listener.wake = undefined;
      let text = "";
      if (listener.dropped) {
        text += `event: dropped\ndata: ${JSON.stringify({ count: listener.dropped })}\n\n`;
        listener.dropped = 0;
      }
      for (const e of listener.queue.splice(0)) text += `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
      controller.enqueue(encoder.encode(text));
    },
    cancel() {
      close();
    },
  });
}

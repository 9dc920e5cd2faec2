import { hostname } from "node:os";
import { sql } from "drizzle-orm";
import { decodeControllerMessage, encodeControllerMessage, type ControllerMessage } from "@drover/proto/service";
import { logger } from "@drover/shared/log";
import { now } from "@drover/shared/clock";
import type { Core } from "../core.ts";
import type { Database } from "../db/connect.ts";
import { rowsOf } from "../db/migrate.ts";
import type { Tx } from "../jobs/job-events.ts";
import { DISPATCHED_COLUMNS, dispatchedJobOf, runMessage, type DispatchedRow } from "../scheduler/schedule-pass.ts";
import { readUnixUsers } from "../scheduler/queue-reads.ts";
import type { Allocation } from "../scheduler/placement.ts";
import { jsonValue } from "../db/migrate.ts";
import { DroverError } from "@drover/shared/errors";
import type { TokenIssuer } from "../auth/tokens.ts";
import type { ArchiveRequest } from "../nodes/agent-links.ts";

const log = logger("peers");

/** How often a controller says it lives (and reads which others do). */
const SEEN_EVERY_MS = 1000;
/** A controller not seen for this long is taken for dead: nodes it held are not placed on. */
export const PEER_TIMEOUT_MS = 5000;
/** NOTIFY takes at most 8000 bytes: larger notes are split (runs) or refused (other messages). */
const MAX_NOTE = 7900;
/** A note for a node that moved is passed on to its new holder at most this many times. */
const MAX_HOPS = 2;

/**
 * What one controller asks another (on that one's LISTEN channel): send a message to an agent
 * whose stream it holds, start jobs dispatched to such a node (read back from the database:
 * what a job needs may not fit in a note), or close a node's stream.
 */
/** A job dispatched to a node: [job id, attempt, node]. */
export type Dispatch = [number, number, string];

type Note =
  | { k: "send"; node: string; m: string; hops?: number }
  | { k: "run"; jobs: Dispatch[]; hops?: number }
  | { k: "disconnect"; node: string; reason: string; hops?: number };

/** The LISTEN channel of a controller (an identifier: letters, digits and _). */
export function channelOf(controllerId: string): string {
  return `drover_ctl_${controllerId.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);
}

/**
 * The other controllers sharing this Postgres, and the way to reach the agents they hold. Each
 * controller writes itself into `controllers` and refreshes its row every second; it LISTENs on
 * a channel of its own, on which the others NOTIFY it of what its agents must be sent. A note
 * sent inside a transaction is delivered only when it commits — a job dispatched to another
 * controller's node reaches it only if the dispatch stands. There is no polling for work: a
 * note arrives within milliseconds of the commit.
 */
export class Peers {
  private alive = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private listening: { unlisten(): Promise<void> } | undefined;
  private refreshing = false;

  constructor(
    private readonly core: Core,
    private readonly database: Database,
    readonly me: { id: string; httpUrl: string; grpcAddress: string },
    /** how this controller proves itself to the others (job files through them), and the CA of their HTTPS */
    private readonly reach: { tokens?: TokenIssuer; ca?: string } = {},
  ) {}

  private peerToken: { token: string; until: number } | undefined;

  /**
   * Something of a job's directory from a node another live controller holds, through that
   * controller (POST /cluster/peer/job-archive, see api/drover/controller-routes.ts);
   * undefined when no other controller holds the node.
   */
  async openArchive(nodeId: string, jobId: number, attempt: number, what: ArchiveRequest): Promise<ReadableStream<Uint8Array> | undefined> {
    const url = await this.urlOfHolder(nodeId);
    if (!url || !this.reach.tokens) return undefined;
    // (issued for two minutes, used for one)
    if (!this.peerToken || this.peerToken.until < now()) this.peerToken = { token: await this.reach.tokens.issuePeer(this.me.id), until: now() + 60_000 };
    const res = await fetch(`${url}/cluster/peer/job-archive`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.peerToken.token}`, "content-type": "application/json" },
      body: JSON.stringify({ node: nodeId, jobId, attempt, ...what }),
      ...(this.reach.ca ? { tls: { ca: this.reach.ca } } : {}),
    }).catch((e: Error) => {
      throw new DroverError("unavailable", `Node ${nodeId}, which holds job ${jobId}'s directory, is connected to the controller at ${url}, which could not be reached: ${e.message}`);
    });
    if (res.ok && res.body) return res.body;
    // (the holder's own words: its error body is MWS's shape, {"messages": [...]})
    const text = await res.text();
    let said = text.slice(0, 500);
    try {
      said = ((JSON.parse(text) as { messages?: string[] }).messages ?? [said]).join("; ");
    } catch {}
    throw new DroverError(res.status === 404 ? "not_found" : "unavailable", said);
  }

  async start(): Promise<void> {
    await this.core.db.execute(sql`
      insert into controllers (id, http_url, grpc_address, hostname) values (${this.me.id}, ${this.me.httpUrl}, ${this.me.grpcAddress}, ${hostname()})
      on conflict (id) do update set http_url = excluded.http_url, grpc_address = excluded.grpc_address, seen_at = now()`);
    if (this.database.listen) this.listening = await this.database.listen(channelOf(this.me.id), (payload) => void this.receive(payload));
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), SEEN_EVERY_MS);
  }

  /** Says this controller lives, and learns which others do. */
  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const [, others] = await Promise.all([
        this.core.db.execute(sql`update controllers set seen_at = now() where id = ${this.me.id}`),
        this.core.db.execute(sql`select id from controllers where id <> ${this.me.id} and seen_at > now() - make_interval(secs => ${PEER_TIMEOUT_MS / 1000})`),
      ]);
      this.alive = new Set(rowsOf<{ id: string }>(others).map((r) => r.id));
      // the rows of controllers gone for an hour are forgotten (by the leader: once)
      if (this.core.leadership?.isLeader()) await this.core.db.execute(sql`delete from controllers where seen_at < now() - interval '1 hour'`);
    } catch (e) {
      log.warn("cannot refresh this controller's row", { error: e });
    } finally {
      this.refreshing = false;
    }
  }

  /** True when other controllers live (whose nodes passes may place on). */
  get othersAlive(): boolean {
    return this.alive.size > 0;
  }

  /** True when another live controller holds this node's stream (so jobs may be placed there). */
  holdsElsewhere(controllerId: string | null): boolean {
    return controllerId !== null && controllerId !== this.me.id && this.alive.has(controllerId);
  }

  /** The live controller holding a node's stream other than this one, if any (read now). */
  async holderOf(nodeId: string): Promise<string | undefined> {
    const [row] = rowsOf<{ controller_id: string | null }>(await this.core.db.execute(sql`select controller_id from nodes where id = ${nodeId}`));
    return this.holdsElsewhere(row?.controller_id ?? null) ? row!.controller_id! : undefined;
  }

  /** The REST URL of the live controller holding a node's stream other than this one, if any. */
  async urlOfHolder(nodeId: string): Promise<string | undefined> {
    const [row] = rowsOf<{ id: string; http_url: string }>(
      await this.core.db.execute(sql`select c.id, c.http_url from nodes n join controllers c on c.id = n.controller_id where n.id = ${nodeId}`),
    );
    return row && this.holdsElsewhere(row.id) ? row.http_url : undefined;
  }

  /** Passes a message for a node's agent to the controller holding its stream; false when none does. */
  async forward(nodeId: string, message: ControllerMessage, hops = 0): Promise<boolean> {
    const holder = await this.holderOf(nodeId);
    if (!holder) return false;
    const note: Note = { k: "send", node: nodeId, m: Buffer.from(encodeControllerMessage(message)).toString("base64"), hops };
    const payload = JSON.stringify(note);
    if (payload.length > MAX_NOTE && message.body.case === "run") {
      // (a job's run read back from the database by the holder, as dispatches to its nodes are)
      const run = message.body.value;
      await this.notify(holder, JSON.stringify({ k: "run", jobs: [[Number(run.jobId), run.attempt, nodeId]], hops } satisfies Note));
      return true;
    }
    if (payload.length > MAX_NOTE) {
      log.warn("a message for a node held by another controller is too large to pass on; the node will have it when it reconnects", { node: nodeId, bytes: payload.length });
      return false;
    }
    await this.notify(holder, payload);
    return true;
  }

  /** Asks the holder of a node to close its stream. */
  async disconnect(nodeId: string, reason: string, hops = 0): Promise<void> {
    const holder = await this.holderOf(nodeId);
    if (holder) await this.notify(holder, JSON.stringify({ k: "disconnect", node: nodeId, reason, hops } satisfies Note));
  }

  /**
   * Inside a dispatch's transaction: tells each node's holder which jobs to start there (the
   * notes leave when the transaction commits), one note per holder as far as NOTIFY allows.
   * holders: node → the controller holding its stream.
   */
  async notifyRuns(tx: Tx, holders: Map<string, string>, dispatches: Dispatch[], hops = 0): Promise<void> {
    const byHolder = new Map<string, Dispatch[]>();
    for (const d of dispatches) {
      const holder = holders.get(d[2]);
      if (!holder) continue;
      const list = byHolder.get(holder);
      if (list) list.push(d);
      else byHolder.set(holder, [d]);
    }
    const notes: { channel: string; payload: string }[] = [];
    for (const [holder, list] of byHolder) {
      let chunk: Dispatch[] = [];
      let bytes = 0;
      const push = () => {
        if (chunk.length) notes.push({ channel: channelOf(holder), payload: JSON.stringify({ k: "run", jobs: chunk, hops } satisfies Note) });
        chunk = [];
        bytes = 0;
      };
      for (const d of list) {
        const size = JSON.stringify(d).length + 1;
        if (bytes + size > MAX_NOTE - 40) push();
        chunk.push(d);
        bytes += size;
      }
      push();
    }
    if (!notes.length) return;
    await tx.execute(sql`select pg_notify(n.channel, n.payload) from jsonb_to_recordset(${JSON.stringify(notes)}::jsonb) as n(channel text, payload text)`);
  }

  private async notify(holder: string, payload: string): Promise<void> {
    await this.core.db.execute(sql`select pg_notify(${channelOf(holder)}, ${payload})`);
  }

  /** A note from another controller. */
  private async receive(payload: string): Promise<void> {
    let note: Note;
    try {
      note = JSON.parse(payload) as Note;
    } catch {
      log.warn("ignoring a note that is not JSON", { bytes: payload.length });
      return;
    }
    try {
      const hops = (note.hops ?? 0) + 1;
      if (note.k === "run") return await this.startRuns(note.jobs, hops);
      const here = this.core.links.isConnected(note.node);
      if (note.k === "send") {
        const message = decodeControllerMessage(Buffer.from(note.m, "base64"));
        if (here) this.core.links.send(note.node, message);
        else if (hops <= MAX_HOPS) await this.forward(note.node, message, hops);
      } else if (note.k === "disconnect") {
        if (here) this.core.links.disconnect(note.node, note.reason);
        else if (hops <= MAX_HOPS) await this.disconnect(note.node, note.reason, hops);
      }
    } catch (e) {
      log.error("could not act on a note from another controller", { kind: note.k, error: e });
    }
  }

  /**
   * Sends the run messages of jobs another controller dispatched to nodes held here: those
   * still dispatching there, in the attempt it dispatched (one released or cancelled meanwhile
   * is not started). Jobs of a node that moved on are passed to its new holder; of a node held
   * nowhere, left for its next registration (its reconciliation releases what it never got).
   */
  private async startRuns(dispatches: Dispatch[], hops: number): Promise<void> {
    const away = dispatches.filter(([, , node]) => !this.core.links.isConnected(node));
    if (away.length && hops <= MAX_HOPS) {
      await this.core.db.transaction(async (tx) => {
        const nodes = [...new Set(away.map(([, , node]) => node))];
        const rows = rowsOf<{ id: string; controller_id: string | null }>(
          await tx.execute(sql`select id, controller_id from nodes where id = any(${`{${nodes.map((n) => JSON.stringify(n)).join(",")}}`}::text[]) order by id for share`),
        );
        const holders = new Map(rows.filter((r) => this.holdsElsewhere(r.controller_id)).map((r) => [r.id, r.controller_id!]));
        await this.notifyRuns(tx, holders, away, hops);
      });
    }
    const here = dispatches.filter(([, , node]) => this.core.links.isConnected(node));
    if (!here.length) return;
    const wanted = new Map(here.map(([id, attempt, node]) => [id, { attempt, node }]));
    const [rows, unixUsers] = await Promise.all([
      this.core.db
        .execute(sql`select ${DISPATCHED_COLUMNS}, j.node_id, j.allocated_nodes from jobs j where j.id = any(${`{${[...wanted.keys()].join(",")}}`}::bigint[]) and j.state = 'dispatching'`)
        .then((r) => rowsOf<DispatchedRow & { node_id: string; allocated_nodes: unknown }>(r)),
      readUnixUsers(this.core.db),
    ]);
    log.debug("starting jobs another controller dispatched to nodes held here", { jobs: here.length, dispatching: rows.length });
    for (const r of rows) {
      const w = wanted.get(Number(r.id));
      if (!w || w.attempt !== r.attempt || w.node !== r.node_id) continue;
      this.core.links.send(w.node, runMessage(dispatchedJobOf(r, unixUsers), jsonValue<Allocation[]>(r.allocated_nodes)));
    }
  }

  /** Stops listening and takes this controller out of the list. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.listening?.unlisten().catch(() => {});
    await this.core.db.execute(sql`delete from controllers where id = ${this.me.id}`).catch(() => {});
  }
}

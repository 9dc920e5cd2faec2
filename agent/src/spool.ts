import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { AgentMessageSchema, type AgentMessage } from "@drover/proto/service";
import { logger } from "@drover/shared/log";

const log = logger("agent");
const noRoom = (e: unknown) => ["ENOSPC", "EDQUOT"].includes((e as NodeJS.ErrnoException).code ?? "");

/** Samples kept at most while the controller is away; job events are never dropped. */
const MAX_SPOOLED_SAMPLE_BATCHES = 5000;

/** The body of an agent message, as a plain object. */
export type AgentBody = NonNullable<MessageInitShape<typeof AgentMessageSchema>["body"]>;

/** A spooled message with its encoding (written to disk and sent as it is). */
export interface SpoolEntry {
  seq: bigint;
  message: AgentMessage;
  bytes: Uint8Array;
}

/**
 * Messages that must reach the controller (job events, samples), kept on disk until the
 * controller acknowledges them, so neither a disconnect nor an agent restart loses one.
 * Each line of spool.jsonl is {"seq":"12","m":"<base64 protobuf>"}.
 */
export class Spool {
  private entries: SpoolEntry[] = [];
  private nextSeq = 1n;
  private readonly file: string;
  private acksSinceCompaction = 0;
  /** spool.jsonl, open for appending (reopened after each compaction replaces the file) */
  private fd: number | undefined;
  /** lines of appended messages not yet written: see sync */
  private unwritten: string[] = [];

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, "spool.jsonl");
    if (existsSync(this.file)) {
      for (const line of readFileSync(this.file, "utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          const { seq, m } = JSON.parse(line) as { seq: string; m: string };
          const bytes = new Uint8Array(Buffer.from(m, "base64"));
          const entry = { seq: BigInt(seq), message: fromBinary(AgentMessageSchema, bytes), bytes };
          this.entries.push(entry);
          if (entry.seq >= this.nextSeq) this.nextSeq = entry.seq + 1n;
        } catch {
          // a line cut short by a crash while it was written: everything before it is intact
        }
      }
    }
  }

  /**
   * Keeps a message and returns it with its sequence number. It is on disk after the next
   * sync(), which must come before it is sent.
   */
  append(body: AgentBody): AgentMessage {
    const message = create(AgentMessageSchema, { seq: this.nextSeq++, body });
    if (message.body.case === "samples") this.dropOldSamples();
    const entry = { seq: message.seq, message, bytes: toBinary(AgentMessageSchema, message) };
    this.entries.push(entry);
    this.unwritten.push(line(entry));
    return message;
  }

  /**
   * Writes what was appended since the last sync, in one write (the agent syncs once per turn of
   * its event loop). On a full disk the messages stay in memory, still sent and delivered — only a
   * crash before the disk has room again would lose them — and are written by a later sync.
   */
  sync(): void {
    if (!this.unwritten.length) return;
    const bytes = Buffer.from(this.unwritten.join(""));
    try {
      this.fd ??= openSync(this.file, "a", 0o600);
      const written = writeSync(this.fd, bytes);
      // what did not fit waits (the file ends inside a line until it is written)
      this.unwritten = written < bytes.length ? [bytes.subarray(written).toString()] : [];
      if (written < bytes.length) throw Object.assign(new Error("short write"), { code: "ENOSPC" });
      if (this.diskFull) {
        this.diskFull = false;
        log.info("the spool is written to disk again");
      }
    } catch (e) {
      if (!noRoom(e)) throw e;
      if (!this.diskFull) log.warn("the agent's data directory is full: job events are kept in memory until it has room", { file: this.file });
      this.diskFull = true;
    }
  }

  /** true while the last write failed for want of space */
  private diskFull = false;

  /** The controller stored everything up to seq. */
  ack(seq: bigint): void {
    // entries are in seq order: the acknowledged ones are at the start
    let acked = 0;
    while (acked < this.entries.length && this.entries[acked]!.seq <= seq) acked++;
    if (!acked) return;
    this.entries.splice(0, acked);
    if (this.entries.length === 0) this.truncate();
    else if (++this.acksSinceCompaction >= 50) this.compact();
  }

  /** Everything was acknowledged (and so written): the file is emptied in place, one system call. */
  private truncate(): void {
    this.acksSinceCompaction = 0;
    if (this.fd !== undefined) ftruncateSync(this.fd, 0);
    else writeFileSync(this.file, "", { mode: 0o600 });
  }

  /** Unacknowledged messages with seq greater than `after`, oldest first. */
  pendingAfter(after: bigint): SpoolEntry[] {
    // entries are in seq order: the new ones are at the end
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1]!.seq > after) i--;
    return this.entries.slice(i);
  }

  /** Jobs whose end is recorded here but not yet acknowledged. */
  unacknowledgedFinishes(): { jobId: bigint; attempt: number }[] {
    return this.entries.flatMap((e) =>
      e.message.body.case === "jobFinished" ? [{ jobId: e.message.body.value.jobId, attempt: e.message.body.value.attempt }] : [],
    );
  }

  get size(): number {
    return this.entries.length;
  }

  private dropOldSamples(): void {
    const samples = this.entries.filter((e) => e.message.body.case === "samples");
    if (samples.length < MAX_SPOOLED_SAMPLE_BATCHES) return;
    const oldest = samples[0]!;
    this.entries = this.entries.filter((e) => e !== oldest);
  }

  /** Rewrites the file with only the unacknowledged entries (atomically, via rename). */
  private compact(): void {
    this.acksSinceCompaction = 0;
    const tmp = `${this.file}.tmp`;
    try {
      writeFileSync(tmp, this.entries.map(line).join(""), { mode: 0o600 });
    } catch (e) {
      // no room for the compacted copy: the spool stays as it is
      rmSync(tmp, { force: true });
      if (noRoom(e)) return;
      throw e;
    }
    renameSync(tmp, this.file);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.unwritten = []; // every entry is in the new file
  }
}

/** A message as a line of spool.jsonl. */
function line(entry: SpoolEntry): string {
  return JSON.stringify({ seq: String(entry.seq), m: Buffer.from(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.byteLength).toString("base64") }) + "\n";
}

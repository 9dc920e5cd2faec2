import { logger } from "@drover/shared/log";
import { create, ControllerMessageSchema, ArchiveJob_Format, type ArchiveChunk, type ControllerMessage } from "@drover/proto/service";

/** What to send of a job's directory: all of it as a tar.gz, or some of its files as a zip, or one file. */
export interface ArchiveRequest {
  /** the archive's top directory (tar.gz: required; zip: optional) */
  top: string;
  format?: ArchiveJob_Format;
  /** with zip or file: paths relative to the run's working directory */
  paths?: string[];
  /** the run's working directory when it is not the job's own directory on the node */
  directory?: string;
}

const log = logger("nodes");

/** An archive asked of a node, until its last piece arrives. */
interface PendingArchive {
  nodeId: string;
  first: boolean;
  resolve: (stream: ReadableStream<Uint8Array>) => void;
  reject: (e: Error) => void;
  stream: ReadableStream<Uint8Array>;
  controller: ReadableStreamDefaultController<Uint8Array>;
  timer: ReturnType<typeof setTimeout>;
}

/** A node that has not begun an archive after this long has failed to. */
const ARCHIVE_START_MS = 30_000;

/** A connected agent's stream, as the core sees it: something to send messages to. */
export interface AgentLink {
  nodeId: string;
  send(message: ControllerMessage): void;
  close(reason: string): void;
  /** how many of the node's jobs ended per second lately */
  endsPerSecond?(): number;
  /** the agent token it connected with */
  tokenId?: number;
}

/** How messages reach agents connected to other controllers on the same database (see peers/peers.ts). */
export interface PeerRelay {
  forward(nodeId: string, message: ControllerMessage): Promise<boolean>;
  disconnect(nodeId: string, reason: string): Promise<void>;
  holderOf(nodeId: string): Promise<string | undefined>;
}

/**
 * The agents connected to this controller, by node id; a message for a node connected to
 * another controller is relayed through it.
 */
export class AgentLinks {
  private links = new Map<string, AgentLink>();
  /** set when other controllers may share the database */
  relay: PeerRelay | undefined;
  /** called when a node's stream ends here (its row then says no controller holds it) */
  onDetach: ((nodeId: string) => void) | undefined;
  private archives = new Map<bigint, PendingArchive>();
  private nextArchive = 1n;

  attach(link: AgentLink): void {
    const previous = this.links.get(link.nodeId);
    if (previous && previous !== link) previous.close("a newer connection from the same node replaced this one");
    this.links.set(link.nodeId, link);
  }

  detach(link: AgentLink): void {
    if (this.links.get(link.nodeId) !== link) return;
    this.links.delete(link.nodeId);
    this.onDetach?.(link.nodeId);
    for (const [id, a] of this.archives) if (a.nodeId === link.nodeId) this.endArchive(id, a, new Error(`node ${link.nodeId} disconnected while sending the archive`));
  }

  /**
   * A job's directory (or some of its files) from its node as a stream, once the node has begun
   * to send it; rejects with the node's reason when it cannot (undefined: the node is not
   * connected here).
   */
  openArchive(nodeId: string, jobId: number, attempt: number, what: ArchiveRequest): Promise<ReadableStream<Uint8Array>> | undefined {
    if (!this.links.has(nodeId)) return undefined;
    const requestId = this.nextArchive++;
    return new Promise((resolve, reject) => {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
        },
        cancel: () => {
          const a = this.archives.get(requestId);
          if (a) clearTimeout(a.timer);
          this.archives.delete(requestId);
        },
      });
      const timer = setTimeout(() => {
        const a = this.archives.get(requestId);
        if (a?.first) this.endArchive(requestId, a, new Error(`node ${nodeId} did not begin sending the archive`));
      }, ARCHIVE_START_MS);
      this.archives.set(requestId, { nodeId, first: true, resolve, reject, stream, controller, timer });
      this.send(nodeId, create(ControllerMessageSchema, { body: { case: "archiveJob", value: { requestId, jobId: BigInt(jobId), attempt, top: what.top, format: what.format ?? ArchiveJob_Format.TAR_GZ, paths: what.paths ?? [], directory: what.directory ?? "" } } }));
    });
  }

  /** A piece of an archive from a node. */
  deliverArchive(nodeId: string, chunk: ArchiveChunk): void {
    const a = this.archives.get(chunk.requestId);
    if (!a || a.nodeId !== nodeId) return;
    if (chunk.error) return this.endArchive(chunk.requestId, a, new Error(chunk.error));
    if (chunk.data.byteLength) a.controller.enqueue(chunk.data);
    if (a.first) {
      a.first = false;
      clearTimeout(a.timer);
      a.resolve(a.stream);
    }
    if (chunk.last) {
      this.archives.delete(chunk.requestId);
      a.controller.close();
    }
  }

  private endArchive(id: bigint, a: PendingArchive, e: Error): void {
    clearTimeout(a.timer);
    this.archives.delete(id);
    if (a.first) a.reject(e);
    else a.controller.error(e);
  }

  /**
   * Sends to a node's agent: here, or through the controller holding its stream. A node held
   * nowhere gets what it must know when it registers again (see reconcileNode).
   */
  send(nodeId: string, message: ControllerMessage): void {
    const link = this.links.get(nodeId);
    if (link) return link.send(message);
    this.relay?.forward(nodeId, message).catch((e) => log.warn("could not pass a message to the controller holding the node", { node: nodeId, error: e }));
  }

  /** True when the node's agent is connected here or to another live controller. */
  async reachable(nodeId: string): Promise<boolean> {
    return this.links.has(nodeId) || (!!this.relay && (await this.relay.holderOf(nodeId)) !== undefined);
  }

  /** Closes the streams of agents that connected with a token (it was revoked); returns their nodes. */
  disconnectToken(tokenId: number, reason: string): string[] {
    const cut = [...this.links.values()].filter((l) => l.tokenId === tokenId);
    for (const l of cut) l.close(reason);
    return cut.map((l) => l.nodeId);
  }

  /** Closes a node's stream, here or where it is held. */
  disconnect(nodeId: string, reason: string): void {
    const link = this.links.get(nodeId);
    if (link) return link.close(reason);
    this.relay?.disconnect(nodeId, reason).catch((e) => log.warn("could not ask the controller holding the node to close its stream", { node: nodeId, error: e }));
  }

  /** How many of a node's jobs ended per second lately (0 when it is not connected here). */
  endsPerSecond(nodeId: string): number {
    return this.links.get(nodeId)?.endsPerSecond?.() ?? 0;
  }

  isConnected(nodeId: string): boolean {
    return this.links.has(nodeId);
  }

  connectedNodeIds(): string[] {
    return [...this.links.keys()];
  }

  closeAll(reason: string): void {
    for (const link of this.links.values()) link.close(reason);
    this.links.clear();
  }
}

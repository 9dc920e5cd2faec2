import type { ControllerMessage } from "@drover/proto/service";

/** A connected agent's stream, as the core sees it: something to send messages to. */
export interface AgentLink {
  nodeId: string;
  send(message: ControllerMessage): void;
  close(reason: string): void;
  /** how many of the node's jobs ended per second lately */
  endsPerSecond?(): number;
}

/** The agents connected to this controller, by node id. */
export class AgentLinks {
  private links = new Map<string, AgentLink>();

  attach(link: AgentLink): void {
    const previous = this.links.get(link.nodeId);
    if (previous && previous !== link) previous.close("a newer connection from the same node replaced this one");
    this.links.set(link.nodeId, link);
  }

  detach(link: AgentLink): void {
    if (this.links.get(link.nodeId) === link) this.links.delete(link.nodeId);
  }

  /** Sends to a node's agent; false when it is not connected here. */
  send(nodeId: string, message: ControllerMessage): boolean {
    const link = this.links.get(nodeId);
    if (!link) return false;
    link.send(message);
    return true;
  }

  /** Closes a node's stream, if it has one here. */
  disconnect(nodeId: string, reason: string): void {
    this.links.get(nodeId)?.close(reason);
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

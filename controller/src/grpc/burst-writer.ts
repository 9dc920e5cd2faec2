import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import type { Tx } from "../jobs/job-events.ts";
import { BUSY } from "../scheduler/scheduler.ts";
import type { Sample } from "@drover/proto/service";
import { recordSamplesOfNodes } from "../nodes/node-samples.ts";
import { applyJobEventsOfNodes, type JobEventBurst } from "../jobs/agent-events.ts";
import { recordWarnings } from "../scheduler/warnings.ts";

const log = logger("grpc");

/** A node's burst of job events (see AgentSession), and the warnings it gives rise to. */
export interface NodeBurst {
  nodeId: string;
  burst: JobEventBurst;
  warnings: string[];
  /** how many job events it holds */
  events: number;
}

interface Pending {
  burst: NodeBurst;
  /** samples of a node, stored with every other node's of the batch in two statements */
  samples?: { nodeId: string; samples: Sample[] };
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Writes what the connected agents sent, for all of them in one transaction per batch window
 * when under load (the last batch held BUSY job events or more; group commit): every agent's
 * burst would otherwise cost a commit of its own.
 * A write that fails is retried alone, so one node's bad message holds up no other node.
 */
export class BurstWriter {
  private waiting: Pending[] = [];
  private running = false;
  private lastAt = -Infinity;
  private lastEvents = 0;

  constructor(private readonly core: Core) {}

  /** Resolves once the burst (and the node's samples) is committed (or rejects with why it could not be). */
  write(burst: NodeBurst, samples?: { nodeId: string; samples: Sample[] }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ burst, resolve, reject, samples });
      void this.run();
    });
  }

  /** The bursts of a batch, in one go (applyJobEventsOfNodes), with the nodes' samples. */
  private async store(tx: Tx, group: Pending[]): Promise<void> {
    const bursts = group.filter((p) => p.burst.events).map((p) => p.burst);
    if (bursts.length) await applyJobEventsOfNodes(tx, bursts, { retryDelayMs: this.core.config.scheduler.retryDelayMs });
    const warnings = bursts.flatMap((b) => b.warnings);
    if (warnings.length) await recordWarnings(tx, warnings);
    await recordSamplesOfNodes(tx, group.flatMap((p) => (p.samples ? [p.samples] : [])));
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length) {
        // only under load: after a small batch the next one is written at once (latency first)
        const wait = this.lastEvents >= BUSY ? this.lastAt + this.core.config.scheduler.batchWindowMs - performance.now() : 0;
        if (wait > 0) await Bun.sleep(wait);
        this.lastAt = performance.now();
        const group = this.waiting.splice(0, this.waiting.length);
        this.lastEvents = group.reduce((sum, p) => sum + p.burst.events, 0);
        try {
          await this.core.db.transaction((tx) => this.store(tx, group));
          for (const p of group) p.resolve();
        } catch (e) {
          if (group.length > 1) log.warn("a batch of agent messages could not be stored; storing each node's alone", { error: e });
          for (const p of group) {
            try {
              await this.core.db.transaction((tx) => this.store(tx, [p]));
              p.resolve();
            } catch (e) {
              p.reject(e);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}

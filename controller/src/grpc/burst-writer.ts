import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import type { Tx } from "../jobs/job-events.ts";
import { BUSY } from "../scheduler/scheduler.ts";
import type { Sample } from "@drover/proto/service";
import { recordSamplesOfNodes } from "../nodes/node-samples.ts";

const log = logger("grpc");

interface Pending {
  write: (tx: Tx) => Promise<void>;
  /** samples of a node, stored with every other node's of the batch in two statements */
  samples?: { nodeId: string; samples: Sample[] };
  /** how many job events it holds */
  events: number;
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

  /** Resolves once `write` (of `events` job events) is committed (or rejects with why it could not be). */
  write(events: number, write: (tx: Tx) => Promise<void>, samples?: { nodeId: string; samples: Sample[] }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ write, events, resolve, reject, samples });
      void this.run();
    });
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
        this.lastEvents = group.reduce((sum, p) => sum + p.events, 0);
        try {
          await this.core.db.transaction(async (tx) => {
            for (const p of group) await p.write(tx);
            await recordSamplesOfNodes(tx, group.flatMap((p) => (p.samples ? [p.samples] : [])));
          });
          for (const p of group) p.resolve();
        } catch (e) {
          if (group.length > 1) log.warn("a batch of agent messages could not be stored; storing each node's alone", { error: e });
          for (const p of group) {
            try {
              await this.core.db.transaction(async (tx) => {
                await p.write(tx);
                if (p.samples) await recordSamplesOfNodes(tx, [p.samples]);
              });
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

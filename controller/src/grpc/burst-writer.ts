import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import type { Tx } from "../jobs/job-events.ts";
import { BUSY } from "../scheduler/scheduler.ts";

const log = logger("grpc");

interface Pending {
  write: (tx: Tx) => Promise<void>;
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
  write(events: number, write: (tx: Tx) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ write, events, resolve, reject });
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
          });
          for (const p of group) p.resolve();
        } catch (e) {
          if (group.length > 1) log.warn("a batch of agent messages could not be stored; storing each node's alone", { error: e });
          for (const p of group) {
            try {
              await this.core.db.transaction((tx) => p.write(tx));
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

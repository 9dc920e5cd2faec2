import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { PASS_SIZE, schedulePass } from "./schedule-pass.ts";

const log = logger("scheduler");

/** A pass (or a burst of agent events) this large means load: the next one waits for the batch window. */
export const BUSY = 8;

/**
 * After a pass that placed nothing, the next waits this long from its start: a burst of
 * submissions to a full (or nodeless) cluster made a pass per submission, each for nothing.
 */
const IDLE_GAP_MS = 10;

/** How often, at most, the reasons why queued jobs wait are brought up to date. */
const REASONS_EVERY_MS = 1000;
/** How often, at most, a pass looks deep down the queue for jobs to backfill. */
const BACKFILL_EVERY_MS = 1000;

/**
 * Runs scheduling passes: soon after every kick (coalesced, never two at once) and on a
 * timer, so that time-based conditions (earliest start) are noticed too. Under load (the last
 * pass placed BUSY jobs or more) a kick that comes within the batch window of the last pass
 * waits for the window to close: one pass then places everything that finished meanwhile,
 * instead of a pass per finished job. A lightly loaded cluster is answered at once.
 */
export class Scheduler {
  private running = false;
  private again = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();
  private lastPassAt = -Infinity;
  private reasonsWrittenAt = -Infinity;
  private backfilledAt = -Infinity;
  private lastPassPlaced = 0;

  constructor(private readonly core: () => Core) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        // under load the batch window; after a pass that placed nothing, a short gap; else at once (latency first)
        const gap = this.lastPassPlaced >= BUSY ? this.core().config.scheduler.batchWindowMs : this.lastPassPlaced === 0 ? IDLE_GAP_MS : 0;
        const wait = this.lastPassAt + gap - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        if (this.stopped) return;
        this.again = false;
        this.lastPassAt = performance.now();
        try {
          // While jobs keep flowing the head of the queue changes with every pass: why it waits
          // is written at most once a second (else nearly every job would be written once more
          // just to say that it waits, a moment before it starts).
          const writeReasons = this.lastPassAt - this.reasonsWrittenAt >= REASONS_EVERY_MS;
          if (writeReasons) this.reasonsWrittenAt = this.lastPassAt;
          const backfill = this.lastPassAt - this.backfilledAt >= BACKFILL_EVERY_MS;
          if (backfill) this.backfilledAt = this.lastPassAt;
          const started = performance.now();
          const n = await schedulePass(this.core(), { writeReasons, backfill });
          this.core().metrics?.passSeconds.observe((performance.now() - started) / 1000);
          this.lastPassPlaced = n;
          // A full pass means more may be waiting: go round again (after the window).
          if (n >= PASS_SIZE) this.again = true;
        } catch (e) {
          if (this.stopped) return;
          log.error("scheduling pass failed", { error: e });
        }
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle;
  }
}

import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { schedulePass } from "./schedule-pass.ts";

const log = logger("scheduler");

/**
 * Runs scheduling passes: soon after every kick (coalesced, never two at once) and on a
 * timer, so that time-based conditions (earliest start) are noticed too.
 */
export class Scheduler {
  private running = false;
  private again = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

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
        this.again = false;
        try {
          // A full pass means more may be waiting: go round again at once.
          const n = await schedulePass(this.core());
          if (n >= 1000) this.again = true;
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

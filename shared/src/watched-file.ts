import { existsSync, readFileSync, statSync } from "node:fs";
import { logger } from "./log.ts";

const log = logger("settings");

/**
 * A file an administrator keeps (queues, standing reservations), parsed again when it changes
 * (looked at most once a second). A missing file is `empty`; one that does not parse is logged
 * and what was read before it stays.
 */
export class WatchedFile<T> {
  private value: T;
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(
    readonly file: string,
    private readonly what: string,
    private readonly parseText: (text: string) => T,
    private readonly empty: () => T,
    private readonly describe: (value: T) => Record<string, string>,
  ) {
    this.value = empty();
  }

  current(): T {
    const t = Date.now();
    if (t - this.checkedAt < 1000) return this.value;
    this.checkedAt = t;
    const mtimeMs = existsSync(this.file) ? statSync(this.file).mtimeMs : 0;
    if (mtimeMs === this.mtimeMs) return this.value;
    this.mtimeMs = mtimeMs;
    if (!mtimeMs) return (this.value = this.empty());
    try {
      this.value = this.parseText(readFileSync(this.file, "utf8"));
      log.info(`${this.what} loaded`, { file: this.file, ...this.describe(this.value) });
    } catch (e) {
      log.error(`${this.what} not loaded; what was read before stays`, { file: this.file, error: (e as Error).message });
    }
    return this.value;
  }
}

import { fstatSync, readSync } from "node:fs";

/** A line a job prints to stdout to report its progress: "PROGRESS: 40% of the frames done". */
export const PROGRESS_LINE = /^PROGRESS:[ \t]?(.*)$/;
/** Progress reports kept per run; later ones are dropped (a loop printing them stays cheap). */
export const MAX_PROGRESS_PER_RUN = 1000;
/** The longest progress message kept; the rest is cut. */
const MAX_MESSAGE = 1000;
/** At most this much new output is read at one look (the rest on the next). */
const READ_AT_ONCE = 256 * 1024;

export interface Progress {
  message: string;
  atMs: number;
}

/**
 * Follows a job's stdout file for progress lines, reading only what was added since the last
 * look. A line is taken once it is complete (ends with a newline), or at the end of the run.
 */
export class ProgressScanner {
  private offset = 0;
  private partial = "";
  private found = 0;

  /** The progress lines completed since the last call; `final` takes an unterminated last line too. */
  scan(fd: number, final = false, at = Date.now()): Progress[] {
    if (fd < 0 || this.found >= MAX_PROGRESS_PER_RUN) return [];
    const size = fstatSync(fd).size;
    const out: Progress[] = [];
    while (this.offset < size && this.found < MAX_PROGRESS_PER_RUN) {
      const len = Math.min(size - this.offset, READ_AT_ONCE);
      const buf = Buffer.alloc(len);
      const read = readSync(fd, buf, 0, len, this.offset);
      if (read <= 0) break;
      this.offset += read;
      const lines = (this.partial + buf.toString("utf8", 0, read)).split("\n");
      this.partial = lines.pop()!.slice(-MAX_MESSAGE * 2);
      for (const line of lines) this.take(line, at, out);
      if (!final) break;
    }
    if (final && this.partial) {
      this.take(this.partial, at, out);
      this.partial = "";
    }
    return out;
  }

  private take(line: string, at: number, out: Progress[]): void {
    const m = PROGRESS_LINE.exec(line.replace(/\r$/, ""));
    if (!m || this.found >= MAX_PROGRESS_PER_RUN) return;
    this.found++;
    out.push({ message: m[1]!.slice(0, MAX_MESSAGE), atMs: at });
  }
}

import { createHash } from "node:crypto";
import { closeSync, constants, copyFileSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FileChunk, InputFile } from "@drover/proto/service";
import type { Account, RunAs } from "./run-as.ts";

/** How much of a file is asked for at once: the next window is asked for once this one is written. */
const WINDOW = 4 * 1024 * 1024;
/** A fetch with no chunk for this long fails (the controller went away, or the file did). */
const STALL_MS = 60_000;

interface Fetch {
  sha256: string;
  size: number;
  fd: number;
  part: string;
  /** bytes written so far (chunks come in order within the stream) */
  written: number;
  /** where the windows asked for so far end */
  asked: number;
  hash: ReturnType<typeof createHash>;
  done: Promise<string>;
  resolve: (path: string) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Brings stored files to this node through its own stream to the controller (FetchFile →
 * FileChunk), window by window, and keeps them in a cache named by content (DATA_DIR/cache/SHA-256),
 * so a file many jobs need crosses the network once. Each file is checked against its hash.
 */
export class FileFetcher {
  private readonly fetches = new Map<string, Fetch>();

  constructor(
    private readonly cacheDir: string,
    /** sends FetchFile (false when not connected) */
    private readonly ask: (sha256: string, offset: number, length: number) => boolean,
  ) {}

  /** The cached copy of a file, fetched first when the node does not have it. */
  fetch(file: Pick<InputFile, "sha256" | "sizeBytes">): Promise<string> {
    const sha256 = file.sha256;
    if (!/^[0-9a-f]{64}$/.test(sha256)) return Promise.reject(new Error(`"${sha256}" is not a SHA-256`));
    const cached = join(this.cacheDir, sha256);
    if (existsSync(cached)) return Promise.resolve(cached);
    const running = this.fetches.get(sha256);
    if (running) return running.done;
    mkdirSync(this.cacheDir, { recursive: true, mode: 0o700 });
    const part = join(this.cacheDir, `.${sha256}.${process.pid}.part`);
    let resolve!: (p: string) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
    const f: Fetch = { sha256, size: Number(file.sizeBytes), fd: openSync(part, "w", 0o600), part, written: 0, asked: 0, hash: createHash("sha256"), done, resolve, reject, timer: undefined };
    this.fetches.set(sha256, f);
    if (f.size === 0) this.finish(f);
    else {
      // two windows in flight: the next one is under way while this one is written
      this.askNext(f);
      this.askNext(f);
    }
    return done;
  }

  /** A chunk from the controller. */
  receive(chunk: FileChunk): void {
    const f = this.fetches.get(chunk.sha256);
    if (!f) return;
    if (chunk.error) return this.fail(f, new Error(chunk.error));
    if (Number(chunk.offset) !== f.written) return this.fail(f, new Error(`a chunk of ${f.sha256} came out of order`));
    writeSync(f.fd, chunk.data);
    f.hash.update(chunk.data);
    f.written += chunk.data.byteLength;
    if (f.written > f.size) return this.fail(f, new Error(`${f.sha256} is larger than announced`));
    if (f.written === f.size) return this.finish(f);
    if (f.written % WINDOW === 0) this.askNext(f);
    else this.armStall(f);
  }

  /** Every fetch under way fails (the stream to the controller is gone). */
  failAll(why: string): void {
    for (const f of [...this.fetches.values()]) this.fail(f, new Error(why));
  }

  private askNext(f: Fetch): void {
    if (f.asked < f.size) {
      const length = Math.min(WINDOW, f.size - f.asked);
      if (!this.ask(f.sha256, f.asked, length)) return this.fail(f, new Error("not connected to the controller"));
      f.asked += length;
    }
    this.armStall(f);
  }

  private armStall(f: Fetch): void {
    if (f.timer) clearTimeout(f.timer);
    f.timer = setTimeout(() => this.fail(f, new Error(`no data for ${STALL_MS / 1000} s`)), STALL_MS);
  }

  private finish(f: Fetch): void {
    this.close(f);
    const digest = f.hash.digest("hex");
    if (digest !== f.sha256) {
      rmSync(f.part, { force: true });
      return f.reject(new Error(`the file's content does not match its SHA-256 (${digest})`));
    }
    const cached = join(this.cacheDir, f.sha256);
    renameSync(f.part, cached);
    f.resolve(cached);
  }

  private fail(f: Fetch, e: Error): void {
    this.close(f);
    rmSync(f.part, { force: true });
    f.reject(e);
  }

  private close(f: Fetch): void {
    if (f.timer) clearTimeout(f.timer);
    this.fetches.delete(f.sha256);
    try {
      closeSync(f.fd);
    } catch {
      // closed already
    }
  }
}

/** An input's name must be a relative path inside the working directory (a workflow's files keep their directories). */
function checkInputName(name: string): void {
  if (!name || name.startsWith("/") || name.split("/").some((s) => s === "" || s === "." || s === "..")) throw new Error(`"${name}" is not a relative path inside the job's directory`);
}

/** Places a cached file into a job's working directory (a copy: the job may change it, the cache must not). */
export function placeInput(cached: string, dir: string, name: string): void {
  checkInputName(name);
  if (name.includes("/")) mkdirSync(dirname(join(dir, name)), { recursive: true, mode: 0o700 });
  copyFileSync(cached, join(dir, name), constants.COPYFILE_FICLONE);
}

/**
 * Places a cached file as the job's account: the agent (root) reads the cache, the account
 * writes the copy, so a name or directory the account has made a symbolic link cannot lead the
 * agent's own rights anywhere.
 */
export async function placeInputAs(runAs: RunAs, account: Account, cached: string, dir: string, name: string): Promise<void> {
  checkInputName(name);
  const script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"';
  const { code, stderr } = await runAs.run(account, ["/bin/sh", "-c", script, "sh", name], { cwd: dir, stdin: Bun.file(cached) });
  if (code !== 0) throw new Error(`could not be written as ${account.name}: ${stderr || `exit code ${code}`}`);
}

import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

// Where the command line finds its controller and token: --url, then DROVER_URL, then what
// `drover login` saved; DROVER_TOKEN overrides the saved token. The saved token is kept in a
// file only its owner can read (0600), under the user's configuration directory.

/** A failure the command reports in one line, with the exit code it ends with (1 failed, 2 usage). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export const DEFAULT_URL = "http://127.0.0.1:7070";

export interface Saved {
  url: string;
  token: string;
  username: string;
}

export function credentialsFile(env = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "drover", "credentials.json");
}

export function readSaved(env = process.env): Saved | undefined {
  const file = credentialsFile(env);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Saved;
  } catch {
    return undefined;
  }
}

export function save(saved: Saved, env = process.env): string {
  const file = credentialsFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(saved) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

export function forget(env = process.env): void {
  rmSync(credentialsFile(env), { force: true });
}

export interface Connection {
  url: string;
  token?: string;
  caFile?: string;
}

export function resolveConnection(flags: { url?: string }, env = process.env): Connection {
  const saved = readSaved(env);
  const url = (flags.url || env.DROVER_URL || saved?.url || DEFAULT_URL).replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw new CliError(`"${url}" is not a controller URL like http://host:7070 (--url or DROVER_URL)`, 2);
  // a saved token belongs to the controller it was issued by
  const token = env.DROVER_TOKEN || (saved && saved.url === url ? saved.token : undefined);
  return { url, token, caFile: env.DROVER_CA_FILE || undefined };
}

/** What an error body says, in the shapes drover's dialects answer with. */
function messageOf(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { messages?: string[]; message?: string; error?: string };
    const m = body.messages?.[0] ?? body.message ?? body.error;
    if (m) return m;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 300) || `HTTP ${status}`;
}

/** The controller's REST API, with errors a person can act on. */
export class Client {
  constructor(readonly conn: Connection) {}

  async request<T>(method: string, path: string, body?: unknown, opts: { anonymous?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (!opts.anonymous) {
      if (!this.conn.token) throw new CliError(`not logged in to ${this.conn.url}: run "drover login" (or set DROVER_TOKEN)`);
      headers.authorization = `Bearer ${this.conn.token}`;
    }
    let res: Response;
    try {
      res = await fetch(this.conn.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        ...(this.conn.caFile ? { tls: { ca: readFileSync(this.conn.caFile, "utf8") } } : {}),
      } as RequestInit);
    } catch (e) {
      const why = (e as { code?: string }).code ?? (e as Error).message;
      throw new CliError(`cannot reach the controller at ${this.conn.url} (${why}): is it running? Point at another with --url or DROVER_URL`);
    }
    const text = await res.text();
    if (res.status === 401 && !opts.anonymous) throw new CliError(`the controller at ${this.conn.url} refused the token (${messageOf(res.status, text)}): run "drover login" again`);
    if (!res.ok) throw new CliError(messageOf(res.status, text));
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

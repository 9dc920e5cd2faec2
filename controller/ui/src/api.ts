// How the dashboard talks to the controller: the same REST API as every client, with the
// user's token in sessionStorage (never in a URL) and the live events read with fetch (an
// EventSource cannot send the Authorization header).

export interface Me {
  username: string;
  role: "admin" | "user";
  expiresAt: number;
}

const KEY = "drover.token";
let token = sessionStorage.getItem(KEY) ?? "";
let onSignOut: (message: string) => void = () => {};

/** Whether a token is kept that has expired (the page then says so at sign-in). */
export function hadExpiredToken(): boolean {
  return !!token && currentUser() === null;
}

/** Who the stored token names, or null when there is none or it has expired. */
export function currentUser(): Me | null {
  if (!token) return null;
  try {
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { sub: string; role: Me["role"]; exp: number };
    if (payload.exp * 1000 <= Date.now()) return null;
    return { username: payload.sub, role: payload.role, expiresAt: payload.exp * 1000 };
  } catch {
    return null;
  }
}

export function whenSignedOut(handler: (message: string) => void): void {
  onSignOut = handler;
}

export function signOut(message = ""): void {
  token = "";
  sessionStorage.removeItem(KEY);
  onSignOut(message);
}

export async function signIn(username: string, password: string): Promise<Me> {
  const res = await fetch("/auth/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  if (!res.ok) throw new Error(res.status === 401 ? "Wrong username or password" : `Sign-in failed (${res.status})`);
  token = ((await res.json()) as { token: string }).token;
  sessionStorage.setItem(KEY, token);
  return currentUser()!;
}

/** The message of an error answer, in whichever dialect's shape it came. */
function messageOf(body: unknown, status: number): string {
  if (body && typeof body === "object") {
    const b = body as { messages?: string[]; message?: string; status?: string };
    if (Array.isArray(b.messages)) return b.messages.join("; ");
    if (typeof b.message === "string") return b.message;
    if (typeof b.status === "string") return b.status;
  }
  return `request failed (${status})`;
}

/** A JSON call with the user's token; an expired or revoked token returns to sign-in. */
export async function api<T>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${token}`, ...(init.json !== undefined ? { "content-type": "application/json" } : {}) },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (res.status === 401) {
    signOut("Your session has expired: sign in again.");
    throw new Error("signed out");
  }
  if (!res.ok) throw new Error(messageOf(body, res.status));
  return body as T;
}

export type LiveEvent =
  | { type: "job"; id: number; kind: string; state: string; owner: string; name: string; group: string; at: string }
  | { type: "node"; id: string; state: string; connected: boolean }
  | { type: "output"; id: number; state: string; stdout: string; stderr: string }
  | { type: "dropped"; count: number };

/**
 * Follows GET /events (optionally a job's output), calling `on` for each event, reconnecting
 * after a drop, until `signal` aborts.
 */
export async function follow(query: string, on: (e: LiveEvent) => void, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch(`/events${query}`, { headers: { authorization: `Bearer ${token}` }, signal });
      if (res.status === 401) return signOut("Your session has expired: sign in again.");
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) on({ ...(JSON.parse(data) as object), type } as LiveEvent);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** MWS dates ("2026-12-01 10:00:00 UTC") and ISO dates as milliseconds. */
export const parseDate = (text: string | null | undefined) => (text ? Date.parse(text.replace(/ UTC$/, "Z").replace(" ", "T")) : NaN);

export const mb = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${Math.round(bytes / 1024 ** 2)} MB`);

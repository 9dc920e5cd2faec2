// How the command line writes for people (tables, colour on a terminal) and for scripts (--json).

/** Colour only on a terminal, and never with NO_COLOR (https://no-color.org). */
export function useColour(stream: { isTTY?: boolean } = process.stdout, env = process.env): boolean {
  return !!stream.isTTY && env.NO_COLOR === undefined && env.TERM !== "dumb";
}

const CODES: Record<string, number> = { red: 31, green: 32, yellow: 33, blue: 34, grey: 90, bold: 1 };

export function paint(text: string, colour: keyof typeof CODES | undefined, on = useColour()): string {
  return on && colour ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text;
}

/** The colour of a job state or node state. */
export function stateColour(state: string): keyof typeof CODES | undefined {
  const s = state.toLowerCase();
  if (["completed", "idle", "up"].includes(s)) return "green";
  if (["failed", "lost", "down"].includes(s)) return "red";
  if (["running", "dispatching", "busy"].includes(s)) return "blue";
  if (["queued", "suspended", "drained", "draining", "cancelled"].includes(s)) return "yellow";
  return undefined;
}

const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;

/** A table with a header row, columns padded to their widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][], colour = useColour()): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - visible(c))))
      .join("  ")
      .trimEnd();
  return [paint(line(headers), "bold", colour), ...rows.map(line)].join("\n");
}

/** 3725000 ms → "1:02:05"; under an hour "2:05"; with days "1-02:00:00" (as squeue and sacct show time). */
export function clock(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "";
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const two = (n: number) => String(n).padStart(2, "0");
  if (d) return `${d}-${two(h)}:${two(m)}:${two(s)}`;
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** Bytes in K, M, G (binary), as sacct's MaxRSS. */
export function size(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "";
  const units = ["", "K", "M", "G", "T"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 10 || u === 0 ? Math.round(v) : v.toFixed(1)}${units[u]}`;
}

/** A local time as "2026-12-02 10:04:05". */
export function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

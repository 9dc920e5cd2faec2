import { CliError, type Client, forget, save } from "./connection.ts";

/** Reads a line from the terminal without echoing it (the password). */
async function readHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  let text = "";
  try {
    for await (const chunk of stdin) {
      for (const ch of String(chunk)) {
        if (ch === "\r" || ch === "\n") return text;
        if (ch === "\u0003") throw new CliError("cancelled", 1);
        if (ch === "\u007f" || ch === "\b") text = text.slice(0, -1);
        else text += ch;
      }
    }
    return text;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}

/** `drover login [--user U]`: the password from the terminal (not echoed) or the first line of stdin; the token is kept 0600. */
export async function login(client: Client, user: string | undefined, json: boolean): Promise<number> {
  const username = user || process.env.DROVER_USER || process.env.USER || "";
  if (!username) throw new CliError("say who you are: drover login --user NAME", 2);
  const password = process.stdin.isTTY ? await readHidden(`password for ${username} at ${client.conn.url}: `) : (await Bun.stdin.text()).split("\n")[0]!;
  if (!password) throw new CliError("no password given", 2);
  const { token, duration } = await client.request<{ token: string; duration: number }>("POST", "/auth/token", { username, password }, { anonymous: true }).catch((e) => {
    throw new CliError(`login as ${username} at ${client.conn.url} failed: ${(e as Error).message}`);
  });
  const file = save({ url: client.conn.url, token, username });
  if (json) process.stdout.write(JSON.stringify({ url: client.conn.url, username, expiresInMs: duration, file }) + "\n");
  else process.stdout.write(`logged in to ${client.conn.url} as ${username} (for ${Math.round(duration / 3_600_000)} h; token in ${file})\n`);
  return 0;
}

export function logout(): number {
  forget();
  process.stdout.write("logged out: the saved token is gone\n");
  return 0;
}

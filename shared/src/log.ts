/**
 * Structured one-line logging to stderr. Secrets never go through here: callers pass
 * fields explicitly, and any field whose name looks like a secret is masked.
 */
type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: Level = (process.env.DROVER_LOG_LEVEL as Level) in order ? (process.env.DROVER_LOG_LEVEL as Level) : "info";

const secretName = /pass(word)?|secret|token|authorization|cookie/i;

export function setLogLevel(level: Level): void {
  threshold = level;
}

/**
 * An error as a log line shows it. A failed database query carries the query's parameters
 * (job environments, passwords being hashed, …) in its message: only the database's own
 * complaint is shown.
 */
function describeError(e: Error): string {
  const q = e as Error & { query?: unknown; params?: unknown; cause?: unknown };
  if (q.query !== undefined && q.params !== undefined) {
    const cause = q.cause instanceof Error ? q.cause.message : "no cause given";
    return `database query failed: ${cause} (query: ${String(q.query).slice(0, 120)}…)`;
  }
  return e.stack ?? e.message;
}

/** syslog's priorities, which journald reads from a "<N>" at the start of each line. */
const syslogPriority: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };
/** Under systemd (stderr is the journal): no timestamp (journald keeps its own), and the level as a priority. */
const toJournal = !!process.env.JOURNAL_STREAM;

function emit(level: Level, component: string, message: string, fields?: Record<string, unknown>): void {
  if (order[level] < order[threshold]) return;
  let line = toJournal ? `${level.toUpperCase()} [${component}] ${message}` : `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${component}] ${message}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      const shown = secretName.test(key) ? "***" : value instanceof Error ? describeError(value) : value;
      line += ` ${key}=${typeof shown === "string" ? shown : JSON.stringify(shown)}`;
    }
  }
  // (each line of a stack keeps the priority)
  if (toJournal) line = `<${syslogPriority[level]}>` + line.replaceAll("\n", `\n<${syslogPriority[level]}>`);
  process.stderr.write(line + "\n");
}

/** A logger for one component ("http", "grpc", "agent", …). */
export function logger(component: string) {
  return {
    debug: (message: string, fields?: Record<string, unknown>) => emit("debug", component, message, fields),
    info: (message: string, fields?: Record<string, unknown>) => emit("info", component, message, fields),
    warn: (message: string, fields?: Record<string, unknown>) => emit("warn", component, message, fields),
    error: (message: string, fields?: Record<string, unknown>) => emit("error", component, message, fields),
  };
}
export type Logger = ReturnType<typeof logger>;

/**
 * A promise rejected with nobody to catch it is a bug, but one that must not take a server and
 * every connection with it down: it is logged with its stack, and the process carries on (its
 * state lives in the database and the agent's spool). An uncaught exception still ends the process,
 * logged first, for systemd to restart it.
 */
export function logUnhandledErrors(component: string): void {
  const log = logger(component);
  process.on("unhandledRejection", (reason) => {
    log.error("a promise was rejected and nothing caught it (a bug: please report it); carrying on", { error: reason instanceof Error ? reason : String(reason) });
  });
  process.on("uncaughtException", (e) => {
    log.error("uncaught exception (a bug: please report it); exiting", { error: e });
    process.exit(1);
  });
}

import { logger } from "@drover/shared/log";
import { postgresTarget, type Database } from "../db/connect.ts";

const log = logger("peers");

/** The session-level advisory lock whose holder leads: keys 7070 (drover's) and 4 (which lock), as pg_locks shows them. */
const LOCK_CHECK = `select case when exists (select 1 from pg_locks where locktype = 'advisory' and classid = 7070 and objid = 4 and objsubid = 2 and pid = pg_backend_pid() and granted)
  then true else pg_try_advisory_lock(7070, 4) end as leader`;
const CHECK_EVERY_MS = 1000;
/** A check that takes longer than this is a connection in trouble: the leadership is given up until one succeeds. */
const CHECK_TIMEOUT_MS = 3000;

/**
 * Which of the controllers sharing a database does the work that must happen once (liveness,
 * reservation upkeep, the workflow engine). On Postgres the leader is whichever holds a
 * session-level advisory lock on a connection of its own: when it dies, Postgres ends its
 * session and frees the lock, and the next controller to ask takes it (within a second). The
 * embedded database has one controller: it always leads.
 */
export class Leadership {
  private leader = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private client: import("postgres").Sql | undefined;
  private checking = false;

  constructor(
    private readonly database: Database,
    private readonly onChange: (leader: boolean) => Promise<void> | void = () => {},
  ) {}

  isLeader(): boolean {
    return this.leader;
  }

  async start(): Promise<void> {
    if (!this.database.url) return this.become(true);
    const { default: postgres } = await import("postgres");
    // one connection, never rotated (its end would free the lock) nor closed for idleness
    const target = postgresTarget(this.database.url);
    this.client = postgres(target.url, { ...target.options, max: 1, max_lifetime: null, idle_timeout: 0, connect_timeout: 5, onnotice: () => {}, connection: { application_name: "drover-leadership" } });
    await this.check();
    this.timer = setInterval(() => void this.check(), CHECK_EVERY_MS);
  }

  private async check(): Promise<void> {
    if (this.checking || !this.client) return;
    this.checking = true;
    try {
      const asked = this.client.unsafe(LOCK_CHECK);
      const timeout = Bun.sleep(CHECK_TIMEOUT_MS).then(() => undefined);
      const rows = await Promise.race([asked, timeout]);
      await this.become(rows ? rows[0]?.leader === true : false);
    } catch (e) {
      if (this.leader) log.warn("cannot reach the database to keep the leadership: giving it up until it answers", { error: e });
      await this.become(false);
    } finally {
      this.checking = false;
    }
  }

  private async become(leader: boolean): Promise<void> {
    if (leader === this.leader) return;
    this.leader = leader;
    log.info(leader ? "this controller now leads (reservation upkeep, workflows, the liveness of nodes no live controller holds)" : "this controller no longer leads");
    try {
      await this.onChange(leader);
    } catch (e) {
      log.warn("could not record the change of leadership", { error: e });
    }
  }

  /** Gives the leadership up (closing its connection frees the lock for another controller). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end({ timeout: 2 }).catch(() => {});
    await this.become(false);
  }
}

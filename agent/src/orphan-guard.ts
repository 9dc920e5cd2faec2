import type { FileSink, Subprocess } from "bun";
import { atEndOfTurn } from "@drover/shared/end-of-turn";
import { logger } from "@drover/shared/log";
import { KILL_MARKED, startedByBun } from "./escapees.ts";

const log = logger("agent");

// Reads "+ PGID" / "- PGID" lines; when its input closes — the agent is gone, however it went,
// kill -9 included — it kills every process group still listed (POSIX sh builtins), then every
// process carrying the agent's job marker ($1), those that left their group too.
const SCRIPT = `
groups=" "
while read -r op id; do
  case "$op" in
    +) groups="$groups$id " ;;
    -) case "$groups" in *" $id "*) groups="\${groups%% $id *} \${groups#* $id }" ;; esac ;;
  esac
done
for id in $groups; do kill -s KILL -- "-$id" 2>/dev/null; done
${KILL_MARKED}`;

/**
 * Makes sure no job outlives its agent: once the agent is gone nobody could supervise or report
 * on a job, and the controller runs it again elsewhere. One small shell process, started once,
 * keeps the process groups of the running jobs (sent over a pipe) and kills them when the pipe
 * closes. (Wrapping each job in `setpriv --pdeathsig` did the same for an exec per job, which
 * halved the rate at which a node could start jobs.)
 */
export class OrphanGuard {
  private proc: Subprocess<"pipe", "ignore", "ignore"> | undefined;
  private readonly groups = new Set<number>();
  private stopped = false;
  /** removals not yet written (they go with the next write, at the latest at the end of this turn of the event loop) */
  private pending: string[] = [];

  /** The guard process's pid (0 before start). */
  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  /** `marker`: the job marker's value (escapees.ts), for the processes that left their groups. */
  constructor(private readonly marker = "") {}

  start(): void {
    const proc = startedByBun(Bun.spawn(["/bin/sh", "-c", SCRIPT, "sh", this.marker], { stdin: "pipe", stdout: "ignore", stderr: "ignore", detached: true }));
    this.proc = proc;
    // a new guard learns every running group (removals meant for the one that died are moot)
    this.pending = this.groups.size ? [...this.groups].map((pgid) => `+ ${pgid}`) : [];
    this.writePending();
    void proc.exited.then((code) => {
      if (this.stopped || this.proc !== proc) return;
      log.warn("the process that stops jobs if the agent dies ended; starting it again", { code });
      this.start();
    });
  }

  /** A job's process group to kill if the agent dies: written at once (with the removals waiting), so no job started can escape it. */
  add(pgid: number): void {
    this.groups.add(pgid);
    this.pending.push(`+ ${pgid}`);
    this.writePending();
  }

  /**
   * The group ended (its id may be reused by unrelated processes from now on). Removals wait
   * for the next write, at the latest the end of this turn of the event loop: the jobs that end
   * together cost one write to the pipe (and one wake-up of the shell).
   */
  remove(pgid: number): void {
    if (!this.groups.delete(pgid) || !this.proc) return;
    this.pending.push(`- ${pgid}`);
    this.writeSoon();
  }

  private readonly writeSoon = atEndOfTurn(() => this.writePending());

  /** The agent is stopping: the guard ends too, killing what is still listed. */
  stop(): void {
    this.stopped = true;
    this.writePending();
    this.proc?.stdin.end();
  }

  private writePending(): void {
    const stdin = this.proc?.stdin as FileSink | undefined;
    if (!stdin || !this.pending.length) return;
    const lines = this.pending.join("\n") + "\n";
    this.pending = [];
    // a guard that died meanwhile (EPIPE) is started again and sent every running group then
    const lost = (e: unknown) => log.debug("the orphan guard did not take a write; it is restarted with every group", { error: e });
    try {
      stdin.write(lines);
      const flushed = stdin.flush();
      if (flushed instanceof Promise) flushed.catch(lost);
    } catch (e) {
      lost(e);
    }
  }
}

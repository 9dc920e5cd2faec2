import { hostname, userInfo } from "node:os";
import { logger } from "@drover/shared/log";
import { startedByBun } from "./escapees.ts";

const log = logger("agent");

/** A Unix account a job runs as. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** its login shell */
  shell: string;
}

/**
 * "user": an agent running as root starts each job as the Unix account of its drover user (what
 * the controller names in RunJob.unix_user), with that account's groups. "agent": every job runs
 * as the agent's own account (a personal one-node cluster, or a node given to one user).
 */
export type RunJobsAs = "user" | "agent";

/** Looked-up accounts are kept this long (an account made or removed shows within it). */
const FOUND_MS = 60_000;
const MISSING_MS = 3_000;

/**
 * Who the agent runs jobs as, and the commands that become that account. Accounts come from the
 * system's user database (getent, so LDAP and other NSS sources count); the switch is made by
 * setpriv (util-linux) with initgroups, so the job has the account's supplementary groups.
 */
export class RunAs {
  /** setpriv's path when jobs change account; undefined when every job runs as the agent */
  private readonly setpriv: string | undefined;
  private readonly known = new Map<string, { account: Account | undefined; at: number }>();

  constructor(readonly mode: RunJobsAs, private readonly isRoot = process.getuid?.() === 0) {
    if (!isRoot || mode === "agent") {
      this.setpriv = undefined;
      return;
    }
    const setpriv = Bun.which("setpriv", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin:/usr/sbin:/sbin` });
    if (!setpriv) throw new Error("setpriv (util-linux) is needed to run jobs as their users' accounts: install util-linux, or start the agent with --run-jobs-as agent");
    this.setpriv = setpriv;
  }

  /** True when jobs are started as their users' accounts. */
  get switchesAccount(): boolean {
    return this.setpriv !== undefined;
  }

  /** One line for the agent's start: whom jobs run as. */
  describe(): string {
    const me = userInfo().username;
    if (this.switchesAccount) return "jobs run as their users' Unix accounts (a drover user's account has the same name unless an administrator maps it)";
    if (!this.isRoot) return `jobs run as this agent's own account (${me}): it is not root, so it cannot start them as their users`;
    return "every job runs as root, the agent's own account (--run-jobs-as agent): each drover user's job has root's rights on this node";
  }

  /**
   * The account a job runs as: undefined to run as the agent itself; { error } when the job must
   * not start (no such account here; root without an administrator's leave).
   */
  async accountFor(unixUser: string, rootAllowed: boolean): Promise<Account | undefined | { error: string }> {
    if (!this.switchesAccount) return undefined;
    if (!unixUser) return { error: "the job names no user to run as (a controller older than this agent?)" };
    const account = await this.lookUp(unixUser);
    if (!account) return { error: `the job's user "${unixUser}" has no Unix account on node ${hostname()}: create one, or have an administrator map the drover user to an existing account (unixUser)` };
    if (account.uid === 0) {
      if (!rootAllowed) return { error: `the job's user "${unixUser}" is root on node ${hostname()}: jobs run as root only for drover users an administrator maps to root (unixUser "root")` };
      return undefined;
    }
    return account;
  }

  /**
   * argv run as `account` (unchanged without one): setpriv sets the real and effective ids and
   * the account's groups, then a shell changes to `cwd` as the account (so a directory the
   * account may not enter is refused) and executes the command without parsing it.
   */
  command(account: Account | undefined, argv: string[], cwd?: string): string[] {
    if (!account) return argv;
    const become = [this.setpriv!, `--reuid=${account.uid}`, `--regid=${account.gid}`, "--init-groups", "--"];
    return cwd ? [...become, "/bin/sh", "-c", 'cd -- "$0" || exit 126; exec "$@"', cwd, ...argv] : [...become, ...argv];
  }

  /** Runs a short command as `account` (or as the agent); its exit code and error output. */
  async run(account: Account | undefined, argv: string[], opts: { cwd?: string; stdin?: Blob } = {}): Promise<{ code: number; stderr: string }> {
    const proc = startedByBun(Bun.spawn(this.command(account, argv, opts.cwd), { stdin: opts.stdin ?? "ignore", stdout: "ignore", stderr: "pipe" }));
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    return { code, stderr: stderr.trim() };
  }

  /**
   * The environment a login shell of the account (or of the agent's own account) has on this
   * node: what its profile sets (MWS environmentRequested). Stopped after 10 s.
   */
  async loginEnvironment(account: Account | undefined): Promise<Record<string, string> | { error: string }> {
    const me = userInfo();
    const who = account ?? { name: me.username, home: me.homedir, shell: me.shell || "/bin/sh" };
    const base = { HOME: who.home, USER: who.name, LOGNAME: who.name, SHELL: who.shell, PATH: "/usr/local/bin:/usr/bin:/bin", LANG: process.env.LANG ?? "C.UTF-8" };
    const proc = startedByBun(Bun.spawn(this.command(account, [who.shell, "-l", "-c", "env -0"]), { cwd: who.home, env: base, stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    if (code !== 0) return { error: `the login shell ${who.shell} of ${who.name} failed (exit code ${code}): ${err.trim().slice(-500)}` };
    const env: Record<string, string> = {};
    for (const entry of out.split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    // (the shell's own bookkeeping is not the job's)
    for (const k of ["_", "SHLVL", "PWD", "OLDPWD"]) delete env[k];
    return env;
  }

  private async lookUp(name: string): Promise<Account | undefined> {
    const cached = this.known.get(name);
    const at = Date.now();
    if (cached && at - cached.at < (cached.account ? FOUND_MS : MISSING_MS)) return cached.account;
    let account: Account | undefined;
    // (a name is never an option to getent: the controller allows only account-like names)
    if (/^[A-Za-z_][A-Za-z0-9._-]*\$?$/.test(name)) {
      const proc = startedByBun(Bun.spawn(["getent", "passwd", name], { stdin: "ignore", stdout: "pipe", stderr: "ignore" }));
      const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      const fields = out.trim().split(":");
      if (code === 0 && fields.length >= 7 && fields[0] === name) account = { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] || "/", shell: fields[6] || "/bin/sh" };
      else if (code !== 2) log.warn("could not look up a job's account", { user: name, exitCode: code });
    }
    this.known.set(name, { account, at });
    return account;
  }
}

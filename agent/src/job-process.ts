import { createHash } from "node:crypto";
import { chownSync, closeSync, constants, existsSync, fchownSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, statfsSync, writeFileSync, writeSync, fstatSync } from "node:fs";
import { join } from "node:path";
import type { RunJob } from "@drover/proto/service";
import { hostname } from "node:os";
import { memoryByGroup, signalGroup } from "./process-group.ts";
import { runBehaviours } from "./behaviours.ts";
import { containerCommand } from "./container.ts";
import { placeInput, placeInputAs, type FileFetcher } from "./file-fetch.ts";
import { RunAs, type Account } from "./run-as.ts";
import type { JobCgroup, JobCgroups } from "./cgroup.ts";
import type { OrphanGuard } from "./orphan-guard.ts";
import { ProgressScanner, type Progress } from "./progress-lines.ts";
import { listOutputs, type OutputFile } from "./job-outputs.ts";
import { JOB_MARKER, startedByBun } from "./escapees.ts";

const TAIL_BYTES = 4096;

/** Sends stdout and stderr to the files given as $1 and $2 (either may be empty: left as is), then runs the rest. */
const REDIRECT = 'if [ -n "$1" ]; then exec >>"$1" || exit 126; fi; if [ -n "$2" ]; then exec 2>>"$2" || exit 126; fi; shift 2; exec "$@"';

/** The end of a job's process as the agent reports it. */
export interface JobEnd {
  started: boolean;
  exitCode?: number;
  signal: string;
  startedAtMs: number;
  endedAtMs: number;
  walltimeMs: number;
  cpuTimeMs: number;
  peakRssBytes: number;
  failReason: string;
  stdoutTail: string;
  stderrTail: string;
  /** how it ended, in one word (see JobFinished.cause) */
  cause: string;
  /** with RunJob.listOutputs: the files the run generated */
  outputs?: OutputFile[];
  /** what its behaviours did */
  behaviourNotes?: string[];
}

/** The end of a job whose process never started, and why. */
export function notStarted(failReason: string, at = Date.now(), cause = "start"): JobEnd {
  return { started: false, signal: "", startedAtMs: at, endedAtMs: at, walltimeMs: 0, cpuTimeMs: 0, peakRssBytes: 0, failReason, stdoutTail: "", stderrTail: "", cause };
}

/** Last bytes of an open file as text. */
function tailOf(fd: number, bytes = TAIL_BYTES): string {
  const size = fstatSync(fd).size;
  const len = Math.min(size, bytes);
  if (!len) return "";
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, size - len);
  return buf.toString("utf8");
}

/** node files written, by directory and host list */
const nodefilesWritten = new Map<string, string>();

/**
 * The node file (one line per allocated processor, as PBS_NODEFILE) for a host list. Most jobs
 * share one of a few lists, so each distinct list is written once (atomically) and then shared:
 * creating files is the costliest part of starting a job on some filesystems.
 */
export function nodefileFor(hosts: string[], dir: string): string {
  const text = hosts.map((h) => `${h}\n`).join("");
  const known = nodefilesWritten.get(dir + "\0" + text);
  if (known) return known;
  const path = join(dir, createHash("sha1").update(text).digest("hex"));
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  }
  nodefilesWritten.set(dir + "\0" + text, path);
  return path;
}

/** Resolves the program the way execvp would, to report "not found" before starting. */
function findProgram(program: string, path: string, cwd: string): string | undefined {
  if (program.includes("/")) {
    const full = program.startsWith("/") ? program : join(cwd, program);
    return existsSync(full) ? full : undefined;
  }
  return Bun.which(program, { PATH: path }) ?? undefined;
}

/**
 * One job's process: started in its own session and process group (setsid), killed with its
 * group should the agent die (OrphanGuard), stdout and stderr in files.
 * Enforces walltime and memory; signals the whole group.
 */
export class JobProcess {
  readonly jobId: bigint;
  readonly attempt: number;
  readonly dir: string;
  private readonly jobsDir: string;
  /** where its stdout and stderr go: its own directory's files, or the paths it asked for */
  stdoutPath: string;
  stderrPath: string;
  pid = 0;
  startedAtMs = 0;
  suspended = false;
  private suspendedSince = 0;
  private suspendedMs = 0;
  private peakRss = 0;
  private killReason = "";
  private killCause = "";
  private killTimer: ReturnType<typeof setTimeout> | undefined;
  private lastOutputSize = -1;
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private cgroup: JobCgroup | undefined;
  /** the job's stdout and stderr files, kept open from its start to its end to read their tails */
  private outFd = -1;
  private errFd = -1;
  /** its own directory's stdout and stderr when it asked for others (given to its process all the same: what it writes before its own redirection lands there) */
  private ownOutFd = -1;
  private ownErrFd = -1;
  private readonly progress = new ProgressScanner();
  /** progress lines read at the end of the run, not yet taken by takeProgress */
  private lastProgress: Progress[] = [];

  constructor(
    readonly spec: RunJob,
    jobsDir: string,
    private readonly nodefilesDir: string,
    private readonly graceMs: number,
    /** where the kernel enforces memory limits (else the RSS of the process group is polled) */
    private readonly cgroups?: JobCgroups,
    /** kills the job's process group if the agent dies */
    private readonly guard?: OrphanGuard,
    /** brings the job's input files from the controller */
    private readonly fetcher?: FileFetcher,
    /** whom the job runs as (by default: as the agent) */
    private readonly runAs: RunAs = new RunAs("agent"),
  ) {
    this.jobsDir = jobsDir;
    this.jobId = spec.jobId;
    this.attempt = spec.attempt;
    this.dir = join(jobsDir, `${spec.jobId}.${spec.attempt}`);
    this.stdoutPath = join(this.dir, "stdout");
    this.stderrPath = join(this.dir, "stderr");
  }

  /** Starts the process; resolves with its end (also when it could not start). */
  async run(onStarted: (pid: number) => void): Promise<JobEnd> {
    const found = await this.runAs.accountFor(this.spec.unixUser, this.spec.rootAllowed);
    if (found && "error" in found) return notStarted(found.error, Date.now(), "setup");
    const account: Account | undefined = found;
    // Without a requested working directory the job runs in its own directory, beside its
    // stdout and stderr files (as a batch job's output lands in its working directory).
    // Run as another account, the directory is made anew and given to it (whatever an earlier
    // run left there, links included, is gone): drover's own files in it are made before, and
    // never through a name the account could have made.
    if (account) rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (account) chownSync(this.dir, account.uid, account.gid);
    if (this.spec.scratchDir) {
      // the run's own directory, asked for by the job (its working directory is inside); made
      // by its account when it has one, so only where that account may make directories
      const dirs = ["cwd", "tmp"].map((sub) => join(this.spec.scratchDir, sub));
      try {
        if (account) {
          const made = await this.runAs.run(account, ["mkdir", "-p", "-m", "700", "--", ...dirs]);
          if (made.code !== 0) throw new Error(`as ${account.name}: ${made.stderr || `exit code ${made.code}`}`);
        } else for (const dir of dirs) mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (e) {
        return notStarted(`could not make the job's directory ${this.spec.scratchDir}: ${(e as Error).message}`);
      }
    }
    const cwd = this.spec.workingDirectory || this.dir;
    const nodefile = nodefileFor(this.spec.hosts, this.nodefilesDir);
    let login: Record<string, string> = {};
    if (this.spec.loginEnvironment) {
      const got = await this.runAs.loginEnvironment(account);
      if ("error" in got) return notStarted(`could not read the login environment: ${got.error}`, Date.now(), "setup");
      login = got;
    }
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: account?.home ?? process.env.HOME ?? cwd,
      ...(account ? { USER: account.name, LOGNAME: account.name } : {}),
      LANG: process.env.LANG ?? "C.UTF-8",
      ...login,
      ...this.spec.environment,
      DROVER_JOB_ID: String(this.jobId),
      DROVER_JOB_ATTEMPT: String(this.attempt),
      DROVER_NODEFILE: nodefile,
      DROVER_HOSTS: [...new Set(this.spec.hosts)].join(","),
      DROVER_CPUS: String(this.spec.cpus),
      PBS_NODEFILE: nodefile,
      PBS_JOBID: String(this.jobId),
      // what ties every process of the job to it, those that leave its process group too (escapees.ts)
      [JOB_MARKER]: this.jobsDir,
    };
    if (this.spec.workingDirectory && (!existsSync(cwd) || !statSync(cwd).isDirectory())) return notStarted(`working directory ${cwd} does not exist on this node`);
    if (this.spec.writeRunScript) {
      // a record of what runs (never run by the agent: the job is started from its argv)
      const quoted = this.spec.argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
      const script = `#!/bin/sh\n# drover job ${this.jobId}, attempt ${this.attempt}\ncd '${cwd.replaceAll("'", "'\\''")}' && exec ${quoted}\n`;
      if (account) {
        const fd = this.createOwn(join(this.dir, "run.sh"), 0o755, account);
        writeSync(fd, script);
        closeSync(fd);
      } else writeFileSync(join(this.dir, "run.sh"), script, { mode: 0o755 });
    }
    for (const input of this.spec.inputs) {
      try {
        if (!this.fetcher) throw new Error("this agent cannot fetch files");
        const cached = await this.fetcher.fetch(input);
        if (account) await placeInputAs(this.runAs, account, cached, cwd, input.name);
        else placeInput(cached, cwd, input.name);
      } catch (e) {
        return notStarted(`could not set up the job: input file ${input.name}: ${(e as Error).message}`, Date.now(), "setup");
      }
    }
    let argv = this.spec.argv;
    if (this.spec.container) {
      const wrapped = containerCommand(this.spec.container, argv, cwd, env, `drover-${this.jobId}-${this.attempt}`);
      if ("missing" in wrapped) return notStarted(`${wrapped.missing} on node ${hostname()}`, Date.now(), "runtime");
      argv = wrapped.argv;
    }
    const program = findProgram(argv[0]!, env.PATH!, cwd);
    if (!program) return notStarted(`command not found on this node: ${argv[0]}`);

    // a+: the job appends through its copies, the agent reads the tails through these
    let out: number, err: number;
    try {
      out = this.outFd = account ? this.createOwn(this.stdoutPath, 0o600, account) : openSync(this.stdoutPath, "a+", 0o600);
      err = this.errFd = account ? this.createOwn(this.stderrPath, 0o600, account) : openSync(this.stderrPath, "a+", 0o600);
    } catch (e) {
      this.closeOutput();
      return notStarted(`could not create the job's output files in ${this.dir}: ${(e as Error).message}`, Date.now(), "setup");
    }
    const asked = await this.openAskedOutput(account);
    if (typeof asked === "string") {
      this.closeOutput();
      return notStarted(asked, Date.now(), "setup");
    }
    if (asked) [out, err] = [this.outFd, this.errFd];
    try {
      // detached: the child calls setsid() itself (its own session and process group, pgid =
      // pid) — one exec fewer than the setsid program; the agent's OrphanGuard kills the group
      // if the agent dies
      // (as another account: the account's groups, and its own change into cwd, see run-as.ts)
      // (its own redirection to the output paths it asked for, made as its account)
      const redirected = asked ? ["/bin/sh", "-c", REDIRECT, "sh", this.spec.stdoutFile, this.spec.stderrFile, program, ...argv.slice(1)] : [program, ...argv.slice(1)];
      const command = this.runAs.command(account, redirected, cwd);
      if (this.cgroups) {
        // the process enters the job's cgroup before it becomes the job (its arguments are
        // positional parameters of the script, never parsed by the shell)
        this.cgroup = this.cgroups.create(`${this.jobId}.${this.attempt}`, Number(this.spec.memoryBytes));
        command.unshift("/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', this.cgroup.procsFile);
      }
      this.proc = startedByBun(
        Bun.spawn(command, {
          detached: true,
          cwd,
          env,
          stdin: "ignore",
          stdout: asked ? this.ownOutFd : out,
          stderr: asked ? this.ownErrFd : err,
        }),
      );
    } catch (e) {
      this.closeOutput();
      return notStarted(`could not start ${program}: ${(e as Error).message}`);
    }
    this.pid = this.proc.pid;
    this.guard?.add(this.pid);
    this.startedAtMs = Date.now();
    onStarted(this.pid);
    await this.proc.exited;
    if (this.killTimer) clearTimeout(this.killTimer);
    const endedAtMs = Date.now();
    // the main process is gone: whatever is left of its group goes with it
    signalGroup(this.pid, "SIGKILL");
    this.guard?.remove(this.pid);
    const usage = this.proc.resourceUsage();
    const signal = this.proc.signalCode;
    if (this.cgroup) {
      this.peakRss = Math.max(this.peakRss, this.cgroup.peak());
      if (this.cgroup.oomKilled() && !this.killReason) {
        this.killReason = `memory limit of ${mb(Number(this.spec.memoryBytes))} exceeded: the kernel stopped the job's processes`;
        this.killCause = "memory";
      }
      // whatever is left of the job in its cgroup goes with it, escaped or not
      this.cgroup.kill();
      removeWhenEmpty(this.cgroup);
    }
    const stdoutTail = tailOf(out);
    const stderrTail = tailOf(err);
    this.lastProgress.push(...this.progress.scan(out, true, endedAtMs));
    this.closeOutput();
    const exitCode = signal ? undefined : (this.proc.exitCode ?? undefined);
    const cause = this.killCause || (signal ? "signal" : "exit");
    // a job that failed on a full disk says so (its own error output may not have fitted either)
    if (!this.killReason && exitCode !== 0 && diskFull(cwd)) this.killReason = `exited with code ${exitCode ?? signal}; the file system of its directory ${cwd} is full`;
    const hasBehaviours = this.spec.onSuccess.length + this.spec.onFailure.length + this.spec.onExit.length > 0;
    const behaviourNotes = hasBehaviours ? await runBehaviours(this.spec, cause === "exit" && exitCode === 0, cwd, env, { runAs: this.runAs, account }) : [];
    // what the run generated, as its behaviours left it (not its inputs, nor drover's own files)
    const skip = new Set([...this.spec.inputs.map((i) => i.name), ...(cwd === this.dir ? ["stdout", "stderr", "run.sh"] : [])]);
    const outputs = this.spec.listOutputs ? listOutputs(cwd, skip) : undefined;
    return {
      cause,
      outputs,
      behaviourNotes,
      started: true,
      exitCode,
      signal: signal ? String(signal) : "",
      startedAtMs: this.startedAtMs,
      endedAtMs,
      walltimeMs: endedAtMs - this.startedAtMs,
      cpuTimeMs: usage ? Math.round(Number(usage.cpuTime.total) / 1000) : 0,
      // (not the rusage maxRSS: a child spawned by the agent starts out with the agent's own high-water mark)
      peakRssBytes: this.peakRss,
      failReason: this.killReason,
      stdoutTail,
      stderrTail,
    };
  }

  /**
   * Creates one of drover's files in the job's directory (never through an existing name, so
   * never through a link), for reading and appending, owned by the job's account when it has one.
   */
  private createOwn(path: string, mode: number, account: Account | undefined): number {
    const fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL, mode);
    if (account) fchownSync(fd, account.uid, account.gid);
    return fd;
  }

  private closeOutput(): void {
    for (const fd of new Set([this.outFd, this.errFd, this.ownOutFd, this.ownErrFd])) if (fd >= 0) closeSync(fd);
    this.outFd = this.errFd = this.ownOutFd = this.ownErrFd = -1;
  }

  /**
   * The output paths the job asked for (MWS standardOutputFilePath, standardErrorFilePath):
   * their directories made and the files created by the job's account (so only where it may
   * write), then opened by the agent for reading their tails: never through a link, and only a
   * file of that account. Its own directory's files stay for what comes before the redirection.
   * False when it asked for none; a reason when it cannot have them.
   */
  private async openAskedOutput(account: Account | undefined): Promise<boolean | string> {
    const paths = [this.spec.stdoutFile, this.spec.stderrFile];
    if (!paths.some(Boolean)) return false;
    const script = 'for f; do [ -z "$f" ] && continue; mkdir -p -- "$(dirname -- "$f")" && : >> "$f" || exit 1; done';
    const made = await this.runAs.run(account, ["/bin/sh", "-c", script, "sh", ...paths.map((p) => p ?? "")]);
    if (made.code !== 0) return `cannot write its output file as ${account?.name ?? "the agent's account"}: ${made.stderr || `exit code ${made.code}`}`;
    const readable = (path: string) => {
      const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const st = fstatSync(fd);
      if (!st.isFile() || (account && st.uid !== account.uid)) {
        closeSync(fd);
        throw new Error(`${path} is not a file of ${account?.name ?? "the agent"}`);
      }
      return fd;
    };
    try {
      this.ownOutFd = this.outFd;
      this.ownErrFd = this.errFd;
      if (this.spec.stdoutFile) {
        this.outFd = readable(this.spec.stdoutFile);
        this.stdoutPath = this.spec.stdoutFile;
      }
      if (this.spec.stderrFile) {
        this.errFd = readable(this.spec.stderrFile);
        this.stderrPath = this.spec.stderrFile;
      }
    } catch (e) {
      return `cannot use its output file: ${(e as Error).message}`;
    }
    return true;
  }

  /** True when the agent watches this job's memory by polling (no cgroup of its own). */
  get pollsRss(): boolean {
    return !this.cgroup;
  }

  /**
   * SIGTERM to the group, then SIGKILL after the grace period. The reason is reported, and the
   * cause in one word (memory, walltime, cancelled).
   */
  terminate(reason: string, cause = "cancelled"): void {
    if (!this.pid || this.killReason) return;
    this.killReason = reason;
    this.killCause = cause;
    if (this.suspended) signalGroup(this.pid, "SIGCONT"); // a stopped process cannot handle SIGTERM
    signalGroup(this.pid, "SIGTERM");
    this.killTimer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), this.graceMs);
  }

  suspend(): void {
    if (!this.pid || this.suspended) return;
    signalGroup(this.pid, "SIGSTOP");
    this.suspended = true;
    this.suspendedSince = Date.now();
  }

  resume(): void {
    if (!this.pid || !this.suspended) return;
    signalGroup(this.pid, "SIGCONT");
    this.suspended = false;
    this.suspendedMs += Date.now() - this.suspendedSince;
  }

  /**
   * Called about once a second: walltime (not counting suspension) and memory limits.
   * `memory` is the memory of each process group (memoryByGroup), read once for all jobs.
   */
  enforceLimits(at = Date.now(), memory?: Map<number, number>): void {
    if (!this.pid || this.killReason) return;
    const used = this.cgroup ? this.cgroup.current() : (memory ?? memoryByGroup(new Set([this.pid]))).get(this.pid) ?? 0;
    if (used > this.peakRss) this.peakRss = used;
    const limit = Number(this.spec.memoryBytes);
    // in a cgroup the kernel enforces the limit itself (memory.max)
    if (limit > 0 && used > limit && !this.cgroup) {
      this.terminate(`memory limit of ${mb(limit)} exceeded: the job's processes used ${mb(used)}`, "memory");
      return;
    }
    const walltime = Number(this.spec.walltimeMs);
    const ran = at - this.startedAtMs - this.suspendedMs - (this.suspended ? at - this.suspendedSince : 0);
    if (walltime > 0 && ran > walltime) this.terminate(`walltime of ${seconds(walltime)} exceeded`, "walltime");
  }

  /** Progress lines printed since the last call (those of the run's end too, once it ended). */
  takeProgress(at = Date.now()): Progress[] {
    const found = [...this.lastProgress, ...this.progress.scan(this.outFd, false, at)];
    this.lastProgress = [];
    return found;
  }

  /** Output tails when they changed since the last call. */
  outputIfChanged(): { stdout: string; stderr: string } | undefined {
    if (this.outFd < 0) return undefined;
    const size = fstatSync(this.outFd).size + fstatSync(this.errFd).size;
    if (size === this.lastOutputSize) return undefined;
    this.lastOutputSize = size;
    return { stdout: tailOf(this.outFd), stderr: tailOf(this.errFd) };
  }
}

/** Whether the file system holding `dir` has (almost) no room left for its user. */
function diskFull(dir: string): boolean {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize) < 64 * 1024;
  } catch {
    return false;
  }
}

/** A job's cgroup goes once the last of its processes has (they may take a moment after SIGKILL). */
function removeWhenEmpty(cgroup: JobCgroup, tries = 20): void {
  if (!cgroup.remove() && tries > 0) setTimeout(() => removeWhenEmpty(cgroup, tries - 1), 250);
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);

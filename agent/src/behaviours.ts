import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Behaviour, RunJob } from "@drover/proto/service";
import type { Account, RunAs } from "./run-as.ts";
import { startedByBun } from "./escapees.ts";

/** Whom behaviours run as: the job's account (see run-as.ts), or the agent when account is undefined. */
export interface RunsAs {
  runAs: RunAs;
  account: Account | undefined;
}

/** A run behaviour that takes longer than this is stopped: the job's end waits for it. */
const RUN_LIMIT_MS = 10 * 60_000;

/**
 * Runs a job's behaviours once it has ended (wr's on_success / on_failure, then on_exit) and
 * says what each did, one line each. A failing behaviour does not stop the next.
 */
export async function runBehaviours(spec: RunJob, succeeded: boolean, cwd: string, env: Record<string, string>, as?: RunsAs): Promise<string[]> {
  const list = [...(succeeded ? spec.onSuccess : spec.onFailure), ...spec.onExit];
  const notes: string[] = [];
  for (const b of list) notes.push(await runOne(b, spec, cwd, env, as));
  return notes;
}

async function runOne(b: Behaviour, spec: RunJob, cwd: string, env: Record<string, string>, as?: RunsAs): Promise<string> {
  if (b.kind.case === "cleanup") return as?.account ? cleanupAs(as, spec.scratchDir, spec.scratchBase) : cleanup(spec.scratchDir, spec.scratchBase);
  if (b.kind.case !== "run") return "unknown behaviour ignored";
  const command = b.kind.value;
  const where = existsSync(cwd) ? cwd : existsSync(spec.scratchBase) && spec.scratchBase ? spec.scratchBase : "/";
  // a behaviour is the job's own command: it runs with the job's account and rights
  const argv = as ? as.runAs.command(as.account, ["bash", "-c", command], where) : ["bash", "-c", command];
  const proc = startedByBun(Bun.spawn(argv, { cwd: where, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const timer = setTimeout(() => proc.kill("SIGKILL"), RUN_LIMIT_MS);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  const output = `${out}${err}`.trim().slice(-1000);
  return code === 0 ? `run behaviour "${command}" succeeded` : `run behaviour "${command}" failed with exit code ${code}${output ? `: ${output}` : ""}`;
}

/**
 * Removes the run's own directory and then its parents that are left empty, up to (not
 * including) the directory it was made under. Nothing outside that directory is touched.
 */
export function cleanup(scratchDir: string, scratchBase: string): string {
  const checked = cleanupTarget(scratchDir, scratchBase);
  if (typeof checked === "string") return checked;
  const { dir, base } = checked;
  try {
    rmSync(dir, { recursive: true, force: true });
    for (let parent = dirname(dir); parent.startsWith(base + "/"); parent = dirname(parent)) {
      if (readdirSync(parent).length) break;
      rmdirSync(parent);
    }
    return `cleanup removed ${dir}`;
  } catch (e) {
    return `cleanup of ${dir} failed: ${(e as Error).message}`;
  }
}

function cleanupTarget(scratchDir: string, scratchBase: string): { dir: string; base: string } | string {
  if (!scratchDir || !scratchBase) return "cleanup skipped: the job ran in its own working directory, not one drover made for it";
  const base = resolve(scratchBase);
  const dir = resolve(scratchDir);
  if (!dir.startsWith(base + "/")) return `cleanup refused: ${dir} is not under ${base}`;
  return { dir, base };
}

/** cleanup, done by the job's account (the directories are its own, and its rights are the limit). */
async function cleanupAs(as: RunsAs, scratchDir: string, scratchBase: string): Promise<string> {
  const checked = cleanupTarget(scratchDir, scratchBase);
  if (typeof checked === "string") return checked;
  const { dir, base } = checked;
  // remove the directory, then its parents while they are empty and under the base
  const script = 'rm -rf -- "$1" || exit 1; d=$(dirname -- "$1"); while [ "${d#"$2"/}" != "$d" ] && rmdir -- "$d" 2>/dev/null; do d=$(dirname -- "$d"); done; exit 0';
  const { code, stderr } = await as.runAs.run(as.account, ["/bin/sh", "-c", script, "sh", dir, base]);
  return code === 0 ? `cleanup removed ${dir}` : `cleanup of ${dir} failed: ${stderr || `exit code ${code}`}`;
}

import pkg from "../../package.json" with { type: "json" };

/** Version and build facts; `scripts/build` bakes them into compiled binaries with --define. */
export interface BuildInfo {
  version: string;
  build: string;
  buildDate: string;
  revision: string;
}

declare const DROVER_BUILD_INFO: BuildInfo | undefined;

function fromGit(): string {
  try {
    const r = Bun.spawnSync(["git", "rev-parse", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
    return r.exitCode === 0 ? r.stdout.toString().trim() : "unknown";
  } catch {
    return "unknown";
  }
}

let cached: BuildInfo | undefined;

/** The running program's version, build number, build date and source revision. */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  cached =
    typeof DROVER_BUILD_INFO !== "undefined"
      ? DROVER_BUILD_INFO
      : { version: pkg.version, build: "dev", buildDate: "unreleased", revision: fromGit() };
  return cached;
}

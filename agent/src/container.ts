import type { Container } from "@drover/proto/service";

/**
 * The command line that runs a job's command inside its container (wr's with_docker and
 * with_singularity): the working directory is mounted at the same path and is the container's
 * working directory; mounts are "/outside:/inside"; the job's environment goes in by name.
 * { missing } when this node has no such runtime on its PATH.
 */
export function containerCommand(container: Container, argv: string[], cwd: string, env: Record<string, string>, name: string): { argv: string[] } | { missing: string } {
  if (container.runtime === "docker") {
    const docker = Bun.which("docker", { PATH: env.PATH });
    if (!docker) return { missing: "the container runtime docker is not installed" };
    const mounts = [`${cwd}:${cwd}`, ...container.mounts].flatMap((m) => ["-v", m]);
    // -e NAME (no value): docker takes the value from its own environment, which is the job's
    const vars = Object.keys(env).flatMap((k) => ["-e", k]);
    return { argv: [docker, "run", "--rm", "-i", "--name", name, ...mounts, "-w", cwd, ...vars, container.image, ...argv] };
  }
  const singularity = Bun.which("singularity", { PATH: env.PATH }) ?? Bun.which("apptainer", { PATH: env.PATH });
  if (!singularity) return { missing: "the container runtime singularity (or apptainer) is not installed" };
  const binds = [`${cwd}:${cwd}`, ...container.mounts].flatMap((m) => ["-B", m]);
  return { argv: [singularity, "exec", ...binds, "--pwd", cwd, container.image, ...argv] };
}

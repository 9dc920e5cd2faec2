import { existsSync } from "node:fs";
import { join } from "node:path";

/** Pieces of an archive are sent this large at most. */
const PIECE = 256 * 1024;

/**
 * Streams a job's directory (DATA_DIR/jobs/ID.ATTEMPT) as a tar.gz whose entries sit under `top`
 * (e.g. job_<id>/), piece by piece, through `send`; the last piece says whether it worked.
 * tar runs without a shell; its arguments are the directory's name and the top name.
 */
export async function streamJobArchive(jobsDir: string, dirName: string, top: string, send: (data: Uint8Array, last: boolean, error: string) => void): Promise<void> {
  if (!/^\d+\.\d+$/.test(dirName) || !/^[A-Za-z0-9._-]+$/.test(top)) return send(new Uint8Array(), true, "bad archive request");
  if (!existsSync(join(jobsDir, dirName))) return send(new Uint8Array(), true, `the job's directory is no longer on this node`);
  const tar = Bun.spawn(["tar", "-czf", "-", "-C", jobsDir, `--transform=s|^${dirName}|${top}|`, dirName], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  let pending = new Uint8Array(0);
  for await (const chunk of tar.stdout) {
    const joined = new Uint8Array(pending.length + chunk.length);
    joined.set(pending);
    joined.set(chunk, pending.length);
    pending = joined;
    while (pending.length >= PIECE) {
      send(pending.subarray(0, PIECE), false, "");
      pending = pending.slice(PIECE);
    }
  }
  const code = await tar.exited;
  const err = code === 0 ? "" : `tar failed: ${(await new Response(tar.stderr).text()).trim() || `exit code ${code}`}`;
  send(pending, true, err);
}

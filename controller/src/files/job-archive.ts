import { DroverError } from "@drover/shared/errors";
import type { Core } from "../core.ts";
import type { Job } from "../db/schema.ts";
import type { ArchiveRequest } from "../nodes/agent-links.ts";
import { ArchiveJob_Format } from "@drover/proto/service";

/**
 * A job's whole directory as a tar.gz, streamed from the node that ran it (through that
 * agent's own connection, or that of the controller holding it), its entries under `top`. 503
 * saying so when that node is not connected; 404 when the node no longer has the directory.
 */
export function openJobArchive(core: Core, job: Job, top: string): Promise<ReadableStream<Uint8Array>> {
  return openFromNode(core, job, { top });
}

/** The files a job's run generated (Job.outputFiles) as one zip, entries under `top` when given. */
export async function openJobOutputsZip(core: Core, job: Job, top = ""): Promise<ReadableStream<Uint8Array>> {
  if (!job.outputFiles.length) throw new DroverError("not_found", `Job ${job.id} generated no files`);
  return openFromNode(core, job, { top, format: ArchiveJob_Format.ZIP, paths: job.outputFiles.map((f) => f.path), directory: runDirectory(job) });
}

/** One file a job's run generated, by its path among Job.outputFiles (no other path is asked of the node). */
export async function openJobOutput(core: Core, job: Job, path: string): Promise<ReadableStream<Uint8Array>> {
  if (!job.outputFiles.some((f) => f.path === path)) throw new DroverError("not_found", `Job ${job.id} generated no file ${path}`);
  return openFromNode(core, job, { top: "", format: ArchiveJob_Format.FILE, paths: [path], directory: runDirectory(job) });
}

/** Where the run's paths are relative to, when it is not the job's own directory on its node. */
function runDirectory(job: Job): string {
  return job.scratchDir ? `${job.scratchDir}/cwd` : (job.workingDirectory ?? "");
}

/**
 * Something of a job's directory from the node that ran it (see AgentLinks.openArchive): through
 * this controller's stream to the node, or through the controller that holds it (peers).
 */
export async function openFromNode(core: Core, job: Pick<Job, "id" | "attempt" | "nodeId" | "allocatedNodes">, what: ArchiveRequest): Promise<ReadableStream<Uint8Array>> {
  const node = job.allocatedNodes[0]?.node ?? job.nodeId;
  if (!node || job.attempt === 0) throw new DroverError("not_found", `Job ${job.id} never reached a node: it has no directory`);
  const opening = core.links.openArchive(node, job.id, job.attempt, what);
  if (opening) return archiveFrom(node, job.id, opening);
  const relayed = await core.peers?.openArchive(node, job.id, job.attempt, what);
  if (relayed) return relayed;
  throw new DroverError("unavailable", `Node ${node}, which holds job ${job.id}'s directory, is not connected; try again when it is back`);
}

/** An archive being opened on a node, its failures in words a client can act on. */
export async function archiveFrom(node: string, jobId: number, opening: Promise<ReadableStream<Uint8Array>>): Promise<ReadableStream<Uint8Array>> {
  try {
    return await opening;
  } catch (e) {
    const message = (e as Error).message;
    if (message.includes("no longer on this node")) throw new DroverError("not_found", `Node ${node} no longer has job ${jobId}'s directory`);
    if (message.includes("is not a file of the job's directory")) throw new DroverError("not_found", `Node ${node} no longer has that file of job ${jobId}: ${message}`);
    throw new DroverError("unavailable", `Node ${node} could not send job ${jobId}'s directory: ${message}`);
  }
}

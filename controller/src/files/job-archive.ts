import { DroverError } from "@drover/shared/errors";
import type { Core } from "../core.ts";
import type { Job } from "../db/schema.ts";

/**
 * A job's whole directory as a tar.gz, streamed from the node that ran it (through that
 * agent's own connection), its entries under `top`. 503 saying so when that node is not
 * connected; 404 when the node no longer has the directory.
 */
export async function openJobArchive(core: Core, job: Job, top: string): Promise<ReadableStream<Uint8Array>> {
  const node = job.allocatedNodes[0]?.node ?? job.nodeId;
  if (!node || job.attempt === 0) throw new DroverError("not_found", `Job ${job.id} never reached a node: it has no directory`);
  const opening = core.links.openArchive(node, job.id, job.attempt, top);
  if (!opening) throw new DroverError("unavailable", `Node ${node}, which holds job ${job.id}'s directory, is not connected; try again when it is back`);
  try {
    return await opening;
  } catch (e) {
    const message = (e as Error).message;
    if (message.includes("no longer on this node")) throw new DroverError("not_found", `Node ${node} no longer has job ${job.id}'s directory`);
    throw new DroverError("unavailable", `Node ${node} could not send job ${job.id}'s directory: ${message}`);
  }
}

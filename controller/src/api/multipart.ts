import { once } from "node:events";
import type { Readable } from "node:stream";
import busboy from "busboy";
import { invalid } from "@drover/shared/errors";

/** One file field of a multipart/form-data body, as it streams in. */
export interface FilePart {
  field: string;
  filename: string;
  stream: Readable;
}

/**
 * Reads a multipart/form-data request with busboy, streaming: `onFile` is handed each file
 * field as it arrives (and must consume it); plain fields are collected. The body is never held
 * whole in memory. Returns the plain fields and what onFile returned for each file field.
 */
export async function readMultipart<T>(request: Request, onFile: (part: FilePart) => Promise<T>): Promise<{ fields: Record<string, string>; files: { field: string; result: T }[] }> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data;.*boundary=/i.test(type)) throw invalid("Send the file as multipart/form-data (curl -F file=@path)");
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: { "content-type": type }, limits: { fields: 100, fieldSize: 64 * 1024, parts: 110 } });
  } catch (e) {
    throw invalid(`The multipart body cannot be read: ${(e as Error).message}`);
  }
  const fields: Record<string, string> = {};
  const pending: Promise<{ field: string; result: T }>[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    parser.on("field", (name, value) => {
      fields[name] = value;
    });
    parser.on("file", (field, stream, info) => {
      // a body that ends inside a file part destroys its stream with the error: whoever reads the
      // stream sees it; without a listener of its own it would be an uncaught exception
      stream.on("error", () => {});
      const work = onFile({ field, filename: info.filename ?? "", stream }).then((result) => ({ field, result }));
      // a handler that fails (a refused file, a full disk) ends the reading of the whole body
      // with its error: its stream may be destroyed, and the parser would wait for it forever
      work.catch((e) => reject(e));
      pending.push(work);
    });
    parser.on("close", resolve);
    parser.on("error", (e: Error) => reject(invalid(`The multipart body cannot be read: ${e.message}`)));
  });
  finished.catch(() => {});
  try {
    if (request.body) {
      for await (const chunk of request.body) {
        if (!parser.write(chunk)) await Promise.race([once(parser, "drain"), finished]);
      }
    }
    parser.end();
    await finished;
  } catch (e) {
    parser.destroy();
    await Promise.allSettled(pending);
    throw e;
  }
  const files = await Promise.all(pending);
  return { fields, files };
}

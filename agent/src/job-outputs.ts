import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** The most files a run's output listing names. */
export const MAX_OUTPUTS = 1000;

export interface OutputFile {
  path: string;
  sizeBytes: bigint;
}

/**
 * The regular files a run left under its working directory, "/"-separated paths relative to it,
 * in path order, leaving out `skip` (top-level names: its inputs, and drover's own stdout,
 * stderr and run.sh when it ran in its own directory). Symbolic links are not followed or
 * listed: a listed path is always a file inside the directory.
 */
export function listOutputs(dir: string, skip: Set<string>, max = MAX_OUTPUTS): OutputFile[] {
  const found: OutputFile[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(dir, rel)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (found.length >= max) return;
      const path = rel ? `${rel}/${name}` : name;
      if (!rel && skip.has(name)) continue;
      let st;
      try {
        st = lstatSync(join(dir, path));
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) found.push({ path, sizeBytes: BigInt(st.size) });
    }
  };
  walk("");
  return found;
}

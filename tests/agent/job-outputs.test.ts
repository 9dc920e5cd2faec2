// What an app's run generated (its result), the archives of it the agent streams, and the
// progress lines it reads from a job's stdout.
import { afterAll, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync } from "fflate";
import { ArchiveJob_Format } from "@drover/proto/service";
import { listOutputs } from "../../agent/src/job-outputs.ts";
import { streamJobArchive } from "../../agent/src/job-archive.ts";
import { ProgressScanner, MAX_PROGRESS_PER_RUN } from "../../agent/src/progress-lines.ts";

const root = mkdtempSync(join(tmpdir(), "drover-outputs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const jobsDir = join(root, "jobs");
const dir = join(jobsDir, "7.1");
mkdirSync(join(dir, "out", "sub"), { recursive: true });
for (const [path, text] of Object.entries({ stdout: "o", stderr: "e", "run.sh": "#!/bin/sh", "input.txt": "in", "out/a.txt": "alpha\n", "out/sub/b c.txt": "beta\n", "z.csv": "1,2\n" })) writeFileSync(join(dir, path), text);
writeFileSync(join(root, "secret"), "outside");
symlinkSync(join(root, "secret"), join(dir, "out", "link"));

test("the outputs are the regular files left besides the inputs and drover's own files, in path order, no symbolic links", () => {
  const found = listOutputs(dir, new Set(["stdout", "stderr", "run.sh", "input.txt"]));
  expect(found.map((f) => [f.path, Number(f.sizeBytes)])).toEqual([["out/a.txt", 6], ["out/sub/b c.txt", 5], ["z.csv", 4]]);
  expect(listOutputs(dir, new Set(), 2)).toHaveLength(2);
});

const collect = async (request: Parameters<typeof streamJobArchive>[1]) => {
  const pieces: Uint8Array[] = [];
  let error = "";
  await streamJobArchive(jobsDir, request, (data, last, e) => {
    pieces.push(data.slice());
    if (last) error = e;
  });
  return { bytes: Buffer.concat(pieces), error };
};
const ask = (format: ArchiveJob_Format, paths: string[], top = "") => ({ jobId: 7n, attempt: 1, top, format, paths, directory: "" });

test("a zip of the listed files (entries under the top directory) and one file as it is", async () => {
  const zip = await collect(ask(ArchiveJob_Format.ZIP, ["out/a.txt", "out/sub/b c.txt"], "launch_7"));
  expect(zip.error).toBe("");
  const entries = unzipSync(zip.bytes);
  expect(Object.keys(entries).sort()).toEqual(["launch_7/out/a.txt", "launch_7/out/sub/b c.txt"]);
  expect(new TextDecoder().decode(entries["launch_7/out/sub/b c.txt"])).toBe("beta\n");
  const one = await collect(ask(ArchiveJob_Format.FILE, ["z.csv"]));
  expect(one).toEqual({ bytes: Buffer.from("1,2\n"), error: "" });
});

test("no path leads out of the job's directory: .., absolute paths, symbolic links, directories are refused", async () => {
  for (const path of ["../../secret", "/etc/passwd", "out/link", "out", "out//a.txt", "./z.csv", ""]) {
    const r = await collect(ask(ArchiveJob_Format.FILE, [path]));
    expect(r.error).toContain("is not a file of the job's directory");
  }
  expect((await collect(ask(ArchiveJob_Format.ZIP, ["out/a.txt", "../secret"]))).error).toContain("../secret");
  expect((await collect({ ...ask(ArchiveJob_Format.FILE, ["z.csv"]), attempt: 2 })).error).toContain("no longer on this node");
});

test("progress lines are read as they are completed, each once, and at most a thousand a run", () => {
  const file = join(root, "progress-out");
  writeFileSync(file, "hello\nPROGRESS: 10% read\nPROGRESS:half");
  const fd = openSync(file, "r");
  const scanner = new ProgressScanner();
  expect(scanner.scan(fd, false, 1).map((p) => p.message)).toEqual(["10% read"]);
  expect(scanner.scan(fd, false, 2)).toEqual([]);
  appendFileSync(file, " way\r\nnot PROGRESS: this\nPROGRESS: last");
  expect(scanner.scan(fd, false, 3)).toEqual([{ message: "half way", atMs: 3 }]);
  expect(scanner.scan(fd, true, 4)).toEqual([{ message: "last", atMs: 4 }]);
  closeSync(fd);

  writeFileSync(file, "PROGRESS: x\n".repeat(MAX_PROGRESS_PER_RUN + 50));
  const many = openSync(file, "r");
  const bounded = new ProgressScanner();
  expect(bounded.scan(many, true).length).toBe(MAX_PROGRESS_PER_RUN);
  closeSync(many);
});

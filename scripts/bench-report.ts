// Writes one benchmark's figures into BENCHMARKS.md, replacing that benchmark's earlier section.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const FILE = join(import.meta.dir, "..", "BENCHMARKS.md");

export function writeBenchmarkSection(title: string, command: string, figures: Record<string, string>, notes: string[] = []): void {
  const head = "# Benchmarks\n\nFigures measured by the scripts under `scripts/`; each section names its command and machine.\n";
  let text = existsSync(FILE) ? readFileSync(FILE, "utf8") : head;
  const marker = `## ${title}`;
  const start = text.indexOf(marker);
  if (start >= 0) {
    const end = text.indexOf("\n## ", start + marker.length);
    text = text.slice(0, start) + (end >= 0 ? text.slice(end + 1) : "");
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}, Bun ${Bun.version}`;
  const section = [
    marker,
    "",
    `Command: \`${command}\`  `,
    `Machine: ${machine}  `,
    `Date: ${new Date().toISOString().slice(0, 10)}`,
    "",
    "| measure | result |",
    "| --- | --- |",
    ...Object.entries(figures).map(([k, v]) => `| ${k} | ${v} |`),
    "",
    ...notes,
    "",
  ].join("\n");
  writeFileSync(FILE, text.trimEnd() + "\n\n" + section);
}

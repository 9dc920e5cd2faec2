const file = process.argv[2]!; const needle = process.argv[3]!;
const p = JSON.parse(await Bun.file(file).text());
const byId = new Map<number, any>(); const parent = new Map<number, number>();
for (const n of p.nodes) { byId.set(n.id, n); for (const c of n.children ?? []) parent.set(c, n.id); }
const counts = new Map<number, number>(); for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
const attrib = new Map<string, number>(); let total = 0;
for (const [id, c] of counts) {
  let cur: number | undefined = id; let hit = false; let owner = "";
  const frames: string[] = [];
  while (cur !== undefined) { const f = byId.get(cur).callFrame; frames.push(`${f.functionName}@${f.url.replace("/work/main/", "")}:${f.lineNumber + 1}`); cur = parent.get(cur); }
  const idx = frames.findIndex((f) => f.includes(needle));
  if (idx < 0) continue;
  hit = true; total += c;
  owner = frames.slice(idx).filter((f) => f.includes("controller/src") || f.includes("shared/src")).slice(0, 2).join(" < ") || "?";
  attrib.set(owner, (attrib.get(owner) ?? 0) + c);
}
console.log("total", total);
for (const [k, v] of [...attrib].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(v, k);

const file = process.argv[2]!; const needle = process.argv[3]!;
const p = JSON.parse(await Bun.file(file).text());
const byId = new Map<number, any>(); const parent = new Map<number, number>();
for (const n of p.nodes) { byId.set(n.id, n); for (const c of n.children ?? []) parent.set(c, n.id); }
const counts = new Map<number, number>(); for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
const attrib = new Map<string, number>();
for (const [id, c] of counts) {
  let cur: number | undefined = id; const frames: string[] = [];
  while (cur !== undefined) { const f = byId.get(cur).callFrame; frames.push(`${f.functionName || "anon"}@${f.url.replace("/work/main/", "").replace("node_modules/", "")}:${f.lineNumber + 1}`); cur = parent.get(cur); }
  const idx = frames.findIndex((f) => f.includes(needle));
  if (idx < 0) continue;
  const key = frames.slice(idx).reverse().slice(0, 9).join(" > ");
  attrib.set(key, (attrib.get(key) ?? 0) + c);
}
for (const [k, v] of [...attrib].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(v, k, "\n");

// self time per function (and top controller frame) over the last N seconds of a cpuprofile
const [file, lastS] = [process.argv[2]!, Number(process.argv[3] ?? 60)];
const p = JSON.parse(await Bun.file(file).text());
const byId = new Map<number, any>(); const parent = new Map<number, number>();
for (const n of p.nodes) { byId.set(n.id, n); for (const c of n.children ?? []) parent.set(c, n.id); }
let t = p.startTime; const times: number[] = [];
for (const d of p.timeDeltas) { t += d; times.push(t); }
const cut = p.endTime - lastS * 1e6;
const self = new Map<string, number>(); const ours = new Map<string, number>(); let n = 0;
p.samples.forEach((id: number, i: number) => {
  if (times[i]! < cut) return; n++;
  const f = byId.get(id).callFrame; const k = `${f.functionName || "anon"} ${f.url.replace("/work/main/", "")}:${f.lineNumber + 1}`;
  self.set(k, (self.get(k) ?? 0) + 1);
  let cur: number | undefined = id;
  const seen = new Set<string>();
  while (cur !== undefined) { const g = byId.get(cur).callFrame; if (g.url.includes("/controller/src/") || g.url.includes("/shared/src/")) { const kk = `${g.functionName || "anon"} ${g.url.replace("file:///work/main/", "")}:${g.lineNumber + 1}`; if (!seen.has(kk)) { seen.add(kk); ours.set(kk, (ours.get(kk) ?? 0) + 1); } } cur = parent.get(cur); }
});
console.log("samples", n, "(ms)");
console.log("--- self");
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(v, k);
console.log("--- inclusive, our frames");
for (const [k, v] of [...ours].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(v, k);

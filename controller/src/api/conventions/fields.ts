// MWS 2.2 field selection (`fields`) and exclusion (`exclude-fields`): comma-separated dotted
// paths that act the same way on sub-objects and on lists of sub-objects.

type PathTree = { [key: string]: PathTree | true };

/** Turns "id,requirements.requiredProcessorCountMinimum" into a tree of path segments. */
export function pathTree(spec: string): PathTree {
  const tree: PathTree = {};
  for (const path of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    let node = tree;
    const parts = path.split(".");
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node[part] = true;
      } else {
        const next = node[part];
        if (next === true) return; // the whole parent is already selected
        node = node[part] = next ?? {};
      }
    });
  }
  return tree;
}

/** Keeps only the fields named in the tree. */
export function selectFields(value: unknown, tree: PathTree): unknown {
  if (Array.isArray(value)) return value.map((v) => selectFields(v, tree));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(tree)) {
    if (!(key in value)) continue;
    const v = (value as Record<string, unknown>)[key];
    out[key] = sub === true ? v : selectFields(v, sub);
  }
  return out;
}

/** Drops the fields named in the tree and keeps everything else. */
export function excludeFields(value: unknown, tree: PathTree): unknown {
  if (Array.isArray(value)) return value.map((v) => excludeFields(v, tree));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const sub = tree[key];
    if (sub === true) continue;
    out[key] = sub ? excludeFields(v, sub) : v;
  }
  return out;
}

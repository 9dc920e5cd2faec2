import { invalid } from "@drover/shared/errors";

/** The most node names one expression may stand for (a typo like node[1-9999999] must not eat memory). */
const MAX_HOSTS = 10_000;

/**
 * Expands a Moab host list expression into node names: names separated by commas or spaces,
 * each with bracketed ranges and lists ("node[01-04,07]" → node01 node02 node03 node04 node07);
 * the width of a zero-padded bound is kept. Duplicates are dropped, order is kept.
 */
export function expandHostList(expression: string): string[] {
  const names: string[] = [];
  for (const part of splitTopLevel(expression.trim())) {
    for (const name of expandOne(part)) if (!names.includes(name)) names.push(name);
    if (names.length > MAX_HOSTS) throw invalid(`hostListExpression names more than ${MAX_HOSTS} hosts`);
  }
  return names;
}

/** Splits at commas and spaces outside brackets. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (depth < 0) throw invalid(`hostListExpression "${text}" has a "]" without its "["`);
    if ((ch === "," || /\s/.test(ch)) && depth === 0) {
      if (current) parts.push(current);
      current = "";
    } else current += ch;
  }
  if (depth !== 0) throw invalid(`hostListExpression "${text}" has a "[" without its "]"`);
  if (current) parts.push(current);
  return parts;
}

function expandOne(pattern: string): string[] {
  const names = expandBrackets(pattern);
  for (const name of names) if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw invalid(`"${name}" in hostListExpression is not a node name`);
  return names;
}

/** Every name a pattern with bracketed ranges stands for (checked as names by expandOne). */
function expandBrackets(pattern: string): string[] {
  const open = pattern.indexOf("[");
  if (open < 0) return [pattern];
  const close = pattern.indexOf("]", open);
  const head = pattern.slice(0, open);
  const tails = expandBrackets(pattern.slice(close + 1));
  const middles: string[] = [];
  for (const item of pattern.slice(open + 1, close).split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) throw invalid(`"[${pattern.slice(open + 1, close)}]" in hostListExpression is not a list of numbers and ranges like [01-04,07]`);
    const from = m[1]!;
    const to = m[2] ?? from;
    const a = Number(from);
    const b = Number(to);
    if (b < a) throw invalid(`the range ${from}-${to} in hostListExpression runs backwards`);
    if (b - a >= MAX_HOSTS) throw invalid(`the range ${from}-${to} in hostListExpression names more than ${MAX_HOSTS} hosts`);
    const width = from.startsWith("0") ? from.length : 0;
    for (let i = a; i <= b; i++) middles.push(String(i).padStart(width, "0"));
  }
  return middles.flatMap((m) => tails.map((t) => `${head}${m}${t}`));
}

// lib.mjs - what the deploy checks share: reading YAML documents with their
// line numbers, walking the repository, and collecting problems so that a
// check reports all of them (file:line: message) and exits 1, or prints a
// summary and exits 0.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

export const problems = [];

export function problem(where, msg) {
  problems.push(`${where}: ${msg}`);
}

/** Prints the problems (or `okMessage`) and exits with 1 or 0. */
export function finish(name, okMessage) {
  if (problems.length) {
    for (const p of problems) console.error(`${name}: ${p}`);
    console.error(`${name}: ${problems.length} problem(s)`);
    process.exit(1);
  }
  console.log(`${name}: ${okMessage}`);
  process.exit(0);
}

/** Every file under dir (recursively) whose name matches re, sorted. */
export function walk(dir, re) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, re));
    else if (re.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** The documents of a YAML file as {doc, line, file}; parse errors and
 * warnings (duplicate keys included) become problems. */
export function yamlDocs(file) {
  const text = fs.readFileSync(file, "utf8");
  const lc = new YAML.LineCounter();
  const docs = YAML.parseAllDocuments(text, { lineCounter: lc, prettyErrors: true,
                                               uniqueKeys: true });
  const out = [];
  for (const d of docs) {
    for (const e of [...d.errors, ...d.warnings])
      problem(file, `YAML: ${e.message.split("\n")[0]}`);
    if (d.errors.length) continue;
    const value = d.toJS({ maxAliasCount: -1 });
    if (value === null || value === undefined) continue;
    const line = d.contents ? lc.linePos(d.contents.range[0]).line : 1;
    out.push({ doc: value, line, file });
  }
  return out;
}

/** The value at a dotted path ("spec.template.spec"), or undefined. */
export function at(obj, dotted) {
  let v = obj;
  for (const k of dotted.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = v[k];
  }
  return v;
}

export function rel(root, file) {
  return path.relative(root, file);
}

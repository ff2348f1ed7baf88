// tf_check.mjs SOURCE_DIR - checks deploy/terraform offline.
//
// Every .tf file is parsed by HashiCorp's own HCL2 parser (the Go library,
// compiled to WebAssembly in @cdktf/hcl2json); then, per module directory:
//  - every var.X, local.X, module.X, data.T.N and resource reference T.N
//    names something declared in that module;
//  - every declared variable is used, and every variable of the root module
//    appears in terraform.tfvars.example (set or as a commented default),
//    which names no undeclared variable;
//  - module calls pass only variables the module declares, and all the
//    ones it requires;
//  - the security requirements hold: each S3 bucket resource has
//    versioning, KMS server-side encryption and a public access block with
//    all four settings on; no IAM policy statement allows "*" actions.
// (`terraform validate` needs the providers, which cannot be downloaded
// here; `terraform fmt -check`, run by the test script when terraform is
// installed, covers formatting.)
import fs from "node:fs";
import path from "node:path";
import { parse } from "@cdktf/hcl2json";
import { finish, problem, rel, walk } from "./lib.mjs";

const [root] = process.argv.slice(2);
if (!root) {
  console.error("usage: tf_check.mjs SOURCE_DIR");
  process.exit(2);
}
const tfRoot = path.join(root, "deploy/terraform");
const files = walk(tfRoot, /\.tf$/);

// Module directory -> {variables, locals, resources, data, modules, outputs,
// refs: [{file, text}], blocks: {resource: {...}}}.
const mods = new Map();
function mod(dir) {
  if (!mods.has(dir))
    mods.set(dir, { variables: new Map(), locals: new Set(), resources: new Map(), data: new Set(),
                    modules: new Map(), outputs: new Set(), strings: [], policies: [] });
  return mods.get(dir);
}

// All string leaves of a parsed value (HCL expressions come back as
// "${...}" strings), with the file they came from.
function strings(v, file, out) {
  if (typeof v === "string") out.push({ file, text: v });
  else if (Array.isArray(v)) v.forEach((x) => strings(x, file, out));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      out.push({ file, text: k }); // object keys can be expressions too
      strings(x, file, out);
    }
  return out;
}

for (const f of files) {
  let json;
  try {
    json = await parse(path.basename(f), fs.readFileSync(f, "utf8"));
  } catch (e) {
    problem(rel(root, f), `HCL: ${String(e.message || e).replace(/^Error: /, "")}`);
    continue;
  }
  const m = mod(path.dirname(f));
  for (const [name, [body]] of Object.entries(json.variable || {})) m.variables.set(name, body || {});
  for (const l of json.locals || []) for (const k of Object.keys(l)) m.locals.add(k);
  for (const [type, byName] of Object.entries(json.resource || {}))
    for (const [name, [body]] of Object.entries(byName)) m.resources.set(`${type}.${name}`, { type, name, body, file: f });
  for (const [type, byName] of Object.entries(json.data || {}))
    for (const [name, blocks] of Object.entries(byName)) {
      m.data.add(`${type}.${name}`);
      if (type === "aws_iam_policy_document") m.policies.push({ name, body: blocks[0], file: f });
    }
  for (const [name, [body]] of Object.entries(json.module || {})) m.modules.set(name, { body, file: f });
  for (const name of Object.keys(json.output || {})) m.outputs.add(name);
  // References are searched in everything but variable declarations
  // (whose validation blocks may use var.<self>, which is still a use).
  strings({ ...json }, f, m.strings);
}

// Expressions only: the text inside ${...} (nested braces included).
function expressions(text) {
  const out = [];
  for (let i = text.indexOf("${"); i >= 0; i = text.indexOf("${", i + 2)) {
    let depth = 0, j = i + 1;
    for (; j < text.length; j++) {
      if (text[j] === "{") depth++;
      else if (text[j] === "}" && --depth === 0) break;
    }
    out.push(text.slice(i + 2, j));
  }
  return out;
}

// Quoted strings inside an expression are not references.
const stripQuoted = (e) => e.replace(/"(?:[^"\\]|\\.)*"/g, '""');

const PROVIDER_PREFIX = /^(aws|helm|tls|random|kubernetes|null|local|time)_/;
for (const [dir, m] of mods) {
  const used = new Set();
  const where = rel(root, dir) || ".";
  for (const { file, text } of m.strings) {
    for (const raw of expressions(text)) {
      const e = stripQuoted(raw);
      const at = rel(root, file);
      for (const [, v] of e.matchAll(/(?<![\w.])var\.([A-Za-z_][\w-]*)/g)) {
        used.add(v);
        if (!m.variables.has(v)) problem(at, `var.${v} is not declared in ${where}`);
      }
      for (const [, l] of e.matchAll(/(?<![\w.])local\.([A-Za-z_][\w-]*)/g))
        if (!m.locals.has(l)) problem(at, `local.${l} is not declared in ${where}`);
      for (const [, n] of e.matchAll(/(?<![\w.])module\.([A-Za-z_][\w-]*)/g))
        if (!m.modules.has(n)) problem(at, `module.${n} is not declared in ${where}`);
      for (const [, t, n] of e.matchAll(/(?<![\w.])data\.([a-z][\w]*)\.([A-Za-z_][\w-]*)/g))
        if (!m.data.has(`${t}.${n}`)) problem(at, `data.${t}.${n} is not declared in ${where}`);
      for (const [, t, n] of e.matchAll(/(?<![\w.])([a-z][a-z0-9]*_[\w]*)\.([A-Za-z_][\w-]*)/g))
        if (PROVIDER_PREFIX.test(t) && !m.resources.has(`${t}.${n}`))
          problem(at, `${t}.${n} is not a resource of ${where}`);
    }
  }
  for (const v of m.variables.keys())
    if (!used.has(v)) problem(where, `variable "${v}" is declared but never used`);
  for (const [name, { body, file }] of m.modules) {
    const src = body.source;
    if (typeof src !== "string" || !src.startsWith("./")) {
      problem(rel(root, file), `module "${name}": only local modules are used here`);
      continue;
    }
    const child = mods.get(path.resolve(dir, src));
    if (!child) {
      problem(rel(root, file), `module "${name}": ${src} has no .tf files`);
      continue;
    }
    const meta = new Set(["source", "version", "count", "for_each", "providers", "depends_on"]);
    for (const k of Object.keys(body))
      if (!meta.has(k) && !child.variables.has(k)) problem(rel(root, file), `module "${name}": ${src} has no variable "${k}"`);
    for (const [v, decl] of child.variables)
      if (!("default" in decl) && !(v in body)) problem(rel(root, file), `module "${name}": required variable "${v}" not set`);
  }
}

// Root variables and terraform.tfvars.example.
const rootMod = mods.get(tfRoot);
const example = path.join(tfRoot, "terraform.tfvars.example");
if (!rootMod) problem("deploy/terraform", "no .tf files");
else if (!fs.existsSync(example)) problem("deploy/terraform", "terraform.tfvars.example is missing");
else {
  const text = fs.readFileSync(example, "utf8");
  // Commented defaults are documentation; parse the file with them
  // uncommented so they are checked too.
  const uncommented = text.replace(/^# ([a-z_]+\s+=)/gm, "$1");
  let vars = {};
  try {
    vars = await parse("terraform.tfvars.example", uncommented);
  } catch (e) {
    problem("deploy/terraform/terraform.tfvars.example", `HCL: ${e.message || e}`);
  }
  for (const k of Object.keys(vars))
    if (!rootMod.variables.has(k)) problem("deploy/terraform/terraform.tfvars.example", `"${k}" is not a declared variable`);
  for (const v of rootMod.variables.keys())
    if (!(v in vars)) problem("deploy/terraform/terraform.tfvars.example", `variable "${v}" is not listed`);
  for (const [v, decl] of rootMod.variables)
    if (!("description" in decl)) problem("deploy/terraform/variables.tf", `variable "${v}" has no description`);
}

// Security requirements.
for (const [, m] of mods) {
  const resources = [...m.resources.values()];
  const refersTo = (r, bucket) => JSON.stringify(r.body).includes(`aws_s3_bucket.${bucket.name}`);
  for (const b of resources.filter((r) => r.type === "aws_s3_bucket")) {
    const at = rel(root, b.file);
    const of = (type) => resources.filter((r) => r.type === type && refersTo(r, b));
    if (!of("aws_s3_bucket_versioning").some((r) => JSON.stringify(r.body).includes('"status":"Enabled"')))
      problem(at, `aws_s3_bucket.${b.name}: versioning is not enabled`);
    if (!of("aws_s3_bucket_server_side_encryption_configuration").some((r) => JSON.stringify(r.body).includes("aws:kms")))
      problem(at, `aws_s3_bucket.${b.name}: no KMS server-side encryption`);
    const pab = of("aws_s3_bucket_public_access_block");
    const all = ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];
    if (!pab.some((r) => all.every((k) => r.body[k] === true)))
      problem(at, `aws_s3_bucket.${b.name}: public access is not blocked (all four settings)`);
  }
  // IAM: no statement may allow every action, or every action of a
  // service.  Policy documents are checked on the parsed blocks; inline
  // jsonencode() policies on their source text.
  const wild = (a) => a === "*" || /^[a-z0-9-]+:\*$/.test(a);
  for (const p of m.policies)
    for (const st of p.body.statement || [])
      if ((st.effect || "Allow") !== "Deny" && (st.actions || []).some(wild))
        problem(rel(root, p.file), `data.aws_iam_policy_document.${p.name}: statement ` +
                `${st.sid || ""} allows a wildcard action`);
  for (const f of new Set(resources.map((r) => r.file))) {
    const src = fs.readFileSync(f, "utf8");
    for (const [i, line] of src.split("\n").entries())
      if (/\bAction\s*=\s*(\[[^\]]*)?"(\*|[a-z0-9-]+:\*)"/.test(line))
        problem(`${rel(root, f)}:${i + 1}`, "inline IAM policy allows a wildcard action");
  }
}

const n = [...mods.values()].reduce((a, m) => a + m.resources.size, 0);
finish("tf_check", `${files.length} files parsed as HCL2 in ${mods.size} modules, ${n} resources; ` +
       "references, variables and S3/IAM requirements hold");

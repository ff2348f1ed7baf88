// k8s_validate.mjs SOURCE_DIR WORK_DIR - validates every manifest under
// deploy/k8s offline, in three layers:
//
//  1. schema: each object is checked by the kubernetes-models validators
//     (JSON schemas of the Kubernetes OpenAPI spec, and of the Karpenter and
//     Prometheus Operator CRDs) - types, required fields, formats, enums;
//  2. strict typing: each object is type-checked by the TypeScript compiler
//     against the same models' declarations (and tests/deploy/types for the
//     KServe InferenceService), which rejects unknown or misspelt fields the
//     way `kubectl apply --validate=strict` does;
//  3. the deployment's own rules: the requirements of docs/deploy.md
//     (replica bounds, autoscaling targets, probes on the V2 health routes,
//     a termination grace period covering the server's drain, the KServe
//     custom-predictor conventions, spot-first Karpenter), and consistency
//     (kustomizations list every file, selectors and ports match).
//
// WORK_DIR must be below the directory holding node_modules (the TypeScript
// check resolves the models from there).  Exits 0 when all is well, 1 with
// one line per problem otherwise.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import YAML from "yaml";
import { at, finish, problem, rel, walk, yamlDocs } from "./lib.mjs";

const [root, work] = process.argv.slice(2);
if (!root || !work) {
  console.error("usage: k8s_validate.mjs SOURCE_DIR WORK_DIR");
  process.exit(2);
}
const k8sDir = path.join(root, "deploy/k8s");
const require = createRequire(import.meta.url);

// (apiVersion, kind) -> the model module and its interface name.
function modelOf(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "serving.kserve.io")
    return version === "v1beta1" && kind === "InferenceService"
      ? { module: null, types: "./types/kserve-v1beta1.js", iface: "IInferenceService" }
      : null;
  if (group === "karpenter.sh" || group === "karpenter.k8s.aws")
    return { module: `@kubernetes-models/karpenter/${group}/${version}/${kind}`, iface: `I${kind}` };
  if (group === "monitoring.coreos.com")
    return { module: `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`, iface: `I${kind}` };
  // Built-in kinds: kubernetes-models/<group-dir>/<version>/<Kind>, the
  // core group under v1/.
  const dir = group === "" ? version : `${group.replace(/\.k8s\.io$/, ".k8s.io")}/${version}`;
  return { module: `kubernetes-models/${dir}/${kind}`, iface: `I${kind}` };
}

// --- 0. read everything ------------------------------------------------------
const files = walk(k8sDir, /\.ya?ml$/);
const kustomizations = files.filter((f) => path.basename(f) === "kustomization.yaml");
const manifests = files.filter((f) => path.basename(f) !== "kustomization.yaml");
const objects = []; // {doc, line, file}
for (const f of manifests) objects.push(...yamlDocs(f));

// --- 1. kustomizations: every resource exists, every manifest is listed ---
const listed = new Set();
for (const k of kustomizations) {
  const [{ doc } = {}] = yamlDocs(k);
  if (!doc) continue;
  if (doc.kind !== "Kustomization") problem(rel(root, k), "kind is not Kustomization");
  for (const r of doc.resources || []) {
    const p = path.resolve(path.dirname(k), r);
    if (!fs.existsSync(p)) problem(rel(root, k), `resource '${r}' does not exist`);
    else if (fs.statSync(p).isDirectory()) {
      if (!fs.existsSync(path.join(p, "kustomization.yaml")))
        problem(rel(root, k), `resource '${r}' is a directory without kustomization.yaml`);
    } else listed.add(p);
  }
}
for (const f of manifests)
  if (!listed.has(f)) problem(rel(root, f), "not listed in any kustomization.yaml");

// --- 2. schema validation through the models -------------------------------
const typed = []; // {obj, model}
for (const o of objects) {
  const where = `${rel(root, o.file)}:${o.line}`;
  const { apiVersion, kind } = o.doc;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    problem(where, "apiVersion and kind are required");
    continue;
  }
  const model = modelOf(apiVersion, kind);
  if (!model) {
    problem(where, `no schema for ${apiVersion} ${kind}`);
    continue;
  }
  o.where = `${where} ${kind}/${at(o.doc, "metadata.name")}`;
  if (model.module) {
    let cls;
    try {
      cls = (await import(model.module))[kind];
    } catch (e) {
      problem(where, `unknown kind ${apiVersion} ${kind} (${e.code || e.message})`);
      continue;
    }
    try {
      new cls(o.doc).validate();
    } catch (e) {
      problem(o.where, `schema: ${e.message}`);
    }
  }
  typed.push({ o, model });
}

// --- 3. strict typing with the TypeScript compiler --------------------------
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const lines = [];
const imports = new Map();
for (const { model } of typed) {
  const spec = model.types ? path.join(path.dirname(new URL(import.meta.url).pathname), model.types)
                           : model.module;
  const key = `${spec}#${model.iface}`;
  if (!imports.has(key)) imports.set(key, `T${imports.size}`);
}
for (const [key, alias] of imports) {
  const [spec, iface] = key.split("#");
  lines.push(`import type { ${iface} as ${alias} } from ${JSON.stringify(spec)};`);
}
const firstDocLine = lines.length + 1;
typed.forEach(({ o, model }, i) => {
  const spec = model.types ? path.join(path.dirname(new URL(import.meta.url).pathname), model.types)
                           : model.module;
  lines.push(`export const d${i}: ${imports.get(`${spec}#${model.iface}`)} = ${JSON.stringify(o.doc)};`);
});
fs.writeFileSync(path.join(work, "check.ts"), lines.join("\n") + "\n");
fs.writeFileSync(path.join(work, "tsconfig.json"), JSON.stringify({
  compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext",
                     target: "es2022", skipLibCheck: true, preserveSymlinks: true, types: [] },
  files: ["check.ts"],
}));
let tscOut = "";
try {
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", work],
               { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
} catch (e) {
  tscOut = `${e.stdout || ""}${e.stderr || ""}`;
  if (!tscOut.trim()) tscOut = `tsc failed: ${e.message}`;
}
for (const line of tscOut.split("\n").filter((l) => l.trim())) {
  const m = /(?:^|\/)check\.ts\((\d+),\d+\): error (TS\d+: .*)$/.exec(line);
  if (m && typed[Number(m[1]) - firstDocLine])
    problem(typed[Number(m[1]) - firstDocLine].o.where, `type: ${m[2]}`);
  else if (!/^\s/.test(line)) problem("typescript", line);
}
fs.rmSync(work, { recursive: true, force: true });

// --- 4. the deployment's own rules -------------------------------------------
const find = (kind, name) => objects.filter((o) => o.doc.kind === kind &&
                                             (name === undefined || at(o.doc, "metadata.name") === name));
const need = (cond, where, msg) => { if (!cond) problem(where, msg); };
const matches = (selector, labels) =>
  selector && Object.entries(selector).every(([k, v]) => labels && labels[k] === v);
const durationSeconds = (s) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(s));
  return m ? Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]] : NaN;
};

// The server's drain time, from its config.yaml in the ConfigMap.
const cfgMap = find("ConfigMap", "fraud-config")[0];
let drain = 30; // the server's default shutdown grace
if (!cfgMap) problem("deploy/k8s/common", "ConfigMap fraud-config (config.yaml) is missing");
else {
  try {
    const cfg = YAML.parse(cfgMap.doc.data["config.yaml"]);
    const g = at(cfg, "server.shutdown_grace");
    if (g !== undefined) drain = durationSeconds(g);
    need(Number.isFinite(drain), cfgMap.where, `server.shutdown_grace '${g}' is not a duration`);
  } catch (e) {
    problem(cfgMap.where, `config.yaml does not parse: ${e.message}`);
  }
}

function checkServerContainer(c, where, portName) {
  need(at(c, "readinessProbe.httpGet.path") === "/v2/health/ready", where,
       "readiness probe must GET /v2/health/ready");
  need(at(c, "livenessProbe.httpGet.path") === "/v2/health/live", where,
       "liveness probe must GET /v2/health/live");
  for (const p of ["readinessProbe", "livenessProbe", "startupProbe"]) {
    const port = at(c, `${p}.httpGet.port`);
    if (port === undefined) continue;
    const ok = (c.ports || []).some((q) => q.name === port || q.containerPort === port);
    need(ok, where, `${p} port '${port}' is not a port of the container`);
  }
  need(at(c, "resources.requests.cpu") && at(c, "resources.limits.memory"), where,
       "resources: cpu request and memory limit are required");
  need(at(c, "securityContext.allowPrivilegeEscalation") === false &&
       at(c, "securityContext.readOnlyRootFilesystem") === true, where,
       "container must not escalate privileges and must have a read-only root");
  need((c.ports || []).some((q) => q.containerPort === 8080 && (!portName || q.name === portName)),
       where, `container must expose 8080${portName ? ` named ${portName}` : ""}`);
  const args = (c.args || []).join(" ");
  need(/(^| )serve( |$)/.test(args) && /--model-repository \S+/.test(args), where,
       "container must run `fraud serve --model-repository DIR`");
}

const deps = find("Deployment", "fraud-server");
need(deps.length === 1, "deploy/k8s/deployment", "Deployment fraud-server is missing");
for (const d of deps) {
  const spec = d.doc.spec;
  const labels = at(spec, "template.metadata.labels");
  need(matches(at(spec, "selector.matchLabels"), labels), d.where, "selector does not match the pod labels");
  const pod = spec.template.spec;
  const server = (pod.containers || []).find((c) => c.name === "fraud-server");
  need(server, d.where, "container fraud-server is missing");
  if (server) checkServerContainer(server, d.where, "http");
  const preStop = Number(at(server || {}, "lifecycle.preStop.sleep.seconds") || 0);
  need(pod.terminationGracePeriodSeconds >= drain + preStop, d.where,
       `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} is shorter than the ` +
       `pre-stop pause (${preStop} s) plus the server's drain (${drain} s)`);
  need(pod.securityContext && pod.securityContext.runAsNonRoot === true, d.where, "pod must run as non-root");
  need(at(d.doc, "spec.strategy.rollingUpdate.maxUnavailable") === 0, d.where,
       "rolling updates must not drop capacity (maxUnavailable 0)");
  need(at(spec, "template.metadata.annotations")?.["prometheus.io/scrape"] === "true", d.where,
       "pods must carry prometheus.io/scrape: \"true\"");
  for (const svc of find("Service").filter((s) => at(s.doc, "metadata.namespace") === "fraud" &&
                                                   at(s.doc, "spec.selector")?.["app.kubernetes.io/name"] === "fraud-server")) {
    need(matches(svc.doc.spec.selector, labels), svc.where, "selector matches no fraud-server pod");
    for (const p of svc.doc.spec.ports || [])
      need(typeof p.targetPort !== "string" || (server?.ports || []).some((q) => q.name === p.targetPort),
           svc.where, `targetPort '${p.targetPort}' is not a container port name`);
  }
}
need(find("Service", "fraud-server-pods").some((s) => s.doc.spec.clusterIP === "None"),
     "deploy/k8s/deployment", "headless Service fraud-server-pods (Prometheus discovery) is missing");

for (const h of find("HorizontalPodAutoscaler", "fraud-server")) {
  const s = h.doc.spec;
  need(s.minReplicas === 3 && s.maxReplicas === 20, h.where, "replicas must be 3..20");
  const target = (name) => (s.metrics || []).find((m) => at(m, "resource.name") === name);
  need(at(target("cpu") || {}, "resource.target.averageUtilization") === 70, h.where, "CPU target must be 70 %");
  need(at(target("memory") || {}, "resource.target.averageUtilization") === 80, h.where, "memory target must be 80 %");
  need(at(s, "behavior.scaleUp.stabilizationWindowSeconds") === 30, h.where, "scale-up window must be 30 s");
  need(at(s, "behavior.scaleDown.stabilizationWindowSeconds") === 120, h.where, "scale-down window must be 2 min");
  need(find(s.scaleTargetRef.kind, s.scaleTargetRef.name).length === 1, h.where, "scaleTargetRef names no object");
}
need(find("HorizontalPodAutoscaler", "fraud-server").length === 1, "deploy/k8s/deployment", "HPA fraud-server is missing");

for (const p of find("PodDisruptionBudget", "fraud-server")) {
  need(p.doc.spec.minAvailable === 1, p.where, "minAvailable must be 1");
  need(deps.some((d) => matches(at(p.doc, "spec.selector.matchLabels"), at(d.doc, "spec.template.metadata.labels"))),
       p.where, "selector matches no fraud-server pod");
}
need(find("PodDisruptionBudget", "fraud-server").length === 1, "deploy/k8s/deployment", "PDB fraud-server is missing");

for (const i of find("InferenceService")) {
  const p = i.doc.spec.predictor;
  const mode = at(i.doc, "metadata.annotations")?.["serving.kserve.io/deploymentMode"];
  if (p.canaryTrafficPercent !== undefined) {
    need(mode === "Serverless" || mode === "Knative", i.where,
         "canaryTrafficPercent needs deploymentMode Serverless (Knative)");
    need(p.canaryTrafficPercent >= 0 && p.canaryTrafficPercent <= 100, i.where, "canaryTrafficPercent is a percentage");
  } else problem(i.where, "canaryTrafficPercent is missing (canary rollout)");
  need(p.minReplicas === 3 && p.maxReplicas === 20, i.where, "replicas must be 3..20");
  const c = (p.containers || [])[0] || {};
  need(c.name === "kserve-container", i.where, "the custom container must be named kserve-container");
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
  need(env.PROTOCOL === "v2", i.where, "env PROTOCOL=v2 declares the V2 protocol to KServe");
  need(/^s3:\/\//.test(env.STORAGE_URI || ""), i.where, "env STORAGE_URI must be an s3:// model location");
  // Each revision downloads the whole repository: only a pinned version
  // keeps an older revision's pods on the old model (docs/deploy.md).
  need(/^specific:\d+$/.test(env.FRAUD_MODEL_DEFAULTS_VERSION_POLICY || ""), i.where,
       "env FRAUD_MODEL_DEFAULTS_VERSION_POLICY must pin one version (specific:N) per revision");
  // Knative: requests arrive on the queue-proxy's port 8012 from the
  // activator (knative-serving) or the ingress gateway; the overlay's own
  // NetworkPolicies must admit them, the common ones admit only 8080.
  const podLabels = p.labels || {};
  const admits = (pol, ns, port) => matches(at(pol.doc, "spec.podSelector.matchLabels"), podLabels) &&
    (pol.doc.spec.ingress || []).some((r) =>
      (r.from || []).some((f) => at(f, "namespaceSelector.matchLabels")?.["kubernetes.io/metadata.name"] === ns) &&
      (r.ports || []).some((q) => q.port === port));
  const kservePolicies = find("NetworkPolicy").filter((n) => n.file.startsWith(path.join(k8sDir, "kserve") + path.sep));
  need(kservePolicies.some((n) => admits(n, "knative-serving", 8012)), i.where,
       "no NetworkPolicy of deploy/k8s/kserve admits namespace knative-serving (activator) to the queue-proxy port 8012");
  need(/--model-repository \/mnt\/models/.test((c.args || []).join(" ")), i.where,
       "the server must read /mnt/models, where KServe's storage initializer puts STORAGE_URI");
  checkServerContainer(c, i.where, "http1");
  need((p.terminationGracePeriodSeconds || 30) >= drain, i.where,
       `terminationGracePeriodSeconds is shorter than the server's drain (${drain} s)`);
}
need(find("InferenceService").length === 1, "deploy/k8s/kserve", "InferenceService is missing");

for (const n of find("NodePool")) {
  const req = at(n.doc, "spec.template.spec.requirements") || [];
  const cap = req.find((r) => r.key === "karpenter.sh/capacity-type");
  need(cap && cap.operator === "In" && cap.values.includes("spot"), n.where, "spot capacity must be allowed");
  need(at(n.doc, "spec.disruption.consolidationPolicy"), n.where, "consolidation must be set");
  const ref = at(n.doc, "spec.template.spec.nodeClassRef");
  need(ref && find(ref.kind, ref.name).length === 1, n.where, "nodeClassRef names no EC2NodeClass here");
  const labels = at(n.doc, "spec.template.metadata.labels") || {};
  for (const w of [...deps, ...find("InferenceService")]) {
    const sel = at(w.doc, "spec.template.spec.nodeSelector") || at(w.doc, "spec.predictor.nodeSelector");
    need(!sel || matches(sel, labels), w.where, "nodeSelector does not match the NodePool's node labels");
  }
}
need(find("NodePool").length >= 1, "deploy/k8s/karpenter", "Karpenter NodePool is missing");

const policies = find("NetworkPolicy");
need(policies.some((p) => Object.keys(at(p.doc, "spec.podSelector") || {}).length === 0 &&
                          (p.doc.spec.policyTypes || []).includes("Ingress") && !p.doc.spec.ingress),
     "deploy/k8s/common", "a default-deny NetworkPolicy is missing");

finish("k8s_validate", `${objects.length} objects in ${manifests.length} files valid ` +
       `(schemas, strict types, deployment rules); ${kustomizations.length} kustomizations`);

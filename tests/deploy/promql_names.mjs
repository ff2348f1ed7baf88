// promql_names.mjs SOURCE_DIR OUT_DIR - checks every PromQL expression of
// the alerting/recording rules and the Grafana dashboards:
//  - it parses with Prometheus' own PromQL grammar (@prometheus-io/
//    lezer-promql), after Grafana's $variables are given sample values;
//  - every metric it selects is a server metric of docs/metrics.md (a
//    histogram's _bucket/_sum/_count series included) or a recording rule
//    defined in deploy/monitoring/prometheus/rules;
//  - every label it matches on is one that metric carries (docs/metrics.md)
//    or one Prometheus adds (job, instance, namespace, pod);
//  - each dashboard is Grafana dashboard JSON with a current schemaVersion,
//    unique panel ids, a grid position per panel and a datasource variable.
// Writes OUT_DIR/used-metrics.txt (server metric names used, one a line)
// for the live scrape test, and OUT_DIR/dashboard-rules.yml, the
// dashboards' expressions as recording rules for `promtool check rules`.
import fs from "node:fs";
import path from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import YAML from "yaml";
import { finish, problem, rel, walk, yamlDocs } from "./lib.mjs";

const [root, outDir] = process.argv.slice(2);
if (!root || !outDir) {
  console.error("usage: promql_names.mjs SOURCE_DIR OUT_DIR");
  process.exit(2);
}

// --- docs/metrics.md: the contract ------------------------------------------
const metricsDoc = fs.readFileSync(path.join(root, "docs/metrics.md"), "utf8");
const exported = new Map(); // name -> {type, labels:Set}
for (const line of metricsDoc.split("\n")) {
  const m = /^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*([a-z]+)[^|]*\|([^|]*)\|/.exec(line);
  if (!m) continue;
  const labels = new Set([...m[3].matchAll(/`([a-z_][a-z0-9_]*)`/g)].map((x) => x[1]));
  exported.set(m[1], { type: m[2], labels });
}
if (exported.size < 10) problem("docs/metrics.md", `only ${exported.size} metrics found in the table`);
const TARGET_LABELS = new Set(["job", "instance", "namespace", "pod"]);
const seriesOf = new Map(); // series name -> {metric, labels}
for (const [name, info] of exported) {
  seriesOf.set(name, { metric: name, labels: info.labels });
  if (info.type === "histogram") {
    seriesOf.set(`${name}_bucket`, { metric: name, labels: new Set([...info.labels, "le"]) });
    seriesOf.set(`${name}_sum`, { metric: name, labels: info.labels });
    seriesOf.set(`${name}_count`, { metric: name, labels: info.labels });
  }
}

// --- recording rules ----------------------------------------------------------
const ruleFiles = walk(path.join(root, "deploy/monitoring/prometheus/rules"), /\.ya?ml$/);
const recorded = new Map(); // name -> labels it keeps (by clause) or null
const exprs = []; // {where, expr}
for (const f of ruleFiles)
  for (const { doc } of yamlDocs(f))
    for (const g of doc.groups || [])
      for (const r of g.rules || []) {
        const where = `${rel(root, f)} ${r.record || r.alert}`;
        exprs.push({ where, expr: String(r.expr) });
        if (r.record) recorded.set(r.record, null);
      }

// --- dashboards -----------------------------------------------------------------
const GRAFANA_VARS = { __rate_interval: "5m", __interval: "1m", __range: "1h", namespace: "fraud",
                       model: "fraud", pod_hourly_cost: "0.045" };
const substitute = (e) => e.replace(/\$\{?(\w+)(?::\w+)?\}?/g, (all, v) =>
  v in GRAFANA_VARS ? GRAFANA_VARS[v] : all);
const dashFiles = walk(path.join(root, "deploy/monitoring/grafana/dashboards"), /\.json$/);
for (const f of dashFiles) {
  const where = rel(root, f);
  let d;
  try {
    d = JSON.parse(fs.readFileSync(f, "utf8"));
  } catch (e) {
    problem(where, `not JSON: ${e.message}`);
    continue;
  }
  if (!(d.schemaVersion >= 36)) problem(where, `schemaVersion ${d.schemaVersion} is older than Grafana 9`);
  if (!d.uid || !d.title) problem(where, "uid and title are required");
  const vars = (d.templating && d.templating.list) || [];
  if (!vars.some((v) => v.type === "datasource" && v.query === "prometheus"))
    problem(where, "no Prometheus datasource variable");
  for (const v of vars) {
    if (v.type === "query") {
      const q = typeof v.query === "string" ? v.query : v.query && v.query.query;
      const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q || "");
      if (!m) problem(where, `variable ${v.name}: query is not label_values(selector, label)`);
      else exprs.push({ where: `${where} variable ${v.name}`, expr: substitute(m[1]), label: m[2] });
    }
    if (!(v.name in GRAFANA_VARS) && v.type !== "datasource")
      problem(where, `variable ${v.name} has no sample value in promql_names.mjs`);
  }
  const ids = new Set();
  const panels = [];
  const collect = (ps) => ps.forEach((p) => { panels.push(p); if (p.panels) collect(p.panels); });
  collect(d.panels || []);
  for (const p of panels) {
    if (ids.has(p.id)) problem(where, `duplicate panel id ${p.id}`);
    ids.add(p.id);
    const g = p.gridPos;
    if (!g || !(g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24 && g.y >= 0))
      problem(where, `panel ${p.id} "${p.title}": bad gridPos`);
    if (p.type === "row") continue;
    if (!p.targets || !p.targets.length) problem(where, `panel ${p.id} "${p.title}": no query`);
    for (const t of p.targets || []) {
      if (!t.expr) problem(where, `panel ${p.id} "${p.title}": target ${t.refId} has no expr`);
      else exprs.push({ where: `${where} panel "${p.title}"`, expr: substitute(t.expr), dashboard: true });
    }
  }
}

// --- parse every expression and check its selectors -------------------------
const used = new Set();
const dashboardRules = [];
for (const { where, expr, label, dashboard } of exprs) {
  if (/\$/.test(expr)) problem(where, `unresolved variable in: ${expr}`);
  const tree = parser.parse(expr);
  let bad = false;
  tree.iterate({ enter: (n) => {
    if (n.type.isError) bad = true;
  } });
  if (bad) {
    problem(where, `PromQL does not parse: ${expr}`);
    continue;
  }
  tree.iterate({ enter: (n) => {
    if (n.name !== "VectorSelector") return;
    const node = n.node;
    const ident = node.getChild("Identifier");
    let name = ident ? expr.slice(ident.from, ident.to) : null;
    const matchers = [];
    const walkM = (c) => {
      for (let k = c.firstChild; k; k = k.nextSibling) {
        if (k.name === "LabelName") matchers.push(expr.slice(k.from, k.to));
        walkM(k);
      }
    };
    walkM(node);
    if (!name) {
      problem(where, `selector without a metric name: ${expr.slice(n.from, n.to)}`);
      return;
    }
    if (recorded.has(name)) return;
    const s = seriesOf.get(name);
    if (!s) {
      problem(where, `metric ${name} is not in docs/metrics.md`);
      return;
    }
    used.add(s.metric);
    for (const l of matchers)
      if (!s.labels.has(l) && !TARGET_LABELS.has(l))
        problem(where, `label ${l} is not a label of ${name} (docs/metrics.md)`);
  } });
  if (label) {
    const name = expr.replace(/\{.*$/, "").trim();
    const s = seriesOf.get(name);
    if (s && !s.labels.has(label) && !TARGET_LABELS.has(label))
      problem(where, `label_values label ${label} is not a label of ${name}`);
  }
  if (dashboard) dashboardRules.push(expr);
}

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "used-metrics.txt"), [...used].sort().join("\n") + "\n");
fs.writeFileSync(path.join(outDir, "dashboard-rules.yml"), YAML.stringify({
  groups: [{ name: "dashboard-expressions",
             rules: dashboardRules.map((expr, i) => ({ record: `dashboard:expr_${i}`, expr })) }],
}));
finish("promql_names", `${exprs.length} expressions (${ruleFiles.length} rule files, ${dashFiles.length} ` +
       `dashboards) parse and use ${used.size} server metrics, all in docs/metrics.md`);

#!/usr/bin/env bash
# run.sh CHECK - one deployment check, as ctest runs it (tests.cmake).
# Environment (set by ctest): FRAUD_SOURCE_DIR, FRAUD_BUILD_DIR, FRAUD_BIN.
# The Node.js validators live in $FRAUD_BUILD_DIR/deploy-node (installed by
# the `npm` check, the fixture every other check requires).  No check uses
# the network.
set -euo pipefail
check=${1:?usage: run.sh npm|docker|k8s|terraform|prometheus|dashboards|docs}
src=${FRAUD_SOURCE_DIR:?}
build=${FRAUD_BUILD_DIR:?}
node_dir="$build/deploy-node"
here="$src/tests/deploy"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The check scripts run through the link deploy-node/src -> tests/deploy so
# that they resolve packages from deploy-node/node_modules.
js() {
  local script=$1
  shift
  node --preserve-symlinks --preserve-symlinks-main "$node_dir/src/$script" "$@"
}

case "$check" in
npm)
  "$here/npm-install.sh" "$node_dir"
  ;;
docker)
  js docker_check.mjs "$src" "$tmp/packages.txt"
  /usr/bin/python3 "$here/ldd_coverage.py" "${FRAUD_BIN:?}" "$tmp/packages.txt"
  ;;
k8s)
  js k8s_validate.mjs "$src" "$node_dir/work-k8s-$$"
  # kustomize (built into kubectl) renders each entry point the way
  # `kubectl apply -k` will; kubectl is optional here (not a Debian
  # package), the checks above are not.
  if command -v kubectl >/dev/null 2>&1; then
    for d in deployment kserve karpenter monitoring; do
      kubectl kustomize "$src/deploy/k8s/$d" > "$tmp/$d.yaml"
      echo "kustomize: deploy/k8s/$d renders $(grep -c '^kind:' "$tmp/$d.yaml") objects"
    done
  else
    echo "kustomize: kubectl not installed; rendering not checked"
  fi
  ;;
terraform)
  js tf_check.mjs "$src"
  if command -v terraform >/dev/null 2>&1; then
    terraform fmt -check -recursive -diff "$src/deploy/terraform" 2>/dev/null
    echo "terraform fmt: deploy/terraform is canonically formatted"
  else
    echo "terraform fmt: terraform not installed; formatting not checked"
  fi
  ;;
prometheus)
  cd "$src/deploy/monitoring/prometheus"
  promtool check config prometheus.yml
  promtool check rules rules/*.yml
  promtool test rules tests/*.test.yml
  # Every alert has a unit test in which it fires.
  /usr/bin/python3 - rules tests <<'PY'
import glob, sys, yaml
alerts = {r["alert"] for f in glob.glob(sys.argv[1] + "/*.yml")
          for g in yaml.safe_load(open(f))["groups"] for r in g["rules"] if "alert" in r}
fired = {t["alertname"] for f in glob.glob(sys.argv[2] + "/*.yml")
         for case in yaml.safe_load(open(f))["tests"]
         for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
missing = sorted(alerts - fired)
if missing:
    sys.exit("alerts without a firing unit test: " + ", ".join(missing))
print(f"alert coverage: all {len(alerts)} alerts fire in a unit test")
PY
  ;;
dashboards)
  js promql_names.mjs "$src" "$tmp"
  # The dashboards' queries through Prometheus' own parser and type checks.
  promtool check rules "$tmp/dashboard-rules.yml"
  # The committed JSON is what the generator writes.
  cp -r "$src/deploy/monitoring/grafana" "$tmp/grafana"
  rm -rf "$tmp/grafana/dashboards"
  /usr/bin/python3 "$tmp/grafana/make_dashboards.py"
  diff -r "$src/deploy/monitoring/grafana/dashboards" "$tmp/grafana/dashboards"
  echo "dashboards: committed JSON matches make_dashboards.py"
  ;;
docs)
  # docs/deploy.md's publish and rollout commands, run against stand-ins
  # for S3, terraform and kubectl, give repositories the manifests serve.
  /usr/bin/python3 "$here/docs_steps.py" "$src" "${FRAUD_BIN:?}" "$tmp/docs"
  ;;
*)
  echo "run.sh: unknown check '$check'" >&2
  exit 2
  ;;
esac

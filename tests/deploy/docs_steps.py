#!/usr/bin/python3
"""docs_steps.py SOURCE_DIR FRAUD_BIN WORK_DIR - runs the local part of the
deployment steps of docs/deploy.md and checks that what they publish is what
the shipped manifests serve.

The fenced blocks marked `<!-- checked: NAME -->` are run by bash as
written, with `aws`, `terraform` and `kubectl` replaced by stand-ins: S3 is
a directory (s3://BUCKET/KEY -> WORK/s3/BUCKET/KEY; `aws s3 sync` and
`aws s3 cp` copy), `terraform output -raw models_bucket` prints the bucket
of deploy/k8s/common/settings.yaml, and `kubectl` records its arguments.
`fraud` is the binary under test.  Then, independently of the commands:

  - a pod of the Deployment starts: its init container's copy of
    MODEL_REPOSITORY_S3_URI is listed with `fraud models list --json`; every
    version must be valid (a manifest naming its own directory, what the
    server requires) and the release state the docs describe must hold;
  - every S3 prefix the server reads (MODEL_REPOSITORY_S3_URI, the
    InferenceService's STORAGE_URI, before and after the documented patch)
    lies inside what deploy/terraform/iam.tf lets the server role read;
  - the documented JSON patch of the InferenceService applies (RFC 6902,
    `test` and `replace`), changes the version pin, and the pinned version
    exists in the repository the revision downloads.

Exits 0 when all holds, 1 naming each failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

src, fraud, work = sys.argv[1:4]
problems = []


def need(cond, msg):
    if not cond:
        problems.append(msg)
    return cond


doc = open(os.path.join(src, "docs/deploy.md")).read()


def block(name):
    m = re.search(r"<!-- checked: %s -->\s*\n```sh\n(.*?)```" % re.escape(name), doc, re.S)
    if not m:
        sys.exit(f"docs/deploy.md: no ```sh block marked <!-- checked: {name} -->")
    return m.group(1)


def yaml_docs(rel):
    with open(os.path.join(src, rel)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


settings = next(d for d in yaml_docs("deploy/k8s/common/settings.yaml")
                if d["metadata"]["name"] == "fraud-settings")["data"]
isvc = next(d for d in yaml_docs("deploy/k8s/kserve/inferenceservice.yaml")
            if d["kind"] == "InferenceService")
config = yaml.safe_load(next(d for d in yaml_docs("deploy/k8s/common/config.yaml")
                             if d["metadata"]["name"] == "fraud-config")["data"]["config.yaml"])


def split_s3(uri):
    m = re.fullmatch(r"s3://([^/]+)/(.*)", uri)
    if not m:
        sys.exit(f"not an s3:// URI with a bucket: {uri}")
    return m.group(1), m.group(2)


bucket, repo_prefix = split_s3(settings["MODEL_REPOSITORY_S3_URI"])

# The server role's readable prefixes: the ReadModels statement of iam.tf
# ("${aws_s3_bucket.this["models"].arn}/repository/*").
iam = open(os.path.join(src, "deploy/terraform/iam.tf")).read()
m = re.search(r'sid\s*=\s*"ReadModels".*?resources\s*=\s*(\[[^\n]*)', iam, re.S)
readable = re.findall(r'arn\}/([^"]*)\*"', m.group(1)) if m else []
need(readable, "deploy/terraform/iam.tf: no ReadModels statement with a models-bucket prefix")


def server_may_read(uri, what):
    b, key = split_s3(uri)
    need(any(key.startswith(p) for p in readable),
         f"{what} {uri}: outside the prefixes the server role may read ({', '.join(p + '*' for p in readable)}; "
         "deploy/terraform/iam.tf)")


server_may_read(settings["MODEL_REPOSITORY_S3_URI"], "MODEL_REPOSITORY_S3_URI (deploy/k8s/common/settings.yaml)")
env = isvc["spec"]["predictor"]["containers"][0]["env"]
storage = next(e["value"] for e in env if e["name"] == "STORAGE_URI")
server_may_read(storage, "STORAGE_URI (deploy/k8s/kserve/inferenceservice.yaml)")

# --- the stand-ins -----------------------------------------------------------
shutil.rmtree(work, ignore_errors=True)
os.makedirs(os.path.join(work, "bin"))
s3 = os.path.join(work, "s3")
os.makedirs(os.path.join(s3, bucket))
os.symlink(os.path.join(src, "data"), os.path.join(work, "data"))
stand_ins = {
    "aws": f"""#!/bin/bash
# aws s3 sync|cp SRC DST over a directory standing in for S3.
set -euo pipefail
loc() {{ case $1 in s3://*) echo "{s3}/${{1#s3://}}";; *) echo "$1";; esac; }}
[ "$1" = s3 ] || {{ echo "aws stand-in: only 's3 sync|cp'" >&2; exit 2; }}
case $2 in
sync) mkdir -p "$(loc "$4")"; cp -r "$(loc "$3")/." "$(loc "$4")/";;
cp) mkdir -p "$(dirname "$(loc "$4")")"; cp "$(loc "$3")" "$(loc "$4")";;
*) echo "aws stand-in: s3 $2 not known" >&2; exit 2;;
esac
""",
    "terraform": f"""#!/bin/bash
[[ " $* " == *" output -raw models_bucket "* ]] || {{ echo "terraform stand-in: $*" >&2; exit 2; }}
echo {bucket}
""",
    "kubectl": f"""#!/bin/bash
printf '%s\\0' "$@" >> {work}/kubectl.log; printf '\\n' >> {work}/kubectl.log
""",
    "fraud": f"""#!/bin/bash
exec {fraud} "$@"
""",
}
for name, text in stand_ins.items():
    p = os.path.join(work, "bin", name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o755)
run_env = dict(os.environ, PATH=os.path.join(work, "bin") + ":" + os.environ["PATH"],
               OMP_NUM_THREADS="1")


def run(name, text):
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=work, env=run_env,
                       capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        for p_ in problems:
            print("docs_steps:", p_)
        sys.exit(f"docs/deploy.md block '{name}' failed (exit {r.returncode}):\n{r.stderr}")


def pod_start(uri, where, root=None):
    """A pod's copy of the repository (init container / storage initializer)
    and what `fraud models list` says of it."""
    b, key = split_s3(uri)
    d = os.path.join(work, "pods", where)
    shutil.rmtree(d, ignore_errors=True)
    if not need(os.path.isdir(os.path.join(root or s3, b, key)), f"{where}: nothing published at {uri}"):
        return d, {}
    shutil.copytree(os.path.join(root or s3, b, key), d)
    r = subprocess.run([fraud, "models", "list", "--repository", d, "--json"],
                       capture_output=True, text=True)
    need(r.returncode == 0, f"{where}: fraud models list exit {r.returncode}: {r.stderr.strip()}")
    rows = json.loads(r.stdout or "[]")
    # --json: a list of models, each with its versions, or a flat list.
    out = {}
    for m_ in rows if isinstance(rows, list) else rows.get("models", []):
        for v in m_.get("versions", [m_]):
            out[(m_.get("name") or m_.get("model"), str(v.get("version")))] = v
    return d, out


def valid_versions(listing, where, expect):
    for key in expect:
        v = listing.get(key)
        if need(v is not None, f"{where}: {key[0]}/{key[1]} is not in the repository the pods copy"):
            need(not v.get("problem") and v.get("stage") != "invalid",
                 f"{where}: {key[0]}/{key[1]} is refused by the server: {v.get('problem') or v.get('stage')}")


model = config["repository"]["default_model"]

# Step 6: train into the layout the upload creates, publish version 1.
run("publish", block("publish"))
_, listing = pod_start(settings["MODEL_REPOSITORY_S3_URI"], "deployment-v1")
valid_versions(listing, "step 6", [(model, "1")])
need(listing.get((model, "1"), {}).get("stage") == "production",
     f"step 6: {model}/1 is not the production version of the published repository")

# Plain Deployment: production named, version 2 published, canary set.
dep = block("deployment-canary")
marker = "# ... publish version 2 (above), then:\n"
if need(marker in dep, "deployment-canary block: the line '# ... publish version 2 (above), then:' is missing"):
    before, after = dep.split(marker)
    # One shell, as an operator types it (variables carry over); S3 as it
    # is between the two parts is kept for the check below.
    run("deployment-canary with publish-2", before + block("publish-2") +
        f'cp -r "{s3}" "{work}/s3-between"\n' + after)
    d, listing = pod_start(settings["MODEL_REPOSITORY_S3_URI"], "deployment-between",
                           os.path.join(work, "s3-between"))
    valid_versions(listing, "after publish-2", [(model, "1"), (model, "2")])
    need(listing.get((model, "1"), {}).get("stage") == "production",
         "after publishing 2: a starting pod must still serve 1 as production (stages.json names it)")
    d, listing = pod_start(settings["MODEL_REPOSITORY_S3_URI"], "deployment-canary")
    stages_path = os.path.join(d, model, "stages.json")
    if need(os.path.exists(stages_path), "deployment-canary: no stages.json in the repository the pods copy"):
        st = json.load(open(stages_path))
        need(st.get("production") == "1" and (st.get("canary") or {}).get("version") == "2",
             f"deployment-canary: stages.json the pods read is {st}, not production 1 with canary 2")
    log = open(os.path.join(work, "kubectl.log")).read() if os.path.exists(os.path.join(work, "kubectl.log")) else ""
    need("rollout\0restart\0deploy/fraud-server\0" in log,
         "deployment-canary: no `kubectl rollout restart deploy/fraud-server` (pods copy the repository only at start)")

# KServe: the documented patch, applied to the shipped InferenceService.
os.remove(os.path.join(work, "kubectl.log")) if os.path.exists(os.path.join(work, "kubectl.log")) else None
run("kserve-canary", block("kserve-canary"))
calls = [c.split("\0") for c in open(os.path.join(work, "kubectl.log")).read().split("\0\n") if c]
patches = [json.loads(c[c.index("-p") + 1]) for c in calls
           if "patch" in c and "--type" in c and c[c.index("--type") + 1] == "json"]
if need(len(patches) == 1, f"kserve-canary: expected one JSON patch, found {len(patches)}"):
    obj = json.loads(json.dumps(isvc))

    def locate(path):
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
        parent = obj
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        return parent, int(last) if isinstance(parent, list) else last

    try:
        for op in patches[0]:
            parent, k = locate(op["path"])
            if op["op"] == "test":
                need(parent[k] == op["value"], f"kserve-canary: patch test fails: {op['path']} is "
                     f"{parent[k]!r} in inferenceservice.yaml, not {op['value']!r}")
            elif op["op"] == "replace":
                parent[k]  # must exist (RFC 6902: replace of a missing member fails)
                parent[k] = op["value"]
            else:
                need(False, f"kserve-canary: unexpected patch op {op['op']}")
    except (KeyError, IndexError, ValueError) as e:
        need(False, f"kserve-canary: patch does not apply to inferenceservice.yaml: {e!r}")
    new_env = {e["name"]: e.get("value") for e in obj["spec"]["predictor"]["containers"][0]["env"]}
    old_env = {e["name"]: e.get("value") for e in env}
    server_may_read(new_env.get("STORAGE_URI", ""), "STORAGE_URI after the documented patch")
    pin = new_env.get("FRAUD_MODEL_DEFAULTS_VERSION_POLICY", "")
    need(pin != old_env.get("FRAUD_MODEL_DEFAULTS_VERSION_POLICY"),
         "kserve-canary: the patch does not change the pinned version (no new revision)")
    m = re.fullmatch(r"specific:(\d+)", pin)
    if need(m, f"kserve-canary: the pin after the patch is '{pin}', not specific:N"):
        _, listing = pod_start(new_env["STORAGE_URI"], "kserve-new-revision")
        valid_versions(listing, "kserve new revision", [(model, m.group(1))])
        # The server takes the pin as the documented environment variable.
        r = subprocess.run([fraud, "serve", "--model-repository", work, "--print-config"],
                           env=dict(os.environ, FRAUD_MODEL_DEFAULTS_VERSION_POLICY=pin),
                           capture_output=True, text=True)
        need(r.returncode == 0 and f'specific: ["{m.group(1)}"]' in r.stdout,
             f"kserve-canary: fraud serve does not take FRAUD_MODEL_DEFAULTS_VERSION_POLICY={pin}: {r.stderr.strip()}")

for p in problems:
    print("docs_steps:", p)
if problems:
    sys.exit(1)
print("docs_steps: docs/deploy.md's publish and rollout steps give repositories the manifests serve")

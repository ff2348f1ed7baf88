// docker_check.mjs SOURCE_DIR PACKAGES_OUT - lints deploy/docker/Dockerfile
// with dockerfile-utils (the validator of the Docker language server) and
// parses it with dockerfile-ast to check the image's requirements:
// multi-stage (build, then a slim runtime), non-root USER, the binary
// copied from the build stage, port 8080, a HEALTHCHECK on
// /v2/health/ready, `fraud serve` as the command.  Writes the packages the
// runtime stage installs with apt-get, one a line, to PACKAGES_OUT for
// ldd_coverage.py.
import fs from "node:fs";
import path from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { finish, problem } from "./lib.mjs";

const [root, out] = process.argv.slice(2);
if (!root || !out) {
  console.error("usage: docker_check.mjs SOURCE_DIR PACKAGES_OUT");
  process.exit(2);
}
const file = path.join(root, "deploy/docker/Dockerfile");
const where = "deploy/docker/Dockerfile";
const text = fs.readFileSync(file, "utf8");

for (const d of validate(text))
  problem(`${where}:${d.range.start.line + 1}`, `lint: ${d.message}`);

const df = DockerfileParser.parse(text);
const froms = df.getFROMs();
if (froms.length < 2) problem(where, "must be multi-stage (build and runtime)");
const stages = [];
let current = null;
for (const ins of df.getInstructions()) {
  if (ins.getKeyword() === "FROM") {
    current = { from: ins, ins: [] };
    stages.push(current);
  } else if (current) current.ins.push(ins);
}
const runtime = stages[stages.length - 1];
const kw = (k) => (runtime ? runtime.ins.filter((i) => i.getKeyword() === k) : []);
const lines = text.split("\n");
// The instruction's whole source text (flags such as --from included).
const args = (i) => lines.slice(i.getRange().start.line, i.getRange().end.line + 1).join("\n");
if (runtime) {
  if (!/-slim$/.test(runtime.from.getImageTag() || "") && !/slim/.test(args(runtime.from)))
    problem(where, "the runtime stage must start from a slim image");
  const user = kw("USER").pop();
  if (!user || /^(0|root)(:|$)/.test(args(user))) problem(where, "the runtime stage must run as a non-root USER");
  if (!kw("COPY").some((c) => /--from=build/.test(args(c)) && /\/fraud\b/.test(args(c))))
    problem(where, "the runtime stage must COPY the fraud binary --from=build");
  if (!kw("EXPOSE").some((e) => /\b8080\b/.test(args(e)))) problem(where, "EXPOSE 8080 is missing");
  if (!kw("HEALTHCHECK").some((h) => /\/v2\/health\/ready/.test(args(h))))
    problem(where, "HEALTHCHECK must probe /v2/health/ready");
  const entry = kw("ENTRYPOINT").map(args).join(" ") + " " + kw("CMD").map(args).join(" ");
  if (!/fraud/.test(entry) || !/serve/.test(entry) || !/--model-repository/.test(entry))
    problem(where, "ENTRYPOINT/CMD must run `fraud serve --model-repository ...`");
}

// Packages named by `apt-get install` in the runtime stage's RUN lines.
const packages = new Set();
for (const run of kw("RUN")) {
  const cmd = args(run).replace(/^\s*RUN\s+/, "").replace(/\\\n/g, " ");
  for (const seg of cmd.split(/&&|;|\|\|/)) {
    const m = /apt-get\s+(?:-\S+\s+)*install\s+(.*)$/.exec(seg.trim());
    if (!m) continue;
    for (const tok of m[1].split(/\s+/))
      if (tok && !tok.startsWith("-") && tok !== "\\") packages.add(tok.replace(/=.*$/, ""));
  }
}
if (!packages.size) problem(where, "the runtime stage installs no packages with apt-get install");
fs.writeFileSync(out, [...packages].sort().join("\n") + "\n");
finish("docker_check", `Dockerfile lints clean; ${stages.length} stages; runtime installs ${packages.size} packages`);

#!/usr/bin/env bash
# npm-install.sh DEST - installs the deploy checks' Node.js validators
# (tests/deploy/package.json, pinned by package-lock.json) into DEST with
# `npm ci`, unless DEST already holds exactly that lock file's packages.
# ctest runs it once as the setup fixture of the deploy tests; the tests
# themselves never touch the network.  Needs node >= 18 and npm
# (scripts/deps/test.txt lists nodejs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: npm-install.sh DEST}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "npm-install: '$tool' not found: install Node.js 18+ with npm" \
         "(scripts/install-deps.sh test installs nodejs)" >&2
    exit 1
  fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "npm-install: node $(node --version) is too old; 18 or newer is needed" >&2
  exit 1
fi

# The check scripts import from DEST/node_modules: they are run through the
# link DEST/src -> tests/deploy with node --preserve-symlinks, so module
# resolution starts in DEST while the scripts stay the ones in the tree.
mkdir -p "$dest"
ln -sfn "$here" "$dest/src"

want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$want" ] \
   && [ -d "$dest/node_modules" ]; then
  exit 0
fi
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$dest/"
cd "$dest"
# --ignore-scripts: none of these packages needs an install script, and
# none should run one.  Engine warnings are expected on Node 20 (some
# packages declare >= 22 but run on 20; the checks below prove it).
npm ci --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error
echo "$want" > .installed

#!/usr/bin/env bash
# install-deps.sh GROUP... - installs the Debian packages that the named
# groups need (scripts/deps/GROUP.txt, one package per line, '#' comments)
# when they are missing.  Idempotent: prints what it installs, runs
# `apt-get update` only when something is missing, and does nothing at all
# when everything is present.  Groups: build, test, demo, bench, deploy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- build

want=()
for group in "$@"; do
  list="$here/deps/$group.txt"
  if [ ! -f "$list" ]; then
    echo "install-deps: unknown group '$group' (no $list)" >&2
    exit 2
  fi
  while read -r pkg _; do
    case "$pkg" in ''|'#'*) continue ;; esac
    want+=("$pkg")
  done < "$list"
done

missing=()
for pkg in $(printf '%s\n' "${want[@]}" | sort -u); do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing+=("$pkg") ;;
  esac
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"

#!/usr/bin/python3
"""ldd_coverage.py BINARY PACKAGES - checks that a container stage which
installs PACKAGES (one a line) provides every shared library BINARY needs.

Each library `ldd` reports is mapped to its Debian package with `dpkg -S`;
it is covered when that package is one of PACKAGES, a dependency of one
(Depends/Pre-Depends, followed recursively through the installed packages'
control data), or an Essential package every Debian image has.  Listed
packages the binary does not (yet) link are reported, not failed: modules
still being written add libraries over time.  Exit 0 when covered, 1 with
the missing libraries and their packages otherwise.
"""
import os
import re
import subprocess
import sys


def sh(*args):
    return subprocess.run(args, capture_output=True, text=True)


def package_of(lib):
    candidates = [lib, os.path.realpath(lib)]
    for c in list(candidates):  # merged /usr: dpkg may know either spelling
        if c.startswith("/usr/"):
            candidates.append(c[4:])
        else:
            candidates.append("/usr" + c)
    for c in candidates:
        r = sh("dpkg", "-S", c)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def depends(pkg):
    r = sh("dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", pkg)
    if r.returncode != 0:
        return []
    out = []
    for alt in r.stdout.split(","):
        for choice in alt.split("|"):  # any alternative may be the one installed
            name = re.sub(r"\(.*?\)|:any|:amd64", "", choice).strip()
            if name:
                out.append(name)
    return out


def closure(pkgs):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(depends(p))
    return seen


def main():
    binary, listfile = sys.argv[1], sys.argv[2]
    listed = [l.strip() for l in open(listfile) if l.strip()]
    r = sh("ldd", binary)
    if r.returncode != 0:
        print(f"ldd_coverage: ldd {binary} failed: {r.stderr.strip()}", file=sys.stderr)
        return 1
    libs = re.findall(r"=>\s+(/\S+)", r.stdout)
    libs += re.findall(r"^\s+(/\S+)\s+\(", r.stdout, re.M)  # the dynamic loader
    essential = set(sh("dpkg-query", "-W", "-f=${Package} ${Essential}\n").stdout.split("\n"))
    essential = {l.split()[0] for l in essential if l.endswith(" yes")}
    covered = closure(listed) | essential
    needed, missing = {}, []
    for lib in libs:
        pkg = package_of(lib)
        if pkg is None:
            missing.append(f"{lib} (no Debian package owns it)")
            continue
        needed[pkg] = lib
        if pkg not in covered:
            missing.append(f"{lib} from package {pkg}")
    for m in missing:
        print(f"ldd_coverage: runtime stage lacks {m}", file=sys.stderr)
    unused = [p for p in listed if p not in needed and p != "ca-certificates"]
    print(f"ldd_coverage: {len(libs)} libraries from {len(needed)} packages "
          f"({', '.join(sorted(needed))}), "
          f"{'all covered' if not missing else f'{len(missing)} missing'}")
    if unused:
        print(f"ldd_coverage: note: listed but not linked by this build: {', '.join(unused)}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# Lays out a release directory's zips as a provider mirror, in the tree that both
# Terraform's filesystem mirror (packed layout) and its network mirror protocol read:
#
#   OUT/HOST/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip   (filesystem_mirror)
#   OUT/HOST/NAMESPACE/TYPE/index.json     {"versions": {"VERSION": {}}}  (network_mirror)
#   OUT/HOST/NAMESPACE/TYPE/VERSION.json   {"archives": {"OS_ARCH": {"url", "hashes"}}}
#
#   python3 scripts/mirror.py --dir target/dist --out target/dist/mirror \
#                             [--source terraform.local/mrs/mrs]
#
# The hashes are the ones `terraform providers lock` and the lock file use: zh: (SHA-256
# of the zip) and h1: (Go's dirhash "Hash1" of the files in it), so network mirror users
# get both pinned.
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import sys
import zipfile

ZIP_RE = re.compile(r"^terraform-provider-([a-z0-9-]+)_([0-9A-Za-z.+-]+)_([a-z0-9]+)_([a-z0-9]+)\.zip$")


def zh(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "zh:" + h.hexdigest()


def h1(path):
    """dirhash.Hash1: SHA-256 of the sorted "sha256hex  name\\n" lines of the files."""
    lines = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            if "\n" in info.filename:
                raise SystemExit(f"mirror: {path}: entry name with a newline")
            lines.append(f"{hashlib.sha256(z.read(info)).hexdigest()}  {info.filename}\n")
    summary = "".join(sorted(lines)).encode()
    return "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()


def main():
    p = argparse.ArgumentParser(description="Lay out release zips as a provider mirror.")
    p.add_argument("--dir", required=True, help="the release directory (scripts/release.sh output)")
    p.add_argument("--out", required=True, help="the mirror's root directory")
    p.add_argument("--source", default="terraform.local/mrs/mrs",
                   help="HOST/NAMESPACE/TYPE the configurations' required_providers name")
    args = p.parse_args()

    parts = args.source.split("/")
    if len(parts) != 3 or not all(parts):
        raise SystemExit(f"mirror: --source wants HOST/NAMESPACE/TYPE, got {args.source!r}")
    ptype = parts[2]
    dest = os.path.join(args.out, *parts)
    os.makedirs(dest, exist_ok=True)

    versions = {}
    for name in sorted(os.listdir(args.dir)):
        m = ZIP_RE.match(name)
        if not m or m.group(1) != ptype:
            continue
        version, platform = m.group(2), f"{m.group(3)}_{m.group(4)}"
        src = os.path.join(args.dir, name)
        shutil.copyfile(src, os.path.join(dest, name))
        versions.setdefault(version, {})[platform] = {"url": name, "hashes": [h1(src), zh(src)]}
    if not versions:
        raise SystemExit(f"mirror: no terraform-provider-{ptype}_*.zip in {args.dir}")

    def write(name, body):
        with open(os.path.join(dest, name), "w") as f:
            json.dump(body, f, indent=2, sort_keys=True)
            f.write("\n")

    write("index.json", {"versions": {v: {} for v in versions}})
    for version, archives in versions.items():
        write(f"{version}.json", {"archives": archives})
    for version, archives in sorted(versions.items()):
        for platform in sorted(archives):
            print(f"mirror: {args.source} {version} {platform}", file=sys.stderr)


if __name__ == "__main__":
    main()

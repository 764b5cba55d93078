#!/usr/bin/env python3
# The provider's own CPU per walk as instruction counts (valgrind's callgrind), and what each part of it costs per call.
"""The provider's own work in a plan, counted in instructions: repeatable whatever else
the machine is doing, where CPU seconds are not.

    python3 bench/provider_profile.py                   # this tree, built with symbols
    python3 bench/provider_profile.py old=DIR new=DIR   # builds side by side

For `terraform plan -refresh=false` (BENCH_RESOURCES, 300, from empty state) and
`terraform plan` (the same, applied: one ReadResource and one signed GET each), on
Terraform 1.0.3 and the newest Terraform of the machine (BENCH_TERRAFORM=pinned|newest
runs one), every provider process runs under `valgrind --tool=callgrind` and this
prints the instructions of all of them together, per walk and per object.

With a build that has symbols (this tree's default build here: release with
CARGO_PROFILE_RELEASE_STRIP=none and line tables, into $CARGO_TARGET_DIR/callgrind-build;
the code is the release code, LTO included), it also prints the inclusive instructions of
each part below, per call (the RPCs per call of each; the codec and typed parts per RPC
that carries values: 2 ValidateResourceConfig per object, one PlanResourceChange, and
in the refresh plan one UpgradeResourceState and one ReadResource; the HTTP parts per
ReadResource; the verification per provider process):

  DynamicValue decode        protocol::convert::decode (msgpack, or JSON for stored state)
  msgpack encode              protocol::value_codec::write_value
  typed model read / write    framework::typed::Reader::model, the model's into_value
  conform                     framework::value::Value::conform
  HTTP call                   api::http::Transport::call (the request loop, reqwest, hyper)
  SHA-256 (signing)           the request signature's hashing
  P-521 verification          the handshake's client signature, once per process

A LABEL=DIR names a directory with a build's `terraform-provider-mrs` and `mrs-sim`
(a stripped build gives totals only). Needs valgrind; callgrind runs the provider about
50 times slower, so Terraform's plugin timeouts are what bound BENCH_RESOURCES. Nothing
asserts.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

from bench import mrs_config, terraforms  # noqa: E402
from common import (  # noqa: E402
    AK,
    MRS_SOURCE,
    PROJECT,
    REGION,
    ROOT,
    SK,
    Sim,
    Terraform,
    die,
    install_tools,
    log,
    print_table,
    run,
    target_dir,
)

N = int(os.environ.get("BENCH_RESOURCES", "300"))

# (label, regular expression on callgrind's function names, RPC whose count divides it)
PARTS = [
    ("ValidateResourceConfig", r"ProviderService as .*Provider>::validate_resource_config::\{\{closure\}\}$", "validate"),
    ("PlanResourceChange", r"ProviderService as .*Provider>::plan_resource_change::\{\{closure\}\}$", "plan"),
    ("UpgradeResourceState", r"ProviderService as .*Provider>::upgrade_resource_state::\{\{closure\}\}$", "upgrade"),
    ("ReadResource", r"ProviderService as .*Provider>::read_resource::\{\{closure\}\}$", "read"),
    ("DynamicValue decode (msgpack, JSON)", r"protocol::convert::decode$", "rpc"),
    ("msgpack encode", r"value_codec::write_value$", "rpc"),
    ("typed model read", r"typed::Reader::model$", "rpc"),
    ("typed model write", r"IamSyncModel as .*IntoValue>::into_value$", "rpc"),
    ("conform to the schema type", r"value::Value::conform$", "rpc"),
    ("HTTP call (request loop, reqwest, hyper)", r"api::http::Transport::call::\{\{closure\}\}$", "read"),
    ("SHA-256 (signing)", r"sha2::sha256::compress256$", "read"),
    ("P-521 handshake verification", r"EcdsaP521Sha512 as .*>::verify_signature$", "process"),
]


def symbol_build():
    """This tree's release code with symbols, into its own target directory."""
    out = os.path.join(target_dir(), "callgrind-build")
    env = dict(
        os.environ,
        CARGO_TARGET_DIR=out,
        CARGO_PROFILE_RELEASE_STRIP="none",
        CARGO_PROFILE_RELEASE_DEBUG="line-tables-only",
    )
    log(f"cargo build --release --bins with symbols into {out}")
    run(["cargo", "build", "--release", "--bins"], cwd=ROOT, env=env)
    return os.path.join(out, "release")


def wrapper(d, real, out_dir):
    """A provider that runs `real` under callgrind. Not exec'd: if Terraform kills the
    process it started after its grace period, callgrind still ends and writes."""
    os.makedirs(d)
    path = os.path.join(d, "terraform-provider-mrs")
    with open(path, "w") as f:
        f.write(
            "#!/bin/sh\n"
            f'valgrind --tool=callgrind --callgrind-out-file="{out_dir}/cg.%p" '
            f'"{real}" "$@" 2>>"{out_dir}/valgrind.log" &\n'
            "child=$!\n"
            f'echo $child >> "{out_dir}/started"\n'
            "wait $child\n"
        )
    os.chmod(path, 0o755)
    return d


def wait_for_outputs(out_dir, timeout=120):
    """Waits until every started process has written its profile."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(os.path.join(out_dir, "started")) as f:
            started = [line.strip() for line in f if line.strip()]
        done = [p for p in started if os.path.exists(os.path.join(out_dir, f"cg.{p}")) and totals(os.path.join(out_dir, f"cg.{p}")) is not None]
        if len(done) == len(started):
            return [os.path.join(out_dir, f"cg.{p}") for p in started]
        time.sleep(0.5)
    die(f"callgrind profiles in {out_dir} did not all appear")


def totals(path):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return None


def inclusive(paths):
    """{function name: inclusive instructions}, over all the profiles."""
    out = defaultdict(int)
    for p in paths:
        r = subprocess.run(
            ["callgrind_annotate", "--inclusive=yes", "--threshold=100", p],
            capture_output=True,
            text=True,
        )
        # One function shows once per source file its inlined code came from: its
        # largest line is the function's own inclusive count.
        here = defaultdict(int)
        for line in r.stdout.splitlines():
            m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(?:[^\s:]*:)?(.*)$", line)
            if m:
                name = re.sub(r"\s*\[[^\]]*\]$", "", m.group(2))
                here[name] = max(here[name], int(m.group(1).replace(",", "")))
        for name, n in here.items():
            out[name] += n
    return out


def parts(incl, counts):
    """[(part, instructions per call or None)]: the outermost matching functions only,
    so a part that recurses or is called from itself is not counted twice."""
    rows = []
    for label, pattern, per in PARTS:
        rx = re.compile(pattern)
        names = [n for n in incl if rx.search(n)]
        # Of nested matches (a closure inside the method), keep the largest of each kind.
        total = max((incl[n] for n in names), default=0) if names else 0
        calls = counts.get(per, 0)
        rows.append((label, total / calls if calls and total else None, calls))
    return rows


def main():
    args = sys.argv[1:]
    install_tools()
    if shutil.which("valgrind") is None:
        die("valgrind is missing (apt-get install valgrind)")
    builds = []
    if not args:
        builds.append(("this tree", symbol_build()))
    for a in args:
        label, sep, d = a.partition("=")
        if not sep:
            die(f"expected LABEL=DIR, got {a!r}")
        builds.append((label, os.path.abspath(d)))
    root = tempfile.mkdtemp(prefix="mrs-callgrind-")
    summary = [("terraform", "build", "walk", "provider processes", "instructions per walk", "per object")]
    detail = [("terraform", "build", "walk", "part", "calls", "instructions per call")]
    try:
        home = os.path.join(root, "home")
        os.makedirs(home)
        for version, tf_bin in terraforms():
            for bi, (label, d) in enumerate(builds):
                sim = Sim(os.path.join(d, "mrs-sim"))
                try:
                    env = {
                        "HW_ACCESS_KEY": AK,
                        "HW_SECRET_KEY": SK,
                        "HW_MRS_ENDPOINT": sim.url,
                        "HW_PROJECT_ID": PROJECT,
                        "HW_REGION_NAME": REGION,
                    }
                    tf = Terraform(tf_bin, home, env)
                    plain = cli(root, f"plain-{version}-{bi}", d)
                    for walk, applied in (("plan -refresh=false", False), ("plan", True)):
                        tag = f"{version}-{bi}-{'r' if applied else 'nr'}"
                        work = os.path.join(root, "work-" + tag)
                        os.makedirs(work)
                        with open(os.path.join(work, "main.tf"), "w") as f:
                            f.write(mrs_config(N))
                        if applied:
                            tf.run(work, ["apply", "-auto-approve", "-no-color", "-input=false"], plain)
                        out_dir = os.path.join(root, "cg-" + tag)
                        os.makedirs(out_dir)
                        open(os.path.join(out_dir, "started"), "w").close()
                        cg = cli(root, "cg-" + tag, wrapper(os.path.join(root, "wrap-" + tag), os.path.join(d, "terraform-provider-mrs"), out_dir))
                        log(f"Terraform {version}, {label}: {walk} under callgrind")
                        args_ = ["plan", "-no-color", "-input=false", "-lock=false"]
                        if not applied:
                            args_.insert(1, "-refresh=false")
                        tf.run(work, args_, cg)
                        paths = wait_for_outputs(out_dir)
                        total = sum(totals(p) for p in paths)
                        summary.append((version, label, walk, str(len(paths)), f"{total:,}", f"{total / N:,.0f}"))
                        counts = {"validate": 2 * N, "plan": N, "rpc": 0, "process": len(paths)}
                        if applied:
                            counts.update(upgrade=N, read=N)
                        # Calls that run the codec and the typed reads: every RPC per object.
                        counts["rpc"] = sum(counts[k] for k in ("validate", "plan", "upgrade", "read") if k in counts)
                        incl = inclusive(paths)
                        for part, per_call, calls in parts(incl, counts):
                            if per_call is not None:
                                detail.append((version, label, walk, part, str(calls), f"{per_call:,.0f}"))
                finally:
                    sim.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"the provider's instructions (callgrind), {N} resources")
    print_table(summary)
    if len(detail) > 1:
        print()
        print("inclusive instructions of each part, per call of the RPCs that run it (RPC rows: per call of that RPC)")
        print_table(detail)


def cli(root, name, d):
    path = os.path.join(root, f"{name}.tfrc")
    with open(path, "w") as f:
        f.write(f'provider_installation {{\n  dev_overrides {{\n    "{MRS_SOURCE}" = "{d}"\n  }}\n  direct {{}}\n}}\n')
    return path


if __name__ == "__main__":
    main()

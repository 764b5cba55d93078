#!/usr/bin/env python3
"""Where a plan's time goes, ours on each Terraform: `python3 bench/anatomy.py`.

For `terraform plan -refresh=false` (300 resources, from empty state), `terraform plan`
(300 applied resources, each refreshed with a GET to mrs-sim) and `terraform validate`
(one resource), on Terraform 1.0.3 and on the newest Terraform of the machine (as
scripts/terraform_versions.py finds it), it runs ours BENCH_ANATOMY_RUNS times (default
3) through a dev_overrides wrapper that writes each provider process's start time and its
debug log (TF_LOG_PROVIDER=debug: one `RPC served` line per RPC, with `elapsed_ms`) to a
file, and prints, as medians over the runs:

  wall        the terraform command, start to exit
  procs       provider processes Terraform started
  RPCs        how many, by name (the three most frequent)
  in RPCs     the time during which at least one of our RPCs was being served (the
              union of their spans, all processes together): the provider's share
  outside     wall minus that: Terraform's own work, process start-up and handshakes,
              and the handover between one RPC's end and the next one's start

It uses the release binaries `make bench` builds (run it first, or BENCH_NO_BUILD=0 to
build here) and mrs-sim with 0 ms syncs. Standard library only; nothing asserts.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import terraform_versions  # noqa: E402
from bench import mrs_config  # noqa: E402
from common import AK, MRS_SOURCE, PROJECT, REGION, SK, Sim, build, die, log  # noqa: E402
from delay_line import parse_timestamp  # noqa: E402

RUNS = int(os.environ.get("BENCH_ANATOMY_RUNS", "3"))
N = int(os.environ.get("BENCH_RESOURCES", "300"))


def union_seconds(spans):
    total, end = 0.0, None
    for s, e in sorted(spans):
        if end is None or s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def read_logs(log_dir):
    """(process count, Counter of RPC names, [(start, end)] of every RPC)."""
    procs, names, spans = 0, Counter(), []
    for f in sorted(os.listdir(log_dir)):
        procs += 1
        with open(os.path.join(log_dir, f), errors="replace") as fh:
            for line in fh:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(e, dict) or e.get("@message") != "RPC served":
                    continue
                end = parse_timestamp(e["@timestamp"]).timestamp()
                spans.append((end - float(e["elapsed_ms"]) / 1000.0, end))
                names[e.get("rpc", "?")] += 1
    return procs, names, spans


def measure(tf_bin, work, cli, env, args, log_dir):
    for f in os.listdir(log_dir):
        os.remove(os.path.join(log_dir, f))
    t0 = time.perf_counter()
    r = subprocess.run(
        [tf_bin] + args,
        cwd=work,
        env=dict(env, TF_CLI_CONFIG_FILE=cli),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 2):
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        die(f"terraform {' '.join(args)} exited {r.returncode}")
    procs, names, spans = read_logs(log_dir)
    return {"wall": wall, "procs": procs, "names": names, "in_rpcs": union_seconds(spans)}


def main():
    if os.environ.get("BENCH_NO_BUILD") is None:
        os.environ["BENCH_NO_BUILD"] = "1"
    rel = build()
    pinned_v = terraform_versions.version(terraform_versions.PINNED)
    versions = [(terraform_versions.vstr(pinned_v), terraform_versions.PINNED)]
    newer, newer_v, why = terraform_versions.newer_than(pinned_v)
    if newer:
        versions.append((terraform_versions.vstr(newer_v), newer))
    else:
        log(f"NO newer Terraform ({why})")
    root = tempfile.mkdtemp(prefix="mrs-anatomy-")
    sim = Sim(os.path.join(rel, "mrs-sim"))
    try:
        log_dir = os.path.join(root, "logs")
        wrap = os.path.join(root, "wrap")
        home = os.path.join(root, "home")
        for d in (log_dir, wrap, home):
            os.makedirs(d)
        with open(os.path.join(wrap, "terraform-provider-mrs"), "w") as f:
            f.write(
                "#!/bin/sh\nTF_LOG_PROVIDER=debug\nexport TF_LOG_PROVIDER\n"
                f'exec "{rel}/terraform-provider-mrs" "$@" 2>>"{log_dir}/mrs.$$.jsonl"\n'
            )
        os.chmod(os.path.join(wrap, "terraform-provider-mrs"), 0o755)
        cli = os.path.join(root, "cli.tfrc")
        with open(cli, "w") as f:
            f.write(
                f'provider_installation {{\n  dev_overrides {{\n    "{MRS_SOURCE}" = "{wrap}"\n'
                "  }\n  direct {}\n}\n"
            )
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TF_") and not k.startswith("HW_")
        }
        env.update(
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            HOME=home,
            HW_ACCESS_KEY=AK,
            HW_SECRET_KEY=SK,
            HW_MRS_ENDPOINT=sim.url,
            HW_PROJECT_ID=PROJECT,
            HW_REGION_NAME=REGION,
        )
        scenarios = [
            ("plan-norefresh", N, ["plan", "-refresh=false", "-no-color", "-lock=false"], False),
            ("plan-refresh", N, ["plan", "-no-color", "-lock=false"], True),
            ("validate", 1, ["validate", "-no-color"], False),
        ]
        rows = [("terraform", "scenario", "wall", "procs", "RPCs (most frequent)", "in RPCs", "outside")]
        for label, tf_bin in versions:
            for name, n, args, applied in scenarios:
                work = os.path.join(root, f"{label}-{name}")
                os.makedirs(work)
                with open(os.path.join(work, "main.tf"), "w") as f:
                    f.write(mrs_config(n))
                if applied:
                    sim.reset()
                    measure(tf_bin, work, cli, env, ["apply", "-auto-approve", "-no-color"], log_dir)
                measure(tf_bin, work, cli, env, args, log_dir)  # warm-up
                got = [measure(tf_bin, work, cli, env, args, log_dir) for _ in range(RUNS)]
                wall = statistics.median(g["wall"] for g in got)
                inside = statistics.median(g["in_rpcs"] for g in got)
                top = ", ".join(f"{k} {v}" for k, v in got[-1]["names"].most_common(3))
                total = sum(got[-1]["names"].values())
                rows.append(
                    (
                        label,
                        name,
                        f"{wall:.3f} s",
                        str(got[-1]["procs"]),
                        f"{total}: {top}",
                        f"{inside:.3f} s ({inside / wall:.0%})",
                        f"{wall - inside:.3f} s",
                    )
                )
                log(f"{label} {name}: {rows[-1][2:]}")
        print()
        print(f"where ours spends a command's time, {N} resources, median of {RUNS} runs")
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for j, r in enumerate(rows):
            print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
            if j == 0:
                print("  ".join("-" * w for w in widths))
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

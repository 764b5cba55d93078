#!/usr/bin/env python3
# What each object's state costs: builds of the provider side by side, state bytes by key and plan walls.
"""Builds of this provider side by side on the two plans Terraform users run most: how
many state bytes each object carries, key by key, and what that costs per walk.

    python3 bench/state_shape.py                      # the release build of this tree
    python3 bench/state_shape.py old=/path/to/release new=target/release ...

Each LABEL=DIR names a directory holding a build's `terraform-provider-mrs` and
`mrs-sim` (so a checkout of an older commit, or a scratch variant with an attribute
left out, can be set beside this one); LABEL=DIR,private=none (or =short-id) rewrites
that build's applied state before the plans, without its private bytes (or with an
object ID of 8 hex digits): what they cost, without a build. For Terraform 1.0.3 and the
newest Terraform of the machine (as bench.py finds them; BENCH_TERRAFORM=pinned|newest
runs one), it applies BENCH_RESOURCES (300) `mrs_iam_sync` resources of bench.py's
configuration with each build (each against its own mrs-sim) and 300 `null_resource`
(the Go null provider 2.1.2, the reference of the issue's ratios), then prints:

  state bytes   the state file after the apply, per object; and, per object, what each
                attribute and each instance field adds: the file's size with that key
                and without it in every instance, as Terraform pretty-prints its state
                (checked: the re-printed file must equal the one Terraform wrote), so a
                null attribute counts its whole line
  walls         medians of BENCH_RUNS (5) runs of `plan -refresh=false` from empty
                state and of `plan` (each object refreshed with one GET), every build and
                null in one round, the order rotating each round; ratio to null
  provider CPU  user+sys of every provider process of one walk (wait4, microseconds),
                median of BENCH_RUNS more runs through a wrapper, per object
  all CPU       Terraform and its providers together, median of the timed runs: on a
                loaded machine less noisy than the walls, and what Terraform's share of
                each key is measured by (the build's provider CPU taken off)

Standard library only; BENCH_NO_BUILD=1 skips the release build of this tree; nothing
asserts on a timing.
"""

import base64
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

from bench import mrs_config, null_config, terraforms  # noqa: E402
from common import (  # noqa: E402
    AK,
    MRS_SOURCE,
    NULL_SOURCE,
    PROJECT,
    REGION,
    ROOT,
    SK,
    Sim,
    Terraform,
    build,
    cpu_wrapper,
    die,
    install_tools,
    log,
    print_table,
    take_cpu,
)

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
N = int(os.environ.get("BENCH_RESOURCES", "300"))
PLANS = {
    "plan-norefresh": ["plan", "-refresh=false", "-no-color", "-input=false", "-lock=false"],
    "plan-refresh": ["plan", "-no-color", "-input=false", "-lock=false"],
}


def pretty(state):
    """The state as Terraform writes it (Go's json.MarshalIndent with two spaces)."""
    return json.dumps(state, indent=2) + "\n"


def breakdown(path):
    """(bytes per object, {key: bytes per object}, whether the re-print was exact)."""
    with open(path) as f:
        text = f.read()
    state = json.loads(text)
    exact = pretty(state) == text

    def instances(s):
        return [i for r in s["resources"] for i in r["instances"]]

    n = len(instances(state))
    whole = len(pretty(state).encode())
    out = {}
    first = instances(state)[0]
    keys = [("attributes", k) for k in sorted(first["attributes"])]
    keys += [(None, k) for k in first if k != "attributes"]
    for where, key in keys:
        s = copy.deepcopy(state)
        nulls = 0
        for i in instances(s):
            holder = i[where] if where else i
            nulls += holder.get(key, 0) is None
            holder.pop(key, None)
        label = key if where is None else f"{where}.{key}"
        if nulls == n:
            label += " (null)"
        out[label] = (whole - len(pretty(s).encode())) / n
    return os.path.getsize(path) / n, out, exact


def rewrite_private(path, how):
    """Rewrites the state file's private bytes as `how` says, as Terraform would write
    the result: `none` removes them, `short-id` keeps the record with an object ID of 8
    hex digits instead of its own."""
    with open(path) as f:
        state = json.load(f)
    for r in state["resources"]:
        for i in r["instances"]:
            if "private" not in i:
                continue
            if how == "none":
                del i["private"]
            elif how == "short-id":
                record = json.loads(base64.b64decode(i["private"]))
                record["object"] = record.get("object", "")[-8:]
                i["private"] = base64.b64encode(json.dumps(record, separators=(",", ":")).encode()).decode()
            else:
                die(f"private={how!r}: expected none or short-id")
    with open(path, "w") as f:
        f.write(pretty(state))


def parse_builds(argv):
    """[(label, directory, how to rewrite the private bytes or None)] from LABEL=DIR or
    LABEL=DIR,private=none|short-id (the applied state's private bytes rewritten before
    the plans: what a record without them, or with a shorter ID, costs Terraform)."""
    if not argv:
        return [("this tree", build(), None)]
    out = []
    for a in argv:
        label, sep, d = a.partition("=")
        if not sep:
            die(f"expected LABEL=DIR, got {a!r}")
        d, _, opt = d.partition(",private=")
        d = os.path.abspath(d)
        for b in ("terraform-provider-mrs", "mrs-sim"):
            if not os.access(os.path.join(d, b), os.X_OK):
                die(f"{d}/{b} is missing")
        out.append((label, d, opt or None))
    return out


def main():
    builds = parse_builds(sys.argv[1:])
    install_tools()
    null_dir = os.path.join(ROOT, "tools/null-provider")
    root = tempfile.mkdtemp(prefix="mrs-shape-")
    sims = []
    rows, shapes = [], {}
    try:
        home = os.path.join(root, "home")
        cpu_dir = os.path.join(root, "cpu")
        os.makedirs(home)
        os.makedirs(cpu_dir)
        # Each build gets a plain CLI config and one that runs it under the CPU wrapper.
        who = {}
        for i, (label, d, private) in enumerate(builds):
            wrap = cpu_wrapper(
                os.path.join(root, f"wrap{i}"), os.path.join(d, "terraform-provider-mrs"), cpu_dir, f"b{i}"
            )
            sim = Sim(os.path.join(d, "mrs-sim"))
            sims.append(sim)
            who[label] = {
                "plain": cli_config(root, f"plain{i}", MRS_SOURCE, d),
                "cpu": cli_config(root, f"cpu{i}", MRS_SOURCE, wrap),
                "env": provider_env(sim),
                "tag": f"b{i}",
                "tf": mrs_config,
                "private": private,
            }
        who["null"] = {
            "plain": cli_config(root, "null", NULL_SOURCE, null_dir),
            "env": provider_env(sims[0]),
            "tf": null_config,
        }
        for version, tf_bin in terraforms():
            log(f"Terraform {version}: applying {N} resources per build (untimed)")
            dirs = {}
            for name, w in who.items():
                tf = Terraform(tf_bin, home, w["env"])
                for plan in PLANS:
                    d = os.path.join(root, f"{version}-{name}-{plan}".replace(" ", "_"))
                    os.makedirs(d)
                    with open(os.path.join(d, "main.tf"), "w") as f:
                        f.write(w["tf"](N))
                    dirs[(name, plan)] = (tf, d)
                tf, d = dirs[(name, "plan-refresh")]
                tf.run(d, ["apply", "-auto-approve", "-no-color", "-input=false"], w["plain"])
                if name != "null":
                    if w["private"]:
                        rewrite_private(os.path.join(d, "terraform.tfstate"), w["private"])
                    shapes[(version, name)] = breakdown(os.path.join(d, "terraform.tfstate"))
            walls = {k: [] for k in dirs}
            tf_cpu = {k: [] for k in dirs}
            names = list(who)
            for r in range(RUNS + 1):
                log(f"Terraform {version}: round {r + 1}/{RUNS + 1}" + (" (warm-up)" if r == 0 else ""))
                order = names[r % len(names):] + names[: r % len(names)]
                for plan, args in PLANS.items():
                    for name in order:
                        tf, d = dirs[(name, plan)]
                        t = tf.run(d, args, who[name]["plain"])
                        if r:
                            walls[(name, plan)].append(t)
                            tf_cpu[(name, plan)].append(tf.last_cpu)
            cpu = {}
            for name, w in who.items():
                if name == "null":
                    continue
                for plan, args in PLANS.items():
                    tf, d = dirs[(name, plan)]
                    take_cpu(cpu_dir, w["tag"])
                    per_walk = []
                    for _ in range(RUNS):
                        tf.run(d, args, w["cpu"])
                        per_walk.append(sum(take_cpu(cpu_dir, w["tag"])))
                    cpu[(name, plan)] = statistics.median(per_walk)
            null = {p: statistics.median(walls[("null", p)]) for p in PLANS}
            for name in names:
                if name == "null":
                    continue
                row = [version, name, f"{shapes[(version, name)][0]:.1f}"]
                for plan in PLANS:
                    m = statistics.median(walls[(name, plan)])
                    row.append(f"{m:.3f} s  {m / null[plan]:.2f}x")
                for plan in PLANS:
                    c = cpu[(name, plan)]
                    row.append(f"{c * 1e3:.1f} ms  {c * 1e3 / N:.3f}")
                for plan in PLANS:
                    row.append(f"{statistics.median(tf_cpu[(name, plan)]):.3f} s")
                rows.append(row)
            rows.append(
                [version, "null 2.1.2", ""]
                + [f"{null[p]:.3f} s" for p in PLANS]
                + ["", ""]
                + [f"{statistics.median(tf_cpu[('null', p)]):.3f} s" for p in PLANS]
            )
    finally:
        for s in sims:
            s.stop()
        shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"{N} resources; walls: median of {RUNS} runs, ratio to null; provider CPU: all its processes per walk, median of {RUNS}, and ms per object;")
    print("all CPU: Terraform and its provider processes together (user+sys), median of the timed runs")
    header = (
        "terraform",
        "build",
        "state B/object",
        "plan -refresh=false",
        "plan (refresh)",
        "CPU plan -refresh=false",
        "CPU plan",
        "all CPU, plan -refresh=false",
        "all CPU, plan",
    )
    print_table([header] + [tuple(r) for r in rows])
    print()
    print("state bytes per object, by key (the key's share of the pretty-printed state file)")
    keys = sorted({k for _, b, _ in shapes.values() for k in b}, key=lambda k: (not k.startswith("attributes"), k))
    cols = list(shapes)
    table = [("key",) + tuple(f"{v} {b}" for v, b in cols)]
    for k in keys:
        table.append((k,) + tuple(f"{shapes[c][1][k]:.1f}" if k in shapes[c][1] else "-" for c in cols))
    table.append(("whole state / object",) + tuple(f"{shapes[c][0]:.1f}" for c in cols))
    print_table(table)
    if not all(exact for _, _, exact in shapes.values()):
        print("NOTE: a state file did not re-print byte for byte; its key figures are approximate")


def cli_config(root, name, source, d):
    path = os.path.join(root, f"{name}.tfrc")
    with open(path, "w") as f:
        f.write(f'provider_installation {{\n  dev_overrides {{\n    "{source}" = "{d}"\n  }}\n  direct {{}}\n}}\n')
    return path


def provider_env(sim):
    return {
        "HW_ACCESS_KEY": AK,
        "HW_SECRET_KEY": SK,
        "HW_MRS_ENDPOINT": sim.url,
        "HW_PROJECT_ID": PROJECT,
        "HW_REGION_NAME": REGION,
    }


if __name__ == "__main__":
    main()

"""Finds the two Terraforms the tests and the benchmark run on: the pinned oldest (tools/bin/terraform) and the newest of the machine.

The newest is $TERRAFORM_BIN if set, else `terraform` on PATH when it is newer than the
pinned one. Imported by scripts/run-tests.py and bench/bench.py (standard library only).
"""

import json
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PINNED = os.path.join(ROOT, "tools", "bin", "terraform")


def version(path):
    """`terraform version -json`'s version as a tuple, or None when it cannot be run."""
    try:
        out = subprocess.run(
            [path, "version", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, CHECKPOINT_DISABLE="1"),
        )
        v = json.loads(out.stdout)["terraform_version"]
        return tuple(int(x) for x in v.split("-")[0].split("."))
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None


def vstr(v):
    return ".".join(str(x) for x in v) if v else "?"


def newer_than(pinned_version):
    """(path, version, where from) of the second Terraform; path is None when there is
    none, and then the third field says why. Raises ValueError for a TERRAFORM_BIN that
    does not run (a setting that is wrong must not pass quietly)."""
    given = os.environ.get("TERRAFORM_BIN", "")
    if given:
        v = version(given)
        if v is None:
            raise ValueError(f"TERRAFORM_BIN={given} is not a Terraform that runs")
        if v <= pinned_version:
            return None, v, f"TERRAFORM_BIN is {vstr(v)}, not newer than {vstr(pinned_version)}"
        return os.path.abspath(given), v, "TERRAFORM_BIN"
    on_path = shutil.which("terraform")
    if on_path is None:
        return None, None, "TERRAFORM_BIN is not set and there is no `terraform` on PATH"
    v = version(on_path)
    if v is None:
        return None, None, f"`terraform` on PATH ({on_path}) does not run"
    if v <= pinned_version:
        return None, v, f"`terraform` on PATH ({on_path}) is {vstr(v)}, not newer than {vstr(pinned_version)}"
    return on_path, v, "`terraform` on PATH"

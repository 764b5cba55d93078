#!/usr/bin/env python3
"""Runs every test once, and every test that drives Terraform on two Terraforms: `make test`.

1. `cargo test --all-targets --no-run` builds the test binaries (their paths come from
   cargo's JSON messages, so a new test file needs no entry anywhere).
2. Lane "oldest" runs every test binary with TERRAFORM_BIN = tools/bin/terraform (1.0.3,
   the oldest Terraform supported). Each test that reaches the harness's `terraform_bin()`
   writes its name into a log file (MRS_TEST_TERRAFORM_LOG, tests/common/terraform.rs).
3. Lane "newest" runs, in parallel with the first lane, exactly those tests again (binary
   by binary, as soon as the first lane is done with a binary) with TERRAFORM_BIN = the
   newest Terraform of the machine: $TERRAFORM_BIN if set, else `terraform` on PATH when
   it is newer than 1.0.3. Unit and in-process tests never reach `terraform_bin()`, so they
   run once.
4. A summary: the versions that ran, each binary's result per lane, the tests that
   returned early on a version without the feature they test, and, when no newer
   Terraform was found, a line saying so.

Exit status 0 only when every run passed. Environment: TERRAFORM_BIN (the newer Terraform),
TEST_JOBS_PER_BINARY (libtest threads per binary, default 2), TEST_BINARIES=a,b (only
these test binaries, by the labels the runner prints: for trying a change), TEST_KEEP_LOGS=1 (keep the
per-binary logs, printed on failure anyway), CARGO (default cargo). Arguments after `--`
go to every test binary (e.g. `-- --skip slow_test`).
"""

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

# The sibling module is imported from a source tree: leave no __pycache__ in it.
sys.dont_write_bytecode = True

from terraform_versions import PINNED, ROOT, newer_than, vstr  # noqa: E402
from terraform_versions import version as terraform_version  # noqa: E402

RESULT_RE = re.compile(
    r"test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored"
)
print_lock = threading.Lock()


def say(msg):
    with print_lock:
        print(msg, flush=True)


def build(cargo):
    """Builds every test target; returns [(label, executable)] in a stable order."""
    cmd = [cargo, "test", "--all-targets", "--no-run", "--message-format=json-render-diagnostics"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    found = {}
    for line in proc.stdout:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        target = msg["target"]
        kind = target["kind"][0]
        label = target["name"] if kind == "test" else f"{kind}:{target['name']}"
        found[label] = msg["executable"]
    if proc.wait() != 0:
        sys.exit("run-tests: cargo test --no-run failed")
    # Those that drove Terraform in the last run first, the longest first, so the second
    # lane gets its work early; then the rest (unit tests), longest first. With no last
    # run: integration tests before unit tests.
    last = load_durations()

    def order(kv):
        seen = last.get(kv[0], {})
        return (not seen.get("terraform", True), -seen.get("seconds", 0.0), ":" in kv[0], kv[0])

    return sorted(found.items(), key=order)


def durations_file():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "run-tests-durations.json")


def load_durations():
    """{label: {"seconds", "terraform"}} of the last run on the pinned Terraform; empty
    when there is none (only an ordering hint)."""
    try:
        with open(durations_file()) as f:
            data = json.load(f)
        return {
            k: {"seconds": float(v["seconds"]), "terraform": bool(v["terraform"])}
            for k, v in data.items()
        }
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


def save_durations(results):
    data = load_durations()
    data.update(
        {
            r.label: {
                "seconds": round(r.seconds, 1),
                "terraform": bool(r.terraform_tests or r.whole_binary),
            }
            for r in results
            if r.lane == "oldest"
        }
    )
    try:
        with open(durations_file(), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
    except OSError:
        pass  # only an ordering hint for the next run


class Run:
    def __init__(self, lane, label):
        self.lane, self.label = lane, label
        self.status = "not run"
        self.passed = self.failed = self.ignored = 0
        self.seconds = 0.0
        self.log = ""
        self.terraform_tests = []  # names recorded by the harness
        self.whole_binary = False  # a name the harness could not tell
        self.early = []  # (test, note) of tests that returned early


def run_binary(lane, label, exe, tf_bin, filters, extra, logdir):
    """Runs one test binary on one Terraform; returns a Run."""
    r = Run(lane, label)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
    tflog = os.path.join(logdir, f"{lane}-{safe}.terraform")
    r.log = os.path.join(logdir, f"{lane}-{safe}.log")
    env = dict(os.environ, TERRAFORM_BIN=tf_bin, MRS_TEST_TERRAFORM_LOG=tflog)
    threads = os.environ.get("TEST_JOBS_PER_BINARY", "2")
    args = [exe, f"--test-threads={threads}"] + extra
    if filters:
        args += ["--exact"] + filters
    started = time.monotonic()
    with open(r.log, "w") as out:
        code = subprocess.run(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    r.seconds = time.monotonic() - started
    with open(r.log, errors="replace") as f:
        text = f.read()
    for m in RESULT_RE.finditer(text):
        r.passed += int(m.group(2))
        r.failed += int(m.group(3))
        r.ignored += int(m.group(4))
    r.status = "ok" if code == 0 else "FAILED"
    if code != 0 and r.failed == 0:
        r.failed = 1  # a crash or a harness panic outside any test
    if os.path.exists(tflog):
        names = []
        with open(tflog, errors="replace") as f:
            for line in f:
                name, _, note = line.rstrip("\n").partition("\t")
                if note:
                    r.early.append((name, note))
                if name == "?":
                    r.whole_binary = True
                elif name not in names:
                    names.append(name)
        r.terraform_tests = names
    return r


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    cargo = os.environ.get("CARGO", "cargo")
    if not os.access(PINNED, os.X_OK):
        sys.exit(f"run-tests: {PINNED} is missing: run `make tools` first")
    pinned_version = terraform_version(PINNED)
    if pinned_version is None:
        sys.exit(f"run-tests: {PINNED} does not run")
    try:
        newer, newer_version, why = newer_than(pinned_version)
    except ValueError as e:
        sys.exit(f"run-tests: {e}")

    wall = time.monotonic()
    binaries = build(cargo)
    only = [b for b in os.environ.get("TEST_BINARIES", "").split(",") if b]
    if only:
        unknown = set(only) - {label for label, _ in binaries}
        if unknown:
            sys.exit(f"run-tests: TEST_BINARIES names unknown test binaries: {sorted(unknown)}")
        binaries = [(label, exe) for label, exe in binaries if label in only]
    built = time.monotonic() - wall
    say(f"run-tests: built {len(binaries)} test binaries in {built:.0f} s")
    say(f"run-tests: Terraform {vstr(pinned_version)} ({PINNED}) runs every test binary")
    if newer:
        say(
            f"run-tests: Terraform {vstr(newer_version)} ({newer}, from {why}) runs again "
            "every test that drives Terraform, in parallel"
        )
    else:
        say(f"run-tests: NO newer Terraform: {why}; set TERRAFORM_BIN to test one")

    keep = os.environ.get("TEST_KEEP_LOGS") == "1"
    logdir = tempfile.mkdtemp(prefix="mrs-test-logs-")
    results = []
    second = queue.Queue()

    names = {"oldest": vstr(pinned_version), "newest": vstr(newer_version) if newer else "-"}

    def report(r):
        tf = f", {len(r.terraform_tests)} drive Terraform" if r.lane == "oldest" else ""
        say(
            f"  [{names[r.lane]:>7} {r.status:6}] {r.label}: {r.passed} passed, {r.failed} failed, "
            f"{r.ignored} ignored{tf} ({r.seconds:.0f} s)"
        )

    def lane_oldest():
        for label, exe in binaries:
            r = run_binary("oldest", label, exe, PINNED, [], extra, logdir)
            results.append(r)
            report(r)
            if r.terraform_tests or r.whole_binary:
                second.put((label, exe, [] if r.whole_binary else r.terraform_tests))
        second.put(None)

    def lane_newest():
        while True:
            item = second.get()
            if item is None:
                return
            label, exe, names = item
            r = run_binary("newest", label, exe, newer, names, extra, logdir)
            results.append(r)
            report(r)

    lanes = [threading.Thread(target=lane_oldest)]
    if newer:
        lanes.append(threading.Thread(target=lane_newest))
    for t in lanes:
        t.start()
    for t in lanes:
        t.join()

    elapsed = time.monotonic() - wall
    save_durations(results)
    failed = [r for r in results if r.status != "ok"]
    for r in failed:
        say(f"\n===== {r.lane}: {r.label} FAILED; its output ({r.log}) =====")
        with open(r.log, errors="replace") as f:
            say(f.read())

    say("\n===== test summary =====")
    for lane, version in (("oldest", pinned_version), ("newest", newer_version if newer else None)):
        runs = [r for r in results if r.lane == lane]
        if version is None:
            continue
        passed = sum(r.passed for r in runs)
        nfailed = sum(r.failed for r in runs)
        say(
            f"Terraform {vstr(version)}: {len(runs)} test binaries, {passed} tests passed, "
            f"{nfailed} failed, {sum(r.seconds for r in runs):.0f} s of test time"
        )
        for r in runs:
            for name, note in r.early:
                say(f"  {r.label}::{name} {note}")
    tf_tests = sum(len(r.terraform_tests) for r in results if r.lane == "oldest")
    if newer:
        say(
            f"Versions tested: {vstr(pinned_version)} and {vstr(newer_version)} "
            f"({tf_tests} tests drive Terraform and ran on both)"
        )
    else:
        say(
            f"Versions tested: {vstr(pinned_version)} ONLY. No newer Terraform: {why}. "
            f"The {tf_tests} tests that drive Terraform ran on {vstr(pinned_version)} alone."
        )
    say(f"Wall time: {elapsed:.0f} s (build {built:.0f} s)")
    if failed:
        say("FAILED: " + ", ".join(f"{r.label} on {r.lane}" for r in failed))
    if not keep and not failed:
        shutil.rmtree(logdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

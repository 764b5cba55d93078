# Shared by both benchmarks: tools, the release build, mrs-sim, Terraform runs, tables.
"""Helpers that bench.py (ours vs null) and delay_line.py (ours vs the limit) both use."""

import json
import os
import resource
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AK = "BENCHACCESSKEY0001"
SK = "bench-secret-key-do-not-use"
PROJECT = "proj0001"
REGION = "cn-north-4"
MRS_SOURCE = "terraform.local/mrs/mrs"
NULL_SOURCE = "registry.terraform.io/hashicorp/null"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def die(msg):
    print(f"bench: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        die(f"{' '.join(map(str, cmd))} exited {r.returncode}")
    return r


# ---------------------------------------------------------------- set-up


def install_tools():
    log("installing Terraform 1.0.3 and the null provider (scripts/install-tools.sh)")
    run(["bash", os.path.join(ROOT, "scripts/install-tools.sh")])


def target_dir():
    if os.environ.get("CARGO_TARGET_DIR"):
        return os.path.abspath(os.environ["CARGO_TARGET_DIR"])
    out = run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["target_directory"]


def build():
    if os.environ.get("BENCH_NO_BUILD") != "1":
        log("cargo build --release --bins")
        run(["cargo", "build", "--release", "--bins"], cwd=ROOT)
    rel = os.path.join(target_dir(), "release")
    for b in ("terraform-provider-mrs", "mrs-sim"):
        if not os.access(os.path.join(rel, b), os.X_OK):
            die(f"{rel}/{b} was not built")
    return rel


class Sim:
    """One mrs-sim process; its `/_sim/` admin endpoints are called directly."""

    def __init__(self, binary, delay_ms=0):
        self.proc = subprocess.Popen(
            [
                binary,
                "--listen",
                "127.0.0.1:0",
                "--access-key",
                AK,
                "--secret-key",
                SK,
                "--sync-delay-ms",
                str(delay_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            die(f"unexpected mrs-sim first line {line!r}")
        self.url = line[len("listening on ") :]

    def _call(self, method, path):
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def state(self):
        return self._call("GET", "/_sim/state")

    def requests(self):
        """mrs-sim's request log: every API call since the last reset, oldest first."""
        return self._call("GET", "/_sim/requests")

    def connections(self):
        """TCP connections mrs-sim has accepted, this call's own included."""
        return self.state()["counters"]["connections_accepted"]

    def connections_since(self, before):
        """Connections accepted since `connections()` returned `before`, not counting
        this call's own; call it before any other admin call."""
        return self.connections() - before - 1

    def reset(self):
        self._call("POST", "/_sim/reset")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()



class Terraform:
    def __init__(self, binary, home, provider_env):
        self.binary = binary
        env = {
            k: v
            for k, v in os.environ.items()
            if not (k.startswith("TF_") and not k.startswith("TF_LOG"))
            and not k.startswith("HW_")
        }
        env.update(
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            HOME=home,
        )
        env.update(provider_env)
        self.env = env

    def run(self, cwd, args, cli_config, tls=True):
        env = dict(self.env, TF_CLI_CONFIG_FILE=cli_config)
        if not tls:
            # Terraform's own switch: no client certificate, plaintext gRPC.
            env["TF_DISABLE_PLUGIN_TLS"] = "1"
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(
            [self.binary] + args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        dt = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Terraform waits for its provider processes, so this is Terraform + providers.
        self.last_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        if r.returncode not in (0, 2):
            sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
            die(f"terraform {' '.join(args)} in {cwd} exited {r.returncode}")
        return dt


def cpu_wrapper(wrap_dir, real, out_dir, tag):
    """Writes `wrap_dir/<name of real>`, which runs `real` as a child and, when it ends,
    writes "user-s sys-s" of it to `out_dir/<tag>.<pid>` (wait4: microseconds, where GNU
    time prints hundredths of a second). Stdin and stdout are the child's, so the
    handshake line is the provider's own; the interpreter's own start is not counted.
    (Its peak RSS would include the forked interpreter's: bench.py takes RSS from GNU
    time.)"""
    os.makedirs(wrap_dir, exist_ok=True)
    path = os.path.join(wrap_dir, os.path.basename(real))
    with open(path, "w") as f:
        f.write(
            f"#!{sys.executable} -SE\n"
            "import os, signal, sys\n"
            f"real = {os.path.realpath(real)!r}\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    os.execv(real, [real] + sys.argv[1:])\n"
            "for s in (signal.SIGINT, signal.SIGTERM):\n"
            "    signal.signal(s, lambda n, _f: os.kill(pid, n))\n"
            "_, status, ru = os.wait4(pid, 0)\n"
            f"with open(os.path.join({out_dir!r}, {tag!r} + '.' + str(os.getpid())), 'w') as f:\n"
            "    f.write(f'{ru.ru_utime:.6f} {ru.ru_stime:.6f}\\n')\n"
            "code = os.waitstatus_to_exitcode(status)\n"
            "sys.exit(code if code >= 0 else 128 - code)\n"
        )
    os.chmod(path, 0o755)
    return wrap_dir


def take_cpu(out_dir, tag):
    """[CPU seconds] of each process `cpu_wrapper` recorded under `tag` since the last
    call; the records are removed."""
    return [user + system for user, system in take_cpu_parts(out_dir, tag)]


def take_cpu_parts(out_dir, tag):
    """[(user seconds, system seconds)] of each process `cpu_wrapper` recorded under
    `tag` since the last call; the records are removed. The system part is what
    callgrind's instruction counts never see (the kernel's work for the process's
    system calls)."""
    out = []
    for f in sorted(os.listdir(out_dir)):
        if not f.startswith(tag + "."):
            continue
        p = os.path.join(out_dir, f)
        with open(p) as fh:
            fields = fh.read().split()
        os.remove(p)
        if len(fields) == 2:
            out.append((float(fields[0]), float(fields[1])))
    return out


def state_bytes(workdir):
    """Size in bytes of the state file Terraform wrote in `workdir`."""
    return os.path.getsize(os.path.join(workdir, "terraform.tfstate"))


def clear_state(d):
    for f in ("terraform.tfstate", "terraform.tfstate.backup"):
        p = os.path.join(d, f)
        if os.path.exists(p):
            os.remove(p)



def print_table(table):
    """Left-aligned columns, a rule under the header row."""
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    for j, r in enumerate(table):
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


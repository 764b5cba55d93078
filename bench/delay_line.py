# The delay-line scenarios: provider time against the least time its calls can take.
"""The provider on a delay line, against the physical limit.

`python3 bench/bench.py --delay-line` (or BENCH_ONLY=delay) runs only this part;
`make bench` runs it after the comparison with the null provider.

Set-up: one mrs-sim with `--sync-delay-ms 2000` (every POST or DELETE starts a sync
that runs 2 s; the new names show only when it ends, and a write while it runs is
refused with 409), and in front of it bench/delay_proxy.py, a byte-forwarding TCP proxy
with a 50 ms round-trip time: RTT/2 each way per chunk, plus one RTT before the first
byte of a new connection (its SYN round trip). The provider's HW_MRS_ENDPOINT is the
proxy, so the host:port it signs is the one mrs-sim receives. This is roughly a laptop
talking to Huawei Cloud. Terraform runs with its default parallelism (10).

Each apply scenario is `terraform plan -out=tfplan` (untimed; its calls are shown apart)
then `terraform apply tfplan`, so the apply's calls in mrs-sim's request log are exactly
the calls of its ApplyResourceChange RPCs; the refresh scenario is `terraform plan`.

Provider time: from the provider's own debug log, not from Terraform's wall time, so
that Terraform's start-up, graph walk and state writing are left out. The provider runs
through a dev_overrides wrapper that sets TF_LOG_PROVIDER=debug and sends its stderr
to a file; src/protocol/server.rs writes one `RPC served` line per RPC with its end
`@timestamp` (microseconds) and `elapsed_ms`. Provider time is the span from the
earliest start (end - elapsed) of the scenario's RPCs (ApplyResourceChange, or
ReadResource for the refresh) to the latest end, across all provider processes of that
Terraform run. The bench stops with an error when the number of those RPCs is not the
number of resource changes (or refreshes) the scenario makes, so a missing or foreign
log line cannot shorten or stretch the span unnoticed.

Limits: see `limits()`; each is what the required calls cost on this line, with
syncs never overlapping on one cluster and Terraform running 10 operations at once.
The ratio is median provider time / limit, with the target set for each.

After each apply the bench reads mrs-sim's state and says whether every declared name
is synced (and every removed one gone): a fast apply that leaves the cluster wrong
would otherwise look like a win.

Environment: BENCH_DELAY_RUNS (default 3) runs of each scenario, BENCH_RTT_MS (default
50), BENCH_SYNC_MS (default 2000). Nothing asserts on a timing.
"""

import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

from common import (
    AK,
    MRS_SOURCE,
    PROJECT,
    REGION,
    ROOT,
    SK,
    Sim,
    Terraform,
    clear_state,
    die,
    log,
    print_table,
)

RUNS = int(os.environ.get("BENCH_DELAY_RUNS", "3"))
RTT_MS = float(os.environ.get("BENCH_RTT_MS", "50"))
SYNC_MS = int(os.environ.get("BENCH_SYNC_MS", "2000"))
# Terraform's default -parallelism: at most this many resource operations at once.
PARALLELISM = 10
CLUSTERS_MANY = 20
ON_ONE_CLUSTER = 10
REFRESHED = 50

# (key, label, RPC whose span is the provider time, target ratio)
SCENARIOS = [
    ("create", "create 1 resource", "ApplyResourceChange", 1.25),
    ("update", "update (+1 -1 user)", "ApplyResourceChange", 1.25),
    ("destroy", "destroy", "ApplyResourceChange", 1.25),
    (
        "clusters20",
        f"{CLUSTERS_MANY} resources on {CLUSTERS_MANY} clusters",
        "ApplyResourceChange",
        1.30,
    ),
    (
        "one_cluster",
        f"{ON_ONE_CLUSTER} resources on ONE cluster",
        "ApplyResourceChange",
        1.50,
    ),
    ("refresh", f"refresh plan, {REFRESHED} clusters", "ReadResource", 1.15),
]


def limits(rtt, sync):
    """{scenario: (seconds, calls, why)}: the least time the required calls can take.

    One write and its sync (`one_sync`): the POST (or DELETE) reaches mrs-sim RTT/2
    after it leaves and the sync runs `sync` from then; the earliest status GET that can
    see it ended arrives just as it ends and is answered RTT/2 later; then one GET of
    the names (one RTT) says what the cluster now holds. So sync + 2 RTT, 3 calls:
    2.10 s at 50 ms and 2 s. As the targets define it, no connection's SYN round trip is counted.
    For the refresh that is below what any provider can reach: Terraform starts a new
    provider process for the plan and sends the first ReadResource a few ms after
    ConfigureProvider (measured and printed as the refresh's anatomy), the first moment the
    endpoint is known, so the first wave's connections cost one more round trip. The
    report prints that floor beside the issue's limit.
    """
    one_sync = sync + 2 * rtt
    waves_many = math.ceil(CLUSTERS_MANY / PARALLELISM)
    waves_refresh = math.ceil(REFRESHED / PARALLELISM)
    return {
        "create": (one_sync, 3, "POST, status, names around one sync"),
        # The cancel may only go once the add's sync has ended (a cluster runs one sync
        # at a time), so two syncs back to back, each as long as a create's.
        "update": (2 * one_sync, 6, "two syncs: add, then cancel"),
        "destroy": (one_sync, 3, "DELETE, status, names around one sync"),
        # Terraform starts 10 at a time; the second ten start when the first end.
        "clusters20": (
            waves_many * one_sync,
            3 * CLUSTERS_MANY,
            f"{waves_many} waves of {PARALLELISM}",
        ),
        # All ten arrive at once: one POST with every name, one sync, one read.
        "one_cluster": (one_sync, 3, "one coalesced POST"),
        # One GET of the names each, 10 in flight at a time.
        "refresh": (
            waves_refresh * rtt,
            REFRESHED,
            f"{REFRESHED} GETs, {PARALLELISM} in parallel",
        ),
    }


# ---------------------------------------------------------------- configs


def resource_block(name, cluster, users, groups):
    def hcl_list(xs):
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"

    return (
        f'\nresource "mrs_iam_sync" "{name}" {{\n'
        f'  cluster_id  = "{cluster}"\n'
        f"  user_names  = {hcl_list(users)}\n"
        f"  group_names = {hcl_list(groups)}\n}}\n"
    )


def config(resources):
    """resources: [(name, cluster, users, groups)]."""
    head = (
        "terraform {\n  required_providers {\n    mrs = {\n"
        f'      source = "{MRS_SOURCE}"\n    }}\n  }}\n}}\n\nprovider "mrs" {{}}\n'
    )
    return head + "".join(resource_block(*r) for r in resources)


SINGLE_CREATE = [("one", "dl-single", ["alice", "bob"], ["ops"])]
SINGLE_UPDATE = [("one", "dl-single", ["alice", "carol"], ["ops"])]
MANY = [
    (f"c{i:02d}", f"dl-many-{i:02d}", ["alice", "bob"], ["ops"])
    for i in range(CLUSTERS_MANY)
]
# Each resource its own names: a name belongs to one resource per cluster.
SHARED = [
    (f"s{i:02d}", "dl-shared", [f"user{i:02d}a", f"user{i:02d}b"], [f"group{i:02d}"])
    for i in range(ON_ONE_CLUSTER)
]
REFRESH = [
    (f"r{i:02d}", f"dl-refresh-{i:02d}", ["alice", "bob"], ["ops"])
    for i in range(REFRESHED)
]


# ---------------------------------------------------------------- the delay line


class DelayProxy:
    """bench/delay_proxy.py as a child process in front of `upstream`."""

    def __init__(self, upstream, rtt_ms):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(ROOT, "bench", "delay_proxy.py"),
                "--upstream",
                upstream,
                "--rtt-ms",
                str(rtt_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            die(f"unexpected delay proxy first line {line!r}")
        self.url = line[len("listening on ") :]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def check_line(url):
    """Times requests on one kept-alive connection through the proxy: (the first, which
    should take 2 RTT with the handshake, and the median of the next five, 1 RTT each).
    What they take beyond that is the proxy's own overhead on this machine."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    took = []
    try:
        for _ in range(6):
            t0 = time.perf_counter()
            conn.request("GET", "/_sim/state")
            resp = conn.getresponse()
            resp.read()
            took.append(time.perf_counter() - t0)
            if resp.status != 200:
                die(f"GET /_sim/state through the delay line answered {resp.status}")
    finally:
        conn.close()
    return [took[0], statistics.median(took[1:])]


# ---------------------------------------------------------------- provider log


def parse_timestamp(ts):
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def rpc_spans(log_dir, rpc):
    """(start, end) in epoch seconds of every `RPC served` line for `rpc`."""
    spans = []
    for f in sorted(os.listdir(log_dir)):
        with open(os.path.join(log_dir, f), errors="replace") as fh:
            for line in fh:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue  # not an hclog line (a panic message would be text)
                if not isinstance(e, dict):
                    continue
                if e.get("@message") != "RPC served" or e.get("rpc") != rpc:
                    continue
                try:
                    end = parse_timestamp(e["@timestamp"]).timestamp()
                    spans.append((end - float(e["elapsed_ms"]) / 1000.0, end))
                except (KeyError, ValueError) as err:
                    die(f"unreadable RPC line in {f}: {line.strip()!r} ({err})")
    return spans


def anatomy(spans, configures):
    """Where a scenario's span goes, in ms: how long before the first RPC the provider
    was configured (the earliest moment it knows its endpoint), the median RPC of the
    first wave (Terraform's parallelism) and of the later ones, and the median handover
    (an RPC's start after the end that freed its slot: Terraform's own time)."""
    spans = sorted(spans)
    first = spans[0][0]
    before = [e for _, e in configures if e <= first]
    took = [(e - s) * 1e3 for s, e in spans]
    starts = [s for s, _ in spans][PARALLELISM:]
    ends = sorted(e for _, e in spans)
    handovers = [(st - ends[i]) * 1e3 for i, st in enumerate(starts)]
    med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
    return {
        "configured_before_ms": (first - max(before)) * 1e3 if before else None,
        "first_wave_ms": med(took[:PARALLELISM]),
        "later_ms": med(took[PARALLELISM:]),
        "handover_ms": med(handovers),
    }


# ---------------------------------------------------------------- runs


class Bench:
    def __init__(self, rel, tf_bin, root):
        self.root = root
        self.home = os.path.join(root, "home")
        self.logs = os.path.join(root, "provider-logs")
        os.makedirs(self.home)
        os.makedirs(self.logs)
        wrap_dir = os.path.join(root, "wrap")
        os.makedirs(wrap_dir)
        real = os.path.realpath(os.path.join(rel, "terraform-provider-mrs"))
        wrapper = os.path.join(wrap_dir, "terraform-provider-mrs")
        # Terraform does not see the provider's log lines (nothing for it to re-log), and
        # each provider process writes its own file.
        with open(wrapper, "w") as f:
            f.write(
                "#!/bin/sh\n"
                "TF_LOG_PROVIDER=debug\n"
                "export TF_LOG_PROVIDER\n"
                f'exec "{real}" "$@" 2>>"{self.logs}/mrs.$$.jsonl"\n'
            )
        os.chmod(wrapper, 0o755)
        self.cli = os.path.join(root, "cli.tfrc")
        with open(self.cli, "w") as f:
            f.write(
                "provider_installation {\n  dev_overrides {\n"
                f'    "{MRS_SOURCE}" = "{wrap_dir}"\n  }}\n  direct {{}}\n}}\n'
            )
        self.sim = Sim(os.path.join(rel, "mrs-sim"), SYNC_MS)
        self.proxy = None
        try:
            self.proxy = DelayProxy(self.sim.url, RTT_MS)
        finally:
            if self.proxy is None:
                self.sim.stop()
        self.tf = Terraform(
            tf_bin,
            self.home,
            {
                "HW_ACCESS_KEY": AK,
                "HW_SECRET_KEY": SK,
                "HW_MRS_ENDPOINT": self.proxy.url,
                "HW_PROJECT_ID": PROJECT,
                "HW_REGION_NAME": REGION,
            },
        )
        # Terraform's own log would only slow it down here.
        for k in [k for k in self.tf.env if k.startswith("TF_LOG")]:
            del self.tf.env[k]

    def stop(self):
        self.proxy.stop()
        self.sim.stop()

    def workdir(self, name, resources):
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(config(resources))
        return d

    def clear_logs(self):
        for f in os.listdir(self.logs):
            os.remove(os.path.join(self.logs, f))

    def tf_run(self, d, args):
        # Options before the positional plan file, as Terraform requires.
        return self.tf.run(d, args[:1] + ["-no-color", "-input=false"] + args[1:], self.cli)

    def measured(self, d, args, rpc, expect_rpcs):
        """Runs one Terraform command; returns its provider time, wall time and calls."""
        before = len(self.sim.requests())
        conns_before = self.sim.connections()
        self.clear_logs()
        wall = self.tf_run(d, args)
        # The proxy opens one upstream connection per connection the provider opens.
        conns = self.sim.connections_since(conns_before)
        calls = self.sim.requests()[before:]
        spans = rpc_spans(self.logs, rpc)
        if len(spans) != expect_rpcs:
            die(
                f"terraform {' '.join(args)} in {d}: {len(spans)} {rpc} lines in the "
                f"provider's log, expected {expect_rpcs}"
            )
        provider = max(e for _, e in spans) - min(s for s, _ in spans)
        return {
            "provider_s": provider,
            "wall_s": wall,
            "calls": summarize(calls),
            "connections": conns,
            "anatomy": anatomy(spans, rpc_spans(self.logs, "ConfigureProvider")),
        }

    def apply_step(self, d, plan_args, expect_rpcs):
        """`plan -out` (untimed), then the measured `apply tfplan`."""
        before = len(self.sim.requests())
        self.tf_run(d, ["plan", "-out=tfplan"] + plan_args)
        plan_calls = len(self.sim.requests()) - before
        r = self.measured(d, ["apply", "tfplan"], "ApplyResourceChange", expect_rpcs)
        r["plan_calls"] = plan_calls
        return r

    def synced(self):
        """{cluster_id: set of synced user and group names} from mrs-sim's state."""
        out = {}
        for c in self.sim.state().get("clusters", []):
            if c.get("project_id") == PROJECT:
                out[c["cluster_id"]] = set(c.get("user_names", [])) | set(
                    c.get("group_names", [])
                )
        return out

    def holds(self, resources, gone=()):
        """Whether every declared name is synced and none of (cluster, name) in gone is."""
        synced = self.synced()
        for _, cluster, users, groups in resources:
            if not set(users + groups) <= synced.get(cluster, set()):
                return False
        return all(name not in synced.get(cluster, set()) for cluster, name in gone)


def summarize(calls):
    """Counts of one run's API calls, by method, how many were status polls (GET
    .../iam-sync, the waits), and how many mrs-sim refused with 409."""
    by_method = {}
    for c in calls:
        by_method[c["method"]] = by_method.get(c["method"], 0) + 1
    return {
        "total": len(calls),
        "by_method": dict(sorted(by_method.items())),
        "polls": sum(
            1 for c in calls if c["method"] == "GET" and c["path"].endswith("/iam-sync")
        ),
        "refused_409": sum(1 for c in calls if c.get("status") == 409),
    }


def run_rounds(b, results):
    single = b.workdir("single", SINGLE_CREATE)
    many = b.workdir("many", MANY)
    shared = b.workdir("shared", SHARED)
    for i in range(RUNS):
        log(f"delay line: round {i + 1}/{RUNS}")
        b.sim.reset()
        clear_state(single)
        b.workdir("single", SINGLE_CREATE)
        r = b.apply_step(single, [], 1)
        r["cluster_ok"] = b.holds(SINGLE_CREATE)
        results["create"].append(r)

        b.workdir("single", SINGLE_UPDATE)
        r = b.apply_step(single, [], 1)
        r["cluster_ok"] = b.holds(SINGLE_UPDATE, gone=[("dl-single", "bob")])
        results["update"].append(r)

        r = b.apply_step(single, ["-destroy"], 1)
        r["cluster_ok"] = b.holds(
            [], gone=[("dl-single", n) for n in ("alice", "carol", "ops")]
        )
        results["destroy"].append(r)

        b.sim.reset()
        clear_state(many)
        r = b.apply_step(many, [], CLUSTERS_MANY)
        r["cluster_ok"] = b.holds(MANY)
        results["clusters20"].append(r)

        b.sim.reset()
        clear_state(shared)
        r = b.apply_step(shared, [], ON_ONE_CLUSTER)
        r["cluster_ok"] = b.holds(SHARED)
        results["one_cluster"].append(r)

    log(f"delay line: applying {REFRESHED} resources for the refresh plan (untimed)")
    b.sim.reset()
    refresh = b.workdir("refresh", REFRESH)
    b.tf_run(refresh, ["apply", "-auto-approve", f"-parallelism={REFRESHED}"])
    if not b.holds(REFRESH):
        die("the refresh scenario's set-up apply left names unsynced")
    for i in range(RUNS):
        log(f"delay line: refresh plan {i + 1}/{RUNS}")
        r = b.measured(refresh, ["plan", "-lock=false"], "ReadResource", REFRESHED)
        r["plan_calls"] = None
        r["cluster_ok"] = b.holds(REFRESH)
        results["refresh"].append(r)


def run(rel, tf_bin, tmp, label="1.0.3"):
    """Runs every delay-line scenario BENCH_DELAY_RUNS times, prints the table and
    returns the figures (for BENCH_JSON)."""
    if RUNS < 1 or RTT_MS < 0 or SYNC_MS < 0:
        die("BENCH_DELAY_RUNS must be positive; BENCH_RTT_MS, BENCH_SYNC_MS not negative")
    root = os.path.join(tmp, "delay-line")
    os.makedirs(root)
    log(f"delay line: mrs-sim --sync-delay-ms {SYNC_MS} behind a {RTT_MS:g} ms proxy")
    b = Bench(rel, tf_bin, root)
    try:
        line_check = check_line(b.proxy.url)
        results = {k: [] for k, *_ in SCENARIOS}
        run_rounds(b, results)
    finally:
        b.stop()
    return report(results, line_check, label)


def spread(xs, fmt):
    lo, hi = min(xs), max(xs)
    return fmt(lo) if lo == hi else f"{fmt(lo)}-{fmt(hi)}"


def report(results, line_check, terraform_label):
    lim = limits(RTT_MS / 1000.0, SYNC_MS / 1000.0)
    out = {
        "rtt_ms": RTT_MS,
        "sync_ms": SYNC_MS,
        "runs": RUNS,
        "line_check_s": [round(t, 4) for t in line_check],
        "scenarios": {},
    }
    header = (
        "scenario",
        "provider time",
        "API calls",
        "limit",
        "ratio",
        "target",
        "met?",
        "cluster ok",
    )
    table = [header]
    notes = []
    met_all = True
    for key, label, rpc, target in SCENARIOS:
        runs = results[key]
        limit_s, limit_calls, why = lim[key]
        provider = statistics.median(r["provider_s"] for r in runs)
        ratio = provider / limit_s if limit_s > 0 else float("inf")
        met = ratio <= target
        met_all &= met
        ok = all(r["cluster_ok"] for r in runs)
        totals = [r["calls"]["total"] for r in runs]
        table.append(
            (
                label,
                f"{provider:.3f} s",
                f"{spread(totals, str)} (limit {limit_calls})",
                f"{limit_s:.2f} s ({why})",
                f"{ratio:.2f}x",
                f"<= {target:.2f}x",
                "yes" if met else "NO",
                "yes" if ok else "NO",
            )
        )
        last = runs[-1]["calls"]
        kinds = ", ".join(f"{n} {m}" for m, n in last["by_method"].items())
        kinds += f" ({last['polls']} of the GETs status polls)"
        refused = f", {last['refused_409']} refused (409)" if last["refused_409"] else ""
        plan = [r["plan_calls"] for r in runs if r["plan_calls"] is not None]
        plan_note = f"; calls of the plan before it: {spread(plan, str)}" if plan else ""
        walls = spread([r["wall_s"] for r in runs], lambda t: f"{t:.2f}")
        conns = spread([r["connections"] for r in runs], str)
        notes.append(
            f"  {label}: {kinds}{refused} (last run){plan_note}; connections: {conns}; "
            f"provider {spread([r['provider_s'] for r in runs], lambda t: f'{t:.3f}')} s, "
            f"terraform wall {walls} s"
        )
        out["scenarios"][key] = {
            "provider_s": [round(r["provider_s"], 4) for r in runs],
            "provider_median_s": round(provider, 4),
            "wall_s": [round(r["wall_s"], 4) for r in runs],
            "calls": [r["calls"] for r in runs],
            "plan_calls": [r["plan_calls"] for r in runs],
            "connections": [r["connections"] for r in runs],
            "limit_s": round(limit_s, 4),
            "limit_calls": limit_calls,
            "ratio": round(ratio, 3),
            "target": target,
            "met": met,
            "cluster_ok": ok,
        }
    print()
    print(
        f"delay line: {RTT_MS:g} ms round trip, mrs-sim syncs of {SYNC_MS / 1000:g} s, "
        f"terraform {terraform_label} (parallelism {PARALLELISM}), median of {RUNS} runs"
    )
    print(
        "provider time: first ApplyResourceChange (ReadResource for the refresh) start "
        "to last one's end, from the provider's debug log"
    )
    print_table(table)
    print()
    print(
        f"the line itself: first request on a new connection {line_check[0] * 1e3:.0f} ms "
        f"(2 RTT), later ones on it {line_check[1] * 1e3:.0f} ms (median, 1 RTT)"
    )
    print(
        "per scenario: the measured run's calls by method, the calls of the plan before it,"
    )
    print("the TCP connections it opened, and the spread over runs:")
    for n in notes:
        print(n)
    refresh = [r["anatomy"] for r in results["refresh"]]
    if refresh and all(a["first_wave_ms"] is not None for a in refresh):
        f = lambda k: spread(  # noqa: E731
            [a[k] for a in refresh if a[k] is not None], lambda t: f"{t:.1f}"
        )
        waves = math.ceil(REFRESHED / PARALLELISM)
        floor = (waves + 1) * RTT_MS / 1000.0
        median = out["scenarios"]["refresh"]["provider_median_s"]
        print(
            f"where the refresh's time goes (ms, spread over runs): the provider was configured "
            f"{f('configured_before_ms')} before its first ReadResource; first-wave reads "
            f"{f('first_wave_ms')} (each opens its connection), later reads {f('later_ms')}, "
            f"Terraform's handover between one read's end and the next one's start "
            f"{f('handover_ms')}"
        )
        print(
            f"  no connection can be open before the endpoint is known (ConfigureProvider), so "
            f"for a provider process that starts with the plan this line's floor is "
            f"{waves} waves + 1 connection round trip = {floor:.2f} s: ours is "
            f"{median / floor:.2f}x of it"
        )
        out["scenarios"]["refresh"]["anatomy"] = refresh
        out["scenarios"]["refresh"]["fresh_process_floor_s"] = floor
    print("delay line: all targets met" if met_all else "delay line: some targets missed")
    out["all_met"] = met_all
    return out

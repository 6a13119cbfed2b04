#!/usr/bin/env python3
"""Helpers for bench/run serving: waits on revision status, finds instance ports, polls the scale
timeline, computes percentiles, prints the table and the chart, updates docs/benchmarks.md.

Talks to the Trellis API over plain HTTP (urllib), no third-party modules."""
import argparse
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy"))
from report import percentile  # noqa: E402  (nearest rank, the same definition as the proxy table)
from coldstart import cmd_bare_start, cmd_cold, log_stage_table, stage_rows  # noqa: E402

BEGIN = "<!-- bench:serving:begin -->"
END = "<!-- bench:serving:end -->"
REVISIONS = "/apis/serving.knative.dev/v1/namespaces/default/revisions/"



def api_request(url):
    """A request to the Trellis API with the admin token (TRELLIS_TOKEN, which run-serving.sh reads from trellis up's data)."""
    token = os.environ.get("TRELLIS_TOKEN")
    return urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})

def get_json(api, path, timeout=2.0):
    try:
        with urllib.request.urlopen(api_request(api + path), timeout=timeout) as r:
            return json.load(r)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def scale(api, rev):
    """(desired, actual, ready, pods, scaleReason, activatorInPath) of a revision; pods counts every
    process of the revision, ready those that pass readiness (both from /api/v1/pods)."""
    r = get_json(api, REVISIONS + rev) or {}
    s = r.get("status") or {}
    pods = [p for p in ((get_json(api, "/api/v1/pods") or {}).get("items") or [])
            if ((p.get("metadata") or {}).get("labels") or {}).get("serving.knative.dev/revision") == rev]
    ready = sum(1 for p in pods if (p.get("status") or {}).get("ready"))
    return (s.get("desiredReplicas", -1), s.get("actualReplicas", -1), ready, len(pods),
            s.get("scaleReason"), s.get("activatorInPath"), pods)


def cmd_wait_zero(a):
    """Until the revision has no instance at all: desired = actual = 0 and no process left."""
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        d, act, _, n, *_ = scale(a.api, a.rev)
        if d == 0 and act == 0 and n == 0:
            return 0
        time.sleep(0.1)
    print(f"{a.rev}: not at zero after {a.timeout:.0f}s (desired {d}, actual {act}, processes {n})", file=sys.stderr)
    return 1


def cmd_wait_scale(a):
    """Until status shows actual >= n (and n ready instances)."""
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        d, act, ready, *_ = scale(a.api, a.rev)
        if act >= a.n and ready >= a.n:
            return 0
        time.sleep(0.1)
    print(f"{a.rev}: actual {act} (ready {ready}) < {a.n} after {a.timeout:.0f}s", file=sys.stderr)
    return 1


def cmd_ports(a):
    """'app inbound activatorInPath' of the revision's first ready instance."""
    *_, aip, pods = scale(a.api, a.rev)
    for p in pods:
        st = p.get("status") or {}
        if st.get("ready"):
            ports = st.get("ports") or {}
            print(ports.get("app", ""), ports.get("inbound", ""), str(aip).lower())
            return 0
    print(f"{a.rev}: no ready instance", file=sys.stderr)
    return 1


def cmd_pids(a):
    """Process ids of every function instance the API knows (for the clean-up of strays)."""
    for p in (get_json(a.api, "/api/v1/pods") or {}).get("items") or []:
        pid = (p.get("status") or {}).get("pid")
        if pid:
            print(pid)
    return 0


def cmd_poll(a):
    """Scale timeline: every interval, 'ms-since-epoch desired actual ready' to --out. Runs until the
    stop file exists and then (a) the peak desired scale has been met, or (b) --linger seconds passed;
    at least --min-after seconds after the stop file either way, so the chart shows the settle."""
    stop_seen = None
    peak = 0
    met = False
    with open(a.out, "w", buffering=1) as f:
        while True:
            t = time.time()
            d, act, ready, *_ = scale(a.api, a.rev)
            f.write(f"{int(t * 1000)}\t{d}\t{act}\t{ready}\n")
            peak = max(peak, d)
            met = met or (peak > 0 and act >= peak)
            if stop_seen is None and os.path.exists(a.stop_file):
                stop_seen = time.monotonic()
            if stop_seen is not None:
                waited = time.monotonic() - stop_seen
                if (met and waited >= a.min_after) or waited >= a.linger:
                    return 0
            time.sleep(max(0.0, a.interval - (time.time() - t)))


def cmd_pct(a):
    """Percentiles (ms) of the 2xx answers in an h2load --log-file (start us, status, duration us),
    their count, and errors: requests of the expected count without a 2xx answer (other statuses,
    or never answered)."""
    values = []
    with open(a.log) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and 200 <= int(parts[1]) <= 299:
                values.append(int(parts[2]) / 1000.0)
    values.sort()
    if values:
        for p in (50, 90, 99):
            print(f"p{p}_ms {percentile(values, p):.3f}")
        print(f"max_ms {values[-1]:.3f}")
    print(f"ok {len(values)}")
    print(f"errors {max(0, a.expected - len(values))}")
    return 0


# ---- the report -------------------------------------------------------------------------------

def load_results(path):
    """results.tsv: 'key value' lines; keys repeat over rounds / trials."""
    data = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2:
                data.setdefault(parts[0], []).append(parts[1])
    return data


def nums(data, key):
    out = []
    for v in data.get(key, []):
        try:
            out.append(float(v))
        except ValueError:
            pass
    return out


def trials(data, key):
    """Per-trial records ("trial ms" or "trial failed: why"): {trial: ms or None when it failed}."""
    out = {}
    for v in data.get(key, []):
        trial, _, rest = v.partition(" ")
        try:
            out[int(trial)] = float(rest)
        except ValueError:
            out[int(trial)] = None
    return out


def errors_sum(data, key):
    v = nums(data, key)
    return int(sum(v)) if v else None


def one(data, key, default=None):
    v = data.get(key)
    return v[-1] if v else default


def med(data, key):
    v = nums(data, key)
    return statistics.median(v) if v else None


def fmt(v, digits=0, unit=""):
    return "–" if v is None else f"{v:,.{digits}f}{unit}"


def read_timeline(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4:
                    rows.append(tuple(int(x) for x in parts))
    except FileNotFoundError:
        pass
    return rows


def burst_analysis(timeline, start_ms):
    """Times (s after the burst started) of: first desired > 0, first ready instance in status,
    the peak desired scale, and the first sample where actual >= that peak."""
    res = {"peak": 0, "first_desired": None, "first_actual": None, "met": None}
    if not timeline:
        return res
    peak = max(r[1] for r in timeline)
    res["peak"] = peak
    for t, d, a, _ in timeline:
        rel = (t - start_ms) / 1000.0
        if res["first_desired"] is None and d > 0 and rel >= 0:
            res["first_desired"] = rel
        if res["first_actual"] is None and a > 0 and rel >= 0:
            res["first_actual"] = rel
        if res["met"] is None and peak > 0 and a >= peak and rel >= 0:
            res["met"] = rel
    return res


def chart(timeline, start_ms, end_ms, cap):
    """One line per change of (desired, actual): a bar as long as the larger of the two, '#' for
    instances counted in actualReplicas, '.' for desired ones not running yet, '+' for running ones
    beyond desired (on the way down). 'ready' is the count of ready processes in /api/v1/pods at the
    same instant (status is rewritten by the controller's pass, at most a second behind)."""
    if not timeline:
        return ["(no samples)"]
    peak = max(max(r[1], r[2]) for r in timeline) or 1
    unit = max(1, min(4, 48 // peak))
    done = (end_ms - start_ms) / 1000.0
    lines = ["  t (s)  desired actual ready  '#' actual, '.' desired but not running yet, '+' running beyond desired"]
    last = None
    marked = False
    for i, (t, d, a, r) in enumerate(timeline):
        rel = (t - start_ms) / 1000.0
        if not marked and rel >= done:
            lines.append(f"  {done:5.1f}  ------ all requests answered ------")
            marked = True
        if (d, a) == last and i != len(timeline) - 1:
            continue
        bar = "#" * (min(a, d) * unit) + "." * (max(0, d - a) * unit) + "+" * (max(0, a - d) * unit)
        lines.append(f"  {rel:5.1f}  {d:7d} {a:6d} {r:5d}  |{bar}")
        last = (d, a)
    if cap:
        lines.append(f"  (max-scale {cap})")
    return lines


def cmd_report(a):
    data = load_results(a.results)
    out = []
    for why in a.failed or []:
        out.append(f"**FAILED run: {why}. Its figures are not results; docs/benchmarks.md was not updated.**")
        out.append("")
    if a.partial:
        out.append(f"**Partial run: {a.partial}.**")
        out.append("")
    mode = "quick (indicative only)" if a.quick else f"{a.trials} cold-start trials, latency median of {a.reps} interleaved rounds"
    out.append(f"Serving benchmark, {mode}. Function: samples/functions (ASP.NET Core slim host, JIT), one `trellis up`.")
    out.append("")
    out.append("| measurement | p50 | p99 | target / anchor | |")
    out.append("| --- | ---: | ---: | --- | --- |")

    def ttfb_row(label, key, target_ms, anchor):
        by_trial = trials(data, key)
        v = sorted(x for x in by_trial.values() if x is not None)
        failed = sum(1 for x in by_trial.values() if x is None)
        if not v:
            out.append(f"| {label} | – | – | {anchor} | {'✗ all ' + str(failed) + ' trials failed' if failed else 'not measured'} |")
            return
        p50, p99 = percentile(v, 50), percentile(v, 99)
        # A row with failed trials is not a met target: its p50 covers only the survivors.
        verdict = f"✗ {failed} failed" if failed else "0 failed"
        if target_ms is not None and not failed:
            verdict += ", ✓ met" if p50 <= target_ms else ", ✗ over target"
        out.append(f"| {label} (n={len(by_trial)}) | {p50:.0f} ms | {p99:.0f} ms | {anchor} | {verdict} |")

    def share_row(label, key, floor_key, target_ms=None):
        """Cold start − floor, paired per trial: what Trellis adds to the function's own start."""
        cold, floor = trials(data, key), trials(data, floor_key)
        diffs = sorted(cold[t] - floor[t] for t in cold if cold[t] is not None and floor.get(t) is not None)
        if diffs:
            p50 = percentile(diffs, 50)
            verdict = "" if target_ms is None else "✓ met" if p50 <= target_ms else "✗ over target"
            out.append(f"|   {label}: cold start − floor, paired per trial (n={len(diffs)}) | {p50:.0f} ms | "
                       f"{percentile(diffs, 99):.0f} ms | {'≤ ' + str(target_ms) + ' ms p50 (issue 16)' if target_ms else ''} | {verdict} |")

    def stages(key, floor_key=None):
        if trials(data, key):
            out.extend(stage_rows(lambda k: trials(data, k), key, floor_key))

    sa = "serving.trellis.dev/socket-activation: \"true\", the agent's listening socket passed as fd 3"
    ttfb_row("cold start, plain process (min-scale 0): request at zero instances → first byte", "cold_ms", 400,
             "≤ 400 ms p50; Lambda .NET ≈ 430 ms, Knative ≥ 2 s")
    ttfb_row("  floor: the same function started by hand, no Trellis: spawn → first byte", "bare_ms", None,
             "what process start + JIT cost alone")
    share_row("added by Trellis", "cold_ms", "bare_ms", 10)
    out.append("|   stages: | | | | |")
    stages("cold_ms", "bare_ms")
    ttfb_row("cold start, the same JIT function socket-activated", "coldsa_ms", 400, sa)
    share_row("added by Trellis", "coldsa_ms", "bare_ms", 10)
    stages("coldsa_ms")
    ttfb_row("cold start, ReadyToRun build of the same function (plain process)", "r2r_ms", 400,
             "≤ 400 ms p50; " + ("crossgen2 ahead-of-time code for the function's own assembly" if not data.get("r2r_error")
                                 else "not built: " + one(data, "r2r_error", "")))
    ttfb_row("cold start, Native AOT build of the same function (plain process, no pool)", "aot_ms", 50,
             "≤ 50 ms p50 (issue 16); " + ("no runtime start, no JIT; Lambda .NET AOT ≈ 77 ms" if not data.get("aot_error")
                                           else "not built: " + one(data, "aot_error", "")))
    ttfb_row("  floor: the AOT function started by hand, no Trellis: spawn → first byte", "aot_bare_ms", None,
             "what process start costs alone")
    share_row("added by Trellis to the AOT function", "aot_ms", "aot_bare_ms", 10)
    out.append("|   stages: | | | | |")
    stages("aot_ms", "aot_bare_ms")
    ttfb_row("cold start, Native AOT function socket-activated (no pool)", "aotsa_ms", 50, "≤ 50 ms p50 (issue 16); " + sa)
    share_row("added by Trellis to the AOT function", "aotsa_ms", "aot_bare_ms", 10)
    stages("aotsa_ms")
    ttfb_row("cold start, pre-warmed pool (serving.trellis.dev/pool: dotnet)", "pool_ms", 50,
             "≤ 50 ms p50; the agent's idle warmed .NET host runs the function")
    stages("pool_ms")
    ttfb_row("min-scale 1 (warm instance): request → first byte, new connection", "warm_ms", None, "—")

    rate = a.rate
    d50, d99 = med(data, "direct_p50"), med(data, "direct_p99")
    i50, i99 = med(data, "inbound_p50"), med(data, "inbound_p99")
    g50, g99 = med(data, "gateway_p50"), med(data, "gateway_p99")

    def added(x, base):
        return None if x is None or base is None else x - base

    def errors(t):
        n = errors_sum(data, f"{t}_errors")
        return "errors –" if n is None else f"errors {n}" if n == 0 else f"✗ {n:,} errors"

    out.append(f"| latency @{rate} rps, direct to the instance's app port | {fmt(d50, 3, ' ms')} | {fmt(d99, 3, ' ms')} | baseline | {errors('direct')} |")
    out.append(f"| latency @{rate} rps, instance inbound proxy (queue-proxy duties) only | {fmt(i50, 3, ' ms')} | {fmt(i99, 3, ' ms')} | decomposition | {errors('inbound')} |")
    aip = one(data, "activator_in_path", "?")
    out.append(f"| latency @{rate} rps, serving path: gateway → inbound proxy → instance (activatorInPath={aip}) | {fmt(g50, 3, ' ms')} | {fmt(g99, 3, ' ms')} | | {errors('gateway')} |")
    a99 = added(g99, d99)
    # Met only when both rows were measured without an error.
    clean = errors_sum(data, "direct_errors") == 0 and errors_sum(data, "gateway_errors") == 0
    verdict = ("–" if a99 is None else "✗ not met: errors in the runs" if not clean
               else "inconclusive: negative, load noise" if a99 < 0 else "✓ met" if a99 <= 1.0 else "✗ over target")
    out.append(f"|   added by the serving path over direct | {fmt(added(g50, d50), 3, ' ms')} | {fmt(a99, 3, ' ms')} | ≤ 1 ms p99 added | {verdict} |")
    ach = med(data, "gateway_achieved_rps")
    if ach is not None:
        out.append(f"|   achieved req/s (serving path) | {ach:,.0f} | | {rate} | |")

    # The cold starts by stage, one column each, after the burst rows (below the table).
    by_stage = log_stage_table(lambda k: trials(data, k), [
        ("JIT", "cold_ms"), ("JIT socket-activated", "coldsa_ms"), ("ReadyToRun", "r2r_ms"),
        ("Native AOT", "aot_ms"), ("AOT socket-activated", "aotsa_ms"), ("pool", "pool_ms")])

    # Burst
    timeline = read_timeline(a.timeline)
    start_ms = int(one(data, "burst_start_ms", "0"))
    end_ms = int(one(data, "burst_end_ms", str(start_ms)))
    ba = burst_analysis(timeline, start_ms)
    n, c = one(data, "burst_n", "?"), one(data, "burst_c", "?")
    ok, errors = one(data, "burst_ok", "?"), one(data, "burst_errors", "?")
    cap = one(data, "burst_max_scale", "")
    out.append(f"| burst 0 → {c} concurrent (hey -c {c} -n {n}, slow?ms={one(data, 'burst_ms', '?')}) at zero: errors | {errors} of {n} | | 0 | {'✓' if errors == '0' else '✗ FAILED'} |")
    out.append(f"|   request latency during the burst | {fmt(med(data, 'burst_p50_ms'), 0, ' ms')} | {fmt(med(data, 'burst_p99_ms'), 0, ' ms')} | | |")
    met = "not met while sampled" if ba["met"] is None else f"{ba['met']:.1f} s"
    out.append(f"|   time until the desired scale ({ba['peak']}{', max-scale ' + cap if cap else ''}) is met (status actualReplicas) | {met} | | | |")
    out.append(f"|   first scale-up in status / first instance ready in status | "
               f"{fmt(ba['first_desired'], 2, ' s')} / {fmt(ba['first_actual'], 2, ' s')} | | | |")
    out.append(f"|   burst duration (all {n} answered) | {(end_ms - start_ms) / 1000:.1f} s | | | |")
    out.append("")
    out.append(f"Scale timeline of the burst (revision status polled every 100 ms):")
    out.append("")
    out.append("```")
    out.extend(chart(timeline, start_ms, end_ms, cap))
    out.append("```")
    out.append("")
    if by_stage:
        out.extend(by_stage)
        out.append("")
    with open(a.machine) as f:
        out.append(f.read().rstrip())
    print("\n".join(out))
    return 0


def cmd_update_doc(a):
    with open(a.table) as f:
        new = f.read().rstrip()
    with open(a.doc) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        # The section text lives in the doc; this only adds the markers if someone removed them.
        text = text.rstrip("\n") + f"\n\n### Latest full run\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(a.doc, "w") as f:
        f.write(f"{head}{BEGIN}\n{new}\n{END}{tail}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("wait-zero"); p.add_argument("--api"); p.add_argument("--rev"); p.add_argument("--timeout", type=float, default=60)
    p.set_defaults(fn=cmd_wait_zero)
    p = sub.add_parser("wait-scale"); p.add_argument("--api"); p.add_argument("--rev"); p.add_argument("--n", type=int, default=1)
    p.add_argument("--timeout", type=float, default=60); p.set_defaults(fn=cmd_wait_scale)
    p = sub.add_parser("ports"); p.add_argument("--api"); p.add_argument("--rev"); p.set_defaults(fn=cmd_ports)
    p = sub.add_parser("pids"); p.add_argument("--api"); p.set_defaults(fn=cmd_pids)
    p = sub.add_parser("poll"); p.add_argument("--api"); p.add_argument("--rev"); p.add_argument("--out")
    p.add_argument("--stop-file"); p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--linger", type=float, default=30); p.add_argument("--min-after", type=float, default=2)
    p.set_defaults(fn=cmd_poll)
    p = sub.add_parser("bare-start"); p.add_argument("--trials", type=int, default=3); p.add_argument("command", nargs="+")
    p.set_defaults(fn=cmd_bare_start)
    p = sub.add_parser("cold"); p.add_argument("--api"); p.add_argument("--rev"); p.add_argument("--port", type=int)
    p.add_argument("--host"); p.add_argument("--body"); p.set_defaults(fn=cmd_cold)
    p.add_argument("--log", help="trellis up's log: record the stages of the cold start found in it")
    p.add_argument("--record", help="results file the stages are appended to"); p.add_argument("--key"); p.add_argument("--trial")
    p = sub.add_parser("pct"); p.add_argument("log"); p.add_argument("--expected", type=int, required=True); p.set_defaults(fn=cmd_pct)
    p = sub.add_parser("report"); p.add_argument("--results"); p.add_argument("--timeline"); p.add_argument("--machine")
    p.add_argument("--trials", default="0"); p.add_argument("--reps", default="1"); p.add_argument("--rate", default="1000")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--failed", action="append", help="why the run failed (repeatable): the table says so at the top")
    p.add_argument("--partial", help="what the run left out: the table says so at the top")
    p.set_defaults(fn=cmd_report)
    p = sub.add_parser("update-doc"); p.add_argument("--doc"); p.add_argument("--table"); p.set_defaults(fn=cmd_update_doc)
    a = ap.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())

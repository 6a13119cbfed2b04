#!/usr/bin/env python3
"""Percentiles from h2load logs, the results table, and the docs/benchmarks.md update for bench/run proxy."""
import argparse
import statistics
import sys
from collections import defaultdict

BEGIN = "<!-- bench:proxy:begin -->"
END = "<!-- bench:proxy:end -->"


def percentile(sorted_values, p):
    """Nearest-rank percentile, as HdrHistogram and wrk report them."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-p * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_log(path, duration, expected):
    """Percentiles of the 2xx answers of an h2load --log-file (start us \t status \t duration us), and
    errors: requests of the expected count without a 2xx line (other statuses, or never answered)."""
    values = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and 200 <= int(parts[1]) <= 299:
                values.append(int(parts[2]) / 1000.0)
    values.sort()
    if values:
        for p in (50, 90, 99):
            print(f"p{p}_ms {percentile(values, p):.3f}")
        print(f"max_ms {values[-1]:.3f}")
    print(f"achieved_rps {len(values) / float(duration):.0f}")
    if expected is not None:
        print(f"errors {max(0, int(expected) - len(values))}")


class Results:
    """results.tsv ('rep path metric value' lines): medians over rounds, error totals over rounds,
    the proxies of each path, and which of them died (metric died:<proxy>, value: when)."""

    def __init__(self, path):
        values = defaultdict(list)  # (path, metric) -> numbers over repetitions
        self.proxies = defaultdict(set)
        self.died = defaultdict(dict)  # path -> proxy -> when it was first seen gone
        with open(path) as f:
            for line in f:
                rep, p, metric, value = line.rstrip("\n").split("\t")
                if ":" in metric:
                    self.proxies[p].add(metric.split(":", 1)[1])
                if metric.startswith("died:"):
                    self.died[p].setdefault(metric[5:], value)
                    continue
                try:
                    values[(p, metric)].append(float(value))
                except ValueError:
                    pass  # an empty value: nothing measured (the proxy was gone)
        self.values = values
        self.gone = {p: "; ".join(f"{x} gone ({when})" for x, when in d.items()) for p, d in self.died.items()}
        self.med = {k: statistics.median(v) for k, v in values.items() if v}

    def get(self, path, metric):
        return self.med.get((path, metric))

    def errors(self, path, metric):
        """Errors summed over every round; None when the run never got to that measurement."""
        v = self.values.get((path, metric))
        return int(sum(v)) if v else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def table(args):
    res = Results(args.results)
    get = res.get
    paths = [line.split("|")[0] for line in args.paths.strip().splitlines()]
    proxies = {p: sorted(res.proxies.get(p, ())) for p in paths}
    rates = args.rates.split()

    def ratio(path, metric, base):
        v, b = get(path, metric), get(base, metric)
        return None if v is None or not b else v / b

    def per_proxy(path, metric, digits):
        vals = [get(path, f"{metric}:{x}") for x in proxies.get(path, [])]
        return " / ".join(fmt(v, digits) for v in vals) if vals else "–"

    def errors(p, metric):
        n = res.errors(p, metric)
        return "–" if n is None else "0" if n == 0 else f"✗ {n:,}"

    # An A/B run (--baseline) also gets ratios to the baseline build.
    bases = ("nginx-pair", "haproxy-pair") + (("trellis-pair-base",) if "trellis-pair-base" in paths else ())
    bases += ("trellis-aot-pair-base",) if "trellis-aot-pair-base" in paths else ()
    # The Native AOT rows are read against the JIT build of the same proxy (issue 16).
    # So are the AOT and the policy rows (what configured retries, breakers and outlier detection cost).
    bases += ("trellis-pair",) if ("trellis-aot-pair" in paths or "trellis-policy-pair" in paths or "trellis-pair-mtls" in paths) and "trellis-pair" in paths else ()
    # The mTLS row is read against the TLS pairs of nginx and HAProxy (issue 12).
    bases += tuple(b for b in ("nginx-pair-tls", "haproxy-pair-tls") if b in paths and "trellis-pair-mtls" in paths)
    # The TCP relay rows are read against HAProxy's mode tcp in the same run (docs/tcp.md).
    bases += ("haproxy-tcp-pair",) if "trellis-tcp-pair" in paths and "haproxy-tcp-pair" in paths else ()
    # The HTTP/2-upstream row is read against nginx (grpc_pass) and HAProxy (proto h2) with h2 upstreams (issue 11).
    bases += tuple(b for b in ("nginx-pair-h2", "haproxy-pair-h2") if b in paths and "trellis-pair-h2" in paths)
    rows = []
    rows.append(("proxies alive to the end", ["✗ " + res.gone[p] if p in res.gone else "yes" if proxies[p] else "–" for p in paths]))
    rows.append((f"HTTP/1.1 req/s (wrk, {args.h1_connections} connections)", [fmt(get(p, "rps_h1")) for p in paths]))
    for base in bases:
        rows.append((f"  × {base}", [fmt(ratio(p, "rps_h1", base), 2) for p in paths]))
    rows.append(("  errors (non-2xx, socket errors; all rounds)", [errors(p, "errors_h1") for p in paths]))
    rows.append((f"HTTP/2 req/s (h2load, {args.h2} streams)", [fmt(get(p, "rps_h2")) for p in paths]))
    for base in bases:
        rows.append((f"  × {base}", [fmt(ratio(p, "rps_h2", base), 2) for p in paths]))
    rows.append(("  errors (non-2xx, failed beyond those in flight at the end)", [errors(p, "errors_h2") for p in paths]))
    for rate in rates:
        rows.append((f"latency @{rate} rps p50 / p90 / p99 / max (ms)",
                     [" / ".join(fmt(get(p, f"{q}_ms@{rate}"), 2) for q in ("p50", "p90", "p99", "max")) for p in paths]))
        for q in ("p50", "p99"):
            def added(p, q=q, rate=rate):
                v, d = get(p, f"{q}_ms@{rate}"), get("direct", f"{q}_ms@{rate}")
                return None if v is None or d is None else v - d
            rows.append((f"  added {q} over direct (ms)", [fmt(added(p), 3) for p in paths]))
        rows.append(("  achieved req/s (2xx answers)", [fmt(get(p, f"achieved_rps@{rate}")) for p in paths]))
        rows.append(("  errors (no 2xx answer; all rounds)", [errors(p, f"errors@{rate}") for p in paths]))
    rows.append(("CPU-s per 1000 req, each proxy (HTTP/1.1 run)", [per_proxy(p, "cpu_per_1k", 3) for p in paths]))
    rows.append(("  HTTP/2 run (first hop h2c)", [per_proxy(p, "cpu_per_1k_h2", 3) for p in paths]))
    for rate in rates:
        rows.append((f"  at {rate} req/s (fixed-rate run)", [per_proxy(p, f"cpu_per_1k@{rate}", 3) for p in paths]))
    if "trellis-pair-no-telemetry" in paths:
        # Istio's metrics on against off (issue 13): CPU per request of both proxies of the pair, on ÷ off.
        rows.append(("  telemetry on ÷ off (both proxies, HTTP/1.1 run)",
                     [fmt(telemetry_ratio(res, proxies), 3) if p == "trellis-pair" else "–" for p in paths]))
    rows.append(("RSS idle, each proxy (MB)", [per_proxy(p, "rss_idle_mb", 1) for p in paths]))
    rows.append(("RSS peak under load, each proxy (MB)", [per_proxy(p, "rss_peak_mb", 1) for p in paths]))
    rows.append(("  PSS idle / after load (MB)", [per_proxy(p, "pss_idle_mb", 1) + " → " + per_proxy(p, "pss_load_mb", 1) for p in paths]))
    rows.append(("  private (RssAnon) idle / after load (MB)", [per_proxy(p, "anon_idle_mb", 1) + " → " + per_proxy(p, "anon_load_mb", 1) for p in paths]))
    rows.append((f"download {args.big_mib} MiB (MiB/s)", [fmt(get(p, "download_mbs"), 0) for p in paths]))
    rows.append((f"upload {args.big_mib} MiB (MiB/s)", [fmt(get(p, "upload_mbs"), 0) for p in paths]))
    rows.append(("  errors (failed transfers; all rounds)",
                 [errors(p, "errors_download") + " / " + errors(p, "errors_upload") for p in paths]))

    out = []
    mode = "quick (indicative only)" if args.quick else f"median of {args.reps} interleaved rounds"
    if args.failed:
        out.append(f"**FAILED run: {args.failed}. Its figures are not results; docs/benchmarks.md was not updated.**")
        out.append("")
    if args.partial:
        out.append(f"**Partial run: {args.partial}.**")
        out.append("")
    out.append(f"Data-plane benchmark, {mode}; {args.dur}s throughput runs, {args.lat_dur}s fixed-rate runs. "
               "Pairs: proxy A and B are separate processes; 'a / b' columns list each.")
    out.append("")
    out.append("| metric | " + " | ".join(paths) + " |")
    out.append("| --- | " + " | ".join("---:" for _ in paths) + " |")
    for label, cells in rows:
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    out.extend(targets(res, proxies, rates))
    out.extend(aot_targets(res, proxies))
    out.extend(mtls_targets(res, proxies, rates))
    out.append("")
    with open(args.machine) as f:
        out.append(f.read().rstrip())
    print("\n".join(out))


def telemetry_ratio(res, proxies):
    """CPU-s per request of trellis-pair's proxies summed, over trellis-pair-no-telemetry's: the telemetry stage's cost."""
    on = [res.get("trellis-pair", f"cpu_per_1k:{x}") for x in proxies.get("trellis-pair", [])]
    off = [res.get("trellis-pair-no-telemetry", f"cpu_per_1k:{x}") for x in proxies.get("trellis-pair-no-telemetry", [])]
    if not on or not off or any(v is None for v in on + off) or not sum(off):
        return None
    return sum(on) / sum(off)


def target_checker(res, lines):
    """target(name, paths, error_metrics, values, verdict) appends one checklist line to lines."""
    def target(name, paths, error_metrics, values, verdict):
        # verdict(*values) -> (met, text); called only when every value was measured.
        broken = [res.gone[p] for p in paths if p in res.gone]
        broken += [f"{p} had {res.errors(p, m):,} errors ({m})" for p in paths for m in error_metrics if res.errors(p, m)]
        if broken:
            lines.append(f"- [ ] {name}: not met, {', '.join(broken)}")
        elif any(v is None for v in values):
            lines.append(f"- [ ] {name}: not measured")
        else:
            met, text = verdict(*values)
            lines.append(f"- [{'x' if met else ' '}] {text}")
    return target


def targets(res, proxies, rates):
    """A target is ticked only from values measured on paths whose proxies all lived to the end and
    whose measurement had no error; otherwise it stays unticked and says why instead of a figure."""
    get = res.get
    lines = ["Targets (issue 3):", ""]
    target = target_checker(res, lines)

    if "trellis-pair" not in proxies:
        return lines + ["- [ ] trellis-pair not measured"]
    rate = rates[0]
    lat = [get(p, f"p99_ms@{rate}") for p in ("trellis-pair", "nginx-pair", "direct")]
    target(f"trellis-pair added p99 @{rate} rps ≤ nginx-pair", ("trellis-pair", "nginx-pair", "direct"), (f"errors@{rate}",), lat,
           lambda t, n, d: (t - d <= n - d, f"trellis-pair added p99 @{rate} rps {t - d:.3f} ms ≤ nginx-pair {n - d:.3f} ms"))
    target(f"trellis-pair added p99 @{rate} rps ≤ 0.5 ms", ("trellis-pair", "direct"), (f"errors@{rate}",), (lat[0], lat[2]),
           lambda t, d: (t - d <= 0.5, f"trellis-pair added p99 @{rate} rps {t - d:.3f} ms ≤ 0.5 ms (quiet machine only)"))
    for metric, label, errors in (("rps_h1", "HTTP/1.1", "errors_h1"), ("rps_h2", "HTTP/2", "errors_h2")):
        for base in ("nginx-pair", "haproxy-pair"):
            target(f"trellis-pair {label} throughput ≥ {base}", ("trellis-pair", base), (errors,),
                   (get("trellis-pair", metric), get(base, metric)),
                   lambda v, b, label=label, base=base: (v >= b, f"trellis-pair {label} throughput {v / b:.2f} × {base} (≥ 1.00)"))
    if "trellis-pair-no-telemetry" in proxies:
        target("telemetry stage ≤ 10 % CPU per request", ("trellis-pair", "trellis-pair-no-telemetry"), ("errors_h1",),
               (telemetry_ratio(res, proxies),),
               lambda r: (r <= 1.10, f"telemetry on ÷ off {r:.3f} CPU-s per request (≤ 1.10)"))
    for proxy in proxies["trellis-pair"] + proxies.get("trellis-gateway", []):
        path = "trellis-gateway" if proxy == "trellis-gateway" else "trellis-pair"
        target(f"{proxy} RSS idle ≤ 30 MB", (path,), (), (get(path, f"rss_idle_mb:{proxy}"),),
               lambda v, proxy=proxy: (v <= 30, f"{proxy} RSS idle {v:.1f} MB ≤ 30 MB"))
        target(f"{proxy} RSS peak ≤ 60 MB", (path,), (), (get(path, f"rss_peak_mb:{proxy}"),),
               lambda v, proxy=proxy: (v <= 60, f"{proxy} RSS peak {v:.1f} MB ≤ 60 MB"))
        target(f"{proxy} CPU-s per 1000 requests ≤ 0.15", (path,), ("errors_h1",), (get(path, f"cpu_per_1k:{proxy}"),),
               lambda v, proxy=proxy: (v <= 0.15, f"{proxy} {v:.3f} CPU-s per 1000 requests ≤ 0.15"))
    return lines


def pair_cpu(res, proxies, path, metric="cpu_per_1k"):
    """CPU-s per 1000 requests of both proxies of a pair, summed; None when not measured."""
    vals = [res.get(path, f"{metric}:{x}") for x in proxies.get(path, [])]
    return None if not vals or any(v is None for v in vals) else sum(vals)


def mtls_targets(res, proxies, rates):
    """Issue 12: trellis-pair-mtls against the better of nginx-pair-tls and haproxy-pair-tls, in the same run."""
    get = res.get
    lines = ["", "Targets (issue 12, mTLS between the two proxies):", ""]
    target = target_checker(res, lines)
    tls = [p for p in ("nginx-pair-tls", "haproxy-pair-tls") if p in proxies]
    if "trellis-pair-mtls" not in proxies or not tls:
        return lines + ["- [ ] trellis-pair-mtls against nginx-pair-tls / haproxy-pair-tls not measured"]
    for metric, label, errors in (("rps_h1", "HTTP/1.1", "errors_h1"), ("rps_h2", "HTTP/2", "errors_h2")):
        best = max(tls, key=lambda p: get(p, metric) or 0)
        target(f"trellis-pair-mtls {label} throughput ≥ {best}", ("trellis-pair-mtls", best), (errors,),
               (get("trellis-pair-mtls", metric), get(best, metric)),
               lambda v, b, label=label, best=best: (v >= b, f"trellis-pair-mtls {label} throughput {v / b:.2f} × {best}, the better TLS pair (≥ 1.00)"))
    rate = rates[0]
    for base in tls:
        target(f"trellis-pair-mtls added p99 @{rate} rps ≤ {base}", ("trellis-pair-mtls", base, "direct"), (f"errors@{rate}",),
               [get(p, f"p99_ms@{rate}") for p in ("trellis-pair-mtls", base, "direct")],
               lambda t, b, d, base=base: (t - d <= b - d, f"trellis-pair-mtls added p99 @{rate} rps {t - d:.3f} ms ≤ {base} {b - d:.3f} ms"))
        target(f"trellis-pair-mtls CPU per request ≤ {base}", ("trellis-pair-mtls", base), ("errors_h1",),
               (pair_cpu(res, proxies, "trellis-pair-mtls"), pair_cpu(res, proxies, base)),
               lambda t, b, base=base: (t <= b, f"trellis-pair-mtls {t:.3f} CPU-s per 1000 requests (both proxies) ≤ {base} {b:.3f}"))
    return lines


def aot_targets(res, proxies):
    """Issue 16: the Native AOT proxy in megabytes, and no slower nor costlier than the JIT one."""
    get = res.get
    lines = ["", "Targets (issue 16, Native AOT trellis-proxy):", ""]
    target = target_checker(res, lines)
    if "trellis-aot-pair" not in proxies and "trellis-aot-gateway" not in proxies:
        return lines + ["- [ ] trellis-aot-pair and trellis-aot-gateway not measured"]
    for path in ("trellis-aot-pair", "trellis-aot-gateway"):
        for proxy in proxies.get(path, []):
            target(f"{proxy} RSS idle ≤ 15 MB", (path,), (), (get(path, f"rss_idle_mb:{proxy}"),),
                   lambda v, proxy=proxy: (v <= 15, f"{proxy} RSS idle {v:.1f} MB ≤ 15 MB"))
            target(f"{proxy} RSS peak ≤ 40 MB", (path,), (), (get(path, f"rss_peak_mb:{proxy}"),),
                   lambda v, proxy=proxy: (v <= 40, f"{proxy} RSS peak {v:.1f} MB ≤ 40 MB"))
    for aot, jit in (("trellis-aot-pair", "trellis-pair"), ("trellis-aot-gateway", "trellis-gateway")):
        if aot not in proxies or jit not in proxies:
            continue
        for metric, label, errors in (("rps_h1", "HTTP/1.1", "errors_h1"), ("rps_h2", "HTTP/2", "errors_h2")):
            target(f"{aot} {label} throughput ≥ {jit}", (aot, jit), (errors,), (get(aot, metric), get(jit, metric)),
                   lambda v, b, label=label, aot=aot, jit=jit: (v >= b, f"{aot} {label} throughput {v / b:.2f} × {jit} (≥ 1.00)"))
        for metric, label, errors in (("cpu_per_1k", "HTTP/1.1", "errors_h1"), ("cpu_per_1k_h2", "HTTP/2", "errors_h2")):
            v = [get(aot, f"{metric}:{x}") for x in proxies[aot]]
            b = [get(jit, f"{metric}:{x}") for x in proxies[jit]]
            values = (None, None) if None in v or None in b else (sum(v), sum(b))
            target(f"{aot} {label} CPU per request ≤ {jit}", (aot, jit), (errors,), values,
                   lambda v, b, label=label, aot=aot, jit=jit: (v <= b, f"{aot} {label} CPU per request {v / b:.2f} × {jit} (≤ 1.00)"))
    return lines


def update_doc(doc, table_file):
    with open(table_file) as f:
        new = f.read().rstrip()
    try:
        with open(doc) as f:
            text = f.read()
    except FileNotFoundError:
        text = f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(doc, "w") as f:
        f.write(f"{head}{BEGIN}\n{new}\n{END}{tail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-log")
    ap.add_argument("--duration", default="1")
    ap.add_argument("--expected")
    ap.add_argument("--update-doc")
    ap.add_argument("--table")
    ap.add_argument("--results")
    ap.add_argument("--machine")
    ap.add_argument("--paths")
    ap.add_argument("--rates", default="1000")
    ap.add_argument("--reps", default="1")
    ap.add_argument("--dur", default="?")
    ap.add_argument("--lat-dur", default="?")
    ap.add_argument("--big-mib", default="?")
    ap.add_argument("--h1-connections", default="?")
    ap.add_argument("--h2", default="?")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--failed", help="why the run failed: the table says so at the top")
    ap.add_argument("--partial", help="what the run left out: the table says so at the top")
    args = ap.parse_args()
    if args.latency_log:
        latency_log(args.latency_log, args.duration, args.expected)
    elif args.update_doc:
        update_doc(args.update_doc, args.table)
    else:
        table(args)


if __name__ == "__main__":
    sys.exit(main())

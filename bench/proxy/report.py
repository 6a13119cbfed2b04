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


def latency_log(path, duration):
    # h2load --log-file: start (us since epoch) \t status \t duration (us)
    values = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                values.append(int(parts[2]) / 1000.0)
    values.sort()
    for p in (50, 90, 99):
        print(f"p{p}_ms {percentile(values, p):.3f}")
    print(f"max_ms {values[-1] if values else float('nan'):.3f}")
    print(f"achieved_rps {len(values) / float(duration):.0f}")


def load(results):
    data = defaultdict(list)  # (path, metric) -> values over repetitions
    with open(results) as f:
        for line in f:
            rep, path, metric, value = line.rstrip("\n").split("\t")
            try:
                data[(path, metric)].append(float(value))
            except ValueError:
                pass
    return {k: statistics.median(v) for k, v in data.items() if v}


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def table(args):
    med = load(args.results)
    paths = [line.split("|")[0] for line in args.paths.strip().splitlines()]
    proxies = defaultdict(list)  # path -> proxy labels, in the order they were recorded
    for (path, metric) in med:
        if metric.startswith("rss_idle_mb:"):
            proxies[path].append(metric.split(":", 1)[1])
    for p in proxies:
        proxies[p].sort()
    rates = args.rates.split()

    def get(path, metric):
        return med.get((path, metric))

    def ratio(path, metric, base):
        v, b = get(path, metric), get(base, metric)
        return None if v is None or not b else v / b

    def per_proxy(path, metric, digits):
        vals = [get(path, f"{metric}:{x}") for x in proxies.get(path, [])]
        return " / ".join(fmt(v, digits) for v in vals) if vals else "–"

    # An A/B run (--baseline) also gets ratios to the baseline build.
    bases = ("nginx-pair", "haproxy-pair") + (("trellis-pair-base",) if "trellis-pair-base" in paths else ())
    rows = []
    rows.append((f"HTTP/1.1 req/s (wrk, {args.h1_connections} connections)", [fmt(get(p, "rps_h1")) for p in paths]))
    for base in bases:
        rows.append((f"  × {base}", [fmt(ratio(p, "rps_h1", base), 2) for p in paths]))
    rows.append((f"HTTP/2 req/s (h2load, {args.h2} streams)", [fmt(get(p, "rps_h2")) for p in paths]))
    for base in bases:
        rows.append((f"  × {base}", [fmt(ratio(p, "rps_h2", base), 2) for p in paths]))
    for rate in rates:
        rows.append((f"latency @{rate} rps p50 / p90 / p99 / max (ms)",
                     [" / ".join(fmt(get(p, f"{q}_ms@{rate}"), 2) for q in ("p50", "p90", "p99", "max")) for p in paths]))
        for q in ("p50", "p99"):
            def added(p, q=q, rate=rate):
                v, d = get(p, f"{q}_ms@{rate}"), get("direct", f"{q}_ms@{rate}")
                return None if v is None or d is None else v - d
            rows.append((f"  added {q} over direct (ms)", [fmt(added(p), 3) for p in paths]))
        rows.append(("  achieved req/s", [fmt(get(p, f"achieved_rps@{rate}")) for p in paths]))
    rows.append(("CPU-s per 1000 req, each proxy (HTTP/1.1 run)", [per_proxy(p, "cpu_per_1k", 3) for p in paths]))
    rows.append(("  HTTP/2 run (first hop h2c)", [per_proxy(p, "cpu_per_1k_h2", 3) for p in paths]))
    for rate in rates:
        rows.append((f"  at {rate} req/s (fixed-rate run)", [per_proxy(p, f"cpu_per_1k@{rate}", 3) for p in paths]))
    rows.append(("RSS idle, each proxy (MB)", [per_proxy(p, "rss_idle_mb", 1) for p in paths]))
    rows.append(("RSS peak under load, each proxy (MB)", [per_proxy(p, "rss_peak_mb", 1) for p in paths]))
    rows.append(("  PSS idle / after load (MB)", [per_proxy(p, "pss_idle_mb", 1) + " → " + per_proxy(p, "pss_load_mb", 1) for p in paths]))
    rows.append(("  private (RssAnon) idle / after load (MB)", [per_proxy(p, "anon_idle_mb", 1) + " → " + per_proxy(p, "anon_load_mb", 1) for p in paths]))
    rows.append((f"download {args.big_mib} MiB (MiB/s)", [fmt(get(p, "download_mbs"), 0) for p in paths]))
    rows.append((f"upload {args.big_mib} MiB (MiB/s)", [fmt(get(p, "upload_mbs"), 0) for p in paths]))

    out = []
    mode = "quick (indicative only)" if args.quick else f"median of {args.reps} interleaved rounds"
    out.append(f"Data-plane benchmark, {mode}; {args.dur}s throughput runs, {args.lat_dur}s fixed-rate runs. "
               "Pairs: proxy A and B are separate processes; 'a / b' columns list each.")
    out.append("")
    out.append("| metric | " + " | ".join(paths) + " |")
    out.append("| --- | " + " | ".join("---:" for _ in paths) + " |")
    for label, cells in rows:
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    out.extend(targets(get, proxies, rates))
    out.append("")
    with open(args.machine) as f:
        out.append(f.read().rstrip())
    print("\n".join(out))


def targets(get, proxies, rates):
    lines = ["Targets (issue 3):", ""]

    def line(ok, text):
        lines.append(f"- [{'x' if ok else ' '}] {text}")

    if "trellis-pair" not in proxies:
        return lines + ["- trellis-pair not measured"]
    rate = rates[0]
    t, n, d = get("trellis-pair", f"p99_ms@{rate}"), get("nginx-pair", f"p99_ms@{rate}"), get("direct", f"p99_ms@{rate}")
    if None not in (t, n, d):
        line(t - d <= n - d, f"trellis-pair added p99 @{rate} rps {t - d:.3f} ms ≤ nginx-pair {n - d:.3f} ms")
        line(t - d <= 0.5, f"trellis-pair added p99 @{rate} rps {t - d:.3f} ms ≤ 0.5 ms (quiet machine only)")
    for metric, label in (("rps_h1", "HTTP/1.1"), ("rps_h2", "HTTP/2")):
        for base in ("nginx-pair", "haproxy-pair"):
            v, b = get("trellis-pair", metric), get(base, metric)
            if v and b:
                line(v >= b, f"trellis-pair {label} throughput {v / b:.2f} × {base} (≥ 1.00)")
    for proxy in proxies["trellis-pair"] + proxies.get("trellis-gateway", []):
        path = "trellis-gateway" if proxy == "trellis-gateway" else "trellis-pair"
        idle, peak, cpu = (get(path, f"{m}:{proxy}") for m in ("rss_idle_mb", "rss_peak_mb", "cpu_per_1k"))
        if idle is not None:
            line(idle <= 30, f"{proxy} RSS idle {idle:.1f} MB ≤ 30 MB")
        if peak is not None:
            line(peak <= 60, f"{proxy} RSS peak {peak:.1f} MB ≤ 60 MB")
        if cpu is not None:
            line(cpu <= 0.15, f"{proxy} {cpu:.3f} CPU-s per 1000 requests ≤ 0.15")
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
    args = ap.parse_args()
    if args.latency_log:
        latency_log(args.latency_log, args.duration)
    elif args.update_doc:
        update_doc(args.update_doc, args.table)
    else:
        table(args)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Helpers of bench/eventing/run-eventing.sh: a CloudEvents subscriber that records delivery latency,
the fsync-per-event floor, and the report. Standard library only."""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import datetime


def percentile(values, p):
    """Nearest rank, as the proxy and serving tables use."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(round(p / 100.0 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


async def serve(port, out):
    """Minimal HTTP/1.1 keep-alive server: answers 202 and records (now - knativearrivaltime) in ms."""
    latencies = []

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                arrival = None
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value.strip())
                    elif name == b"ce-knativearrivaltime":
                        arrival = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                if arrival:
                    sent = datetime.fromisoformat(arrival.replace("Z", "+00:00")).timestamp()
                    latencies.append((time.time() - sent) * 1000.0)
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # Shutdown cancels the connections still open (the broker keeps its keep-alive ones). asyncio's
            # stream callback asks a cancelled handler for its exception and prints a CancelledError
            # traceback per connection: a handler that ends normally has none.
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()
    with open(out, "w") as f:
        json.dump(latencies, f)


def cmd_subscriber(a):
    asyncio.run(serve(a.port, a.out))


def cmd_fsync_floor(a):
    """The naive floor: one 1 KiB record written and fsynced per event, for a.seconds."""
    path = os.path.join(a.dir, "fsync-floor.log")
    record = b"x" * 1024
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    count = 0
    start = time.monotonic()
    try:
        while time.monotonic() - start < a.seconds:
            os.write(fd, record)
            os.fsync(fd)
            count += 1
    finally:
        os.close(fd)
        os.unlink(path)
    print(f"{count / (time.monotonic() - start):.0f}")


def cmd_latency(a):
    with open(a.file) as f:
        lat = json.load(f)
    print(json.dumps({"count": len(lat), "p50": percentile(lat, 50), "p99": percentile(lat, 99)}))


def delivery_row(d):
    ok = d["p99"] is not None and d["p99"] <= 10 and d["count"] >= d["expected"] * 0.99
    p50 = "-" if d["p50"] is None else f"{d['p50']:.1f}"
    p99 = "-" if d["p99"] is None else f"{d['p99']:.1f}"
    ack = "" if d.get("ack_p99") is None else f"; the producer's 202s: p99 {d['ack_p99']:.1f} ms"
    return f"| delivery at {d['rate']}/s, ingress arrival -> subscriber ({d.get('store', 'embedded')}) | p50 {p50} ms, p99 {p99} ms ({d['count']}/{d['expected']} delivered{ack}) | - | - | p99 <= 10 ms: {'met' if ok else 'not met'} |"


CPU_COLUMNS = ["control plane", "nats-server", "wrk", "publishers (NATS.Net)"]


def cmd_report(a):
    r = json.load(open(a.results))
    ingest = [x for x in r["ingest"]]
    floor = [x for x in r["floor"]]
    lines = [
        f"Eventing benchmark ({r['cores']} cores, {r['reps']} rounds after a {r.get('warm', 0)} s warm-up, medians; {r['when']}; load average {r.get('load', '?')} at start, {r.get('load_end', '?')} at end)",
        "",
        "| measurement | value | baseline in the same run | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    if not ingest:  # --delivery-only
        for d in r["delivery"]:
            lines.append(delivery_row(d))
        print("\n".join(lines))
        return
    med_ingest = statistics.median([x["rps"] for x in ingest])
    med_floor = statistics.median(floor)
    errors = sum(x["errors"] for x in ingest)
    lines += [
        f"| broker ingest, embedded store (durable 202/s, {r['payload']} B events, wrk {r['clients']} connections) | {med_ingest:.0f}/s ({errors} errors) | fsync-per-event loop {med_floor:.0f}/s | {med_ingest / med_floor:.1f} x | >= 10,000/s: {'met' if med_ingest >= 10000 and errors == 0 else 'not met'} |",
    ]
    batch = r.get("batch", 0)
    if r.get("ingest_batch"):
        b = statistics.median([x["rps"] for x in r["ingest_batch"]])
        b_errors = sum(x["errors"] for x in r["ingest_batch"])
        lines.append(f"| broker ingest, embedded store, batches of {batch} (durable events/s: 202s x {batch}) | {b:.0f}/s ({b_errors} errors) | one event per request (row above) {med_ingest:.0f}/s | {b / med_ingest:.2f} x | - |")
    for d in r["delivery"]:
        lines.append(delivery_row(d))
    if r.get("js_ingest"):
        js = statistics.median([x["rps"] for x in r["js_ingest"]])
        direct = statistics.median([x["rps"] for x in r["js_direct"]])
        js_errors = sum(x["errors"] for x in r["js_ingest"])
        direct_errors = sum(x["errors"] for x in r["js_direct"])
        ratio = js / direct if direct else 0
        lines.append(f"| broker ingest, JetStream store (acknowledged 202/s, wrk {r['clients']} connections) | {js:.0f}/s ({js_errors} errors) | JetStream direct with NATS.Net, {r['clients']} publishers: {direct:.0f}/s ({direct_errors} errors) | {ratio:.2f} x | >= 0.5 x: {'met' if ratio >= 0.5 and js_errors == 0 else 'not met'} |")
        if r.get("js_ingest_batch"):
            jb = statistics.median([x["rps"] for x in r["js_ingest_batch"]])
            jb_errors = sum(x["errors"] for x in r["js_ingest_batch"])
            db = statistics.median([x["rps"] for x in r["js_direct_batch"]]) if r.get("js_direct_batch") else 0
            db_errors = sum(x["errors"] for x in r.get("js_direct_batch", []))
            # The engine's ceiling for these events is the better of the two ways of publishing them directly
            # (one event in flight per publisher, or a batch's worth): the ratio is taken against that.
            best = max(direct, db)
            lines.append(f"| broker ingest, JetStream store, batches of {batch} (acknowledged events/s: 202s x {batch}) | {jb:.0f}/s ({jb_errors} errors) | JetStream direct with NATS.Net, {r['clients']} publishers, the better of one event in flight each ({direct:.0f}/s) and {batch} in flight each, waiting for all {batch} acks ({db:.0f}/s, {db_errors} errors) | {jb / best if best else 0:.2f} x | >= 0.5 x: {'met' if best and jb / best >= 0.5 and jb_errors == 0 and db_errors == 0 else 'not met'} |")
        if r.get("http_floor"):
            f = r["http_floor"][0]
            lines.append(f"| HTTP floor: the same requests to a Broker that does not exist (404 before the body is read) | {f['answers_per_s']:.0f} answers/s | - | - | - |")
        lines += ["", "CPU per event (medians, microseconds; from /proc for the servers, the processes' own times for the clients):", "",
                  "| run | " + " | ".join(CPU_COLUMNS) + " | total |", "| --- |" + " --- |" * (len(CPU_COLUMNS) + 1)]
        for name, key in (("embedded ingest", "ingest"), (f"embedded ingest, batches of {batch}", "ingest_batch"),
                          ("JetStream ingest through the broker", "js_ingest"), (f"JetStream ingest through the broker, batches of {batch}", "js_ingest_batch"),
                          ("JetStream direct with NATS.Net", "js_direct"), (f"JetStream direct, {batch} in flight per publisher", "js_direct_batch"),
                          ("HTTP floor (404)", "http_floor")):
            rows = [x["cpu_us"] for x in r.get(key, []) if "cpu_us" in x]
            if rows:
                cells = {c: statistics.median([row[c] for row in rows]) if c in rows[0] else None for c in CPU_COLUMNS}
                if key in ("ingest", "ingest_batch"):
                    cells["nats-server"] = None  # no NATS in the embedded run
                lines.append(f"| {name} | " + " | ".join("-" if v is None else f"{v:.2f}" for v in cells.values()) + f" | {sum(v or 0 for v in cells.values()):.2f} |")
    else:
        lines.append(f"| broker ingest and delivery, JetStream store | not measured: {r.get('js_skipped') or 'no rounds'} | - | - | - |")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("subscriber"); s.add_argument("--port", type=int, required=True); s.add_argument("--out", required=True); s.set_defaults(f=cmd_subscriber)
    s = sub.add_parser("fsync-floor"); s.add_argument("--dir", required=True); s.add_argument("--seconds", type=float, default=5); s.set_defaults(f=cmd_fsync_floor)
    s = sub.add_parser("latency"); s.add_argument("--file", required=True); s.set_defaults(f=cmd_latency)
    s = sub.add_parser("report"); s.add_argument("--results", required=True); s.set_defaults(f=cmd_report)
    a = p.parse_args()
    a.f(a)


if __name__ == "__main__":
    sys.exit(main())

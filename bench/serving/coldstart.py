"""Cold starts for bench/run serving: one request at zero instances with the times of its stages,
the floor (the function started by hand), and the table rows of the stage breakdown.

Stages of a cold start (issue 16), all on the machine's wall clock (the API reports the instance's
times, this client takes its own):
  request sent (the activator holds it) -> instance started (the agent spawned the process, or took a
  pooled host) -> ready (Pod condition Ready, lastTransitionTime) -> first byte of the answer.
Finer, from the millisecond timestamps of `trellis up`'s log (one process, one clock with this client):
  sent -> demand raised -> scale decided -> instance created -> started -> ready -> held request
  released -> first byte (LOG_STAGES)."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta

from report import percentile  # noqa: E402  (bench/proxy/report.py, on sys.path via serving.py)



def api_request(url):
    """A request to the Trellis API with the admin token (TRELLIS_TOKEN, which run-serving.sh reads from trellis up's data)."""
    token = os.environ.get("TRELLIS_TOKEN")
    return urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})

def parse_time(text):
    """A .NET DateTimeOffset in ISO 8601 (7 fraction digits, offset) as epoch seconds."""
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text or "")
    if not m:
        return None
    base = datetime.fromisoformat(m.group(1) + (m.group(3) if m.group(3) != "Z" else "+00:00"))
    return base.timestamp() + (int(m.group(2)) / 10 ** len(m.group(2)) if m.group(2) else 0.0)


def instance_times(api, rev, before):
    """(started, ready) epoch seconds of the revision's newest instance started before `before`."""
    try:
        with urllib.request.urlopen(api_request(api + "/api/v1/pods"), timeout=5) as r:
            pods = json.load(r).get("items") or []
    except (OSError, ValueError):
        return None, None
    best = (None, None)
    for p in pods:
        if ((p.get("metadata") or {}).get("labels") or {}).get("serving.knative.dev/revision") != rev:
            continue
        st = p.get("status") or {}
        started = parse_time(st.get("startTime"))
        ready = next((parse_time(c.get("lastTransitionTime")) for c in st.get("conditions") or []
                      if c.get("type") == "Ready" and c.get("status") == "True"), None)
        if started is not None and started <= before and (best[0] is None or started > best[0]):
            best = (started, ready)
    return best


# The marks of one cold start in `trellis up`'s log, in order; each stage runs from the previous mark
# (the first from the moment the request was sent) to its own. {rev}: the revision, {id}: the instance.
LOG_STAGES = [
    ("demand", r"\[401\] Demand for cluster outbound\|\d+\|{rev}\|",
     "sent → held, demand raised (gateway's activator)"),
    ("scale", r"\[2204\] Serving: scaling revision [^/]+/{rev} from 0 to",
     "demand → scale decided (demand report, autoscaler pass)"),
    ("create", r"\[10\] Workload [^/]+/{rev}-deployment: creating instance (?P<id>\S+)",
     "scale decided → instance created (Deployment write, scheduler placement, watch to the agent)"),
    ("started", r"\[1\] Instance {id} started:",
     "created → process started (spawn, or a pool host taken)"),
    ("ready", r"\[4\] Instance {id} is ready",
     "started → ready (the function's own start; readiness seen on READY=1 or the probe)"),
    ("released", r"\[405\] Cluster outbound\|\d+\|{rev}\|[^:]*: \d+ held requests released",
     "ready → held request released (registry report, mesh state, push to the gateway)"),
]
# What Trellis itself does; "ready" is the function's start and the last stage (released → first byte:
# gateway → node proxy → the function's first answer) mostly the function's first request.
TRELLIS_STAGES = ("demand", "scale", "create", "started", "released")
LOG_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \w+: (.*)$")


def log_time(hms, near):
    """A log line's local HH:MM:SS.fff as epoch seconds, on the day that puts it nearest `near`."""
    day = datetime.fromtimestamp(near)
    t = datetime.strptime(hms, "%H:%M:%S.%f").replace(year=day.year, month=day.month, day=day.day)
    return min(((t + timedelta(days=d)).timestamp() for d in (-1, 0, 1)), key=lambda e: abs(e - near))


def log_marks(lines, rev, sent):
    """{stage: epoch seconds} of the cold start of `rev` whose request was sent at `sent`, from log
    lines; the first match of each mark at or after the previous one (1 ms of slack for rounding)."""
    marks, ids, after = {}, {"rev": re.escape(rev), "id": None}, sent - 0.002
    parsed = [(log_time(m.group(1), sent), m.group(2)) for m in map(LOG_LINE.match, lines) if m]
    for name, pattern, _ in LOG_STAGES:
        if "{id}" in pattern and ids["id"] is None:
            break
        rx = re.compile(pattern.format(**ids))
        hit = next(((t, m) for t, text in parsed if t >= after for m in [rx.search(text)] if m), None)
        if hit is None:
            break
        marks[name] = hit[0]
        after = hit[0] - 0.001
        if "id" in hit[1].groupdict():
            ids["id"] = re.escape(hit[1].group("id"))
    return marks


def record_log_stages(a, sent, first):
    """Appends '<key>_log_<stage>\t<trial> <ms>' per stage found in the log, and the last stage to the first byte."""
    marks = {}
    for _ in range(20):  # the console logger writes on its own thread: the last mark may trail the answer
        try:
            with open(a.log, errors="replace") as f:
                marks = log_marks(f.readlines(), a.rev, sent)
        except OSError:
            break
        if "released" in marks:
            break
        time.sleep(0.05)
    with open(a.record, "a") as out:
        previous = sent
        for name, _, _ in LOG_STAGES:
            if name not in marks:
                break
            out.write(f"{a.key}_log_{name}\t{a.trial} {(marks[name] - previous) * 1000:.1f}\n")
            previous = marks[name]
        if "released" in marks and first is not None:
            out.write(f"{a.key}_log_first_byte\t{a.trial} {(first - marks['released']) * 1000:.1f}\n")


def cmd_cold(a):
    """One request through the gateway on a new connection, as curl sends it. Prints 'status ttfb_ms
    started_ms ready_ms' (the instance's times after the request was sent; '-' when unknown); the
    body goes to --body, and why a request failed to stderr."""
    status, ttfb, body, first_at = "000", None, b"", None
    sent = time.time()
    try:
        with socket.create_connection(("127.0.0.1", a.port), timeout=30) as c:
            sent = time.time()
            c.sendall(f"GET / HTTP/1.1\r\nHost: {a.host}\r\nUser-Agent: trellis-bench\r\nAccept: */*\r\n\r\n".encode())
            data = c.recv(65536)
            first = time.time()
            while b"\r\n\r\n" not in data:
                more = c.recv(65536)
                if not more:
                    break
                data += more
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            if fields.get("transfer-encoding", "").lower() == "chunked":
                while not body.endswith(b"0\r\n\r\n"):
                    more = c.recv(65536)
                    if not more:
                        break
                    body += more
                body = dechunk(body)
            else:
                while len(body) < int(fields.get("content-length", "0") or 0):
                    more = c.recv(65536)
                    if not more:
                        break
                    body += more
        if data:
            ttfb = (first - sent) * 1000
            first_at = first
            status = lines[0].split(" ")[1] if lines[0].startswith("HTTP/") else "000"
        else:
            print(f"{a.host}: the connection closed without an answer", file=sys.stderr)
    except (OSError, ValueError, IndexError) as e:
        print(f"{a.host}: {e!r}", file=sys.stderr)
    with open(a.body, "wb") as f:
        f.write(body)
    started, ready = instance_times(a.api, a.rev, time.time()) if ttfb is not None else (None, None)
    if ttfb is not None and a.log and a.record:
        record_log_stages(a, sent, first_at)

    def rel(t):
        return "-" if t is None else f"{(t - sent) * 1000:.1f}"
    print(status, "-" if ttfb is None else f"{ttfb:.1f}", rel(started), rel(ready))
    return 0


def dechunk(body):
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def cmd_bare_start(a):
    """The floor of a cold start: the function process started by hand (no Trellis), connecting
    every 2 ms until the port opens. Prints 'first_byte_ms listening_ms' per trial: spawn -> first
    byte of its first answer, spawn -> the first connection accepted."""
    for _ in range(a.trials):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env = dict(os.environ, PORT=str(port), K_REVISION="bare", TARGET="bench")
        t0 = time.monotonic()
        proc = subprocess.Popen(a.command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            first = listening = None
            while first is None and time.monotonic() - t0 < 30:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                        listening = listening or time.monotonic()
                        c.sendall(b"GET / HTTP/1.1\r\nHost: bare\r\nConnection: close\r\n\r\n")
                        if c.recv(1):
                            first = time.monotonic()
                except OSError:
                    if proc.poll() is not None:
                        print("function exited before answering", file=sys.stderr)
                        return 1
                    time.sleep(0.002)
            if first is None:
                print("function did not answer within 30 s", file=sys.stderr)
                return 1
            print(f"{(first - t0) * 1000:.1f} {(listening - t0) * 1000:.1f}")
            sys.stdout.flush()
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        time.sleep(0.3)
    return 0


def stage_rows(trials, key, floor_key=None):
    """Table rows: the stages of the cold starts recorded under `key` (p50 / p99 over the trials
    where each was known), and what the floor's own start took, paired per trial."""
    ttfb, started, ready = trials(key), trials(key + "_started"), trials(key + "_ready")
    rows = []

    def row(label, values, anchor=""):
        v = sorted(x for x in values if x is not None)
        if v:
            rows.append(f"|     {label} (n={len(v)}) | {percentile(v, 50):.1f} ms | {percentile(v, 99):.1f} ms | {anchor} | |")
    ok = [t for t in ttfb if ttfb[t] is not None]
    row("request held → instance started", [started.get(t) for t in ok],
        "activator's demand, autoscaler's decision, agent's spawn (Trellis)")
    row("instance started → ready", [ready[t] - started[t] for t in ok if ready.get(t) is not None and started.get(t) is not None],
        "the function's start until its port is seen (0 with socket activation: the agent's socket listens at once)")
    row("ready → first byte", [ttfb[t] - ready[t] for t in ok if ready.get(t) is not None],
        "endpoint push, activator forwards; the function's first answer (and its start, with socket activation)")
    if floor_key:
        listen = trials(floor_key + "_listen")
        row("floor: spawn → listening, by hand", [listen.get(t) for t in ok],
            "the function's own start; started → ready minus this is the readiness detection delay")
        row("readiness detection delay: (started → ready) − floor's spawn → listening, paired",
            [ready[t] - started[t] - listen[t] for t in ok
             if ready.get(t) is not None and started.get(t) is not None and listen.get(t) is not None], "")
    return rows


def log_stage_table(trials, columns):
    """Cold starts side by side, stage by stage (the log's marks): p50 over each column's trials, and
    per trial the sum of Trellis's own stages. `columns`: [(header, key)] of what was measured."""
    columns = [(h, k) for h, k in columns if trials(k + "_log_demand")]
    if not columns:
        return []
    out = ["Cold starts side by side, stage by stage (p50 over the trials, ms; marks from `trellis up`'s log, "
           "millisecond timestamps on the same clock as the client):", "",
           "| stage | " + " | ".join(h for h, _ in columns) + " |",
           "| --- | " + " | ".join("---:" for _ in columns) + " |"]

    def p50(values):
        v = sorted(x for x in values if x is not None)
        return f"{percentile(v, 50):.1f}" if v else "–"
    stages = [(n, label) for n, _, label in LOG_STAGES] + [("first_byte", "released → first byte (gateway → node proxy → the function's first answer)")]
    for name, label in stages:
        mark = " (Trellis)" if name in TRELLIS_STAGES else ""
        out.append(f"| {label}{mark} | " + " | ".join(p50(trials(f"{k}_log_{name}").values()) for _, k in columns) + " |")

    def own(key):
        per = [trials(f"{key}_log_{n}") for n in TRELLIS_STAGES]
        return [sum(s[t] for s in per) for t in per[0] if all(s.get(t) is not None for s in per)]
    out.append("| **Trellis's own: the (Trellis) stages summed per trial** (target ≤ 10 ms p50) | "
               + " | ".join(f"**{p50(own(k))}**" for _, k in columns) + " |")
    out.append("| request → first byte (the cold start) | " + " | ".join(p50(trials(k).values()) for _, k in columns) + " |")
    return out


#!/usr/bin/env bash
# The eventing benchmark behind `bench/run eventing`: one `trellis controlplane` (the broker ingress
# and the embedded event store in a temporary data directory), then
#   0. warm-up: WARM seconds of the same ingest, not measured, so that every round measures the
#      compiled code and not the JIT at work (a fresh control plane spent most of its CPU compiling
#      during its first 15-20 s of load on this machine);
#   1. ingest: wrk (one thread, bench/eventing/post-event.lua) posts binary CloudEvents to a Broker
#      with no Trigger for D seconds over 64 connections; only 202 answers (durable) count, any other
#      answer or socket error is an error; against the naive floor measured in the same run, a loop
#      that writes and fsyncs one 1 KiB record per event on the same disk. wrk, not hey: on 2 cores
#      hey took a large share of the CPU the broker under test needed;
#   2. delivery: a Trigger to a subscriber (bench/eventing/eventing.py, which answers 202 at once),
#      events at a fixed 1000/s (hey -q), latency from the ingress's knativearrivaltime stamp to the
#      subscriber (both on this machine's clock): p50 and p99.
#   3. the same warm-up, ingest and delivery with the JetStream store (a NATS server started by
#      scripts/nats-server, a second control plane with --event-store nats://...), against the
#      engine's own ceiling in the same run: the same events published straight to JetStream with
#      NATS.Net by as many concurrent publishers (bench/Trellis.Benchmarks --jetstream-direct), each
#      round after its own WARM seconds of publishing that are not counted, as the broker's.
#      Then one round of the same requests to a Broker that does not exist (404 before the body is read): what
#      the HTTP part of the ingress costs alone. Every ingest round also reports each process's CPU per event
#      (control plane, nats-server, wrk; the publishers' process and nats-server for the direct rounds).
#      Skipped, and said so, when nats-server is not installed (./scripts/test installs it).
#   Batch rounds, beside the one-event-per-request ones on both stores: the same events posted BATCH (default
#   100, --batch N) per request in the CloudEvents batch content mode (application/cloudevents-batch+json),
#   counted in events (202s x BATCH); the direct JetStream baseline gets a like-for-like round too, where each
#   of the 64 publishers sends BATCH events without waiting and then waits for all their acknowledgements.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/bench/eventing"
cd "$ROOT"

QUICK=0 INSTALL=1 BUILD=1 BATCH=100 DELIVERY_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --batch) BATCH=$2; shift ;;
    --delivery-only) DELIVERY_ONLY=1 ;;  # the two delivery rounds only (after the warm-ups): a quiet moment is short
    --no-install) INSTALL=0 ;;
    --no-build) BUILD=0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then DUR=3 REPS=1 WARM=5; else DUR=10 REPS=3 WARM=15; fi
CLIENTS=64 RATE=1000 PER_CLIENT=100

# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"
[ "$INSTALL" = 1 ] && install_missing wrk:wrk hey:hey curl:curl python3:python3
if [ "$BUILD" = 1 ]; then "$ROOT/trellis" --version >/dev/null || die "build failed"; fi
TRELLIS_DLL="$ROOT/artifacts/trellis/trellis.dll"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench-eventing.XXXXXX")
SUB=$(free_port)
CP_PID="" SUB_PID="" NATS_PID=""
cleanup() {
  [ -n "$SUB_PID" ] && kill "$SUB_PID" 2>/dev/null || true
  [ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null || true
  [ -n "$NATS_PID" ] && kill "$NATS_PID" 2>/dev/null && wait "$NATS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export TRELLIS_CONFIG="$WORK/trellis-config"  # the control planes' admin contexts go here, not into ~/.trellis/config

start_cp() {  # start_cp DATA_DIR [extra controlplane options...]: a control plane with the two Brokers
  local data=$1; shift
  API=$(free_port) PUSH=$(free_port) BROKER=$(free_port)
  log "trellis controlplane (broker ingress on 127.0.0.1:$BROKER, data in $data${1:+, $*})"
  dotnet "$TRELLIS_DLL" controlplane --data-dir "$data" --api-address "127.0.0.1:$API" --push-address "127.0.0.1:$PUSH" \
    --broker-address "127.0.0.1:$BROKER" --log-level warning "$@" >"$data.log" 2>&1 &
  CP_PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$API/healthz" >/dev/null && break; sleep 0.2; done
  TOKEN=$(cat "$data/auth/admin-token") || die "no admin token in $data/auth"  # the API wants a token: the admin one
  apply $'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: ingest}\n---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: deliver}'
  for _ in $(seq 1 100); do curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API/apis/eventing.knative.dev/v1/namespaces/default/brokers/ingest" | grep -q '"url"' && break; sleep 0.1; done
}
stop_cp() { [ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null || true; CP_PID=""; }
apply() { curl -sf -X POST "http://127.0.0.1:$API/apply" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/yaml' --data-binary "$1" >/dev/null || die "apply failed"; }

PAYLOAD=$(python3 -c 'import json; print(json.dumps({"order": 42, "pad": "x" * 200}))')
post() {  # post URL DURATION CLIENTS [QPS per client]
  local extra=()
  [ -n "${4:-}" ] && extra=(-q "$4")
  hey -z "$2" -c "$3" "${extra[@]}" -m POST -T application/json -d "$PAYLOAD" \
    -H 'ce-specversion: 1.0' -H 'ce-id: bench' -H 'ce-source: /bench' -H 'ce-type: bench.event' "$1"
}

# The batch rounds' body: BATCH structured events with the same data, ids bench-0.., one JSON array.
BATCH_BODY=$(python3 -c 'import json,sys; print(json.dumps([{"specversion":"1.0","id":f"bench-{i}","source":"/bench","type":"bench.event","datacontenttype":"application/json","data":json.loads(sys.argv[1])} for i in range(int(sys.argv[2]))]))' "$PAYLOAD" "$BATCH")

warm_up() {  # warm_up: WARM seconds of ingest into the "ingest" Broker that count for nothing, then a third of it in batches
  log "warm-up: ingest for ${WARM}s, then batches of $BATCH for $(( WARM / 3 ))s, not measured"
  EVENT_BODY="$PAYLOAD" wrk -t1 -c"$CLIENTS" -d"${WARM}s" -s "$BENCH/post-event.lua" "http://127.0.0.1:$BROKER/default/ingest" >/dev/null
  EVENT_BATCH=1 EVENT_BODY="$BATCH_BODY" wrk -t1 -c"$CLIENTS" -d"$(( WARM / 3 ))s" -s "$BENCH/post-event.lua" "http://127.0.0.1:$BROKER/default/ingest" >/dev/null
}

RESULTS="$WORK/results.json"
echo "{\"cores\": $(nproc), \"reps\": $REPS, \"batch\": $BATCH, \"warm\": $WARM, \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"payload\": ${#PAYLOAD}, \"clients\": $CLIENTS, \"when\": \"$(date -u +%Y-%m-%dT%H:%MZ)\", \"ingest\": [], \"floor\": [], \"delivery\": [], \"js_ingest\": [], \"js_direct\": [], \"js_skipped\": null}" >"$RESULTS"
add() { python3 - "$RESULTS" "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r.setdefault(sys.argv[2], []).append(json.loads(sys.argv[3])); json.dump(r, open(sys.argv[1], "w"))
PY
}

ticks() { if [ -n "${1:-}" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }  # user+system CPU, clock ticks
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

ingest() {  # ingest KEY [BROKER_NAME [EVENTS_PER_REQUEST]]: one ingest round against the running control plane's Broker (wrk, post-event.lua)
  local out seconds accepted refused socket cp0 cp1 nats0 nats1 per=${3:-1} body=$PAYLOAD batch=""
  [ "$per" -gt 1 ] && body=$BATCH_BODY batch=1
  cp0=$(ticks "$CP_PID") nats0=$(ticks "$NATS_PID")
  out=$( { TIMEFORMAT='wrk-cpu %U %S'; time EVENT_BATCH="$batch" EVENT_BODY="$body" wrk -t1 -c"$CLIENTS" -d"${DUR}s" -s "$BENCH/post-event.lua" "http://127.0.0.1:$BROKER/default/${2:-ingest}"; } 2>&1)
  cp1=$(ticks "$CP_PID") nats1=$(ticks "$NATS_PID")
  seconds=$(awk '/requests in/ {sub(/s,?$/, "", $4); print $4}' <<<"$out")
  accepted=$(awk '$1 == "accepted" {print $2}' <<<"$out")
  refused=$(awk '$1 == "refused" {print $2}' <<<"$out")
  # Socket errors: connect, read, write, timeout (a request without an answer).
  socket=$(awk '/Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
  [ -n "$seconds" ] && [ -n "$accepted" ] || die "wrk gave no summary: $out"
  # CPU per event of each process (per answered request over the events a request carries), from /proc (the
  # control plane, nats-server) and bash's time (wrk). rps counts events: 202 answers x events per request.
  add "$1" "$(python3 -c "
import json, sys
a, s, r, sock, cp, nats, tick, per = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[9])
wrk = sum(float(x) for x in sys.argv[8].split()[1:])
n = max(1, a + r) * per
print(json.dumps({'rps': round(a * per / s), 'answers_per_s': round((a + r) / s), 'events_per_request': per, 'errors': r + sock, 'cpu_us': {'control plane': round(cp * tick / n, 2), 'nats-server': round(nats * tick / n, 2), 'wrk': round(wrk * 1e6 / n, 2)}}))
" "$accepted" "$seconds" "$refused" "$socket" $((cp1 - cp0)) $((nats1 - nats0)) "$TICK_US" "$(grep '^wrk-cpu' <<<"$out")" "$per")"
}

direct() {  # direct KEY IN_FLIGHT: one round of the same events published straight to JetStream (NATS.Net), with nats-server's CPU per event
  local out nats0 nats1
  nats0=$(ticks "$NATS_PID")
  out=$(dotnet "$BENCH_DLL" --jetstream-direct "nats://127.0.0.1:$NATS_PORT" "$DUR" "$CLIENTS" "$WORK/event.json" "$WARM" "$2")
  nats1=$(ticks "$NATS_PID")
  # nats-server's ticks cover the warm-up too, so they are divided by every event acknowledged, warm-up included.
  add "$1" "$(python3 -c "
import json, sys
d = json.loads(sys.argv[1]); nats = int(sys.argv[2]) * int(sys.argv[3]) / max(1, d.pop('acked_with_warmup'))
d['cpu_us'] = {'publishers (NATS.Net)': round(d.pop('client_us'), 1), 'nats-server': round(nats, 1)}
print(json.dumps(d))
" "$out" $((nats1 - nats0)) "$TICK_US")"
}

deliver() {  # deliver STORE: latency at $RATE/s through a Trigger on the "deliver" Broker
  log "delivery at ${RATE}/s ($1 store)"
  python3 "$BENCH/eventing.py" subscriber --port "$SUB" --out "$WORK/latency.json" &
  SUB_PID=$!
  apply "apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: bench}
spec:
  broker: deliver
  subscriber: {uri: \"http://127.0.0.1:$SUB/\"}"
  for _ in $(seq 1 100); do curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API/apis/eventing.knative.dev/v1/namespaces/default/triggers/bench" | grep -q '"type":"Ready","status":"True"' && break; sleep 0.1; done
  local out sent lat ack99
  out=$(post "http://127.0.0.1:$BROKER/default/deliver" "${DUR}s" $(( RATE / PER_CLIENT )) "$PER_CLIENT")
  sent=$(awk '$1 == "[202]" && $3 == "responses" {print $2}' <<<"$out")
  # The producer's side of the same events: p99 of the 202 answers (hey, in seconds), the store's durable write included.
  ack99=$(awk '$1 == "99%" && $2 == "in" {print $3 * 1000}' <<<"$out")
  sleep 2   # the last events of the run are still on their way to the subscriber
  kill "$SUB_PID"; wait "$SUB_PID" || true; SUB_PID=""
  lat=$(python3 "$BENCH/eventing.py" latency --file "$WORK/latency.json")
  add delivery "$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); d.update(rate=$RATE, expected=${sent:-0}, store='$1', ack_p99=${ack99:-None}); print(json.dumps(d))" "$lat")"
}

start_cp "$WORK/data"
warm_up
[ "$DELIVERY_ONLY" = 1 ] && REPS=0
for rep in $(seq 1 "$REPS"); do
  log "round $rep: fsync-per-event floor"
  add floor "$(python3 "$BENCH/eventing.py" fsync-floor --dir "$WORK" --seconds "$DUR")"
  log "round $rep: ingest (${DUR}s, $CLIENTS connections)"
  ingest ingest
  log "round $rep: ingest in batches of $BATCH (${DUR}s, $CLIENTS connections)"
  ingest ingest_batch ingest "$BATCH"
done

deliver embedded
stop_cp

if command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ]; then
  NATS_PORT=$(free_port)
  log "nats-server with JetStream on 127.0.0.1:$NATS_PORT (scripts/nats-server)"
  "$ROOT/scripts/nats-server" --port "$NATS_PORT" --dir "$WORK/nats" >"$WORK/nats.log" 2>&1 &
  NATS_PID=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null && break; sleep 0.1; done
  if [ "$BUILD" = 1 ]; then dotnet build "$ROOT/bench/Trellis.Benchmarks" -c Release -nologo -clp:ErrorsOnly >/dev/null || die "benchmark build failed"; fi
  BENCH_DLL="$ROOT/bench/Trellis.Benchmarks/bin/Release/net10.0/Trellis.Benchmarks.dll"
  # The event as the broker stores it (structured JSON, with the ingress's arrival time), for the direct publishers.
  python3 -c 'import json,sys; print(json.dumps({"specversion":"1.0","id":"bench","source":"/bench","type":"bench.event","datacontenttype":"application/json","knativearrivaltime":"2026-01-01T00:00:00.0000000+00:00","data":json.loads(sys.argv[1])}), end="")' "$PAYLOAD" >"$WORK/event.json"
  start_cp "$WORK/data-js" --event-store "nats://127.0.0.1:$NATS_PORT"
  warm_up
  for rep in $(seq 1 "$REPS"); do
    log "round $rep: JetStream direct with NATS.Net (${DUR}s after a ${WARM}s warm-up, $CLIENTS publishers)"
    direct js_direct 1
    log "round $rep: ingest, JetStream store (${DUR}s, $CLIENTS connections)"
    ingest js_ingest
    log "round $rep: JetStream direct with NATS.Net, $BATCH in flight per publisher (${DUR}s after a ${WARM}s warm-up, $CLIENTS publishers)"
    direct js_direct_batch "$BATCH"
    log "round $rep: ingest in batches of $BATCH, JetStream store (${DUR}s, $CLIENTS connections)"
    ingest js_ingest_batch ingest "$BATCH"
  done
  # What HTTP alone costs the ingress: the same requests to a Broker that does not exist are answered 404 from the
  # path, before the body is read, decoded or stored.
  if [ "$DELIVERY_ONLY" = 0 ]; then
    log "HTTP floor: the same requests to a Broker that does not exist (${DUR}s, $CLIENTS connections)"
    ingest http_floor nope
  fi
  deliver jetstream
  stop_cp
else
  python3 - "$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["js_skipped"] = "nats-server is not installed (./scripts/test installs it)"; json.dump(r, open(sys.argv[1], "w"))
PY
fi

python3 - "$RESULTS" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["load_end"] = sys.argv[2]; json.dump(r, open(sys.argv[1], "w"))
PY
python3 "$BENCH/eventing.py" report --results "$RESULTS"

#!/usr/bin/env bash
# The push benchmark behind `bench/run push`: config apply → every proxy has the new snapshot (and ACKs it).
# One `trellis controlplane` with bookinfo, its Gateway and DestinationRules; the load generator
# (bench/Trellis.Benchmarks --push-load) connects N simulated gateway proxies over the push protocol, then applies
# R changes to a VirtualService bound to the Gateway and times each proxy's new snapshot from the apply request.
# Rows: 100 and 1,000 proxies sharing one view, and 1,000 proxies in 10 views; on the file store, and on etcd when
# etcd is installed (./scripts/test installs it). Anchor: Istio takes seconds to minutes at thousands of proxies
# (istio/istio#35263); target p99 ≤ 100 ms at 1,000 proxies. Each row starts with 20 unrecorded changes (the control
# plane's steady state, JIT tiering done) and prints the stages and both processes' CPU per change beside the figures.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

QUICK=0 BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then ROUNDS=5; else ROUNDS=20; fi

# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"
install_missing curl:curl python3:python3
if [ "$BUILD" = 1 ]; then
  "$ROOT/trellis" --version >/dev/null || die "build failed"
  dotnet build "$ROOT/bench/Trellis.Benchmarks" -c Release -nologo -clp:ErrorsOnly >/dev/null || die "benchmark build failed"
fi
TRELLIS_DLL="$ROOT/artifacts/trellis/trellis.dll"
LOAD=(dotnet run -c Release --no-build --project "$ROOT/bench/Trellis.Benchmarks" -- --push-load)
N=../shared/conformance/istio-bookinfo

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench-push.XXXXXX")
CP_PID="" ETCD_PID=""
cleanup() {
  [ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null || true
  [ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null && wait "$ETCD_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# The control planes write their admin context into this run's CLI config, not into ~/.trellis/config.
export TRELLIS_CONFIG="$WORK/trellis-config"

start_cp() {  # start_cp NAME [controlplane options...]
  local name=$1; shift
  API=$(free_port) PUSH=$(free_port)
  dotnet "$TRELLIS_DLL" controlplane --data-dir "$WORK/$name" --api-address "127.0.0.1:$API" --push-address "127.0.0.1:$PUSH" \
    --log-level warning "$@" >"$WORK/$name.log" 2>&1 &
  CP_PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$API/healthz" >/dev/null && break; sleep 0.2; done
  # The API wants a token: the admin token the control plane made in its data directory (the load generator uses it too).
  export TRELLIS_TOKEN; TRELLIS_TOKEN=$(cat "$WORK/$name/auth/admin-token") || die "no admin token in $WORK/$name/auth"
  for f in platform/kube/bookinfo.yaml networking/bookinfo-gateway.yaml networking/destination-rule-all.yaml; do
    curl -sf -X POST "http://127.0.0.1:$API/apply?source=bench-push" -H "Authorization: Bearer $TRELLIS_TOKEN" -H 'content-type: application/yaml' --data-binary "@$N/$f" >/dev/null \
      || die "apply $f failed"
  done
}
stop_cp() { [ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null || true; CP_PID=""; }

ROWS="$WORK/rows"
measure() {  # measure STORE PROXIES VIEWS
  log "$1: $2 proxies in $3 view(s), $ROUNDS changes"
  printf '%s\t' "$1" >>"$ROWS"
  "${LOAD[@]}" "http://127.0.0.1:$PUSH" "http://127.0.0.1:$API" "$2" "$3" "$ROUNDS" "$CP_PID" >>"$ROWS" || die "load generator failed ($1 $2 $3)"
}

start_cp file
measure file 100 1
measure file 1000 1
measure file 1000 10
stop_cp

if command -v etcd >/dev/null; then
  CLIENT=$(free_port) PEER=$(free_port)
  etcd --name bench --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$CLIENT" --advertise-client-urls "http://127.0.0.1:$CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
    --initial-cluster "bench=http://127.0.0.1:$PEER" >"$WORK/etcd.log" 2>&1 &
  ETCD_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$CLIENT/health" >/dev/null && break; sleep 0.1; done
  start_cp etcd --store "etcd://127.0.0.1:$CLIENT"
  measure etcd 100 1
  measure etcd 1000 1
  stop_cp
else
  log "etcd is not installed: the etcd rows are skipped (./scripts/test installs etcd-server)"
fi

echo
echo "config apply → proxy has the new snapshot (and has written its ACK), ms, after 20 unrecorded warm-up changes;"
echo "stages: the apply's answer (store commit) and the first proxy's snapshot, medians; every ACK held by the control"
echo "plane (polled every 5 ms), p50/p99 over the changes; CPU ms per change of the load generator and of the control"
echo "plane (they share the cores). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %8s %6s %7s %10s %10s %12s %12s %7s %7s %9s %9s %8s %8s\n' store proxies views changes "p50/proxy" "p99/proxy" "p50/slowest" "p99/slowest" apply first "p50/acked" "p99/acked" "gen cpu" "cp cpu"
while IFS=$'\t' read -r store proxies views rounds p50 p99 s50 s99 applied first a50 a99 gen cp; do
  printf '%-6s %8s %6s %7s %10s %10s %12s %12s %7s %7s %9s %9s %8s %8s\n' "$store" "$proxies" "$views" "$rounds" "$p50" "$p99" "$s50" "$s99" "$applied" "$first" "$a50" "$a99" "$gen" "$cp"
done <"$ROWS"
echo "target: p99 ≤ 100 ms at 1,000 proxies (per proxy); Istio anchor: seconds to minutes at thousands (istio/istio#35263)"

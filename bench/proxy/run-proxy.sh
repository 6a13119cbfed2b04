#!/usr/bin/env bash
# The data-plane benchmark behind `bench/run proxy`. Table-driven: PATHS below lists every path;
# each has a start function in configs.sh that brings its proxies up and names its entry ports and
# proxy processes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/bench/proxy"
cd "$ROOT"

QUICK=0 REPS=3 INSTALL=1 BUILD=1 OUT="" ONLY="" BASELINE="" AOT_BASELINE="" DUR_OVERRIDE="" TRELLIS_ENV="" TRELLIS_BASE_ENV=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS="$2"; shift ;;
    --no-install) INSTALL=0 ;;
    --no-build) BUILD=0 ;;
    --out) OUT="$2"; shift ;;
    --only) ONLY="$2"; shift ;;   # comma-separated path names, for development
    # A/B: another trellis build (its trellis.dll, or the folder holding it) as path trellis-pair-base,
    # measured in the same interleaved rounds as trellis-pair.
    --baseline) BASELINE="$2"; shift ;;
    # A/B of two Native AOT builds: another trellis-proxy executable as path trellis-aot-pair-base.
    --aot-baseline) AOT_BASELINE="$2"; shift ;;
    --dur) DUR_OVERRIDE="$2"; shift ;;   # seconds per throughput and fixed-rate run, for development
    # A/B of environment-only runtime knobs: extra VAR=value words for the trellis proxies
    # (--env) and for trellis-pair-base (--base-env; --baseline defaults to the same build then).
    --env) TRELLIS_ENV="$2"; shift ;;
    --base-env) TRELLIS_BASE_ENV="$2"; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

# Durations (seconds) and loads. Quick mode keeps the whole run under two minutes: it proves every
# path works and prints indicative numbers; its speed figures are not meant to be compared.
if [ "$QUICK" = 1 ]; then
  REPS=1 DUR=2 LAT_DUR=3 RATES="1000" BIG_MIB=16 WARM=1
else
  DUR=10 LAT_DUR=10 RATES="1000 5000" BIG_MIB=100 WARM=5
fi
if [ -n "$DUR_OVERRIDE" ]; then DUR=$DUR_OVERRIDE LAT_DUR=$DUR_OVERRIDE; fi
CORES=$(nproc)
H1_CONNECTIONS=64           # wrk: fixed connection count, keep-alive
H2_CLIENTS=8 H2_STREAMS=16  # h2load: connections x concurrent streams
RPS_PER_CLIENT=100          # fixed-rate runs: clients = rate / 100, each sending 100 req/s

# name | start function | what it is
PATHS=(
  "direct|start_direct|client -> backend"
  "trellis-pair|start_trellis_pair|client -> trellis outbound -> trellis inbound -> backend (two processes)"
  "trellis-pair-base|start_trellis_pair_base|trellis-pair with the --baseline build (A/B)"
  "trellis-policy-pair|start_trellis_policy_pair|trellis-pair with retries, circuit breakers and outlier detection configured, none firing"
  "trellis-aot-pair|start_trellis_aot_pair|trellis-pair on trellis-proxy, the Native AOT build (two processes)"
  "trellis-aot-pair-base|start_trellis_aot_pair_base|trellis-aot-pair with the --aot-baseline executable (A/B)"
  "trellis-pair-no-telemetry|start_trellis_pair_no_telemetry|trellis-pair with metrics off (Telemetry API override): the telemetry stage's cost"
  "trellis-pair-mtls|start_trellis_pair_mtls|trellis-pair with mTLS between the two proxies (TLS 1.3, ECDSA P-256 workload certificates, STRICT)"
  "nginx-pair|start_nginx_pair|client -> nginx -> nginx -> backend"
  "haproxy-pair|start_haproxy_pair|client -> haproxy -> haproxy -> backend"
  "nginx-pair-tls|start_nginx_pair_tls|nginx-pair with TLS 1.3 and client certificates between the two (proxy_ssl, session reuse, keepalive)"
  "haproxy-pair-tls|start_haproxy_pair_tls|haproxy-pair with TLS 1.3 and client certificates between the two (ssl verify required crt)"
  "trellis-gateway|start_trellis_gateway|client -> trellis gateway -> backend"
  "trellis-aot-gateway|start_trellis_aot_gateway|trellis-gateway on trellis-proxy, the Native AOT build"
  "nginx-single|start_nginx_single|client -> nginx -> backend"
  "trellis-tcp-pair|start_trellis_tcp_pair|client -> trellis outbound TCP relay -> trellis inbound TCP relay -> backend (opaque TCP, docs/tcp.md)"
  "haproxy-tcp-pair|start_haproxy_tcp_pair|client -> haproxy mode tcp -> haproxy mode tcp -> backend"
  "trellis-pair-h2|start_trellis_pair_h2|trellis-pair with HTTP/2 upstreams (h2c A -> B -> backend, gRPC-shaped)"
  "nginx-pair-h2|start_nginx_pair_h2|nginx-pair with HTTP/2 upstreams (grpc_pass over h2c)"
  "haproxy-pair-h2|start_haproxy_pair_h2|haproxy-pair with HTTP/2 upstreams (server proto h2)"
)

# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"
[ "$INSTALL" = 1 ] && install_missing nginx:nginx haproxy:haproxy wrk:wrk h2load:nghttp2-client hey:hey curl:curl python3:python3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

# The benchmark's own build folder: artifacts/trellis belongs to ./trellis and other sessions'
# builds, which could rewrite it under running proxies.
TRELLIS_OUT="$ROOT/artifacts/bench-proxy"
if [ "$BUILD" = 1 ]; then
  log "building Trellis (Release) into $TRELLIS_OUT"
  for attempt in 1 2 3; do
    if dotnet build src/Trellis.Cli -c Release -o "$TRELLIS_OUT" -v q -nologo >"${TMPDIR:-/tmp}/trellis-bench-build.log" 2>&1; then break; fi
    # Parallel builds on a shared machine can collide on file locks; try again before giving up.
    [ "$attempt" = 3 ] && { cat "${TMPDIR:-/tmp}/trellis-bench-build.log" >&2; die "build failed"; }
    sleep 5
  done
fi
TRELLIS_DLL="$TRELLIS_OUT/trellis.dll"
[ -f "$TRELLIS_DLL" ] || die "$TRELLIS_DLL missing (run without --no-build)"
# trellis-proxy, the Native AOT build of the proxy role: scripts/build-proxy (re)builds it in
# artifacts/trellis-proxy when its sources changed; the benchmark runs its own copy, as above.
TRELLIS_AOT="$TRELLIS_OUT/aot/trellis-proxy"
if [ "$BUILD" = 1 ]; then
  log "building trellis-proxy (Native AOT) when out of date"
  aot=$("$ROOT/scripts/build-proxy") || die "trellis-proxy (Native AOT) did not build"
  mkdir -p "$TRELLIS_OUT/aot"
  cp "$aot" "$TRELLIS_AOT.new" && mv -f "$TRELLIS_AOT.new" "$TRELLIS_AOT"
fi
[ -x "$TRELLIS_AOT" ] || die "$TRELLIS_AOT missing (run without --no-build)"
TRELLIS_BASE_DLL=""
if [ -z "$BASELINE" ] && [ -n "$TRELLIS_BASE_ENV" ]; then BASELINE=$TRELLIS_DLL; fi
if [ -n "$BASELINE" ]; then
  TRELLIS_BASE_DLL=$BASELINE; [ -d "$BASELINE" ] && TRELLIS_BASE_DLL="$BASELINE/trellis.dll"
  [ -f "$TRELLIS_BASE_DLL" ] || die "--baseline: $TRELLIS_BASE_DLL missing"
fi

if [ -n "$AOT_BASELINE" ]; then [ -x "$AOT_BASELINE" ] || die "--aot-baseline: $AOT_BASELINE is not an executable"; fi

ulimit -n 65536 2>/dev/null || true
WORK=$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench.XXXXXX")
chmod 755 "$WORK"
STARTED_PIDS=()
cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${STARTED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/proxy/configs.sh
. "$BENCH/configs.sh"
# shellcheck source=bench/proxy/measure.sh
. "$BENCH/measure.sh"

FAILED=0
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }   # rep path metric value

selected_paths=()
for line in "${PATHS[@]}"; do
  name=${line%%|*}
  if [ "$name" = trellis-pair-base ]; then [ -n "$BASELINE" ] && selected_paths+=("$line"); continue; fi
  if [ "$name" = trellis-aot-pair-base ]; then [ -n "$AOT_BASELINE" ] && selected_paths+=("$line"); continue; fi
  if [ -z "$ONLY" ] || [[ ",$ONLY," == *",$name,"* ]] || [ "$name" = direct ]; then selected_paths+=("$line"); fi
done

make_backend_content
start_backend
for line in "${selected_paths[@]}"; do
  IFS='|' read -r name start _ <<<"$line"
  "$start" "$name"
done
# Idle = started and one small request served, before the large-body checks grow any buffers.
for line in "${selected_paths[@]}"; do
  IFS='|' read -r name _ _ <<<"$line"
  curl -s -o /dev/null -H "Host: $HOST_HEADER" "http://127.0.0.1:${H1_PORT[$name]}/1k" || true
done
sleep 2
for line in "${selected_paths[@]}"; do
  IFS='|' read -r name _ _ <<<"$line"
  record_memory 0 "$name" idle || FAILED=1
done

for line in "${selected_paths[@]}"; do
  IFS='|' read -r name _ _ <<<"$line"
  check_path "$name" || FAILED=1
done
[ "$FAILED" = 0 ] || die "a path does not work (see above)"

# Steady state is what is compared: every path gets the same unmeasured warm-up first (for
# Trellis that is JIT tiering; start-up cost is a separate question, not this table's).
for line in "${selected_paths[@]}"; do
  IFS='|' read -r name _ _ <<<"$line"
  log "warm-up: $name"
  warm_up "$name"
done

# Repetitions are interleaved (every path once per round) so that drift on a shared machine
# spreads over all paths instead of landing on one.
for rep in $(seq 1 "$REPS"); do
  for line in "${selected_paths[@]}"; do
    IFS='|' read -r name _ _ <<<"$line"
    log "round $rep/$REPS: $name"
    measure_path "$rep" "$name" || FAILED=1
  done
done

for line in "${selected_paths[@]}"; do
  IFS='|' read -r name _ _ <<<"$line"
  record_memory 0 "$name" load || FAILED=1
done

machine_description >"$WORK/machine.md"
args=(--results "$RESULTS" --machine "$WORK/machine.md" --paths "$(printf '%s\n' "${selected_paths[@]}")"
      --rates "$RATES" --reps "$REPS" --dur "$DUR" --lat-dur "$LAT_DUR" --big-mib "$BIG_MIB"
      --h1-connections "$H1_CONNECTIONS" --h2 "$H2_CLIENTS x $H2_STREAMS")
[ "$QUICK" = 1 ] && args+=(--quick)
[ -z "$ONLY" ] || args+=(--partial "only the paths $ONLY and direct")
# A failed run (a path answered errors or a proxy was gone) prints its table, marked, and never
# reaches docs/benchmarks.md.
[ "$FAILED" = 0 ] || args+=(--failed "a path answered errors or a proxy process was gone (rows marked ✗)")
python3 "$BENCH/report.py" "${args[@]}" >"$WORK/table.md"
cat "$WORK/table.md"
if [ -n "$OUT" ]; then cp "$WORK/table.md" "$OUT"; fi
[ "$FAILED" = 0 ] || die "a path stopped working under load or a proxy was gone (see above); docs/benchmarks.md not updated"
if [ "$QUICK" = 0 ] && [ -z "$ONLY" ] && [ -z "$BASELINE" ] && [ -z "$AOT_BASELINE" ] && [ -z "$DUR_OVERRIDE" ] && [ -z "$TRELLIS_ENV" ]; then
  python3 "$BENCH/report.py" --update-doc "$ROOT/docs/benchmarks.md" --table "$WORK/table.md"
  log "wrote docs/benchmarks.md"
fi

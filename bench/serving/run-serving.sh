#!/usr/bin/env bash
# The serving benchmark behind `bench/run serving`: one `trellis up` with three Knative Services
# of samples/functions, then
#   1. added latency: a warm instance (min-scale 1, activator out of the path) called directly on
#      its app port, through its inbound proxy only, and through the gateway, at a fixed rate;
#   2. min-scale 1 "cold start": new connection → first byte on the warm instance;
#   3. cold start: at zero instances (status desired = actual = 0, no process left), one request,
#      time to its first response byte and its stages (held -> instance started -> ready -> first
#      byte), repeated, for the plain process, the same socket-activated, a ReadyToRun build, a Native
#      AOT build (plain and socket-activated) and the pre-warmed pool (serving.trellis.dev/pool: dotnet);
#      interleaved with the floor: the same function started by hand without Trellis, spawn -> first byte;
#   4. burst: 200 concurrent requests against a function at zero; errors (must be 0), the revision
#      status polled every 100 ms, the time until the desired scale is met, a text chart.
# Prints one table; the full mode also writes it to docs/benchmarks.md (Serving section).
# Exits non-zero when a request of the burst fails or a path stops answering 200.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/bench/serving"
cd "$ROOT"

QUICK=0 TRIALS="" INSTALL=1 BUILD=1 OUT="" MAX_SCALE="" MESH_MTLS=PERMISSIVE
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --trials) TRIALS="$2"; shift ;;
    --no-install) INSTALL=0 ;;
    --no-build) BUILD=0 ;;
    --out) OUT="$2"; shift ;;
    --max-scale) MAX_SCALE="$2"; shift ;;   # cap of the burst function (default: 4 x cores, at most 32)
    # trellis up's --mesh-mtls. PERMISSIVE by default: the "inbound proxy only" latency row calls the instance's
    # inbound listener in cleartext, which STRICT (trellis up's own default since 3ced83d) refuses; and every
    # figure in docs/benchmarks.md before that change was measured without mTLS between gateway and instance.
    --mesh-mtls) MESH_MTLS="$2"; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

# Quick mode (CI smoke, under ~2 minutes): 3 cold-start trials, 3 s fixed-rate runs, one round.
if [ "$QUICK" = 1 ]; then
  TRIALS=${TRIALS:-3} REPS=1 LAT_DUR=3 WARM=2
else
  TRIALS=${TRIALS:-20} REPS=3 LAT_DUR=10 WARM=5
fi
WARM_TRIALS=$(( TRIALS > 20 ? TRIALS : 20 ))   # min-scale 1 requests are cheap: always at least 20
RATE=1000 RPS_PER_CLIENT=100                    # fixed rate: RATE/100 connections x 100 req/s each
BURST_C=200 BURST_N=2000 BURST_MS=200           # hey -c 200 -n 2000 against slow?ms=200
CORES=$(nproc)
if [ -z "$MAX_SCALE" ]; then MAX_SCALE=$(( CORES * 4 > 32 ? 32 : CORES * 4 )); fi

# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"
now_ms() { date +%s%3N; }
[ "$INSTALL" = 1 ] && install_missing h2load:nghttp2-client hey:hey curl:curl python3:python3

TRELLIS_DLL="$ROOT/artifacts/trellis/trellis.dll"
FUNCTIONS_DLL="$ROOT/samples/functions/bin/functions.dll"
if [ "$BUILD" = 1 ]; then
  # ./trellis builds the CLI (into artifacts/trellis) and the samples in Release when a source file
  # is newer than its last build, so a repeated --quick does not pay for a build.
  for attempt in 1 2 3; do
    if "$ROOT/trellis" --version >"${TMPDIR:-/tmp}/trellis-bench-serving-build.log" 2>&1; then break; fi
    # Parallel builds on a shared machine can collide on file locks; try again before giving up.
    [ "$attempt" = 3 ] && { cat "${TMPDIR:-/tmp}/trellis-bench-serving-build.log" >&2; die "build failed"; }
    sleep 5
  done
fi
[ -f "$TRELLIS_DLL" ] || die "$TRELLIS_DLL missing (run without --no-build)"
[ -f "$FUNCTIONS_DLL" ] || die "$FUNCTIONS_DLL missing (run without --no-build)"

ulimit -n 65536 2>/dev/null || true
WORK=$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench-serving.XXXXXX")

# A ReadyToRun build of the functions (crossgen2 from NuGet), built from a copy of the project so
# that neither samples/functions/bin nor its obj/ (shared with ./trellis) is touched.
R2R_DIR="$ROOT/artifacts/functions-r2r" R2R_ERROR=""
case "$(uname -m)" in x86_64) RID=linux-x64 ;; aarch64) RID=linux-arm64 ;; *) RID="" ;; esac
if [ "$QUICK" = 1 ]; then
  R2R_ERROR="skipped in --quick (a one-time publish of ~1 min; the full run measures it)"
elif [ -z "$RID" ]; then
  R2R_ERROR="no ReadyToRun runtime identifier for $(uname -m)"
elif [ ! -f "$R2R_DIR/functions.dll" ] || [ -n "$(find samples/functions/src -name '*.cs*' -newer "$R2R_DIR/functions.dll" -print -quit)" ]; then
  log "building the ReadyToRun functions ($RID) into artifacts/functions-r2r"
  mkdir -p "$WORK/r2r/samples/functions"
  cp Directory.Build.props Directory.Packages.props global.json "$WORK/r2r/"
  cp -r samples/functions/src "$WORK/r2r/samples/functions/"
  rm -rf "$WORK/r2r/samples/functions/src/bin" "$WORK/r2r/samples/functions/src/obj"
  if ! dotnet publish "$WORK/r2r/samples/functions/src/Functions.csproj" -c Release -r "$RID" --self-contained false \
      -p:PublishReadyToRun=true -o "$R2R_DIR" -nologo >"$WORK/r2r.log" 2>&1; then
    R2R_ERROR="dotnet publish -p:PublishReadyToRun=true failed: $(grep -m1 -E 'error' "$WORK/r2r.log" | cut -c1-300)"
    rm -f "$R2R_DIR/functions.dll"
  fi
fi
[ -z "$R2R_ERROR" ] || log "ReadyToRun row skipped: $R2R_ERROR"

# A Native AOT build of the functions (issue 16): no runtime start, no JIT (scripts/build-functions-aot,
# into artifacts/functions-aot; a one-time publish of a few minutes, skipped by --quick unless built).
AOT_DIR="$ROOT/artifacts/functions-aot" AOT_ERROR=""
if [ "$QUICK" = 1 ] && [ ! -x "$AOT_DIR/functions" ]; then
  AOT_ERROR="skipped in --quick (a one-time publish of a few minutes; the full run builds it)"
elif [ "$BUILD" = 1 ] && ! "$ROOT/scripts/build-functions-aot" >"$WORK/aot.log" 2>&1; then
  AOT_ERROR="scripts/build-functions-aot failed: $(grep -m1 -E 'error' "$WORK/aot.log" | cut -c1-300)"
elif [ ! -x "$AOT_DIR/functions" ]; then
  AOT_ERROR="$AOT_DIR/functions missing (run without --no-build)"
fi
[ -z "$AOT_ERROR" ] || log "Native AOT row skipped: $AOT_ERROR"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
PY="python3 $BENCH/serving.py"
TRELLIS_PID="" STARTED_PIDS=()
: >"$WORK/function-pids"

remember_function_pids() { [ -z "${API:-}" ] || $PY pids --api "$API" >>"$WORK/function-pids" 2>/dev/null || true; }

cleanup() {
  trap - EXIT INT TERM
  local pid i
  for pid in "${STARTED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$TRELLIS_PID" ] && kill -0 "$TRELLIS_PID" 2>/dev/null; then
    remember_function_pids
    # SIGINT = Ctrl-C: workloads get SIGTERM and their grace period, then trellis exits.
    # (`trellis up` did not react to SIGTERM when this was written.)
    kill -INT "$TRELLIS_PID" 2>/dev/null || true
    for i in $(seq 1 150); do kill -0 "$TRELLIS_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$TRELLIS_PID" 2>/dev/null; then
      log "trellis up still running 30 s after SIGINT: SIGKILL to its process group"
      kill -KILL -- "-$TRELLIS_PID" 2>/dev/null || true
    fi
    local rc=0
    wait "$TRELLIS_PID" 2>/dev/null || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 130 ]; then
      log "trellis up exited with status $rc on shutdown; its last lines:"; tail -4 "$WORK/up.log" | cut -c1-200 >&2
    fi
  fi
  # Function instances run in process groups of their own; any still alive now is a stray of ours.
  for pid in $(sort -u "$WORK/function-pids" 2>/dev/null); do
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -E "functions.dll|functions-aot/functions|trellis-poolhost"; then
      log "killing stray function instance $pid"; kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GW=$(free_port) API_PORT=$(free_port) PUSH=$(free_port)
API="http://127.0.0.1:$API_PORT"

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
record() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }

# ---- configuration ------------------------------------------------------------------------------
sed "s/number: 8080/number: $GW/" samples/functions/gateway.yaml >"$WORK/gateway.yaml"
cat >"$WORK/autoscaler.yaml" <<'EOF'
# Short windows so that a revision is back at zero ~8 s after its last request (Knative: 60 s + 30 s).
apiVersion: v1
kind: ConfigMap
metadata: {name: config-autoscaler, namespace: knative-serving}
data: {stable-window: "6s", scale-to-zero-grace-period: "1s"}
EOF
ksvc() { # name function annotations(yaml flow map) containerConcurrency [dll [native executable instead of dotnet dll]]
  cat <<EOF
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: $1}
spec:
  template:
    metadata:
      annotations: $3
    spec:
      containerConcurrency: $4
      timeoutSeconds: 30
      containers:
      - command: [$( [ -n "${6:-}" ] && echo "\"$6\"" || echo "\"dotnet\", \"${5:-samples/functions/bin/functions.dll}\"" ), "$2"]
        env: [{name: TARGET, value: bench}]
EOF
}
{
  # cold: the plain process function, as samples/functions/hello.yaml (scales to zero).
  ksvc cold hello '{autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/target: "10"}' 20
  # coldsa: the same, socket-activated: the agent listens on the port and passes the socket as fd 3.
  ksvc coldsa hello '{autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/target: "10", serving.trellis.dev/socket-activation: "true"}' 20
  # pool: the same, started in a pre-warmed .NET host of the agent's pool.
  ksvc pool hello '{autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/target: "10", serving.trellis.dev/pool: "dotnet"}' 20
  # r2r: the same function compiled ReadyToRun (plain process start).
  [ -n "$R2R_ERROR" ] || ksvc r2r hello '{autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/target: "10"}' 20 "$R2R_DIR/functions.dll"
  # aot: the same function compiled Native AOT, a plain process without the pool.
  [ -n "$AOT_ERROR" ] || ksvc aot hello '{autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/target: "10"}' 20 "" "$AOT_DIR/functions"
  [ -n "$AOT_ERROR" ] || ksvc aotsa hello '{autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/target: "10", serving.trellis.dev/socket-activation: "true"}' 20 "" "$AOT_DIR/functions"
  # warm: one instance kept; target-burst-capacity 0 takes the activator out of the path.
  ksvc warm hello '{autoscaling.knative.dev/min-scale: "1", autoscaling.knative.dev/target-burst-capacity: "0"}' 0
  # burst: waits 200 ms per request, so concurrency decides the scale: target 10 (x 70 %) per instance.
  ksvc burst slow "{autoscaling.knative.dev/min-scale: \"0\", autoscaling.knative.dev/target: \"10\", autoscaling.knative.dev/max-scale: \"$MAX_SCALE\"}" 20
} >"$WORK/services.yaml"

# ---- start --------------------------------------------------------------------------------------
log "starting trellis up (gateway :$GW, API :$API_PORT)"
export TRELLIS_CONFIG="$WORK/trellis-config"  # up writes its admin context here, not into ~/.trellis/config
# Job control on for this one start, so that the job gets a process group of its own; and SIGINT
# back to its default before exec, because a non-interactive shell starts background jobs with
# SIGINT ignored (and this script may itself have been started so), and .NET keeps it ignored.
set -m
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  dotnet "$TRELLIS_DLL" up "$WORK/gateway.yaml" "$WORK/autoscaler.yaml" "$WORK/services.yaml" --data-dir "$WORK/data" \
  --api-address "127.0.0.1:$API_PORT" --push-address "127.0.0.1:$PUSH" --mesh-mtls "$MESH_MTLS" >"$WORK/up.log" 2>&1 &
TRELLIS_PID=$!
set +m
# The API wants a token: the admin token trellis up makes on first start (serving.py and coldstart.py read TRELLIS_TOKEN).
for _ in $(seq 1 300); do [ -s "$WORK/data/controlplane/auth/admin-token" ] && break; sleep 0.2; done
export TRELLIS_TOKEN; TRELLIS_TOKEN=$(cat "$WORK/data/controlplane/auth/admin-token") || { tail -20 "$WORK/up.log" >&2; die "trellis up made no admin token"; }

alive_or_die() { # section: a trellis up that exited fails the run, naming where
  kill -0 "$TRELLIS_PID" 2>/dev/null || { tail -20 "$WORK/up.log" >&2; die "trellis up exited during the $1; no table, docs/benchmarks.md not updated"; }
}
wait_zero() { # service timeout section: until the revision is at zero; a trellis up that exited is named as the cause
  $PY wait-zero --api "$API" --rev "$1-00001" --timeout "$2" || { alive_or_die "$3"; die "$1 did not return to zero ($3)"; }
}
call() { # host [path]: prints "code ttfb_seconds", body in $WORK/body
  curl -s -o "$WORK/body" -w '%{http_code} %{time_starttransfer}\n' --max-time 30 -H "Host: $1" "http://127.0.0.1:$GW${2:-/}" || echo "000 0"
}
wait_answer() { # host: until 200 (the revision became ready and the route exists), 120 s
  local i code
  for i in $(seq 1 600); do
    alive_or_die "start"
    read -r code _ < <(call "$1")
    [ "$code" = 200 ] && return 0
    sleep 0.2
  done
  tail -20 "$WORK/up.log" >&2; die "$1 did not answer 200 within 120 s"
}
COLD_SERVICES="cold coldsa pool"
[ -n "$R2R_ERROR" ] || COLD_SERVICES="$COLD_SERVICES r2r"
[ -n "$AOT_ERROR" ] || COLD_SERVICES="$COLD_SERVICES aot aotsa"
for h in $COLD_SERVICES warm burst; do wait_answer "$h.default.example.com"; done
log "all services answer"
remember_function_pids

# Cold and burst scale down to zero now; the latency runs wait for that, so that stopping
# processes does not disturb them.
for svc in $COLD_SERVICES; do wait_zero "$svc" 90 "start"; done
wait_zero burst 90 "start"

# ---- 1. added latency (warm instance) -----------------------------------------------------------
$PY wait-scale --api "$API" --rev warm-00001 --n 1 --timeout 30 || { alive_or_die "latency runs"; die "warm has no ready instance"; }
read -r APP_PORT INBOUND_PORT AIP < <($PY ports --api "$API" --rev warm-00001) || die "warm: no ports"
record activator_in_path "$AIP"
WARM_HOST=warm.default.example.com
declare -A TARGET_PORT=([direct]=$APP_PORT [inbound]=$INBOUND_PORT [gateway]=$GW)
FAILED=0
for t in direct inbound gateway; do
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "Host: $WARM_HOST" "http://127.0.0.1:${TARGET_PORT[$t]}/" || true)
  { [ "$code" = 200 ] && grep -q '^Hello bench! (warm-00001)' "$WORK/body"; } || die "$t (port ${TARGET_PORT[$t]}): $code $(head -c 200 "$WORK/body")"
done
fixed_rate() { # target seconds logfile
  local clients=$((RATE / RPS_PER_CLIENT))
  rm -f "$3"; touch "$3"
  # -n, not -D: h2load 1.52 with --rps and -D never exits (as in bench/proxy).
  timeout $(($2 * 3 + 10)) h2load --h1 -c"$clients" --rps "$RPS_PER_CLIENT" -n $((RATE * $2)) --log-file "$3" \
    -H ":authority: $WARM_HOST" "http://127.0.0.1:${TARGET_PORT[$1]}/" >"$WORK/h2load.out" 2>&1 \
    || { log "$1: h2load: $(tail -3 "$WORK/h2load.out" | tr '\n' ' ')"; return 1; }
}
for t in direct inbound gateway; do log "warm-up: $t"; fixed_rate "$t" "$WARM" "$WORK/warm.log" || FAILED=1; done
for rep in $(seq 1 "$REPS"); do
  for t in direct inbound gateway; do
    log "latency @$RATE rps, round $rep/$REPS: $t"
    fixed_rate "$t" "$LAT_DUR" "$WORK/lat.log" || FAILED=1
    # Errors: requests of the round without a 2xx answer (non-2xx, or never answered).
    while read -r metric value; do
      case "$metric" in
        p50_ms|p99_ms) record "${t}_${metric%_ms}" "$value" ;;
        ok) record "${t}_achieved_rps" "$(awk -v n="$value" -v d="$LAT_DUR" 'BEGIN { printf "%.0f", n / d }')" ;;
        errors) record "${t}_errors" "$value"; [ "$value" = 0 ] || { log "$t: $value of $((RATE * LAT_DUR)) requests without a 2xx answer at $RATE rps"; FAILED=1; } ;;
      esac
    done < <($PY pct "$WORK/lat.log" --expected $((RATE * LAT_DUR)))
  done
done

# ---- 2. min-scale 1: new connection -> first byte -----------------------------------------------
alive_or_die "latency runs"
log "min-scale 1: $WARM_TRIALS requests"
for i in $(seq 1 "$WARM_TRIALS"); do
  read -r code ttfb < <(call "$WARM_HOST")
  [ "$code" = 200 ] || { log "warm request $i -> $code"; record warm_ms "$i failed: $code"; FAILED=1; continue; }
  record warm_ms "$i $(awk -v s="$ttfb" 'BEGIN { printf "%.1f", s * 1000 }')"
  sleep 0.05
done

# ---- 3. cold start ------------------------------------------------------------------------------
# Per trial: plain, then the floor (by hand), the socket-activated plain process, ReadyToRun, Native
# AOT and its floor, AOT socket-activated, then the pool last, so that the pool's refill (a new host
# warming up 1 s after a take) falls into the next trial's wait for zero. Every trial is recorded as
# "trial ms" or "trial failed: why" (the table counts the failed ones), with the instance's start and
# ready times after the request was sent (the stage breakdown), and the floor is paired with the
# cold start of the same trial.
cold_trial() { # service key trial; sets ms (a figure, or "failed"); records the stages (coldstart.py)
  local code ttfb started ready
  wait_zero "$1" 60 "cold starts (trial $3)"
  sleep 0.5   # the agent finishes removing the stopped instance's listeners
  read -r code ttfb started ready < <($PY cold --api "$API" --rev "$1-00001" --port "$GW" --host "$1.default.example.com" --body "$WORK/body" \
    --log "$WORK/up.log" --record "$RESULTS" --key "$2" --trial "$3" 2>>"$WORK/cold.err") || code=000
  if ! { [ "$code" = 200 ] && grep -q "^Hello bench! ($1-00001)" "$WORK/body"; }; then
    log "$1 trial $3 -> $code $(head -c 200 "$WORK/body") $(tail -1 "$WORK/cold.err" 2>/dev/null)"; record "$2" "$3 failed: HTTP $code"; FAILED=1; ms=failed; return 0
  fi
  record "$2" "$3 $ttfb"
  [ "$started" = - ] || record "$2_started" "$3 $started"
  [ "$ready" = - ] || record "$2_ready" "$3 $ready"
  ms="$ttfb ms (started +$started, ready +$ready)"
  remember_function_pids
}
floor_trial() { # key trial command...: the function started by hand; sets bare
  local key=$1 trial=$2 listen; shift 2
  read -r bare listen < <($PY bare-start --trials 1 -- "$@") || die "the function does not start by hand ($*)"
  [ -n "$bare" ] || die "the function does not start by hand ($*)"
  record "$key" "$trial $bare"
  record "${key}_listen" "$trial $listen"
}
for i in $(seq 1 "$TRIALS"); do
  cold_trial cold cold_ms "$i"
  line="plain $ms"
  # The floor, interleaved with the trials: the same function started by hand, no Trellis.
  floor_trial bare_ms "$i" dotnet "$FUNCTIONS_DLL" hello
  line="$line (by hand, no Trellis: $bare ms)"
  cold_trial coldsa coldsa_ms "$i"
  line="$line, socket-activated $ms"
  if [ -z "$R2R_ERROR" ]; then cold_trial r2r r2r_ms "$i"; line="$line, ReadyToRun $ms"; fi
  if [ -z "$AOT_ERROR" ]; then
    cold_trial aot aot_ms "$i"
    floor_trial aot_bare_ms "$i" "$AOT_DIR/functions" hello
    line="$line, Native AOT $ms (by hand: $bare ms)"
    cold_trial aotsa aotsa_ms "$i"
    line="$line, AOT socket-activated $ms"
  fi
  cold_trial pool pool_ms "$i"
  log "cold start $i/$TRIALS: $line, pool $ms"
done
[ -z "$R2R_ERROR" ] || record r2r_error "$R2R_ERROR"
[ -z "$AOT_ERROR" ] || record aot_error "$AOT_ERROR"

# ---- 4. burst from zero -------------------------------------------------------------------------
wait_zero burst 60 "burst"
$PY poll --api "$API" --rev burst-00001 --out "$WORK/timeline.tsv" --stop-file "$WORK/burst-done" --linger 30 --min-after 2 &
STARTED_PIDS+=($!)
POLLER=$!
sleep 0.5
log "burst: hey -c $BURST_C -n $BURST_N against burst (slow?ms=$BURST_MS, max-scale $MAX_SCALE)"
record burst_start_ms "$(now_ms)"
hey -c "$BURST_C" -n "$BURST_N" -t 60 -host burst.default.example.com "http://127.0.0.1:$GW/?ms=$BURST_MS" >"$WORK/hey.out" 2>&1 || true
record burst_end_ms "$(now_ms)"
touch "$WORK/burst-done"
remember_function_pids
BURST_OK=$(awk '/^[ \t]*\[200\]/ { n += $2 } END { print n + 0 }' "$WORK/hey.out")
BURST_ERRORS=$((BURST_N - BURST_OK))
record burst_n "$BURST_N"; record burst_c "$BURST_C"; record burst_ms "$BURST_MS"; record burst_max_scale "$MAX_SCALE"
record burst_ok "$BURST_OK"; record burst_errors "$BURST_ERRORS"
record burst_p50_ms "$(awk '/ 50% in/ { printf "%.1f", $3 * 1000 }' "$WORK/hey.out")"
record burst_p99_ms "$(awk '/ 99% in/ { printf "%.1f", $3 * 1000 }' "$WORK/hey.out")"
if [ "$BURST_ERRORS" != 0 ]; then
  log "burst: $BURST_ERRORS of $BURST_N requests failed:"; sed -n '/Status code distribution/,$p' "$WORK/hey.out" >&2
fi
log "burst: $BURST_OK/$BURST_N answered 200; waiting for the scale to settle"
wait "$POLLER" || true
STARTED_PIDS=()

# ---- report -------------------------------------------------------------------------------------
alive_or_die "burst"
{
  echo "- machine: $CORES cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, kernel $(uname -r), load average at start $LOAD_AT_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "- versions: .NET $(dotnet --version), $(h2load --version | head -1 | awk '{ print $2 }'), hey $(dpkg-query -W -f '${Version}' hey 2>/dev/null || echo '?'), curl $(curl -V | head -1 | awk '{ print $2 }')"
  echo "- trellis: HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet -- src 2>/dev/null || echo ' (src has uncommitted changes)'), binary built $(date -u -r "$TRELLIS_DLL" '+%Y-%m-%d %H:%M UTC')$( [ "$BUILD" = 0 ] && echo ' (--no-build: may predate HEAD)')"
  echo "- settings: config-autoscaler stable-window 6s, scale-to-zero-grace-period 1s; burst max-scale $MAX_SCALE ($CORES cores: 4 per core, at most 32), containerConcurrency 20, target 10"
} >"$WORK/machine.md"
args=(--results "$RESULTS" --timeline "$WORK/timeline.tsv" --machine "$WORK/machine.md" --trials "$TRIALS" --reps "$REPS" --rate "$RATE")
[ "$QUICK" = 1 ] && args+=(--quick)
# A failed run prints its table, marked, and never reaches docs/benchmarks.md.
[ "$BURST_ERRORS" = 0 ] || args+=(--failed "$BURST_ERRORS of $BURST_N burst requests failed")
[ "$FAILED" = 0 ] || args+=(--failed "requests or cold-start trials failed (rows marked ✗)")
[ -z "$R2R_ERROR" ] || [ "$QUICK" = 1 ] || args+=(--partial "the ReadyToRun row was not measured")
$PY report "${args[@]}" >"$WORK/table.md"
cat "$WORK/table.md"
if [ -n "$OUT" ]; then cp "$WORK/table.md" "$OUT"; fi
[ "$BURST_ERRORS" = 0 ] || die "$BURST_ERRORS of $BURST_N burst requests failed; docs/benchmarks.md not updated"
[ "$FAILED" = 0 ] || die "a path stopped answering 200 (see above); docs/benchmarks.md not updated"
if [ "$QUICK" = 0 ] && [ "$TRIALS" -ge 20 ]; then
  $PY update-doc --doc "$ROOT/docs/benchmarks.md" --table "$WORK/table.md"
  log "wrote docs/benchmarks.md (Serving)"
fi

# Sourced by run-proxy.sh: correctness checks, load runs and process accounting.
# Tools: wrk (HTTP/1.1 max throughput, fixed connections), h2load (HTTP/2 max throughput; and the
# fixed-rate latency runs, with --h1 and --rps), curl (large bodies and correctness).
# shellcheck shell=bash

CLK_TCK=$(getconf CLK_TCK)

proxy_pids() { # label: the process and its children (nginx workers)
  local pid=${PROXY_PID[$1]}
  echo "$pid"
  cat "/proc/$pid/task/"*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' || true
}

rss_mb() { # label field(VmRSS|VmHWM): summed over the instance's processes
  local total=0 pid kb
  for pid in $(proxy_pids "$1"); do
    kb=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  awk -v kb="$total" 'BEGIN { printf "%.1f", kb / 1024 }'
}

mem_mb() { # label field: a field of /proc/<pid>/smaps_rollup (Pss, Pss_Anon, Rss, ...) summed over the instance
  local total=0 pid kb
  for pid in $(proxy_pids "$1"); do
    kb=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  awk -v kb="$total" 'BEGIN { printf "%.1f", kb / 1024 }'
}

record_memory() { # rep name when(idle|load)
  local proxy
  for proxy in ${PATH_PROXIES[$2]}; do
    if [ "$3" = idle ]; then record "$1" "$2" "rss_idle_mb:$proxy" "$(rss_mb "$proxy" VmRSS)"; fi
    if [ "$3" = load ]; then record "$1" "$2" "rss_peak_mb:$proxy" "$(rss_mb "$proxy" VmHWM)"; fi
    record "$1" "$2" "pss_${3}_mb:$proxy" "$(mem_mb "$proxy" Pss)"
    record "$1" "$2" "anon_${3}_mb:$proxy" "$(rss_mb "$proxy" RssAnon)"
  done
}

warm_up() { # name: not measured; gets JIT tiering, connection pools and worker caches to steady state
  local h1=${H1_PORT[$1]} h2=${H2_PORT[$1]}
  wrk -t"$CORES" -c"$H1_CONNECTIONS" -d"${WARM}s" -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/1k" >/dev/null
  h2load -t"$CORES" -c"$H2_CLIENTS" -m"$H2_STREAMS" -D "$WARM" -H ":authority: $HOST_HEADER" "http://127.0.0.1:$h2/1k" >/dev/null 2>&1
}

cpu_ticks() { # label: utime + stime of the instance's processes
  local total=0 pid t
  for pid in $(proxy_pids "$1"); do
    # Fields after the ")" that closes comm: state is 1st, utime 12th, stime 13th.
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

check_path() { # name: the answer must be 200 and byte-identical, for 1 KiB, big download, big upload, h2
  local name=$1 h1=${H1_PORT[$1]} h2=${H2_PORT[$1]} code ok=0 out="$WORK/check-$1"
  code=$(curl -s -o "$out" -w '%{http_code}' -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/1k" || true)
  { [ "$code" = 200 ] && cmp -s "$out" "$WORK/www/1k"; } || { log "$name: GET /1k (HTTP/1.1) -> $code, body differs or missing"; ok=1; }
  code=$(curl -s --http2-prior-knowledge -o "$out" -w '%{http_code}' -H "Host: $HOST_HEADER" "http://127.0.0.1:$h2/1k" || true)
  { [ "$code" = 200 ] && cmp -s "$out" "$WORK/www/1k"; } || { log "$name: GET /1k (h2c) -> $code, body differs or missing"; ok=1; }
  code=$(curl -s -o "$out" -w '%{http_code}' -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/big" || true)
  { [ "$code" = 200 ] && cmp -s "$out" "$WORK/www/big"; } || { log "$name: GET /big -> $code, body differs or missing"; ok=1; }
  rm -f "$out"
  code=$(curl -s -o /dev/null -w '%{http_code}' -T "$WORK/upload-source" -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/upload/$name" || true)
  { [[ "$code" == 20[14] ]] && cmp -s "$WORK/www/upload/$name" "$WORK/upload-source"; } || { log "$name: PUT /upload -> $code, stored body differs"; ok=1; }
  rm -f "$WORK/www/upload/$name"
  [ "$ok" = 0 ] && log "$name: ok"
  return $ok
}

measure_path() { # rep name
  local rep=$1 name=$2 h1=${H1_PORT[$2]} h2=${H2_PORT[$2]} proxy failed=0 out
  local -A before

  # Max throughput, HTTP/1.1; CPU per request is measured over this run.
  for proxy in ${PATH_PROXIES[$name]}; do before[$proxy]=$(cpu_ticks "$proxy"); done
  out=$(wrk -t"$CORES" -c"$H1_CONNECTIONS" -d"${DUR}s" -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/1k")
  local requests rps
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
  record "$rep" "$name" rps_h1 "$rps"
  for proxy in ${PATH_PROXIES[$name]}; do
    record "$rep" "$name" "cpu_per_1k:$proxy" \
      "$(awk -v t=$(( $(cpu_ticks "$proxy") - before[$proxy] )) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.4f", t / hz / n * 1000 }')"
  done
  if grep -q 'Non-2xx' <<<"$out"; then log "$name: wrk saw non-2xx answers: $(grep Non-2xx <<<"$out")"; failed=1; fi

  # Max throughput, HTTP/2 (h2c prior knowledge) to the first hop; CPU per request over this run too.
  # The CPU time includes h2load's 1 s warm-up, so the requests are its rate times DUR + 1 seconds.
  for proxy in ${PATH_PROXIES[$name]}; do before[$proxy]=$(cpu_ticks "$proxy"); done
  out=$(h2load -t"$CORES" -c"$H2_CLIENTS" -m"$H2_STREAMS" -D "$DUR" --warm-up-time 1 -H ":authority: $HOST_HEADER" "http://127.0.0.1:$h2/1k" 2>&1)
  local rps_h2
  rps_h2=$(awk '/^finished in/ { print $4 }' <<<"$out")
  record "$rep" "$name" rps_h2 "$rps_h2"
  for proxy in ${PATH_PROXIES[$name]}; do
    record "$rep" "$name" "cpu_per_1k_h2:$proxy" \
      "$(awk -v t=$(( $(cpu_ticks "$proxy") - before[$proxy] )) -v hz="$CLK_TCK" -v r="${rps_h2:-0}" -v d="$DUR" 'BEGIN { n = r * (d + 1); if (n > 0) printf "%.4f", t / hz / n * 1000 }')"
  done
  # Requests still in flight when -D ends are counted as failed/errored; only more than that is a failure.
  local h2failed
  h2failed=$(awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^failed/) print $i }' <<<"$out")
  if ! grep -Eq '^status codes: [1-9][0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out" || [ "${h2failed:-0}" -gt $((H2_CLIENTS * H2_STREAMS)) ]; then
    log "$name: h2load: $(grep -E '^(requests|status codes):' <<<"$out" | tr '\n' ' ')"; failed=1
  fi

  # Latency at fixed rates, HTTP/1.1: h2load --rps, rate/100 connections each sending 100 req/s on
  # a timer, every request's time logged (the percentiles come from that log). A connection waits
  # for its previous answer only when that takes longer than its 10 ms interval, so this is open
  # loop for the latencies measured here; there is no coordinated-omission correction beyond that.
  local rate clients
  for rate in $RATES; do
    clients=$((rate / RPS_PER_CLIENT))
    # -n, not -D: h2load 1.52 with --rps and -D never exits after the run.
    rm -f "$WORK/lat.log"
    for proxy in ${PATH_PROXIES[$name]}; do before[$proxy]=$(cpu_ticks "$proxy"); done
    timeout $((LAT_DUR * 3 + 10)) h2load --h1 -c"$clients" --rps "$RPS_PER_CLIENT" -n $((rate * LAT_DUR)) --log-file "$WORK/lat.log" \
      -H ":authority: $HOST_HEADER" "http://127.0.0.1:$h1/1k" >"$WORK/lat.out" 2>&1 || { log "$name: h2load at $rate rps: $(tail -3 "$WORK/lat.out" | tr '\n' ' ')"; failed=1; }
    # CPU per request at a fixed rate too: at saturation, work per wake-up is batched; at a
    # moderate rate every request pays its own wake-ups, which is where most proxies run.
    for proxy in ${PATH_PROXIES[$name]}; do
      record "$rep" "$name" "cpu_per_1k@$rate:$proxy" \
        "$(awk -v t=$(( $(cpu_ticks "$proxy") - before[$proxy] )) -v hz="$CLK_TCK" -v n=$((rate * LAT_DUR)) 'BEGIN { printf "%.4f", t / hz / n * 1000 }')"
    done
    python3 "$BENCH/report.py" --latency-log "$WORK/lat.log" --duration "$LAT_DUR" | while read -r metric value; do
      record "$rep" "$name" "$metric@$rate" "$value"
    done
    if awk '$2 < 200 || $2 > 299 { bad = 1 } END { exit !bad }' "$WORK/lat.log"; then
      log "$name: non-2xx answers at $rate rps"; failed=1
    fi
  done

  # Large bodies: one download and one upload of $BIG_MIB MiB, streamed.
  local speed code
  read -r speed code < <(curl -s -o /dev/null -w '%{speed_download} %{http_code}\n' -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/big" || echo "0 000")
  [ "$code" = 200 ] || { log "$name: GET /big -> $code"; failed=1; }
  record "$rep" "$name" download_mbs "$(awk -v b="$speed" 'BEGIN { printf "%.1f", b / 1048576 }')"
  read -r speed code < <(curl -s -o /dev/null -w '%{speed_upload} %{http_code}\n' -T "$WORK/upload-source" -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/upload/$name" || echo "0 000")
  [[ "$code" == 20[14] ]] || { log "$name: PUT /upload -> $code"; failed=1; }
  record "$rep" "$name" upload_mbs "$(awk -v b="$speed" 'BEGIN { printf "%.1f", b / 1048576 }')"
  rm -f "$WORK/www/upload/$name"
  return $failed
}

machine_description() {
  echo "- machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, kernel $(uname -r), load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "- versions: .NET $(dotnet --version), $("$NGINX" -v 2>&1 | sed 's/.*: //'), HAProxy $("$HAPROXY" -v | head -1 | awk '{ print $3 }'), $(wrk -v 2>&1 | head -1 | awk '{ print "wrk " $2 }'), $(h2load --version | head -1 | awk '{ print $2 }'), curl $(curl -V | head -1 | awk '{ print $2 }')"
  echo "- trellis: HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet -- src 2>/dev/null || echo ' (src has uncommitted changes)'), binary built $(date -u -r "$TRELLIS_DLL" '+%Y-%m-%d %H:%M UTC')$( [ "$BUILD" = 0 ] && echo ' (--no-build: may predate HEAD)')$( [ -n "${TRELLIS_BASE_DLL:-}" ] && echo "; trellis-pair-base: $TRELLIS_BASE_DLL, built $(date -u -r "$TRELLIS_BASE_DLL" '+%Y-%m-%d %H:%M UTC')")"
}

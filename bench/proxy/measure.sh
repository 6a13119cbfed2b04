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

# A proxy that exited (or is a zombie not reaped yet) has no figures: the readers below then print
# nothing, never a 0 that would pass a target, and check_alive records the death and fails the run.
proxy_alive() { # label
  local state
  state=$(sed 's/.*) //' "/proc/${PROXY_PID[$1]}/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

check_alive() { # rep name when: records died:<proxy> for each of the path's proxies that is gone
  local proxy ok=0
  for proxy in ${PATH_PROXIES[$2]}; do
    proxy_alive "$proxy" && continue
    log "$2: $proxy (pid ${PROXY_PID[$proxy]}) is gone ($3)"
    record "$1" "$2" "died:$proxy" "$3"
    ok=1
  done
  return $ok
}

proc_sum() { # label file field: the field summed over the instance's processes; nothing if one is unreadable
  local total=0 pid v
  proxy_alive "$1" || return 0
  for pid in $(proxy_pids "$1"); do
    v=$(awk -v f="$3:" '$1 == f { print $2 }' "/proc/$pid/$2" 2>/dev/null) || return 0
    [ -n "$v" ] || return 0
    total=$((total + v))
  done
  echo "$total"
}

mb() { [ -z "$1" ] || awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
rss_mb() { mb "$(proc_sum "$1" status "$2")"; }        # label field(VmRSS|VmHWM|RssAnon)
mem_mb() { mb "$(proc_sum "$1" smaps_rollup "$2")"; }  # label field of smaps_rollup (Pss, ...)

record_memory() { # rep name when(idle|load)
  local proxy
  check_alive "$1" "$2" "memory, $3" || return 1
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

cpu_ticks() { # label: utime + stime of the instance's processes; nothing if one is gone
  local total=0 pid t
  proxy_alive "$1" || return 0
  for pid in $(proxy_pids "$1"); do
    # Fields after the ")" that closes comm: state is 1st, utime 12th, stime 13th.
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')
    [ -n "$t" ] || return 0
    total=$((total + t))
  done
  echo "$total"
}

cpu_per_1k() { # label ticks-before requests: CPU-s per 1000 requests since then; nothing when unknown
  local now
  now=$(cpu_ticks "$1")
  [ -n "$now" ] && [ -n "$2" ] || return 0
  # A negative difference means a worker was replaced: not a figure either.
  awk -v t=$((now - $2)) -v hz="$CLK_TCK" -v n="$3" 'BEGIN { if (n > 0 && t >= 0) printf "%.4f", t / hz / n * 1000 }'
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

measure_path() { # rep name: every figure with its error count; a proxy gone or any error fails the path
  local rep=$1 name=$2 h1=${H1_PORT[$2]} h2=${H2_PORT[$2]} proxy failed=0 out errors
  local -A before

  # Max throughput, HTTP/1.1; CPU per request is measured over this run.
  for proxy in ${PATH_PROXIES[$name]}; do before[$proxy]=$(cpu_ticks "$proxy"); done
  out=$(wrk -t"$CORES" -c"$H1_CONNECTIONS" -d"${DUR}s" -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/1k")
  local requests rps
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
  record "$rep" "$name" rps_h1 "$rps"
  for proxy in ${PATH_PROXIES[$name]}; do
    record "$rep" "$name" "cpu_per_1k:$proxy" "$(cpu_per_1k "$proxy" "${before[$proxy]}" "${requests:-0}")"
  done
  # wrk's errors: non-2xx/3xx answers and socket errors (connect, read, write, timeout).
  errors=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' <<<"$out")
  [ -n "$rps" ] || errors=$((errors > 0 ? errors : 1))   # no summary at all: wrk did not run
  record "$rep" "$name" errors_h1 "$errors"
  if [ "$errors" != 0 ]; then log "$name: wrk: $errors errors: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ')"; failed=1; fi
  check_alive "$rep" "$name" "round $rep, HTTP/1.1 run" || failed=1

  # Max throughput, HTTP/2 (h2c prior knowledge) to the first hop; CPU per request over this run too.
  # The CPU time includes h2load's 1 s warm-up, so the requests are its rate times DUR + 1 seconds.
  for proxy in ${PATH_PROXIES[$name]}; do before[$proxy]=$(cpu_ticks "$proxy"); done
  out=$(h2load -t"$CORES" -c"$H2_CLIENTS" -m"$H2_STREAMS" -D "$DUR" --warm-up-time 1 -H ":authority: $HOST_HEADER" "http://127.0.0.1:$h2/1k" 2>&1)
  local rps_h2
  rps_h2=$(awk '/^finished in/ { print $4 }' <<<"$out")
  record "$rep" "$name" rps_h2 "$rps_h2"
  for proxy in ${PATH_PROXIES[$name]}; do
    record "$rep" "$name" "cpu_per_1k_h2:$proxy" \
      "$(cpu_per_1k "$proxy" "${before[$proxy]}" "$(awk -v r="${rps_h2:-0}" -v d="$DUR" 'BEGIN { printf "%d", r * (d + 1) }')")"
  done
  # Errors: non-2xx answers, and failed requests beyond those still in flight when -D ends (h2load
  # counts those as failed). No status line at all means h2load did not run.
  errors=$(awk -v inflight=$((H2_CLIENTS * H2_STREAMS)) '
    /^status codes:/ { seen = 1; n += $5 + $7 + $9 }
    /^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^failed/ && $i > inflight) n += $i - inflight }
    END { print seen ? n + 0 : -1 }' <<<"$out")
  [ "$errors" != -1 ] || errors=1
  record "$rep" "$name" errors_h2 "$errors"
  if [ "$errors" != 0 ]; then log "$name: h2load: $(grep -E '^(requests|status codes):' <<<"$out" | tr '\n' ' ')"; failed=1; fi
  check_alive "$rep" "$name" "round $rep, HTTP/2 run" || failed=1

  # Latency at fixed rates, HTTP/1.1: h2load --rps, rate/100 connections each sending 100 req/s on
  # a timer, every request's time logged (the percentiles come from that log). A connection waits
  # for its previous answer only when that takes longer than its 10 ms interval, so this is open
  # loop for the latencies measured here; there is no coordinated-omission correction beyond that.
  local rate clients
  for rate in $RATES; do
    clients=$((rate / RPS_PER_CLIENT))
    # -n, not -D: h2load 1.52 with --rps and -D never exits after the run.
    rm -f "$WORK/lat.log"; touch "$WORK/lat.log"
    for proxy in ${PATH_PROXIES[$name]}; do before[$proxy]=$(cpu_ticks "$proxy"); done
    timeout $((LAT_DUR * 3 + 10)) h2load --h1 -c"$clients" --rps "$RPS_PER_CLIENT" -n $((rate * LAT_DUR)) --log-file "$WORK/lat.log" \
      -H ":authority: $HOST_HEADER" "http://127.0.0.1:$h1/1k" >"$WORK/lat.out" 2>&1 || { log "$name: h2load at $rate rps: $(tail -3 "$WORK/lat.out" | tr '\n' ' ')"; failed=1; }
    # CPU per request at a fixed rate too: at saturation, work per wake-up is batched; at a
    # moderate rate every request pays its own wake-ups, which is where most proxies run.
    for proxy in ${PATH_PROXIES[$name]}; do
      record "$rep" "$name" "cpu_per_1k@$rate:$proxy" "$(cpu_per_1k "$proxy" "${before[$proxy]}" $((rate * LAT_DUR)))"
    done
    # Errors: every request of the -n count that has no 2xx line in the log (non-2xx or unanswered).
    while read -r metric value; do
      record "$rep" "$name" "$metric@$rate" "$value"
      if [ "$metric" = errors ] && [ "$value" != 0 ]; then log "$name: $value of $((rate * LAT_DUR)) requests without a 2xx answer at $rate rps"; failed=1; fi
    done < <(python3 "$BENCH/report.py" --latency-log "$WORK/lat.log" --duration "$LAT_DUR" --expected $((rate * LAT_DUR)))
    check_alive "$rep" "$name" "round $rep, $rate rps run" || failed=1
  done

  # Large bodies: one download and one upload of $BIG_MIB MiB, streamed; a failed transfer records
  # an error and no speed.
  local speed code
  read -r speed code < <(curl -s -o /dev/null -w '%{speed_download} %{http_code}\n' -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/big" || echo "0 000")
  if [ "$code" = 200 ]; then
    record "$rep" "$name" download_mbs "$(awk -v b="$speed" 'BEGIN { printf "%.1f", b / 1048576 }')"; record "$rep" "$name" errors_download 0
  else
    log "$name: GET /big -> $code"; record "$rep" "$name" errors_download 1; failed=1
  fi
  read -r speed code < <(curl -s -o /dev/null -w '%{speed_upload} %{http_code}\n' -T "$WORK/upload-source" -H "Host: $HOST_HEADER" "http://127.0.0.1:$h1/upload/$name" || echo "0 000")
  if [[ "$code" == 20[14] ]]; then
    record "$rep" "$name" upload_mbs "$(awk -v b="$speed" 'BEGIN { printf "%.1f", b / 1048576 }')"; record "$rep" "$name" errors_upload 0
  else
    log "$name: PUT /upload -> $code"; record "$rep" "$name" errors_upload 1; failed=1
  fi
  rm -f "$WORK/www/upload/$name"
  check_alive "$rep" "$name" "round $rep, large bodies" || failed=1
  return $failed
}

machine_description() {
  echo "- machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, kernel $(uname -r), load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "- versions: .NET $(dotnet --version), $("$NGINX" -v 2>&1 | sed 's/.*: //'), HAProxy $("$HAPROXY" -v | head -1 | awk '{ print $3 }'), $(wrk -v 2>&1 | head -1 | awk '{ print "wrk " $2 }'), $(h2load --version | head -1 | awk '{ print $2 }'), curl $(curl -V | head -1 | awk '{ print $2 }')"
  [ -x "${TRELLIS_AOT:-}" ] && echo "- trellis-proxy (Native AOT): $(du -k "$TRELLIS_AOT" | cut -f1) KiB, built $(date -u -r "$TRELLIS_AOT" '+%Y-%m-%d %H:%M UTC')"
  echo "- trellis: HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet -- src 2>/dev/null || echo ' (src has uncommitted changes)'), binary built $(date -u -r "$TRELLIS_DLL" '+%Y-%m-%d %H:%M UTC')$( [ "$BUILD" = 0 ] && echo ' (--no-build: may predate HEAD)')$( [ -n "${TRELLIS_BASE_DLL:-}" ] && echo "; trellis-pair-base: $TRELLIS_BASE_DLL, built $(date -u -r "$TRELLIS_BASE_DLL" '+%Y-%m-%d %H:%M UTC')")"
}

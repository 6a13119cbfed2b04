#!/usr/bin/env bash
# Regenerates src/Trellis.ProxyHost/hot-methods.txt, the order in which Native AOT lays out trellis-proxy's code
# (IlcOrderFile): the methods a sidecar pair runs once it serves, together, so that they share as few pages as
# possible. Why: the kernel maps the 64 KiB around every page fault, so a request that runs a little code here and
# there in the 9 MB text section keeps most of it resident; laid out together, serving code is a few hundred KiB.
# Methods missing from the list (renamed, new) keep the default layout: a stale list costs memory, not correctness.
# docs/benchmarks.md, history 34.
#   sudo bench/proxy/hot-methods.sh [BINARY]   BINARY: a trellis-proxy with its .dbg beside it (default: scripts/build-proxy's)
# Two sources, both from an outbound -> inbound pair (the benchmark's trellis-aot-pair) with nginx as the backend:
#  1. what runs after start-up (StartupMemory.Release): every page fault in the executable, recorded by perf, with the
#     executable on a loop-mounted file system whose read-ahead is 0 and whose page cache is emptied after the release,
#     so that no fault maps its neighbours and each first touch of a 4 KiB page is seen (the first requests' one-time
#     code: static constructors, frozen dictionaries, the first connection);
#  2. what runs hot: perf samples with call chains under HTTP/1.1 and h2c load (every method on the stack counts).
# Needs root (mount), perf, nginx, wrk, h2load, curl, mkfs.ext4.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin=${1:-$("$root/scripts/build-proxy")}
[ -f "$bin.dbg" ] || { echo "error: $bin.dbg missing (the symbols name the methods)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/trellis-hot.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  mountpoint -q "$work/fs" && umount "$work/fs"
  rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 30000)) backend=$((port + 10))
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$backend; location / { return 200 "$(head -c 1024 /dev/zero | tr '\0' x)"; } } }
NGINX
nginx -c "$work/nginx.conf" & pids+=($!)
snapshot() { # kind domains-json upstream h1 h2
  cat <<JSON
{"version": "hot-1",
 "listeners": [{"name": "h1", "address": "127.0.0.1", "port": $4, "kind": "$1", "routeTable": "routes", "protocols": "http1"},
               {"name": "h2", "address": "127.0.0.1", "port": $5, "kind": "$1", "routeTable": "routes", "protocols": "http2"}],
 "routeTables": [{"name": "routes", "virtualHosts": [{"name": "backend", "domains": $2,
   "routes": [{"name": "default", "matches": [], "clusters": [{"cluster": "next", "weight": 100}]}]}]}],
 "clusters": [{"name": "next", "endpoints": [{"address": "127.0.0.1", "port": $3}], "loadBalancer": "roundRobin", "protocol": "http1"}]}
JSON
}
snapshot inbound '["*"]' "$backend" $((port + 2)) $((port + 3)) >"$work/b.json"
snapshot outbound '["bench.local"]' $((port + 2)) "$port" $((port + 1)) >"$work/a.json"

# The executable on a file system without read-ahead (its own loop device, set back by unmounting).
truncate -s 128M "$work/fs.img" && mkfs.ext4 -q "$work/fs.img" && mkdir "$work/fs" && mount -o loop "$work/fs.img" "$work/fs"
echo 0 >"/sys/block/$(basename "$(findmnt -n -o SOURCE "$work/fs")")/queue/read_ahead_kb"
cp "$bin" "$work/fs/trellis-proxy" && cp "$bin.dbg" "$work/fs/trellis-proxy.dbg" && sync   # the .dbg: perf names the sampled methods
evict() { python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "$work/fs/trellis-proxy"; }
evict
for who in a b; do
  perf record -q -e page-faults -c 1 -d -e syscalls:sys_enter_madvise -o "$work/$who.faults" -- \
    "$work/fs/trellis-proxy" --snapshot "$work/$who.json" --name "$who" --log-level warning >"$work/$who.out" 2>&1 &
  pids+=($!)
done
for _ in $(seq 400); do grep -q serving "$work/a.out" && grep -q serving "$work/b.out" && break; sleep 0.05; done
sleep 0.3; evict; sleep 1
curl -sf -o /dev/null -H 'Host: bench.local' "http://127.0.0.1:$port/1k"
curl -sf -o /dev/null --http2-prior-knowledge -H 'Host: bench.local' "http://127.0.0.1:$((port + 1))/1k"
sleep 2
wrk -t1 -c16 -d3s -H 'Host: bench.local' "http://127.0.0.1:$port/" >/dev/null
h2load -c4 -m8 -D 3 -H ':authority: bench.local' "http://127.0.0.1:$((port + 1))/" >/dev/null
a=$(cat /proc/"${pids[1]}"/task/*/children) b=$(cat /proc/"${pids[2]}"/task/*/children)

perf record -q -F 2999 -g -p "$a,$b" -o "$work/samples" -- sleep 22 2>/dev/null & rec=$!
sleep 0.5
wrk -t1 -c32 -d10s -H 'Host: bench.local' "http://127.0.0.1:$port/" >/dev/null
h2load -c8 -m16 -D 10 -H ':authority: bench.local' "http://127.0.0.1:$((port + 1))/" >/dev/null
wait "$rec"
kill "$a" "$b"; wait "${pids[1]}" "${pids[2]}" || true

perf script -i "$work/samples" -F ip,sym,dso 2>/dev/null >"$work/samples.txt"
for who in a b; do perf script -i "$work/$who.faults" -F tid,time,event,addr,trace 2>/dev/null >"$work/$who.faults.txt"; done
readelf -SW "$bin" >"$work/sections.txt"
nm -n "$bin.dbg" >"$work/symbols.txt"
python3 "$root/bench/proxy/hot_methods.py" "$work/sections.txt" "$work/symbols.txt" "$work/samples.txt" "$work/a.faults.txt" "$work/b.faults.txt" \
  >"$root/src/Trellis.ProxyHost/hot-methods.txt"
echo "wrote $(wc -l <"$root/src/Trellis.ProxyHost/hot-methods.txt") methods to src/Trellis.ProxyHost/hot-methods.txt" >&2

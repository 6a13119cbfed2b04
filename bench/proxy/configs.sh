# Sourced by run-proxy.sh. Generates configs into $WORK and starts the backend and each path.
# Every path sets H1_PORT[path] (HTTP/1.1 entry), H2_PORT[path] (h2c prior-knowledge entry) and
# PATH_PROXIES[path] (labels of its proxy instances; PROXY_PID[label] is the process whose tree
# is measured). Hops between proxies and to the backend are HTTP/1.1 with keep-alive for every
# product, so the HTTP/2 rows differ only in the client-facing protocol; the *-pair-h2 rows (HTTP/2
# upstreams, h2c on every hop after the first) and the TCP relay rows are the exceptions.
# shellcheck shell=bash

declare -A H1_PORT H2_PORT PATH_PROXIES PROXY_PID
BACKEND_H1=18080 BACKEND_H2=18081
NEXT_BASE=18100
HOST_HEADER=backend

# nginx 1.25.1 replaced `listen ... http2` by the `http2 on` directive.
nginx_h2_listen() {
  local port=$1 version
  version=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
  if printf '%s\n1.25.1\n' "$version" | sort -V -C; then
    echo "listen 127.0.0.1:$port http2 backlog=4096;"
  else
    echo "listen 127.0.0.1:$port backlog=4096; http2 on;"
  fi
}

allocate_ports() { BASE=$NEXT_BASE; NEXT_BASE=$((NEXT_BASE + 100)); }

start_bg() { # label, command...: starts a process in the background and records its pid
  local label=$1; shift
  "$@" >"$WORK/$label.out" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  PROXY_PID[$label]=$pid
}

wait_port() {
  local port=$1 i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$port"
}

make_backend_content() {
  mkdir -p "$WORK/www/upload" "$WORK/tmp"
  chmod 777 "$WORK/www/upload" "$WORK/tmp"
  chmod 755 "$WORK/www"
  head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$WORK/www/1k"
  head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$WORK/www/big"
  cp "$WORK/www/big" "$WORK/upload-source"
  chmod 644 "$WORK/www/1k" "$WORK/www/big"
}

nginx_common() { # label
  cat <<EOF
worker_processes $CORES;
daemon off;
pid $WORK/$1.pid;
error_log $WORK/$1.error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  client_max_body_size 0;
  client_body_temp_path $WORK/tmp/$1-body;
  proxy_temp_path $WORK/tmp/$1-proxy;
  fastcgi_temp_path $WORK/tmp/$1-fastcgi;
  uwsgi_temp_path $WORK/tmp/$1-uwsgi;
  scgi_temp_path $WORK/tmp/$1-scgi;
EOF
}

start_backend() {
  { nginx_common backend; cat <<EOF
  server {
    listen 127.0.0.1:$BACKEND_H1 backlog=4096;
    $(nginx_h2_listen $BACKEND_H2)
    root $WORK/www;
    location = /1k { }
    location = /big { }
    # PUT stores the whole body before answering, so an upload is complete when the answer comes.
    location /upload/ { dav_methods PUT; create_full_put_path on; }
  }
}
EOF
  } >"$WORK/backend.conf"
  start_bg backend "$NGINX" -c "$WORK/backend.conf" -p "$WORK"
  wait_port $BACKEND_H1
}

start_direct() {
  H1_PORT[$1]=$BACKEND_H1 H2_PORT[$1]=$BACKEND_H2 PATH_PROXIES[$1]=""
}

# An nginx reverse proxy: entry ports h1/h2 -> upstream port, keep-alive both sides; production
# settings: workers = cores, streaming bodies (no request buffering, no response temp files).
# NGINX_SERVER_TLS: directives that make the h1 listener TLS; NGINX_PROXY_TLS: directives for a TLS upstream.
nginx_proxy() { # label h1port h2port(or 0) upstream-port
  local label=$1 h1=$2 h2=$3 up=$4 scheme=http
  [ -n "${NGINX_PROXY_TLS:-}" ] && scheme=https
  { nginx_common "$label"; cat <<EOF
  upstream next { server 127.0.0.1:$up; keepalive 256; keepalive_requests 100000; }
  server {
    listen 127.0.0.1:$h1 ${NGINX_SERVER_TLS:+ssl} backlog=4096;
    ${NGINX_SERVER_TLS:-}
    $( [ "$h2" != 0 ] && nginx_h2_listen "$h2" )
    location / {
      proxy_pass $scheme://next;
      ${NGINX_PROXY_TLS:-}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_request_buffering off;
      proxy_max_temp_file_size 0;
    }
  }
}
EOF
  } >"$WORK/$label.conf"
  start_bg "$label" "$NGINX" -c "$WORK/$label.conf" -p "$WORK"
  wait_port "$h1"
}

start_nginx_pair() {
  allocate_ports
  nginx_proxy "$1-b" $((BASE + 2)) 0 $BACKEND_H1
  nginx_proxy "$1-a" "$BASE" $((BASE + 1)) $((BASE + 2))
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

start_nginx_single() {
  allocate_ports
  nginx_proxy "$1" "$BASE" $((BASE + 1)) $BACKEND_H1
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1"
}

# HAProxy 2.x: one process, one thread per core; `http-reuse always` keeps upstream connections
# shared and alive. HAPROXY_BIND_TLS / HAPROXY_SERVER_TLS: options that make the h1 bind / the server TLS.
haproxy_proxy() { # label h1port h2port(or 0) upstream-port
  local label=$1 h1=$2 h2=$3 up=$4
  cat >"$WORK/$label.cfg" <<EOF
global
  nbthread $CORES
  maxconn 8000
  pidfile $WORK/$label.pid
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend fe
  bind 127.0.0.1:$h1 ${HAPROXY_BIND_TLS:-} ${HAPROXY_BIND_OPTS:-}
  $( [ "$h2" != 0 ] && echo "bind 127.0.0.1:$h2 proto h2" )
  default_backend be
backend be
  ${HAPROXY_BACKEND_EXTRA:-}
  server next 127.0.0.1:$up maxconn 10000 ${HAPROXY_SERVER_TLS:-} ${HAPROXY_SERVER_OPTS:-}
EOF
  start_bg "$label" "$HAPROXY" -f "$WORK/$label.cfg"
  wait_port "$h1"
}

start_haproxy_pair() {
  allocate_ports
  haproxy_proxy "$1-b" $((BASE + 2)) 0 $BACKEND_H1
  haproxy_proxy "$1-a" "$BASE" $((BASE + 1)) $((BASE + 2))
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

# A Trellis snapshot with one route table (domains -> one cluster) and the given listeners.
# With TRELLIS_POLICY=1 the route retries and the cluster has circuit breakers and outlier detection, set so that
# none fires on a healthy backend: what configured resilience costs per request (trellis-policy-pair).
# extra-listener-json: more listener fields (telemetry: peer, services, telemetry settings), with a leading comma.
trellis_snapshot() { # kind domains-json upstream-port h1port h2port(or 0) [extra-listener-json]
  local kind=$1 domains=$2 up=$3 h1=$4 h2=$5 extra=${6:-} listeners route_policy="" cluster_policy=""
  if [ "${TRELLIS_POLICY:-0}" = 1 ]; then
    route_policy=', "retry": {"attempts": 2, "retryOn": ["5xx", "connect-failure", "refused-stream"], "perTryTimeout": "00:00:05"}'
    cluster_policy=', "connectionPool": {"maxConnections": 100000, "maxPendingRequests": 100000, "maxRequests": 100000}, "outlierDetection": {"consecutive5xxErrors": 5, "interval": "00:00:10", "baseEjectionTime": "00:00:30", "maxEjectionPercent": 10}'
  fi
  listeners="{\"name\":\"$kind-h1\",\"address\":\"127.0.0.1\",\"port\":$h1,\"kind\":\"$kind\",\"routeTable\":\"routes\",\"protocols\":\"${TRELLIS_H1_PROTOCOLS:-http1}\"$extra}"
  if [ "$h2" != 0 ]; then
    listeners="$listeners,{\"name\":\"$kind-h2\",\"address\":\"127.0.0.1\",\"port\":$h2,\"kind\":\"$kind\",\"routeTable\":\"routes\",\"protocols\":\"http2\"$extra}"
  fi
  cat <<EOF
{
  "version": "bench-1",
  "listeners": [$listeners],
  "routeTables": [{"name": "routes", "virtualHosts": [{"name": "backend", "domains": $domains,
    "routes": [{"name": "default", "matches": [], "clusters": [{"cluster": "next", "weight": 100}]$route_policy}]}]}],
  "clusters": [{"name": "next", "endpoints": [{"address": "127.0.0.1", "port": $up, "workload": "backend-v1", "namespace": "default",
    "labels": {"app": "backend", "version": "v1"}${TRELLIS_ENDPOINT_EXTRA:-}}], "loadBalancer": "roundRobin", "protocol": "${TRELLIS_UPSTREAM_PROTOCOL:-http1}", "service": $BENCH_SERVICE$cluster_policy${TRELLIS_CLUSTER_EXTRA:-}}]
}
EOF
}

# The proxies run as the product ships them: the Release build, default runtime settings.
trellis_proxy() { # label snapshot-file [dll [env words]]
  # shellcheck disable=SC2086 # the env words are split on purpose
  start_bg "$1" env ${4:-$TRELLIS_ENV} dotnet "${3:-$TRELLIS_DLL}" proxy --snapshot "$2" --name "$1" --log-level warning ${TRELLIS_PROXY_ARGS:-}
}

# The same role as trellis-proxy, the Native AOT executable (its command line is `trellis proxy`'s).
trellis_aot_proxy() { # label snapshot-file
  # shellcheck disable=SC2086 # the env words are split on purpose
  start_bg "$1" env $TRELLIS_ENV "${TRELLIS_AOT_EXE:-$TRELLIS_AOT}" --snapshot "$2" --name "$1" --log-level warning
}

# Telemetry as a mesh has it: each sidecar speaks for a workload (Istio's peer metadata), the inbound one knows its
# service, so both count Istio's metrics with real labels and the caller's proxy sends the metadata exchange.
BENCH_SERVICE='{"host": "backend.default.svc.cluster.local", "name": "backend", "namespace": "default"}'
BENCH_CLIENT_PEER='"peer": {"name": "client-v1", "namespace": "default", "labels": {"app": "client", "version": "v1"}}'
BENCH_BACKEND_PEER='"peer": {"name": "backend-v1", "namespace": "default", "labels": {"app": "backend", "version": "v1"}}'

# name [dll [env words [extra-listener-json]]]; TRELLIS_LAUNCHER picks the build (trellis_proxy: JIT)
start_trellis_pair() {
  local launch=${TRELLIS_LAUNCHER:-trellis_proxy}
  allocate_ports
  # B: the inbound sidecar in front of the workload; A: the caller's outbound sidecar, routing by Host.
  trellis_snapshot inbound '["*"]' $BACKEND_H1 $((BASE + 2)) 0 ", $BENCH_BACKEND_PEER, \"services\": [$BENCH_SERVICE]${4:-}" >"$WORK/$1-b.json"
  trellis_snapshot outbound "[\"$HOST_HEADER\"]" $((BASE + 2)) "$BASE" $((BASE + 1)) ", $BENCH_CLIENT_PEER${4:-}" >"$WORK/$1-a.json"
  "$launch" "$1-b" "$WORK/$1-b.json" "${2:-}" "${3:-}"
  "$launch" "$1-a" "$WORK/$1-a.json" "${2:-}" "${3:-}"
  wait_port $((BASE + 2)); wait_port "$BASE"
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

start_trellis_pair_base() { start_trellis_pair "$1" "$TRELLIS_BASE_DLL" "${TRELLIS_BASE_ENV:-TRELLIS_BENCH_BASE=1}"; }

start_trellis_policy_pair() { TRELLIS_POLICY=1 start_trellis_pair "$1"; }

start_trellis_aot_pair() { TRELLIS_LAUNCHER=trellis_aot_proxy start_trellis_pair "$1"; }

start_trellis_aot_pair_base() { TRELLIS_AOT_EXE=$AOT_BASELINE TRELLIS_LAUNCHER=trellis_aot_proxy start_trellis_pair "$1"; }

# The same pair with the Telemetry API's metrics override off on every listener: the telemetry stage does nothing, so
# trellis-pair against this row is what counting Istio's metrics costs.
start_trellis_pair_no_telemetry() { start_trellis_pair "$1" "" "" ', "telemetry": {"metrics": false}'; }

# Workload certificates as the mesh CA makes them (ECDSA P-256, one SPIFFE URI SAN, client and server auth), in Istio's
# file layout, one directory per proxy: A speaks as sa/client, B as sa/backend.
make_mesh_certs() { # dir
  local d=$1 who dir sa
  mkdir -p "$d/a" "$d/b"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/root-key.pem" -out "$d/root-cert.pem" \
    -days 2 -subj "/O=bench mesh" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  for who in a:client b:backend; do
    dir=${who%%:*} sa=${who#*:}
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$dir/key.pem" -out "$d/$dir/csr.pem" -subj "/O=bench mesh" 2>/dev/null
    # The DNS name is for the nginx and HAProxy rows, which verify a server by name (Trellis reads the SPIFFE ID only).
    printf 'subjectAltName=critical,URI:spiffe://cluster.local/ns/default/sa/%s,DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' "$sa" "$sa" >"$d/$dir/ext.cnf"
    openssl x509 -req -in "$d/$dir/csr.pem" -CA "$d/root-cert.pem" -CAkey "$d/root-key.pem" -CAcreateserial -days 1 \
      -extfile "$d/$dir/ext.cnf" -out "$d/$dir/cert-chain.pem" 2>/dev/null
    cp "$d/root-cert.pem" "$d/$dir/root-cert.pem"
    cat "$d/$dir/cert-chain.pem" "$d/$dir/key.pem" >"$d/$dir/combined.pem" # HAProxy's crt: certificate and key in one file
  done
}

# trellis-pair with mTLS between A and B: B's inbound listener STRICT as sa/backend, A's outbound one calling as
# sa/client with auto mTLS and secure naming, both loading their certificates with --identity-dir.
start_trellis_pair_mtls() {
  local certs="$WORK/$1-certs" backend='spiffe://cluster.local/ns/default/sa/backend'
  make_mesh_certs "$certs"
  allocate_ports
  trellis_snapshot inbound '["*"]' $BACKEND_H1 $((BASE + 2)) 0 ", $BENCH_BACKEND_PEER, \"services\": [$BENCH_SERVICE], \"identity\": \"$backend\", \"mtls\": \"strict\"" >"$WORK/$1-b.json"
  TRELLIS_ENDPOINT_EXTRA=', "mtls": true' TRELLIS_CLUSTER_EXTRA=", \"tls\": {\"mode\": \"auto\", \"peerIdentities\": [\"$backend\"]}" \
    trellis_snapshot outbound "[\"$HOST_HEADER\"]" $((BASE + 2)) "$BASE" $((BASE + 1)) ", $BENCH_CLIENT_PEER, \"identity\": \"spiffe://cluster.local/ns/default/sa/client\"" >"$WORK/$1-a.json"
  TRELLIS_PROXY_ARGS="--identity-dir $certs/b" trellis_proxy "$1-b" "$WORK/$1-b.json"
  TRELLIS_PROXY_ARGS="--identity-dir $certs/a" trellis_proxy "$1-a" "$WORK/$1-a.json"
  wait_port $((BASE + 2)); wait_port "$BASE"
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

# The baselines of trellis-pair-mtls with the same certificates: B's listener TLS 1.3 requiring a client certificate from
# the mesh root, A calling B over TLS 1.3 with its own certificate, verifying B's name, reusing sessions and connections.
start_nginx_pair_tls() {
  local certs="$WORK/$1-certs"
  make_mesh_certs "$certs"
  allocate_ports
  NGINX_SERVER_TLS="ssl_certificate $certs/b/cert-chain.pem; ssl_certificate_key $certs/b/key.pem; ssl_protocols TLSv1.3; ssl_client_certificate $certs/root-cert.pem; ssl_verify_client on; ssl_session_cache shared:tls:10m;" \
    nginx_proxy "$1-b" $((BASE + 2)) 0 $BACKEND_H1
  NGINX_PROXY_TLS="proxy_ssl_certificate $certs/a/cert-chain.pem; proxy_ssl_certificate_key $certs/a/key.pem; proxy_ssl_protocols TLSv1.3; proxy_ssl_trusted_certificate $certs/root-cert.pem; proxy_ssl_verify on; proxy_ssl_name backend; proxy_ssl_server_name on; proxy_ssl_session_reuse on;" \
    nginx_proxy "$1-a" "$BASE" $((BASE + 1)) $((BASE + 2))
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

start_haproxy_pair_tls() {
  local certs="$WORK/$1-certs"
  make_mesh_certs "$certs"
  allocate_ports
  HAPROXY_BIND_TLS="ssl crt $certs/b/combined.pem ssl-min-ver TLSv1.3 verify required ca-file $certs/root-cert.pem" \
    haproxy_proxy "$1-b" $((BASE + 2)) 0 $BACKEND_H1
  HAPROXY_SERVER_TLS="ssl ssl-min-ver TLSv1.3 crt $certs/a/combined.pem verify required ca-file $certs/root-cert.pem verifyhost backend sni str(backend)" \
    haproxy_proxy "$1-a" "$BASE" $((BASE + 1)) $((BASE + 2))
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

start_trellis_gateway() { # name; TRELLIS_LAUNCHER as for start_trellis_pair
  allocate_ports
  trellis_snapshot gateway '["*"]' $BACKEND_H1 "$BASE" $((BASE + 1)) >"$WORK/$1.json"
  "${TRELLIS_LAUNCHER:-trellis_proxy}" "$1" "$WORK/$1.json"
  wait_port "$BASE"
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1"
}

start_trellis_aot_gateway() { TRELLIS_LAUNCHER=trellis_aot_proxy start_trellis_gateway "$1"; }

# Opaque TCP relays (docs/tcp.md): the client's HTTP/1.1 and h2c go through unchanged, one upstream connection per
# client connection, so wrk and h2load measure the relay itself. Entry h1 -> backend h1, entry h2 -> backend h2.
haproxy_tcp_proxy() { # label h1port h2port upstream-h1 upstream-h2
  local label=$1
  cat >"$WORK/$label.cfg" <<EOF
global
  nbthread $CORES
  maxconn 8000
  pidfile $WORK/$label.pid
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen h1
  bind 127.0.0.1:$2
  server next 127.0.0.1:$4 maxconn 10000
listen h2
  bind 127.0.0.1:$3
  server next 127.0.0.1:$5 maxconn 10000
EOF
  start_bg "$label" "$HAPROXY" -f "$WORK/$label.cfg"
  wait_port "$2"
}

start_haproxy_tcp_pair() {
  allocate_ports
  haproxy_tcp_proxy "$1-b" $((BASE + 2)) $((BASE + 3)) $BACKEND_H1 $BACKEND_H2
  haproxy_tcp_proxy "$1-a" "$BASE" $((BASE + 1)) $((BASE + 2)) $((BASE + 3))
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

# A Trellis snapshot of two TCP listeners (ListenerConfig.tcp), h1 and h2 entries relaying to two clusters.
trellis_tcp_snapshot() { # kind h1port h2port upstream-h1 upstream-h2 extra-listener-json
  local kind=$1 extra=$6 l1 l2
  l1="{\"name\":\"$kind-h1\",\"address\":\"127.0.0.1\",\"port\":$2,\"kind\":\"$kind\",\"routeTable\":\"\",\"tcp\":{\"routes\":[{\"name\":\"r\",\"matches\":[],\"clusters\":[{\"cluster\":\"h1\",\"weight\":100}]}]}$extra}"
  l2="{\"name\":\"$kind-h2\",\"address\":\"127.0.0.1\",\"port\":$3,\"kind\":\"$kind\",\"routeTable\":\"\",\"tcp\":{\"routes\":[{\"name\":\"r\",\"matches\":[],\"clusters\":[{\"cluster\":\"h2\",\"weight\":100}]}]}$extra}"
  cat <<EOF
{
  "version": "bench-tcp-1",
  "listeners": [$l1, $l2],
  "routeTables": [],
  "clusters": [
    {"name": "h1", "endpoints": [{"address": "127.0.0.1", "port": $4, "workload": "backend-v1", "namespace": "default", "labels": {"app": "backend", "version": "v1"}}], "service": $BENCH_SERVICE},
    {"name": "h2", "endpoints": [{"address": "127.0.0.1", "port": $5, "workload": "backend-v1", "namespace": "default", "labels": {"app": "backend", "version": "v1"}}], "service": $BENCH_SERVICE}]
}
EOF
}

start_trellis_tcp_pair() {
  allocate_ports
  trellis_tcp_snapshot inbound $((BASE + 2)) $((BASE + 3)) $BACKEND_H1 $BACKEND_H2 ", $BENCH_BACKEND_PEER, \"services\": [$BENCH_SERVICE]" >"$WORK/$1-b.json"
  trellis_tcp_snapshot outbound "$BASE" $((BASE + 1)) $((BASE + 2)) $((BASE + 3)) ", $BENCH_CLIENT_PEER" >"$WORK/$1-a.json"
  trellis_proxy "$1-b" "$WORK/$1-b.json"
  trellis_proxy "$1-a" "$WORK/$1-a.json"
  wait_port $((BASE + 2)); wait_port "$BASE"
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

# HTTP/2 upstreams, gRPC-shaped (issue 11): after the client's first hop every hop is h2c with prior knowledge, A -> B
# and B -> the backend's h2c port, multiplexed over pooled connections, as a mesh carries gRPC. The client side is the
# same as the other pairs (wrk HTTP/1.1, h2load h2c), so the rows compare what the proxies do upstream.
start_trellis_pair_h2() {
  allocate_ports
  TRELLIS_H1_PROTOCOLS=http2 TRELLIS_UPSTREAM_PROTOCOL=http2 \
    trellis_snapshot inbound '["*"]' $BACKEND_H2 $((BASE + 2)) 0 ", $BENCH_BACKEND_PEER, \"services\": [$BENCH_SERVICE]" >"$WORK/$1-b.json"
  TRELLIS_UPSTREAM_PROTOCOL=http2 \
    trellis_snapshot outbound "[\"$HOST_HEADER\"]" $((BASE + 2)) "$BASE" $((BASE + 1)) ", $BENCH_CLIENT_PEER" >"$WORK/$1-a.json"
  trellis_proxy "$1-b" "$WORK/$1-b.json"
  trellis_proxy "$1-a" "$WORK/$1-a.json"
  wait_port $((BASE + 2)); wait_port "$BASE"
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

# nginx speaks HTTP/2 to an upstream only through its gRPC module: grpc_pass over h2c, keep-alive upstream connections.
nginx_grpc_proxy() { # label h1port(or 0) h2port upstream-port
  local label=$1 h1=$2 h2=$3 up=$4
  { nginx_common "$label"; cat <<EOF
  upstream next { server 127.0.0.1:$up; keepalive 256; keepalive_requests 100000; }
  server {
    $( [ "$h1" != 0 ] && echo "listen 127.0.0.1:$h1 backlog=4096;" )
    $(nginx_h2_listen "$h2")
    http2_max_concurrent_streams 1024;
    location / {
      grpc_pass grpc://next;
      grpc_set_header Host \$host;
    }
  }
}
EOF
  } >"$WORK/$label.conf"
  start_bg "$label" "$NGINX" -c "$WORK/$label.conf" -p "$WORK"
  wait_port "$h2"
}

start_nginx_pair_h2() {
  allocate_ports
  nginx_grpc_proxy "$1-b" 0 $((BASE + 2)) $BACKEND_H2
  nginx_grpc_proxy "$1-a" "$BASE" $((BASE + 1)) $((BASE + 2))
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

# HAProxy: `proto h2` on the server line (h2c to the upstream) and on B's bind (it takes h2c from A). An HTTP/2 answer
# has no reason phrase and HAProxy sends HTTP/1.1 clients none ("HTTP/1.1 200 "), which h2load's HTTP/1.1 parser counts
# as a failure: A gives 200 its reason (nginx and Trellis write one themselves).
start_haproxy_pair_h2() {
  allocate_ports
  HAPROXY_BIND_OPTS="proto h2" HAPROXY_SERVER_OPTS="proto h2" haproxy_proxy "$1-b" $((BASE + 2)) 0 $BACKEND_H2
  HAPROXY_BACKEND_EXTRA="http-response set-status 200 reason OK if { status 200 }" HAPROXY_SERVER_OPTS="proto h2" \
    haproxy_proxy "$1-a" "$BASE" $((BASE + 1)) $((BASE + 2))
  H1_PORT[$1]=$BASE H2_PORT[$1]=$((BASE + 1)) PATH_PROXIES[$1]="$1-a $1-b"
}

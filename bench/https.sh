#!/usr/bin/env bash
# Benchmark lcc-proxy's https entrance against haproxy terminating TLS (issue 21), both in
# front of the same nginx backend on loopback, with the same certificate (ECDSA P-256):
#  1. keep-alive: wrk over HTTPS/1.1 keep-alive connections, requests/s and p99;
#  2. handshakes: wrk with `Connection: close`, so every request is a new TLS handshake;
#  3. h2: h2load over one HTTP/2 connection (ALPN h2) with 100 concurrent streams.
# Rounds interleave the two proxies; medians are reported.
# Usage: bench/https.sh [seconds per run, default 10]. Needs nginx, haproxy, wrk, h2load
# (nghttp2-client), curl, openssl.
# Env: CONNS=50 (wrk connections), ROUNDS=3, HAPROXY_THREADS=2, LCC_PROXY_THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
for tool in nginx haproxy wrk h2load curl openssl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y nginx haproxy wrk nghttp2-client curl openssl)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release -q -p lcc-proxy
PROXY=${CARGO_TARGET_DIR:-$PWD/target}/release/lcc-proxy

WORK=$(mktemp -d /dev/shm/lcc-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

B=27300            # ports: backend, haproxy https, lcc http, lcc https, lcc gateway
BACK=$B; HAP=$((B+1)); LCC=$((B+2)); LCCS=$((B+3)); LGW=$((B+4))

# one certificate for both: ECDSA P-256 for localhost and 127.0.0.1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" > "$WORK/haproxy.pem"

chmod 755 "$WORK"
cat > "$WORK/backend.conf" <<CONF
worker_processes 2;
pid $WORK/backend.pid;
error_log $WORK/backend.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACK backlog=4096; location / { return 200 "A\n"; } }
}
CONF
nginx -p "$WORK" -c "$WORK/backend.conf" -g 'daemon off;' & PIDS+=($!)

cat > "$WORK/haproxy.cfg" <<CONF
global
  nbthread ${HAPROXY_THREADS:-2}
  maxconn 5000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend fe_https
  bind 127.0.0.1:$HAP ssl crt $WORK/haproxy.pem alpn h2,http/1.1
  default_backend be
backend be
  http-reuse always
  server a 127.0.0.1:$BACK
CONF
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 & PIDS+=($!)

cat > "$WORK/proxy.conf" <<CONF
version: 1
http: {listen: "127.0.0.1:$LCC"}
https: {listen: "127.0.0.1:$LCCS"}
entrances: [{name: web, gateway: web, host: localhost, tls: {cert: "$WORK/cert.pem", key: "$WORK/key.pem"}}]
gateways:
  - {name: web, listen: "127.0.0.1:$LGW", protocol: http, backends: ["127.0.0.1:$BACK"]}
CONF
LCC_PROXY_THREADS=${LCC_PROXY_THREADS:-} "$PROXY" --config "$WORK/proxy.conf" 2>"$WORK/lcc-proxy.log" & PIDS+=($!)

for url in "https://localhost:$HAP/" "https://localhost:$LCCS/"; do
  for _ in $(seq 100); do curl -fs -o /dev/null --cacert "$WORK/cert.pem" "$url" && break; sleep 0.05; done
  curl -fs -o /dev/null --cacert "$WORK/cert.pem" "$url" || { echo "$url not serving" >&2; exit 1; }
done

# wrk's summary as "requests/s p99-ms"
run_wrk() {  # $1 url, rest: extra wrk args
  local url=$1; shift
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$url" | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; p99=v}
    END {printf "%d %.2f\n", rps, p99}'
}
# h2load's rate over one connection with 100 streams, "requests/s" (0 if any failed)
run_h2() {  # $1 url
  h2load -c1 -m100 -D "$SECS" --warm-up-time=1 "$1" | awk '
    /^finished in/ {gsub(/,/,""); rps=$4}
    /^requests:/ {failed=$10; errored=$12}
    END {if (failed + errored > 0) rps = 0; printf "%d\n", rps}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RPS P99
for kind in keepalive handshake h2; do
  for who in haproxy lcc-proxy; do RPS[$kind-$who]=""; P99[$kind-$who]=""; done
done
for round in $(seq "$ROUNDS"); do
  for who in haproxy lcc-proxy; do
    port=$HAP; [ "$who" = lcc-proxy ] && port=$LCCS
    read -r r p < <(run_wrk "https://localhost:$port/")
    RPS[keepalive-$who]+="$r "; P99[keepalive-$who]+="$p "
    read -r r p < <(run_wrk "https://localhost:$port/" -H "Connection: close")
    RPS[handshake-$who]+="$r "; P99[handshake-$who]+="$p "
    RPS[h2-$who]+="$(run_h2 "https://localhost:$port/") "
  done
  echo "round $round done" >&2
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
echo "| HTTPS, $CONNS connections, ${SECS}s x $ROUNDS rounds (median) | haproxy | lcc-proxy | ratio |"
echo "| --- | --- | --- | --- |"
for kind in keepalive handshake; do
  h=$(med "${RPS[$kind-haproxy]}"); l=$(med "${RPS[$kind-lcc-proxy]}")
  hp=$(med "${P99[$kind-haproxy]}"); lp=$(med "${P99[$kind-lcc-proxy]}")
  label="keep-alive requests/s"; [ "$kind" = handshake ] && label="new TLS handshakes/s (Connection: close)"
  echo "| $label | $h | $l | $(awk -v a="$l" -v b="$h" 'BEGIN {printf "%.2fx", a/b}') |"
  echo "| p99 latency, $kind (ms) | $hp | $lp | $(awk -v a="$lp" -v b="$hp" 'BEGIN {printf "%.2fx", a/b}') |"
done
h=$(med "${RPS[h2-haproxy]}"); l=$(med "${RPS[h2-lcc-proxy]}")
echo "| HTTP/2 requests/s, 1 connection x 100 streams (h2load) | $h | $l | $(awk -v a="$l" -v b="$h" 'BEGIN {printf "%.2fx", a/b}') |"

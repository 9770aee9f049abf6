#!/usr/bin/env bash
# Benchmark: `lcc serve-static` against nginx serving the same directory (a small file and
# a 1 MiB file), with wrk on loopback, in one run. Prints requests/s and transfer/s of each
# and the ratio lcc/nginx. Target: at least 0.8x.
# Usage: bench/static.sh [DURATION] [CONNECTIONS]   (defaults: 5s 32; wrk uses 2 threads)
# ROUNDS=N runs each measurement N times, alternating the servers, and keeps the best of
# each (on a shared machine this filters out other load).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5s}
conns=${2:-32}
rounds=${ROUNDS:-1}

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  apt-get install -y nginx wrk >/dev/null
fi
cargo build --release -q -p lcc
lcc=${LCC:-${CARGO_TARGET_DIR:-$PWD/target}/release/lcc}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# nginx workers run as an unprivileged user: they must be able to read the site.
chmod 755 "$work"
mkdir -p "$work/site" "$work/nginx-tmp"
# A small page (~ 600 bytes) and a 1 MiB binary.
{
  echo '<!doctype html><html><head><title>bench</title></head><body>'
  for i in $(seq 1 10); do echo "<p>line $i of a small static page served for the benchmark</p>"; done
  echo '</body></html>'
} >"$work/site/small.html"
head -c 1048576 /dev/urandom >"$work/site/big.bin"

# A free port on 127.0.0.1 (the kernel picks it; a tiny race is acceptable for a benchmark).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
lcc_port=$(free_port)
nginx_port=$(free_port)

cat >"$work/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log /dev/null crit;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  types { text/html html; application/octet-stream bin; }
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/site;
  }
}
CONF

"$lcc" serve-static "$work/site" --listen "127.0.0.1:$lcc_port" 2>/dev/null &
lcc_pid=$!
pids+=("$lcc_pid")
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
pids+=("$nginx_pid")

# Wait (bounded) until both answer.
for port in "$lcc_port" "$nginx_port"; do
  for _ in $(seq 1 100); do
    curl -fso /dev/null "http://127.0.0.1:$port/small.html" && break
    sleep 0.1
  done
  curl -fso /dev/null "http://127.0.0.1:$port/small.html" || { echo "server on $port did not come up" >&2; exit 1; }
done

# Bytes per second from wrk's "Transfer/sec: 1.23GB".
to_bytes() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    m = (u == "KB") ? 1024 : (u == "MB") ? 1048576 : (u == "GB") ? 1073741824 : 1
    printf "%.0f", n * m }'
}

# CPU time (clock ticks, user + system) used so far by these processes and their threads:
# the cost per request is a figure that other load on the machine does not distort.
cpu_ticks() {
  local total=0 task fields
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*; do
      read -r -a fields <<<"$(sed 's/.*) //' "$task/stat" 2>/dev/null)" || continue
      total=$((total + fields[11] + fields[12]))
    done
  done
  echo "$total"
}
server_pids() {
  if [ "$1" = lcc ]; then echo "$lcc_pid"; else echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"; fi
}
hz=$(getconf CLK_TCK)

declare -A rps tps cpu
for file in small.html big.bin; do
  for round in $(seq 1 "$rounds"); do
    for server in lcc nginx; do
      port=$lcc_port; [ "$server" = nginx ] && port=$nginx_port
      # shellcheck disable=SC2046
      c0=$(cpu_ticks $(server_pids "$server"))
      out=$(wrk -t2 -c"$conns" -d"$duration" "http://127.0.0.1:$port/$file")
      # shellcheck disable=SC2046
      c1=$(cpu_ticks $(server_pids "$server"))
      n=$(awk '/requests in/ {print $1}' <<<"$out")
      us=$(awk -v c=$((c1 - c0)) -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1f", c * 1e6 / hz / n }')
      if [ "$round" = 1 ] || awk -v a="$us" -v b="${cpu[$server/$file]}" 'BEGIN { exit !(a < b) }'; then
        cpu[$server/$file]=$us
      fi
      r=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
      t=$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")
      if [ "$round" = 1 ] || awk -v a="$r" -v b="${rps[$server/$file]}" 'BEGIN { exit !(a > b) }'; then
        rps[$server/$file]=$r
        tps[$server/$file]=$t
      fi
    done
  done
done

echo "wrk -t2 -c$conns -d$duration (best of $rounds), lcc serve-static vs nginx $(nginx -v 2>&1 | sed 's/.*\///')"
printf '%-11s %-6s %14s %12s %16s\n' file server requests/s transfer/s 'CPU us/request'
for file in small.html big.bin; do
  for server in lcc nginx; do
    printf '%-11s %-6s %14s %12s %16s\n' "$file" "$server" "${rps[$server/$file]}" \
      "${tps[$server/$file]}" "${cpu[$server/$file]}"
  done
  ratio=$(awk -v a="${rps[lcc/$file]}" -v b="${rps[nginx/$file]}" 'BEGIN { printf "%.2f", a / b }')
  tratio=$(awk -v a="$(to_bytes "${tps[lcc/$file]}")" -v b="$(to_bytes "${tps[nginx/$file]}")" 'BEGIN { printf "%.2f", a / b }')
  cratio=$(awk -v a="${cpu[nginx/$file]}" -v b="${cpu[lcc/$file]}" 'BEGIN { printf "%.2f", a / b }')
  echo "$file: lcc/nginx = ${ratio}x requests/s, ${tratio}x transfer/s, ${cratio}x requests per CPU second (target >= 0.8x)"
done

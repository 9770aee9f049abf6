#!/usr/bin/env bash
# Benchmark lcc-proxy against nginx and haproxy on loopback (issue 5):
#  1. wrk: a fast nginx backend reached directly, through nginx (upstream keep-alive),
#     haproxy (http mode), the lcc-proxy entrance and the lcc-proxy HTTP gateway;
#  2. TCP bulk: 2 GiB downloads through haproxy (tcp mode) and the lcc-proxy TCP gateway
#     (interleaved rounds, medians);
#  3. 100 reloads (rename into place) during a wrk run: errors, time until the new backend serves;
#  4. RSS of lcc-proxy (and haproxy) holding 1,000 idle keep-alive client connections.
# Usage: bench/proxy.sh [wrk seconds, default 10]. Needs nginx, haproxy, wrk, curl, python3.
# Env: PARTS="rate bulk reload idle" (a subset runs only those), CONNS=50 (wrk connections),
# ROUNDS=3 (interleaved wrk and bulk rounds; medians are reported),
# HAPROXY_THREADS=2, HOLD=1 (keep everything running until Ctrl-C, for profiling),
# LCC_PROXY_THREADS / LCC_PROXY_ACCEPT (the measured lcc-proxy's workers, see docs/proxy.md),
# VARIANTS="1 2:shared" (more lcc-proxy processes measured side by side in the same rounds,
# each THREADS[:ACCEPT[:VAR=VALUE]], the last an environment variable or BIN=PATH, another
# lcc-proxy binary (say, the previous build); their rows are entrance-VARIANT and gateway-VARIANT).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${CONNS:-50}
PARTS=" ${PARTS:-rate bulk reload idle} "
part() { [[ $PARTS == *" $1 "* ]]; }
for tool in nginx haproxy wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y nginx haproxy wrk curl)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release -q -p lcc-proxy
PROXY=$PWD/target/release/lcc-proxy

WORK=$(mktemp -d /dev/shm/lcc-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

B=27100            # ports: backend A, backend B, nginx proxy, haproxy http, haproxy tcp, lcc http, lcc gw, lcc tcp
BACK_A=$B; BACK_B=$((B+1)); NGX=$((B+2)); HAP=$((B+3)); HAPT=$((B+4)); LCC=$((B+5)); LGW=$((B+6)); LTCP=$((B+7))

# --- backends: nginx, one worker, a tiny static answer and a 2 GiB (sparse) file -------
chmod 755 "$WORK"; truncate -s 2G "$WORK/big"; chmod 644 "$WORK/big"
cat > "$WORK/backend.conf" <<CONF
worker_processes 2;
pid $WORK/backend.pid;
error_log $WORK/backend.err;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACK_A backlog=4096; location / { return 200 "A\n"; } location /big { alias $WORK/big; } }
  server { listen 127.0.0.1:$BACK_B backlog=4096; location / { return 200 "B\n"; } }
}
CONF
nginx -p "$WORK" -c "$WORK/backend.conf" -g 'daemon off;' & PIDS+=($!); BACKEND_PID=$!

# --- nginx as a proxy: 2 workers, upstream keep-alive ------------------------------------
cat > "$WORK/nginx-proxy.conf" <<CONF
worker_processes 2;
pid $WORK/nginx-proxy.pid;
error_log $WORK/nginx-proxy.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream back { server 127.0.0.1:$BACK_A; keepalive 128; }
  server { listen 127.0.0.1:$NGX backlog=4096;
    location / { proxy_pass http://back; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx-proxy.conf" -g 'daemon off;' & PIDS+=($!); NGINX_PID=$!

# --- haproxy: 2 threads, http mode (keep-alive both sides) and tcp mode ------------------
cat > "$WORK/haproxy.cfg" <<CONF
global
  nbthread ${HAPROXY_THREADS:-2}
  maxconn 5000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend fe_http
  mode http
  bind 127.0.0.1:$HAP
  default_backend be_http
backend be_http
  mode http
  http-reuse always
  server a 127.0.0.1:$BACK_A
frontend fe_tcp
  mode tcp
  bind 127.0.0.1:$HAPT
  default_backend be_tcp
backend be_tcp
  mode tcp
  server a 127.0.0.1:$BACK_A
CONF
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 & PIDS+=($!); HAPROXY_PID=$!

# --- lcc-proxy: entrance, http gateway, tcp gateway --------------------------------------
write_conf() {  # $1 = backend port of the http gateway
  cat > "$WORK/proxy.conf.tmp" <<CONF
version: 1
http: {listen: "127.0.0.1:$LCC"}
entrances: [{name: web, gateway: web}]
gateways:
  - {name: web, listen: "127.0.0.1:$LGW", protocol: http, backends: ["127.0.0.1:$1"]}
  - {name: bulk, listen: "127.0.0.1:$LTCP", protocol: tcp, backends: ["127.0.0.1:$BACK_A"]}
CONF
  mv "$WORK/proxy.conf.tmp" "$WORK/proxy.conf"
}
write_conf "$BACK_A"
LCC_PROXY_THREADS=${LCC_PROXY_THREADS:-} LCC_PROXY_ACCEPT=${LCC_PROXY_ACCEPT:-} "$PROXY" --config "$WORK/proxy.conf" 2>"$WORK/lcc-proxy.log" & PIDS+=($!); LCC_PID=$!
# --- variants: more lcc-proxy processes (entrance and http gateway only), ports B+10+2k --
read -r -a VARIANTS <<<"${VARIANTS:-}"
declare -A VAR_PID VAR_HTTP VAR_GW
for k in "${!VARIANTS[@]}"; do
  v=${VARIANTS[$k]}; vh=$((B + 10 + 2 * k)); vg=$((vh + 1))
  cat > "$WORK/proxy-$k.conf" <<CONF
version: 1
http: {listen: "127.0.0.1:$vh"}
entrances: [{name: web, gateway: web}]
gateways:
  - {name: web, listen: "127.0.0.1:$vg", protocol: http, backends: ["127.0.0.1:$BACK_A"]}
CONF
  IFS=: read -r threads accept extra <<<"$v"
  bin=$PROXY; [[ ${extra:-} == BIN=* ]] && { bin=${extra#BIN=}; extra=; }
  env LCC_PROXY_THREADS="$threads" LCC_PROXY_ACCEPT="${accept:-}" ${extra:-} "$bin" --config "$WORK/proxy-$k.conf" 2>"$WORK/lcc-proxy-$k.log" & PIDS+=($!)
  VAR_PID[$v]=$!; VAR_HTTP[$v]=$vh; VAR_GW[$v]=$vg
done

for port in $BACK_A $NGX $HAP $LCC $LGW "${VAR_HTTP[@]}" "${VAR_GW[@]}"; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
done
curl -fs -o /dev/null "http://127.0.0.1:$LCC/entrances/web/" || { echo "lcc-proxy entrance not serving" >&2; exit 1; }

# --- 1. request rate and p99 -------------------------------------------------------------
if part rate; then
declare -A RPS P99 ALL ERRS CPU
ROUNDS=${ROUNDS:-3}
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else if (v ~ /s$/) print v*1000; else print v }'; }
# CPU ticks (user+system) used so far by a process and its children processes
ticks() { local t=0 p; for p in "$1" $(pgrep -P "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
declare -A SERVER
wrk_once() {  # name url: appends "rps p99ms cpu-us-per-request" to ALL[name]
  local pid=${SERVER[$1]} t0 t1 out
  t0=$(ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$2")
  t1=$(ticks "$pid")
  ALL[$1]+="$(awk '/^Requests\/sec/ {print $2}' <<<"$out") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") $(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '/requests in/ {printf "%.1f", d / hz * 1e6 / $1}' <<<"$out")"$'\n'
  ERRS[$1]+="$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' || true)"
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
NAMES=(direct nginx haproxy entrance gateway)
SERVER=([direct]=$BACKEND_PID [nginx]=$NGINX_PID [haproxy]=$HAPROXY_PID [entrance]=$LCC_PID [gateway]=$LCC_PID)
URLS=("http://127.0.0.1:$BACK_A/" "http://127.0.0.1:$NGX/" "http://127.0.0.1:$HAP/" "http://127.0.0.1:$LCC/entrances/web/" "http://127.0.0.1:$LGW/")
for v in "${VARIANTS[@]}"; do
  NAMES+=("entrance-$v" "gateway-$v"); URLS+=("http://127.0.0.1:${VAR_HTTP[$v]}/entrances/web/" "http://127.0.0.1:${VAR_GW[$v]}/")
  SERVER[entrance-$v]=${VAR_PID[$v]}; SERVER[gateway-$v]=${VAR_PID[$v]}
done
echo "== wrk -t1 -c$CONNS -d${SECS}s --latency, $ROUNDS interleaved rounds, medians (loopback, 2 cores shared) =="
for _ in $(seq "$ROUNDS"); do
  for i in "${!NAMES[@]}"; do wrk_once "${NAMES[$i]}" "${URLS[$i]}"; done
done
for n in "${NAMES[@]}"; do
  RPS[$n]=$(awk 'NF {print $1}' <<<"${ALL[$n]}" | median)
  P99[$n]=$(awk 'NF {print $2}' <<<"${ALL[$n]}" | median)
  CPU[$n]=$(awk 'NF {print $3}' <<<"${ALL[$n]}" | median)
  printf '%-14s %8.0f req/s  p99 %6.2f ms  server CPU %5.1f us/req  (rounds rps/p99: %s) %s\n' "$n" "${RPS[$n]}" "${P99[$n]}" "${CPU[$n]}" \
    "$(awk 'NF {printf "%d/%.2fms ", $1, $2}' <<<"${ALL[$n]}")" "${ERRS[$n]}"
done
echo "-- ratios: throughput vs direct and vs haproxy; p99 vs haproxy (lower is better)"
for n in "${NAMES[@]}"; do
  awk -v n="$n" -v r="${RPS[$n]}" -v d="${RPS[direct]}" -v h="${RPS[haproxy]}" -v p="${P99[$n]}" -v hp="${P99[haproxy]}" \
    -v c="${CPU[$n]}" -v hc="${CPU[haproxy]}" \
    'BEGIN { printf "%-14s %.2fx direct   %.2fx haproxy   p99 %.2fx haproxy   CPU/req %.2fx haproxy\n", n, r/d, r/h, p/hp, c/hc }'
done

fi

# --- 2. TCP bulk: 2 GiB download ---------------------------------------------------------
if part bulk; then
echo "== TCP bulk: curl -o /dev/null http://.../big (2 GiB, nginx sendfile backend), $ROUNDS interleaved rounds, medians =="
bulk() {  # name port: one download, its bytes/s appended to the name's list
  curl -fs -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$2/big" >> "$WORK/bulk.$1"
}
for _ in $(seq "$ROUNDS"); do bulk direct "$BACK_A"; bulk haproxy-tcp "$HAPT"; bulk lcc-tcp "$LTCP"; done
for n in direct haproxy-tcp lcc-tcp; do
  sort -n "$WORK/bulk.$n" | awk -v n="$n" '{a[NR]=$1; r=r sprintf(" %.2f", $1/1e9)} END {printf "%-18s %6.2f GB/s  (all, sorted:%s)\n", n, a[int((NR+1)/2)]/1e9, r}'
  sort -n "$WORK/bulk.$n" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' > "$WORK/bulk.$n.median"
done
awk -v l="$(cat "$WORK/bulk.lcc-tcp.median")" -v h="$(cat "$WORK/bulk.haproxy-tcp.median")" 'BEGIN { printf "lcc-tcp / haproxy-tcp: %.2fx\n", l/h }'

fi

# --- 3. 100 reloads during a wrk run -----------------------------------------------------
if part reload; then
echo "== 100 reloads (rename into place, backend A <-> B) during wrk on the entrance =="
wrk -t1 -c"$CONNS" -d60s "http://127.0.0.1:$LCC/entrances/web/" >"$WORK/wrk-reload.txt" & WRK_PID=$!; PIDS+=($WRK_PID)
python3 - "$WORK" "$LCC" "$LGW" "$LTCP" "$BACK_A" "$BACK_B" <<'PY'
import http.client, os, sys, time
work, lcc, lgw, ltcp, a, b = sys.argv[1], *map(int, sys.argv[2:])
def conf(port):
    return (f'version: 1\nhttp: {{listen: "127.0.0.1:{lcc}"}}\nentrances: [{{name: web, gateway: web}}]\n'
            f'gateways:\n  - {{name: web, listen: "127.0.0.1:{lgw}", protocol: http, backends: ["127.0.0.1:{port}"]}}\n'
            f'  - {{name: bulk, listen: "127.0.0.1:{ltcp}", protocol: tcp, backends: ["127.0.0.1:{a}"]}}\n')
conn = http.client.HTTPConnection("127.0.0.1", lcc, timeout=5)
def who():
    conn.request("GET", "/entrances/web/")
    return conn.getresponse().read().strip().decode()
times = []
for i in range(100):
    port, want = (b, "B") if i % 2 == 0 else (a, "A")
    tmp = os.path.join(work, "proxy.conf.tmp")
    with open(tmp, "w") as f:
        f.write(conf(port)); f.flush(); os.fsync(f.fileno())
    t0 = time.monotonic()
    os.replace(tmp, os.path.join(work, "proxy.conf"))
    while who() != want:
        if time.monotonic() - t0 > 5: sys.exit(f"reload {i}: backend {want} not serving after 5 s")
    times.append((time.monotonic() - t0) * 1000)
times.sort()
print(f"rename -> new backend serving: median {times[50]:.1f} ms, p99 {times[98]:.1f} ms, max {times[-1]:.1f} ms")
PY
kill -INT "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true
sleep 0.2
echo "wrk during reloads: $(awk '/requests in/ {print $1, "requests"}' "$WORK/wrk-reload.txt"); errors: $(grep -E 'Non-2xx|Socket errors' "$WORK/wrk-reload.txt" || echo none)"
echo "reloads logged by lcc-proxy: $(grep -c reloaded "$WORK/lcc-proxy.log"), refused: $(grep -c refused "$WORK/lcc-proxy.log" || true)"

fi

# --- 4. RSS with 1,000 idle keep-alive client connections --------------------------------
if part idle; then
echo "== RSS with 1000 idle keep-alive connections (each made one request) =="
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
idle() {  # name port path pid
  python3 - "$2" "$3" "$4" "$1" <<'PY'
import asyncio, sys
port, path, pid, name = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1])
async def one():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()); await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    await r.readexactly(n)
    return r, w
async def main():
    before = rss()
    conns = []
    for i in range(0, 1000, 100):
        conns += await asyncio.gather(*[one() for _ in range(100)])
    await asyncio.sleep(0.5)
    print(f"{name:10} RSS {before/1024:.1f} MB before, {rss()/1024:.1f} MB with {len(conns)} idle keep-alive connections")
    for r, w in conns: w.close()
asyncio.run(main())
PY
}
idle lcc-proxy "$LCC" /entrances/web/ "$LCC_PID"
idle haproxy "$HAP" / "$HAPROXY_PID"
fi
if [[ ${HOLD:-0} == 1 ]]; then echo "holding; lcc-proxy pid $LCC_PID; Ctrl-C to stop"; wait; fi

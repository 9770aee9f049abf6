#!/usr/bin/env bash
# bench/api.sh: the daemon's HTTP API under load, with N instances up (default 200).
#
# Reports:
# - `GET /api/v1/instances` over the Unix socket at RATE requests/s (default 500) for
#   SECS seconds (default 10), one keep-alive connection, requests sent on a fixed
#   schedule: latency p50/p99/max (target: p99 under 5 ms);
# - the daemon's CPU (every thread's schedstat) over IDLE seconds (default 20) with no
#   client, then with STREAMS open event streams (default 50) (target: the streams add
#   under 0.05 % of a core).
#
#   bash bench/api.sh
#   N=50 SECS=5 bash bench/api.sh
#
# Needs python3. Results go in bench/RESULTS.md (replace the table when re-run).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
RATE=${RATE:-500}
SECS=${SECS:-10}
IDLE=${IDLE:-20}
STREAMS=${STREAMS:-50}

cargo build --release -q --bin lcc
LCC=$PWD/target/release/lcc
WORK=$(mktemp -d /tmp/lcc-api-bench.XXXXXX)
cleanup() {
  "$LCC" down "$WORK" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# shellcheck source=bench/sleepers.sh
. bench/sleepers.sh
sleepers "$WORK" apibench "$N"
LCC_WAIT_TIMEOUT=300 "$LCC" up -d --wait "$WORK" >/dev/null
DAEMON=$(cat "$WORK/.lcc/daemon.pid")

python3 - "$WORK/.lcc/api.sock" "$RATE" "$SECS" "$IDLE" "$STREAMS" "$DAEMON" "$N" <<'PY'
import glob, socket, sys, time

sock_path, rate, secs, idle, streams, daemon, n = sys.argv[1:]
rate, secs, idle, streams, n = int(rate), float(secs), float(idle), int(streams), int(n)

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    return s

def get(s, buf):
    s.sendall(b"GET /api/v1/instances HTTP/1.1\r\nHost: localhost\r\n\r\n")
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(rest) < length:
        rest += s.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
    return rest[:length], rest[length:]

s = connect()
body, buf = get(s, b"")
assert body.count(b'"name"') == n, "every instance listed"
lat = []
start = time.monotonic()
period = 1.0 / rate
i = 0
while True:
    due = start + i * period
    if due - start >= secs:
        break
    now = time.monotonic()
    if now < due:
        time.sleep(due - now)
    t0 = time.monotonic()
    _, buf = get(s, buf)
    # Latency from the scheduled time: a late start counts (no coordinated omission).
    lat.append(time.monotonic() - min(t0, due) if t0 > due else time.monotonic() - t0)
    i += 1
elapsed = time.monotonic() - start
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"GET /api/v1/instances ({n} instances, {len(body)} bytes) at {rate}/s for {secs:.0f} s: "
      f"{len(lat)} requests in {elapsed:.1f} s, p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, max {lat[-1]*1000:.2f} ms")
s.close()

def cpu_ns():
    total = 0
    for f in glob.glob(f"/proc/{daemon}/task/*/schedstat"):
        total += int(open(f).read().split()[0])
    return total

def window():
    time.sleep(2)
    a = cpu_ns(); t = time.monotonic()
    time.sleep(idle)
    return (cpu_ns() - a) / ((time.monotonic() - t) * 1e9) * 100

quiet = window()
open_streams = []
for _ in range(streams):
    c = connect()
    c.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
    open_streams.append(c)
for c in open_streams:
    c.settimeout(5)
    assert c.recv(65536).startswith(b"HTTP/1.1 200")
with_streams = window()
print(f"daemon CPU, idle: {quiet:.3f} % of a core without clients, {with_streams:.3f} % with {streams} event streams "
      f"(+{with_streams - quiet:.3f} %)")
PY

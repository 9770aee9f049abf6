#!/usr/bin/env bash
# The malformed-response corpus of proxy/tests/edges.rs (issue 24) run against lcc-proxy
# (through an entrance and through a gateway) and haproxy (http mode) side by side, on
# loopback: one fake backend per case (python3, raw sockets), one request per case and
# proxy, and what the client got: the status of the first status line ("-" when the
# connection closed without one), "cut" when the body was shorter than announced, and
# the time to the end of the answer. Both proxies give a backend 1 s to answer.
# Usage: bench/edges.sh. Needs haproxy and python3 (apt-get install -y haproxy).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in haproxy python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y haproxy)" >&2; exit 1; }
done
cargo build --release -q -p lcc-proxy
PROXY=${CARGO_TARGET_DIR:-$PWD/target}/release/lcc-proxy

WORK=$(mktemp -d /dev/shm/lcc-edges.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

BASE=${BASE:-27300}   # fake backends BASE+i, haproxy BASE+100+i, lcc gateways BASE+200+i, lcc http BASE+299

# --- the corpus: one fake backend per case --------------------------------------------
cat > "$WORK/corpus.py" <<'PY'
import socket, socketserver, sys, threading, time

def resp(head, body=b""):
    return head.replace(b"\n", b"\r\n") + b"\r\n" + body

MANY = b"".join(b"x-h%d: v\r\n" % i for i in range(5000))
CASES = [
    ("valid response (first)", resp(b"HTTP/1.1 200 OK\ncontent-length: 2\n", b"ok")),
    ("garbage status line", b"HELLO THERE\r\n\r\n"),
    ("bad status code (600)", resp(b"HTTP/1.1 600 Nope\ncontent-length: 2\n", b"ok")),
    ("CL+TE", resp(b"HTTP/1.1 200 OK\ncontent-length: 100\ntransfer-encoding: chunked\n", b"5\r\nhello\r\n0\r\n\r\n")),
    ("two different Content-Lengths", resp(b"HTTP/1.1 200 OK\ncontent-length: 5\ncontent-length: 6\n", b"hello!")),
    ("negative Content-Length", resp(b"HTTP/1.1 200 OK\ncontent-length: -1\n", b"hello")),
    ("invalid chunk size", resp(b"HTTP/1.1 200 OK\ntransfer-encoding: chunked\n", b"zz\r\nhello\r\n0\r\n\r\n")),
    ("short body", resp(b"HTTP/1.1 200 OK\ncontent-length: 100\n", b"hello")),
    ("head, then close", resp(b"HTTP/1.1 200 OK\ncontent-length: 100\n")),
    ("invalid chunk size after a chunk", resp(b"HTTP/1.1 200 OK\ntransfer-encoding: chunked\n", b"5\r\nhello\r\nzz\r\n")),
    ("transfer coding gzip, chunked", resp(b"HTTP/1.1 200 OK\ntransfer-encoding: gzip, chunked\n", b"5\r\nhello\r\n0\r\n\r\n")),
    ("the same Content-Length twice", resp(b"HTTP/1.1 200 OK\ncontent-length: 5\ncontent-length: 5\n", b"hello")),
    ("huge header (100 KiB)", resp(b"HTTP/1.1 200 OK\nx-big: " + b"a" * 102400 + b"\ncontent-length: 2\n", b"ok")),
    ("5,000 headers", b"HTTP/1.1 200 OK\r\n" + MANY + b"content-length: 2\r\n\r\nok"),
    ("NUL in a header", resp(b"HTTP/1.1 200 OK\nx-nul: a\0b\ncontent-length: 2\n", b"ok")),
    ("bare LF line ends", b"HTTP/1.1 200 OK\ncontent-length: 5\n\nhello"),
    ("obs-fold", b"HTTP/1.1 200 OK\r\nx-fold: a\r\n b\r\ncontent-length: 2\r\n\r\nok"),
    ("1xx flood (1,000 x 100)", b"HTTP/1.1 100 Continue\r\n\r\n" * 1000 + resp(b"HTTP/1.1 200 OK\ncontent-length: 2\n", b"ok")),
    ("early close", None),
    ("silence", "silence"),
    ("valid response (after)", resp(b"HTTP/1.1 200 OK\ncontent-length: 2\n", b"ok")),
]

def serve(port, act):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            s = self.request
            s.settimeout(30)
            seen = b""
            try:
                while b"\r\n\r\n" not in seen and len(seen) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        return
                    seen += chunk
                if act == "silence":
                    while s.recv(4096):   # until the proxy gives up and closes
                        pass
                elif act is not None:
                    s.sendall(act)
            except OSError:
                pass
    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
    Server(("127.0.0.1", port), Handler).serve_forever()

if __name__ == "__main__":
    if sys.argv[1] == "names":
        for name, _ in CASES:
            print(name)
        sys.exit(0)
    base = int(sys.argv[1])
    for i, (_, act) in enumerate(CASES):
        threading.Thread(target=serve, args=(base + i, act), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
PY

# --- the client: one request, everything until the close ------------------------------
cat > "$WORK/client.py" <<'PY'
import re, socket, sys, time

def ask(port, path):
    started = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    ms = (time.monotonic() - started) * 1000
    m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
    if not m:
        return "-", ms
    head, _, body = got.partition(b"\r\n\r\n")
    cut = ""
    cl = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if cl and len(body) < int(cl.group(1)):
        cut = " cut"
    elif re.search(rb"(?im)^transfer-encoding:\s*chunked", head) and not body.endswith(b"0\r\n\r\n"):
        cut = " cut"
    return m.group(1).decode() + cut, ms

names = sys.argv[1].split("\n")
base = int(sys.argv[2])
print("| case | lcc-proxy entrance | lcc-proxy gateway | haproxy |")
print("| --- | --- | --- | --- |")
for i, name in enumerate(names):
    cells = []
    for port, path in ((base + 299, "/entrances/c%d/x" % i), (base + 200 + i, "/x"), (base + 100 + i, "/x")):
        status, ms = ask(port, path)
        cells.append("%s (%d ms)" % (status, ms))
    print("| %s | %s |" % (name, " | ".join(cells)))
PY

NAMES=$(python3 "$WORK/corpus.py" names)
COUNT=$(wc -l <<<"$NAMES")

python3 "$WORK/corpus.py" "$BASE" > "$WORK/corpus.out" 2>&1 & PIDS+=($!)

# --- haproxy: a frontend and a backend per case ---------------------------------------
{
  printf 'global\n  nbthread 2\n  maxconn 1000\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 10s\n  timeout server 1s\n'
  for ((i = 0; i < COUNT; i++)); do
    printf 'frontend f%d\n  bind 127.0.0.1:%d\n  default_backend b%d\nbackend b%d\n  server s%d 127.0.0.1:%d\n' \
      "$i" $((BASE + 100 + i)) "$i" "$i" "$i" $((BASE + i))
  done
} > "$WORK/haproxy.cfg"
haproxy -f "$WORK/haproxy.cfg" -db > "$WORK/haproxy.log" 2>&1 & PIDS+=($!)

# --- lcc-proxy: a gateway and an entrance per case ------------------------------------
{
  printf 'version: 1\nhttp: {listen: "127.0.0.1:%d"}\nentrances:\n' $((BASE + 299))
  for ((i = 0; i < COUNT; i++)); do printf '  - {name: c%d, gateway: c%d}\n' "$i" "$i"; done
  printf 'gateways:\n'
  for ((i = 0; i < COUNT; i++)); do
    printf '  - {name: c%d, listen: "127.0.0.1:%d", protocol: http, backends: ["127.0.0.1:%d"], timeouts: {response_ms: 1000}}\n' \
      "$i" $((BASE + 200 + i)) $((BASE + i))
  done
} > "$WORK/proxy.conf"
LCC_LOG=warn "$PROXY" --config "$WORK/proxy.conf" > "$WORK/lcc.log" 2>&1 & PIDS+=($!)

# every listener up (bounded: 10 s)
up() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()" "$1" 2>/dev/null; }
deadline=$((SECONDS + 10))
for port in $((BASE + COUNT - 1)) $((BASE + 100 + COUNT - 1)) $((BASE + 200 + COUNT - 1)) $((BASE + 299)); do
  until up "$port"; do
    ((SECONDS < deadline)) || { echo "port $port not up; logs in $WORK" >&2; cat "$WORK"/*.log "$WORK/corpus.out" >&2; exit 1; }
    sleep 0.1
  done
done

echo "bench/edges.sh on $(nproc) cores, $(haproxy -v | head -1 | cut -d' ' -f1-3), lcc-proxy $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
python3 "$WORK/client.py" "$NAMES" "$BASE"

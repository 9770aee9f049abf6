#!/usr/bin/env bash
# bench/dashboard.sh: how fast the dashboard's page shows a cluster of N instances
# (default 200), measured in headless Chromium on loopback.
#
# Reports, over RUNS fresh loads of the page (default 7; the first, which warms the
# browser, is left out), the median and worst of:
# - first paint and first contentful paint (the Paint Timing API);
# - the instances table drawn with every instance (the page's `lcc-instances` mark).
# Target: first paint under 300 ms.
#
#   bash bench/dashboard.sh
#   N=50 RUNS=5 bash bench/dashboard.sh
#
# Needs python3, chromium and chromedriver (Debian: chromium, chromium-driver).
# Results go in bench/RESULTS.md (replace the table when re-run).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
RUNS=${RUNS:-7}
PORT=${PORT:-27470}
DRIVER_PORT=${DRIVER_PORT:-27471}

cargo build --release -q --bin lcc
LCC=$PWD/target/release/lcc
WORK=$(mktemp -d /tmp/lcc-dashboard-bench.XXXXXX)
# A registry of its own: the dashboard shows this cluster only.
export XDG_RUNTIME_DIR=$WORK/runtime
mkdir -p "$XDG_RUNTIME_DIR" "$WORK/cluster"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  "$LCC" down "$WORK/cluster" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# shellcheck source=bench/sleepers.sh
. bench/sleepers.sh
sleepers "$WORK/cluster" dashbench "$N"
LCC_WAIT_TIMEOUT=300 "$LCC" up -d --wait "$WORK/cluster" >/dev/null
setsid "$LCC" dashboard --listen "127.0.0.1:$PORT" >/dev/null 2>&1 &
pids+=($!)
setsid chromedriver --port="$DRIVER_PORT" >/dev/null 2>&1 &
pids+=($!)

python3 - "$PORT" "$DRIVER_PORT" "$N" "$RUNS" "$WORK/profile" <<'PY'
import json, statistics, sys, time, urllib.request

port, driver, n, runs, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
base = f"http://127.0.0.1:{driver}"

def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["value"]

deadline = time.time() + 20
while True:
    try:
        call("GET", "/status")
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("chromedriver does not answer")
        time.sleep(0.1)

caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--disable-extensions", "--window-size=1280,800",
    f"--user-data-dir={profile}"]}}}}
sid = call("POST", "/session", caps)["sessionId"]
probe = """
const p = {};
for (const e of performance.getEntriesByType('paint')) p[e.name] = e.startTime;
const m = performance.getEntriesByName('lcc-instances');
p['instances'] = m.length ? m[0].startTime : null;
p['rows'] = document.querySelectorAll('#instances tbody tr').length;
return p;
"""
rows = []
try:
    for i in range(runs):
        call("POST", f"/session/{sid}/url", {"url": "about:blank"})
        call("POST", f"/session/{sid}/url", {"url": f"http://127.0.0.1:{port}/"})
        end = time.time() + 20
        while True:
            p = call("POST", f"/session/{sid}/execute/sync", {"script": probe, "args": []})
            if p["instances"] is not None and p["rows"] == n:
                break
            if time.time() > end:
                sys.exit(f"the page never showed {n} instances: {p}")
            time.sleep(0.05)
        if i > 0:
            rows.append(p)
finally:
    call("DELETE", f"/session/{sid}")

def line(name, key):
    v = [r[key] for r in rows]
    print(f"{name:<34} {statistics.median(v):8.1f} {max(v):8.1f}")

print(f"dashboard, {n} instances, {len(rows)} loads (ms)   median    worst")
line("first paint", "first-paint")
line("first contentful paint", "first-contentful-paint")
line(f"all {n} instances drawn", "instances")
PY

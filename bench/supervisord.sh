#!/usr/bin/env bash
# bench/supervisord.sh: lcc against supervisord, side by side in one run, on the same
# N programs (`python3 -m http.server PORT --bind 127.0.0.1`, an HTTP probe each).
#
# Reports, for each: time until all N answer HTTP, idle daemon CPU over IDLE seconds
# from WARM seconds after all are ready (all threads' schedstat, in ns) and RSS; for lcc also the median latency from a
# `pod.state` write to the start of the pod's process (its start time in /proc).
#
#   bench/supervisord.sh            # N=200 IDLE=20 WARM=12 SAMPLES=20 PERIOD=10s ROUNDS=3
#   N=50 IDLE=10 ROUNDS=1 bench/supervisord.sh
#   PROBE=0 bench/supervisord.sh    # lcc without its HTTP probes
#
# Rounds alternate lcc and supervisord and the medians are reported: one round of each
# varies by a second or more on a 2-core machine. The program is `command -v python3`,
# as a user would write it (on a machine with pyenv that is its shim, a bash script that
# costs more than Python's own start-up; both sides run the same one).
#
# Needs python3 with venv and network access to PyPI (pip install supervisor).
set -euo pipefail

N=${N:-200}
IDLE=${IDLE:-20}
WARM=${WARM:-12}
SAMPLES=${SAMPLES:-20}
ROUNDS=${ROUNDS:-3}
PERIOD=${PERIOD:-10s}
# PROBE=0: lcc without the probes (what the daemon costs idle when it probes nothing,
# as supervisord probes nothing)
PROBE=${PROBE:-1}
PROBE_BLOCK="probe:
  http: {interface: http, path: /}
  period: $PERIOD
  timeout: 1s
  failureThreshold: 3"
[ "$PROBE" = 1 ] || PROBE_BLOCK=""
LCC_LO=${LCC_LO:-20000}
SUP_LO=${SUP_LO:-23000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/lcc-bench-sup.XXXXXX)
CLUSTER=$WORK/cluster
SUPDIR=$WORK/supervisord
LCC=$ROOT/target/release/lcc

cleanup() {
    set +e
    [ -x "$LCC" ] && [ -d "$CLUSTER/.lcc" ] && LCC_DOWN_TIMEOUT=60 "$LCC" down "$CLUSTER" >/dev/null 2>&1
    if [ -f "$SUPDIR/supervisord.pid" ]; then
        pid=$(cat "$SUPDIR/supervisord.pid")
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    fi
    # Anything left of either side: programs carry the bench's directory in their env.
    for p in /proc/[0-9]*; do
        if grep -qsF "$WORK" "$p/environ" 2>/dev/null || grep -qsF "$WORK" "$p/cmdline" 2>/dev/null; then
            kill -KILL "${p#/proc/}" 2>/dev/null
        fi
    done
    rm -rf "$WORK"
    [ -z "${PIPDIR-}" ] || rm -rf "$PIPDIR"
}
trap cleanup EXIT INT TERM

echo "== building lcc (release)"
(cd "$ROOT" && cargo build --release -q -p lcc -p lcc-proxy)

echo "== installing supervisor into a venv"
# On a tmpfs where there is one, with pip's temporary files: pip deletes thousands of
# files when it is done, and on ext4 without a journal each new inode then skips every
# inode freed in the last 60-300 s. The rounds' file creation must not pay for the
# installer's clean-up (it made lcc's first round the slowest by seconds).
PIPDIR=$(mktemp -d /dev/shm/lcc-bench-pip.XXXXXX 2>/dev/null || mktemp -d "$WORK/pip.XXXXXX")
TMPDIR=$PIPDIR python3 -m venv "$PIPDIR/venv"
TMPDIR=$PIPDIR "$PIPDIR/venv/bin/pip" install -q supervisor
SUPBIN=$PIPDIR/venv/bin/supervisord
PY=$(command -v python3)
# The build's and the installer's files go to disk now, not during the first round: lcc
# syncs its pod files and would wait behind that writeback.
sync

mkdir -p "$CLUSTER" "$SUPDIR"
cat >"$CLUSTER/cluster.yaml" <<EOF
kind: Cluster
name: bench
hostPorts: $LCC_LO-$((LCC_LO + N + 499))
---
kind: Application
name: web
type: local
local:
  platforms:
    - os: linux
      command: [$PY, -m, http.server, "\${LCC_PORT_HTTP}", --bind, 127.0.0.1]
  env: {BENCH_DIR: "$WORK"}
interfaces:
  - {name: http, protocol: http}
$PROBE_BLOCK
stop: {signal: TERM, timeout: 5s}
---
kind: InstanceGroup
name: web
app: web
replicas: $N
EOF

{
    echo "[unix_http_server]"
    echo "file=$SUPDIR/supervisor.sock"
    echo "[supervisord]"
    echo "logfile=$SUPDIR/supervisord.log"
    echo "pidfile=$SUPDIR/supervisord.pid"
    echo "childlogdir=$SUPDIR"
    echo "nodaemon=false"
    echo "[rpcinterface:supervisor]"
    echo "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"
    echo "[supervisorctl]"
    echo "serverurl=unix://$SUPDIR/supervisor.sock"
    for i in $(seq 1 "$N"); do
        echo "[program:web$i]"
        echo "command=$PY -m http.server $((SUP_LO + i)) --bind 127.0.0.1"
        echo "environment=BENCH_DIR=\"$WORK\""
        echo "autorestart=true"
        echo "startsecs=0"
        echo "stdout_logfile=$SUPDIR/web$i.out"
        echo "stderr_logfile=$SUPDIR/web$i.err"
    done
} >"$SUPDIR/supervisord.conf"

export WORK CLUSTER SUPDIR LCC N IDLE WARM SAMPLES SUP_LO ROUNDS PY PERIOD SUPBIN PROBE
"$PY" - <<'PYEOF'
import json, os, statistics, subprocess, time, urllib.request, glob

WORK, CLUSTER, SUPDIR, LCC = (os.environ[k] for k in ("WORK", "CLUSTER", "SUPDIR", "LCC"))
N, IDLE, WARM, SAMPLES, SUP_LO, ROUNDS = (
    int(os.environ[k]) for k in ("N", "IDLE", "WARM", "SAMPLES", "SUP_LO", "ROUNDS"))
PROG = os.environ["PY"]
TCK = os.sysconf("SC_CLK_TCK")

def answers(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
            return 200 <= r.status < 400
    except Exception:
        return False

def listening():
    """Ports with a listening socket on IPv4, from /proc/net/tcp (one read for all)."""
    out = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "0A":
                    out.add(int(cols[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
    return out

def wait_all(ports, t0, limit=300):
    """Seconds from t0 until every port answers HTTP. The watcher must not load the
    machine it measures: one read of /proc/net/tcp per sweep, and an HTTP request only
    to a port that listens."""
    left = set(ports)
    while left and time.time() - t0 < limit:
        up = listening()
        left = {p for p in left if p not in up or not answers(p)}
        if left:
            time.sleep(0.05)
    if left:
        raise SystemExit(f"{len(left)} ports never answered")
    return time.time() - t0

def stat(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12]), int(f[19])

def rss_mb(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"):
            return int(l.split()[1]) / 1024
    return 0.0

def cpu_ns(pid):
    """CPU time of each thread in ns (schedstat: exact, where utime+stime count 10 ms ticks)."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            out[t] = int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out

def idle_cpu(pid):
    # After WARM s: the daemon's start-up helper threads have ended (an ended thread's
    # time would leave the sum), so the window sees only the idle work.
    time.sleep(WARM)
    a = cpu_ns(pid)
    time.sleep(IDLE)
    b = cpu_ns(pid)
    if set(a) - set(b):
        print(f"  (pid {pid}: {len(set(a) - set(b))} thread(s) ended in the idle window)", flush=True)
    return 100.0 * sum(v - a.get(t, 0) for t, v in b.items()) / 1e9 / IDLE

def lcc_round(latency):
    t0 = time.time()
    up = subprocess.Popen([LCC, "up", "-d", "--wait", CLUSTER], stdout=subprocess.DEVNULL,
                          env={**os.environ, "LCC_WAIT_TIMEOUT": "300"})
    # The ports are known once each instance is admitted by the start gate: status files
    # are read until each has its port, each file only until then.
    known = {}
    while len(known) < N:
        if time.time() - t0 > 300:
            raise SystemExit("lcc never allocated every port")
        time.sleep(0.1)
        for p in glob.glob(f"{CLUSTER}/.lcc/status/*.json"):
            if p in known:
                continue
            try:
                st = json.load(open(p))
            except Exception:
                continue
            if st.get("ports"):
                known[p] = st
    sts = list(known.values())
    ready = wait_all([s["ports"]["http"] for s in sts], t0)
    if up.wait() != 0:
        raise SystemExit("lcc up -d --wait failed")
    waited = time.time() - t0
    dpid = int(open(f"{CLUSTER}/.lcc/daemon.pid").read())
    cpu = idle_cpu(dpid)
    rss = rss_mb(dpid)
    lat = state_to_run(sts) if latency else []
    subprocess.run([LCC, "down", CLUSTER], check=True, stdout=subprocess.DEVNULL)
    # Each round starts from nothing, as the first: no pods, ports or statuses kept.
    # The old state is moved aside, not deleted, until the end: on ext4 without a
    # journal every new inode first skips each inode freed in the last 60 s (300 s while
    # its table block is dirty), so deleting some 3,000 files here would slow the next
    # round's thousands of file creations.
    os.rename(f"{CLUSTER}/.lcc", f"{WORK}/old-state-{time.time_ns()}")
    return ready, waited, cpu, rss, lat

def write_state(inst, word):
    pod = f"{CLUSTER}/.lcc/pods/{inst}"
    tmp = f"{pod}/.tmp-bench"
    with open(tmp, "w") as f:
        f.write(word + "\n")
    os.rename(tmp, f"{pod}/pod.state")

def pid_of(inst):
    try:
        return int(open(f"{CLUSTER}/.lcc/pods/{inst}/.pod/pid").read().split()[0])
    except Exception:
        return None

def state_to_run(sts):
    """Seconds from a pod.state write ("running") to the start of the pod's new process."""
    lat = []
    for s in sorted(sts, key=lambda s: s["instance"])[:SAMPLES]:
        inst = s["instance"]
        write_state(inst, "stopped")
        deadline = time.time() + 30
        while time.time() < deadline:
            st = json.load(open(f"{CLUSTER}/.lcc/status/{inst}.json"))
            if st["phase"] == "Stopped":
                break
            time.sleep(0.02)
        old = pid_of(inst)
        t = time.clock_gettime(time.CLOCK_BOOTTIME)
        write_state(inst, "running")
        while time.clock_gettime(time.CLOCK_BOOTTIME) < t + 30:
            p = pid_of(inst)
            if p and p != old:
                try:
                    # Process start times count clock ticks since boot (CLOCK_BOOTTIME).
                    lat.append(stat(p)[1] / TCK - t)
                    break
                except FileNotFoundError:
                    pass
            time.sleep(0.002)
    return lat

def sup_round():
    t0 = time.time()
    subprocess.run([os.environ["SUPBIN"], "-c", f"{SUPDIR}/supervisord.conf"], check=True)
    ready = wait_all([SUP_LO + i for i in range(1, N + 1)], t0)
    deadline = time.time() + 10
    while not os.path.exists(f"{SUPDIR}/supervisord.pid") and time.time() < deadline:
        time.sleep(0.05)
    spid = int(open(f"{SUPDIR}/supervisord.pid").read())
    cpu = idle_cpu(spid)
    rss = rss_mb(spid)
    os.kill(spid, 15)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            os.kill(spid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    return ready, cpu, rss

def settle():
    """Waits until the last round's programs are gone and the CPU is quiet again."""
    time.sleep(3)

# Warm-up, untimed: the first start of the program may read pyenv's and Python's files
# from disk, which whichever side runs first would pay for.
for _ in range(3):
    subprocess.run([PROG, "-c", "import http.server"], check=True)

# Rounds alternate lcc and supervisord; the medians are reported.
L, S, lat = [], [], []
for r in range(ROUNDS):
    L.append(lcc_round(latency=(r == 0)))
    lat = lat or L[-1][4]
    settle()
    S.append(sup_round())
    settle()
    print(f"round {r + 1}: time to all ready lcc {L[-1][0]:.2f} s, supervisord {S[-1][0]:.2f} s", flush=True)

med = statistics.median
lcc_ready, lcc_wait = med(x[0] for x in L), med(x[1] for x in L)
lcc_cpu, lcc_rss = med(x[2] for x in L), med(x[3] for x in L)
sup_ready, sup_cpu, sup_rss = med(x[0] for x in S), med(x[1] for x in S), med(x[2] for x in S)
lcc_lat = statistics.median(lat) * 1000 if lat else float("nan")

print()
probing = f"HTTP probe every {os.environ['PERIOD']}" if os.environ['PROBE'] == '1' else "no probe"
print(f"{N} x {PROG} -m http.server, {probing}; idle window {IDLE} s; medians of {ROUNDS} rounds")
print(f"{'':28}{'lcc':>12}{'supervisord':>14}{'ratio':>8}")
print(f"{'time to all ready (s)':28}{lcc_ready:>12.2f}{sup_ready:>14.2f}{lcc_ready / sup_ready:>8.2f}")
print(f"{'  (lcc up -d --wait returned)':28}{lcc_wait:>12.2f}")
print(f"{'idle daemon CPU (% core)':28}{lcc_cpu:>12.3f}{sup_cpu:>14.3f}{lcc_cpu / sup_cpu:>8.2f}")
print(f"{'daemon RSS (MB)':28}{lcc_rss:>12.1f}{sup_rss:>14.1f}")
print(f"{'pod.state -> run (ms, median)':28}{lcc_lat:>12.1f}{'n/a':>14}  ({len(lat)} samples)")
PYEOF

#!/usr/bin/env bash
# bench/dependencies.sh: what dependencies cost at start-up. The same N instances
# (`python3 -m http.server`, an HTTP probe each) come up twice per round: once without
# dependencies, once with a chain of DEPTH of them (each `dependsOn` the one before,
# `condition: ready`) beside N-DEPTH independent ones. Reports the time `lcc up -d
# --wait` takes until every instance is Ready (the daemon's own readiness), the median
# over ROUNDS (alternating), and the ratio chain / none (target: at most 1.1).
#
#   bench/dependencies.sh                 # N=200 DEPTH=10 ROUNDS=3
#   N=50 ROUNDS=1 bench/dependencies.sh
set -euo pipefail

N=${N:-200}
DEPTH=${DEPTH:-10}
ROUNDS=${ROUNDS:-3}
LO=${LO:-26000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LCC=$TARGET/release/lcc
WORK=$(mktemp -d /tmp/lcc-bench-deps.XXXXXX)

cleanup() {
    set +e
    for c in "$WORK"/none "$WORK"/chain; do
        [ -d "$c/.lcc" ] && LCC_DOWN_TIMEOUT=60 "$LCC" down "$c" >/dev/null 2>&1
    done
    # Anything left: the programs carry the bench's directory in their environment.
    for p in /proc/[0-9]*; do
        if grep -qsF "$WORK" "$p/environ" 2>/dev/null; then
            kill -KILL "${p#/proc/}" 2>/dev/null
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== building lcc (release)"
(cd "$ROOT" && cargo build --release -q -p lcc -p lcc-proxy)
PY=$(command -v python3)

# cluster DIR WITH_CHAIN: N instances, the first DEPTH in a chain when WITH_CHAIN is 1.
cluster() {
    local dir=$1 chain=$2
    mkdir -p "$dir"
    {
        cat <<MANIFEST
kind: Cluster
name: $(basename "$dir")
hostPorts: $LO-$((LO + N + 499))
---
kind: Application
name: web
type: local
local:
  platforms:
    - os: linux
      command: [$PY, -m, http.server, "\${LCC_PORT_HTTP}", --bind, 127.0.0.1]
interfaces: [{name: http, protocol: http}]
probe:
  http: {interface: http, path: /}
  period: 10s
  timeout: 1s
stop: {signal: TERM, timeout: 5s}
MANIFEST
        for i in $(seq 1 "$N"); do
            name=$(printf 'web-%03d' "$i")
            printf -- '---\nkind: Instance\nname: %s\napp: web\n' "$name"
            if [ "$chain" = 1 ] && [ "$i" -gt 1 ] && [ "$i" -le "$DEPTH" ]; then
                printf 'dependsOn: [{target: %s, condition: ready}]\n' "$(printf 'web-%03d' $((i - 1)))"
            fi
        done
    } >"$dir/app.yaml"
}

cluster "$WORK/none" 0
cluster "$WORK/chain" 1
sync

# up DIR: seconds until `lcc up -d --wait` returns (every instance Ready), then down.
up() {
    local dir=$1 t0 t1
    t0=$(date +%s.%N)
    LCC_WAIT_TIMEOUT=300 "$LCC" up -d --wait "$dir" >/dev/null
    t1=$(date +%s.%N)
    LCC_DOWN_TIMEOUT=120 "$LCC" down "$dir" >/dev/null
    rm -rf "$dir/.lcc"
    echo "$t1 - $t0" | bc -l
}

none=()
chain=()
for r in $(seq 1 "$ROUNDS"); do
    a=$(up "$WORK/none")
    b=$(up "$WORK/chain")
    none+=("$a")
    chain+=("$b")
    printf 'round %d: none %.2f s, chain of %d %.2f s\n' "$r" "$a" "$DEPTH" "$b"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m_none=$(median "${none[@]}")
m_chain=$(median "${chain[@]}")
printf 'N=%d DEPTH=%d ROUNDS=%d: median time to all ready: none %.2f s, chain %.2f s, ratio %.3f\n' \
    "$N" "$DEPTH" "$ROUNDS" "$m_none" "$m_chain" "$(echo "$m_chain / $m_none" | bc -l)"

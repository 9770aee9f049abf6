#!/bin/sh
# Benchmark of the pod script: how long `./pod run` of a local app takes to return
# (targets: < 50 ms) and how long `./pod status` takes (< 20 ms). Prints medians.
#
#   bench/pod.sh                 # N=100 runs with sh, target/release/lcc if built
#   N=300 POD_SHELL=bash LCC=target/debug/lcc bench/pod.sh
#
# Uses hyperfine when installed, else a loop timed with `date +%s%N`.
set -eu
cd "$(dirname "$0")/.."
N=${N:-100}
POD_SHELL=${POD_SHELL:-sh}
if [ -z "${LCC:-}" ]; then
  LCC=target/release/lcc
  [ -x "$LCC" ] || LCC=target/debug/lcc
fi
[ -x "$LCC" ] || { echo "bench: build lcc first (cargo build --release)" >&2; exit 1; }
LCC=$(cd "$(dirname "$LCC")" && pwd)/$(basename "$LCC")

work=$(mktemp -d)
pod=$work/pods/bench/pod
cleanup() {
  [ ! -f "$pod" ] || "$POD_SHELL" "$pod" rm >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat >"$work/app.yaml" <<'EOF'
kind: Application
name: bench
type: local
local:
  platforms:
    - os: linux
      command: [sleep, "300"]
    - os: darwin
      command: [sleep, "300"]
interfaces:
  - {name: http, protocol: http}
EOF
"$LCC" compile "$work/app.yaml" -o "$work/pods" >/dev/null

echo "pod bench: $N runs, shell $POD_SHELL, lcc $LCC"

# median FILE: the middle of the numbers (nanoseconds) in FILE, printed in ms.
median() {
  sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f ms\n", m / 1e6 }'
}

if command -v hyperfine >/dev/null 2>&1; then
  hyperfine -N --runs "$N" --prepare "$POD_SHELL $pod kill" \
    --export-json "$work/run.json" "$POD_SHELL $pod run"
  "$POD_SHELL" "$pod" run
  hyperfine -N --warmup 5 --runs "$N" --export-json "$work/status.json" "$POD_SHELL $pod status"
  for what in run status; do
    printf '%s median: ' "$what"
    sed -n 's/.*"median": *\([0-9.e-]*\).*/\1/p' "$work/$what.json" | head -n 1 |
      awk '{ printf "%.2f ms\n", $1 * 1000 }'
  done
  exit 0
fi

i=0
: >"$work/run.ns"
while [ "$i" -lt "$N" ]; do
  t0=$(date +%s%N)
  "$POD_SHELL" "$pod" run
  t1=$(date +%s%N)
  echo $((t1 - t0)) >>"$work/run.ns"
  "$POD_SHELL" "$pod" kill
  i=$((i + 1))
done

"$POD_SHELL" "$pod" run
i=0
: >"$work/status.ns"
while [ "$i" -lt "$N" ]; do
  t0=$(date +%s%N)
  "$POD_SHELL" "$pod" status >/dev/null
  t1=$(date +%s%N)
  echo $((t1 - t0)) >>"$work/status.ns"
  i=$((i + 1))
done

printf 'run median:    '
median "$work/run.ns"
printf 'status median: '
median "$work/status.ns"
echo "(each figure includes one fork+exec of $POD_SHELL and of date)"

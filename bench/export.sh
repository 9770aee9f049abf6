#!/usr/bin/env bash
# Benchmark: `lcc export kubernetes` of a generated cluster of N applications (default
# 1000), each run by an InstanceGroup of 2 behind a Gateway and an Entrance, with env, a
# probe and `kubernetes: {image, resources}`; every tenth binds a Storage. Target: under
# 1 s. Reports the median of 5 runs, to stdout and to a directory (one file per object).
# Usage: bench/export.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release -q -p lcc
lcc=${LCC:-${CARGO_TARGET_DIR:-$PWD/target}/release/lcc}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cluster="$work/bench"
mkdir "$cluster"
printf 'kind: Cluster\nname: bench\n' >"$cluster/cluster.yaml"
for i in $(seq 1 "$n"); do
  storage=""
  if [ $((i % 10)) -eq 0 ]; then
    storage="storage: [{storage: data-$i, path: data}]"
    printf 'kind: Storage\nname: data-%s\nsize: 2Gi\n' "$i" >"$cluster/storage-$i.yaml"
  fi
  cat >"$cluster/app-$i.yaml" <<YAML
kind: Application
name: app-$i
type: local
local:
  platforms:
    - os: linux
      command: [python3, -m, http.server, "\${LCC_PORT_HTTP}", --bind, 0.0.0.0]
  env: {GREETING: "hello $i", MODE: bench}
interfaces:
  - {name: http, protocol: http}
probe:
  http: {interface: http, path: /}
  period: 2s
$storage
kubernetes:
  image: python:3.13-slim
  resources: {requests: {cpu: 50m, memory: 32Mi}}
---
kind: InstanceGroup
name: app-$i
app: app-$i
replicas: 2
---
kind: Gateway
name: app-$i
port: $((20000 + i))
target: app-$i
interface: http
---
kind: Entrance
name: app-$i
gateway: app-$i
YAML
done

# Milliseconds taken by a command (its output discarded); fails if the command fails.
ms() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null || return 1
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

# The median of 5 runs of a command.
median() {
  local runs=()
  for _ in 1 2 3 4 5; do
    runs+=("$(ms "$@")")
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p
}

"$lcc" export kubernetes "$cluster" >"$work/export.yaml" 2>"$work/export.err" || {
  echo "export failed: $(head -n 1 "$work/export.err")"
  exit 1
}
objects=$(grep -c '^kind: ' "$work/export.yaml")
bytes=$(wc -c <"$work/export.yaml")
echo "export to stdout:    $(median "$lcc" export kubernetes "$cluster") ms for $n applications ($objects objects, $bytes bytes)"
echo "export to -o DIR:    $(median "$lcc" export kubernetes "$cluster" -o "$work/out") ms ($(find "$work/out" -type f | wc -l) files)"
echo "validate (for scale): $(median "$lcc" validate "$cluster") ms"

#!/usr/bin/env bash
# Benchmark: `lcc validate` and `lcc compile` over N generated application manifests
# (default 1000, one file each: a local app with an interface, a probe and env).
# Target: compile under 1 s in all. Usage: bench/compile.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release -q -p lcc
lcc=${LCC:-${CARGO_TARGET_DIR:-$PWD/target}/release/lcc}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/cluster"
for i in $(seq 1 "$n"); do
  cat >"$work/cluster/app-$i.yaml" <<YAML
kind: Application
name: app-$i
type: local
local:
  platforms:
    - os: linux
      arch: [x86_64, aarch64]
      command: [python3, -m, http.server, "\${LCC_PORT_HTTP}", --bind, 127.0.0.1]
    - os: darwin
      shell: exec ./server --port "\$LCC_PORT_HTTP"
  env: {GREETING: "hello $i", MODE: bench}
interfaces:
  - {name: http, protocol: http}
probe:
  http: {interface: http, path: /}
  period: 2s
restart: {policy: always, maxRetries: 5, backoff: {initial: 1s, max: 1m}}
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

echo "validate: $(ms "$lcc" validate "$work/cluster") ms for $n manifests"
if compile_ms=$(ms "$lcc" compile "$work/cluster" -o "$work/pods" 2>"$work/compile.err"); then
  pods=$(find "$work/pods" -name pod -type f | wc -l)
  echo "compile:  $compile_ms ms for $n manifests ($pods pods written)"
else
  echo "compile:  failed: $(head -n 1 "$work/compile.err")"
  exit 1
fi

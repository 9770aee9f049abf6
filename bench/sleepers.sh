# shellcheck shell=bash
# bench/sleepers.sh, sourced by benchmarks that need a cluster of N idle instances:
# `sleepers DIR NAME N` writes DIR/cluster.yaml, a group of N `sleep` processes (no
# probe, killed at once on stop) on the benchmarks' fixed ports (entrance 27480, host
# ports 27500-27999).
sleepers() {
  local dir=$1 name=$2 n=$3
  cat > "$dir/cluster.yaml" <<YAML
kind: Cluster
name: $name
http: 127.0.0.1:27480
hostPorts: 27500-27999
---
kind: Application
name: s
type: local
local:
  platforms:
    - os: linux
      command: [sleep, "100000"]
stop: {signal: KILL, timeout: 1s}
---
kind: InstanceGroup
name: s
app: s
replicas: $n
YAML
}

#!/usr/bin/env bash
# Benchmark `lcc sync` (issue 22) against rsync over ssh, on 3 hosts made as network
# namespaces on a bridge, each with its own sshd (as tests/support/hosts.rs does):
#  1. first sync of a cluster of N instances (one manifest file each, spread over the
#     hosts by placement) from a git checkout, each host getting its part;
#  2. a one-instance change (one file edited and committed), synced again.
# rsync does the same work: `rsync -a --delete -e ssh` of each host's files (the very
# files lcc sent it, from a staging copy) into a second directory on the host, the 3
# hosts in parallel as lcc does. Both use the same ssh key and options. Step 2 runs
# ROUNDS times (a different instance each time); medians are reported.
# The instances are `state: stopped`, so that the hosts' daemons (started by the first
# sync, reloading on the next ones) run no processes: the figures are the sync's.
# Usage: bench/sync.sh. Needs root, sshd, ip, git, rsync. Env: N=300, ROUNDS=5.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300}
ROUNDS=${ROUNDS:-5}
for tool in ip git rsync ssh ssh-keygen /usr/sbin/sshd; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y iproute2 git rsync openssh-server)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
cargo build --release -q --bin lcc
LCC=${CARGO_TARGET_DIR:-$PWD/target}/release/lcc

WORK=$(mktemp -d /tmp/lcc-bench-sync.XXXXXX)
P=lccb-$$
OP=$P-op
HOSTS=(h1 h2 h3)
SSHD=()
cleanup() {
  for i in 1 2 3; do
    [ -d "$WORK/h$i" ] && XDG_RUNTIME_DIR=$WORK/run-h$i "$LCC" -C "$WORK/h$i" down >/dev/null 2>&1 || true
  done
  for p in "${SSHD[@]}"; do kill "$p" 2>/dev/null || true; done
  for ns in "$OP" "$P-h1" "$P-h2" "$P-h3"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# the network: the operator's namespace with the bridge, a veth pair per host
ip netns add "$OP"
ip -n "$OP" link set lo up
ip -n "$OP" link add br0 type bridge
ip -n "$OP" addr add 10.77.0.1/24 dev br0
ip -n "$OP" link set br0 up
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client"
cp "$WORK/client.pub" "$WORK/authorized_keys"
: > "$WORK/known_hosts"
for i in 1 2 3; do
  ns=$P-h$i addr=10.77.0.1$i
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$OP" link add "vh$i" type veth peer name eth0 netns "$ns"
  ip -n "$OP" link set "vh$i" master br0
  ip -n "$OP" link set "vh$i" up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/h$i.key"
  echo "$addr $(cut -d' ' -f1,2 "$WORK/h$i.key.pub")" >> "$WORK/known_hosts"
  mkdir -p "$WORK/h$i" "$WORK/rs-h$i" "$WORK/run-h$i"
  cat > "$WORK/h$i.sshd_config" <<CONF
ListenAddress $addr
HostKey $WORK/h$i.key
PidFile none
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
SetEnv XDG_RUNTIME_DIR=$WORK/run-h$i NO_COLOR=1
CONF
  ip netns exec "$ns" /usr/sbin/sshd -D -e -f "$WORK/h$i.sshd_config" 2>"$WORK/h$i.sshd.log" & SSHD+=($!)
done
SSH_OPTS=(-i "$WORK/client" -o BatchMode=yes -o "UserKnownHostsFile=$WORK/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=5)
for i in 1 2 3; do
  for _ in $(seq 100); do
    ip netns exec "$OP" ssh "${SSH_OPTS[@]}" -l root 10.77.0.1$i true 2>/dev/null && break
    sleep 0.05
  done
done

# the cluster: 3 hosts, one app, N instances in a file each
CO=$WORK/checkout
mkdir -p "$CO"
git -C "$CO" init -q -b main
{
  echo "kind: Cluster"; echo "name: bench"
  for i in 1 2 3; do
    cat <<YAML
---
kind: Host
name: h$i
address: 10.77.0.1$i
ssh:
  user: root
  identityFile: $WORK/client
  lcc: $LCC
  options: [UserKnownHostsFile=$WORK/known_hosts, StrictHostKeyChecking=yes]
dir: $WORK/h$i
YAML
  done
} > "$CO/hosts.yaml"
printf 'kind: Application\nname: s\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, "300"]\n' > "$CO/app.yaml"
instance() { printf 'kind: Instance\nname: i%03d\napp: s\nstate: stopped\nenv: {ROUND: "%s"}\n' "$1" "$2"; }
for n in $(seq "$N"); do instance "$n" 0 > "$CO/i$(printf %03d "$n").yaml"; done
commit() { git -C "$CO" add -A; git -C "$CO" -c user.name=bench -c user.email=bench@example.org commit -qm "$1"; }
commit first

now() { date +%s.%N; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a - b }'; }
lcc_sync() {
  local t0; t0=$(now)
  ip netns exec "$OP" "$LCC" sync "$CO" > "$WORK/sync.out"
  minus "$(now)" "$t0"
}
# each host's files, as lcc chose them (its directory without .lcc/), staged for rsync
stage() {
  for i in 1 2 3; do
    rm -rf "$WORK/src-h$i"; mkdir -p "$WORK/src-h$i"
    (cd "$WORK/h$i" && find . -path ./.lcc -prune -o -type f -print0 | xargs -0 cp --parents -p -t "$WORK/src-h$i")
  done
}
rsync_all() {
  local t0; t0=$(now)
  for i in 1 2 3; do
    ip netns exec "$OP" rsync -a --delete -e "ssh ${SSH_OPTS[*]} -l root" "$WORK/src-h$i/" "10.77.0.1$i:$WORK/rs-h$i/" &
  done
  wait
  minus "$(now)" "$t0"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

LCC_FIRST=$(lcc_sync)
cat "$WORK/sync.out" >&2
stage
RSYNC_FIRST=$(rsync_all)
: > "$WORK/lcc.times"; : > "$WORK/rsync.times"
for r in $(seq "$ROUNDS"); do
  n=$(( (r * 37) % N + 1 ))
  instance "$n" "$r" > "$CO/i$(printf %03d "$n").yaml"
  commit "round $r"
  lcc_sync >> "$WORK/lcc.times"
  grep -q "synced (1 file)" "$WORK/sync.out" || { cat "$WORK/sync.out" >&2; echo "expected one host synced (1 file)" >&2; exit 1; }
  stage
  rsync_all >> "$WORK/rsync.times"
done
LCC_CHANGE=$(median < "$WORK/lcc.times")
RSYNC_CHANGE=$(median < "$WORK/rsync.times")
for i in 1 2 3; do
  diff -r -x .lcc "$WORK/h$i" "$WORK/rs-h$i" >/dev/null || { echo "h$i: lcc and rsync copies differ" >&2; exit 1; }
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
echo "| step | lcc sync | rsync -a --delete -e ssh | ratio (lcc / rsync) |"
echo "| --- | --- | --- | --- |"
printf '| first sync, %d instances over 3 hosts | %.3f s | %.3f s | %sx |\n' "$N" "$LCC_FIRST" "$RSYNC_FIRST" "$(ratio "$LCC_FIRST" "$RSYNC_FIRST")"
printf '| one instance changed (median of %d) | %.3f s | %.3f s | %sx |\n' "$ROUNDS" "$LCC_CHANGE" "$RSYNC_CHANGE" "$(ratio "$LCC_CHANGE" "$RSYNC_CHANGE")"

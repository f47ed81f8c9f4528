#!/usr/bin/env bash
# Cache-hit benchmark: dnsperf against edge-resolver and against Unbound (one thread), both
# forwarding to the same local NSD serving 1,000 names, side by side in one run.
#
# Runs itself inside a network namespace that has only loopback, so nothing can leave the
# machine. Needs: root (for unshare), nsd, unbound, dnsperf; `npm run build` done.
# Usage: bench/cache-hit.sh [seconds-per-run]   (default 20)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
secs="${1:-20}"

if [ -z "${EDGE_BENCH_IN_NETNS:-}" ]; then
  exec unshare --net -- env EDGE_BENCH_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

for t in nsd unbound dnsperf; do command -v "$t" >/dev/null || { echo "bench: $t is not installed" >&2; exit 1; }; done
[ -f "$root/dist/host/adapters/node/main.js" ] || { echo "bench: run npm run build first" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

AUTH=127.0.0.1; AUTH_PORT=5400; EDGE_PORT=5401; UB_PORT=5402

cp "$root/test/fixtures/example.test.zone" "$work/example.test.zone"
cat > "$work/nsd.conf" <<CONF
server:
  ip-address: $AUTH@$AUTH_PORT
  port: $AUTH_PORT
  username: ""
  chroot: ""
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  database: ""
  xfrdfile: "$work/xfrd.state"
  zonelistfile: "$work/zone.list"
  logfile: "$work/nsd.log"
  server-count: 1
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: "example.test."
  zonefile: "$work/example.test.zone"
CONF
nsd -d -c "$work/nsd.conf" & pids+=($!)

cat > "$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$UB_PORT
  port: $UB_PORT
  num-threads: 1
  do-ip6: no
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: "$work/unbound.log"
  do-not-query-localhost: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  msg-cache-size: 64m
  rrset-cache-size: 64m
  prefetch: no
forward-zone:
  name: "."
  forward-addr: $AUTH@$AUTH_PORT
CONF
unbound -d -c "$work/unbound.conf" & pids+=($!)

node "$root/dist/host/adapters/node/main.js" serve --listen "127.0.0.1:$EDGE_PORT" --upstream "$AUTH:$AUTH_PORT" --log-level warn & edge_pid=$!
pids+=($edge_pid)

for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/queries.txt"

wait_up() { for _ in $(seq 1 100); do dig @127.0.0.1 -p "$1" +tries=1 +time=1 host0.example.test A >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "bench: nothing answers on port $1" >&2; exit 1; }
wait_up "$AUTH_PORT"; wait_up "$EDGE_PORT"; wait_up "$UB_PORT"

run() { # name port
  # One pass to fill the cache, then the measured run.
  dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -n 1 -c 4 >/dev/null 2>&1
  dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -l "$secs" -c 10 -q 100 > "$work/$1.out" 2>&1
  local qps lat lost
  qps=$(awk '/Queries per second:/ {print $4}' "$work/$1.out")
  lat=$(awk '/Average Latency/ {print $4 * 1000}' "$work/$1.out")
  lost=$(awk '/Queries lost:/ {print $3}' "$work/$1.out")
  printf '| %s | %.0f | %.3f | %s |\n' "$1" "$qps" "$lat" "$lost"
  if [ -n "${EDGE_BENCH_RAW:-}" ]; then cat "$work/$1.out" >&2; fi
}

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo "## Cache hit, dnsperf ($(date -u +%F), ${secs}s per run)"
echo
echo "Machine: $(nproc) cores, $cpu; $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); Node $(node --version); Unbound $(unbound -V | head -1 | awk "{print \$2}"); dnsperf $(dpkg-query -W -f="\${Version}" dnsperf 2>/dev/null); kernel $(uname -r)."
echo "Workload: 1,000 names (A) served by NSD on loopback, cache warmed by one pass; dnsperf -c 10 -q 100."
echo
echo "| resolver | QPS | mean latency (ms) | lost |"
echo "|---|---|---|---|"
run "edge-resolver (Node, 1 process)" "$EDGE_PORT"
run "Unbound $(unbound -V | head -1 | awk '{print $2}') (1 thread)" "$UB_PORT"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$edge_pid/status")
echo
echo "edge-resolver resident memory after the run: $((rss / 1024)) MiB."

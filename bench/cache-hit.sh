#!/usr/bin/env bash
# Cache-hit benchmark: dnsperf against edge-resolver and against Unbound (one thread), both
# forwarding to the same local NSD serving 1,000 names, side by side in one run.
#
# Runs itself inside a network namespace that has only loopback, so nothing can leave the
# machine. Needs: root (for unshare), nsd, unbound, dnsperf; `npm run build` done.
# Usage: bench/cache-hit.sh [seconds-per-run]   (default 20)
set -euo pipefail
secs="${1:-20}"
bench_args=("$@")
source "$(dirname "$0")/lib.sh"
bench_init nsd unbound dnsperf
root="$bench_root"

AUTH=127.0.0.1; AUTH_PORT=5400; EDGE_PORT=5401; UB_PORT=5402
bench_nsd $AUTH_PORT

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
  # test. is one of Unbound's default local zones (RFC 6761): without this it answers
  # NXDOMAIN itself instead of forwarding.
  local-zone: "test." nodefault
forward-zone:
  name: "."
  forward-addr: $AUTH@$AUTH_PORT
CONF
unbound -d -c "$work/unbound.conf" & pids+=($!)

"$root/dist/host/adapters/node/main.js" serve --no-validate --listen "127.0.0.1:$EDGE_PORT" --upstream "$AUTH:$AUTH_PORT" --log-level warn & edge_pid=$!
pids+=($edge_pid)

for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/queries.txt"

bench_up "$AUTH_PORT"; bench_up "$EDGE_PORT"; bench_up "$UB_PORT"

run() { # name port
  # One pass to fill the cache, then the measured run.
  dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -n 1 -c 4 >/dev/null 2>&1
  dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -l "$secs" -c 10 -q 100 > "$work/$1.out" 2>&1
  local lost
  lost=$(awk '/Queries lost:/ {print $3}' "$work/$1.out")
  printf '| %s | %s | %s | %s |\n' "$1" "$(bench_qps "$work/$1.out")" "$(bench_lat_ms "$work/$1.out")" "$lost"
  if [ -n "${EDGE_BENCH_RAW:-}" ]; then cat "$work/$1.out" >&2; fi
}

echo "## Cache hit, dnsperf ($(date -u +%F), ${secs}s per run)"
echo
echo "$(bench_machine) Unbound $(unbound -V | head -1 | awk '{print $2}')."
echo "Workload: 1,000 names (A) served by NSD on loopback, cache warmed by one pass; dnsperf -c 10 -q 100."
echo
echo "| resolver | QPS | mean latency (ms) | lost |"
echo "|---|---|---|---|"
run "edge-resolver (Node, 1 process)" "$EDGE_PORT"
run "Unbound $(unbound -V | head -1 | awk '{print $2}') (1 thread)" "$UB_PORT"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$edge_pid/status")
echo
echo "edge-resolver resident memory after the run: $((rss / 1024)) MiB."

#!/usr/bin/env bash
# Local root (RFC 8806) workload: 10,000 names under top-level domains that do not exist, through
# dnsperf, against edge-resolver's static_zone and against Unbound serving the same zone as an
# auth-zone for ".", side by side in one run; with and without DO. Also the resident memory of
# our process with the root zone loaded.
#
# Runs inside a loopback-only network namespace. Needs root (unshare), unbound, dnsperf; npm run build.
# Usage: bench/static-zone.sh [seconds-per-run]   (default 15)
set -euo pipefail
secs="${1:-15}"
bench_args=("$@")
source "$(dirname "$0")/lib.sh"
bench_init unbound dnsperf
root="$bench_root"

EDGE_PORT=5401; UB_PORT=5402; DEAD_PORT=5409
zone="$root/test/fixtures/zones/root-lookalike-2026082201.zone.gz"
zcat "$zone" > "$work/root.zone"

bench_junk_names "$work/root.zone" "$work/queries.txt"

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
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
auth-zone:
  name: "."
  zonefile: "$work/root.zone"
  for-downstream: yes
  for-upstream: yes
  fallback-enabled: no
  zonemd-check: no
CONF
unbound -d -c "$work/unbound.conf" & pids+=($!)

# The upstream is a closed port: every answer in this run must come from the local root.
"$root/dist/host/adapters/node/main.js" serve --no-validate --listen "127.0.0.1:$EDGE_PORT" --upstream "127.0.0.1:$DEAD_PORT" \
  --root-zone "$zone" --trust-anchor "$root/test/fixtures/zones/trust-anchor.ds" --log-level warn & edge_pid=$!
pids+=($edge_pid)

wait_nx() { for _ in $(seq 1 300); do dig @127.0.0.1 -p "$1" +tries=1 +time=1 printer.local A 2>/dev/null | grep -q NXDOMAIN && return 0; sleep 0.1; done; echo "bench: no NXDOMAIN from port $1" >&2; exit 1; }
wait_nx "$EDGE_PORT"; wait_nx "$UB_PORT"

run() { # label port extra-dnsperf-flags
  dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -n 1 -c 4 $3 >/dev/null 2>&1
  dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -l "$secs" -c 10 -q 100 $3 > "$work/out" 2>&1
  local nx
  nx=$(grep -o 'NXDOMAIN [0-9]*' "$work/out" | awk '{print $2}')
  printf '| %s | %s | %s | %s |\n' "$1" "$(bench_qps "$work/out")" "$(bench_lat_ms "$work/out")" "${nx:-0}"
}

echo "## Local root: junk-TLD NXDOMAIN, dnsperf ($(date -u +%F), ${secs}s per run)"
echo
echo "$(bench_machine) Unbound $(unbound -V | head -1 | awk '{print $2}')."
echo "Workload: 10,000 names under nonexistent TLDs; zone: the root lookalike (22,000+ RRs), as our static_zone and as Unbound's auth-zone for \".\"; no cache hits on our side (app answers are not cached)."
echo
echo "| resolver | QPS | mean latency (ms) | NXDOMAIN answers |"
echo "|---|---|---|---|"
run "edge-resolver static_zone" "$EDGE_PORT" ""
run "edge-resolver static_zone, DO=1 (SOA, 2 NSEC, 3 RRSIG)" "$EDGE_PORT" "-D"
run "Unbound auth-zone (1 thread)" "$UB_PORT" ""
run "Unbound auth-zone, DO=1" "$UB_PORT" "-D"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$edge_pid/status")
echo
echo "edge-resolver resident memory with the root zone loaded, after the runs: $((rss / 1024)) MiB."

#!/usr/bin/env bash
# server.workers: what a second worker process buys, beside Unbound with a second thread, on the
# cache-hit workload of bench/per-core.sh (1,000 names behind NSD, cache warm). Same method:
# dnsperf (1 thread) pinned to core 1, one warm-up pass then RUNS x SECS s, medians; CPU per
# query is user + system time of the server's whole process tree (our primary and its workers)
# over the measured runs, RSS is the tree's sum.
#
# Rows: each server on core 0 alone (1 worker / 1 thread), then on cores 0 and 1 (2 workers / 2
# threads) with dnsperf on core 1 too. On this two-core machine the second row's second worker
# shares its core with the load generator, so its QPS says little about scaling; its CPU per
# query says what a second process costs per answer (sharing sockets, the cluster's hand-offs).
#
# Usage: bench/server-workers.sh [--write] [SECS [RUNS]]     (defaults 10 and 3)
#   --write   also replace the "Server workers" section of bench/RESULTS.md
set -euo pipefail
write=""
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
secs="${1:-10}"
runs="${2:-3}"
bench_args=(${write:+--write} "$secs" "$runs")
source "$(dirname "$0")/lib.sh"
bench_init nsd dnsperf taskset
source "$(dirname "$0")/peers.sh"
source "$(dirname "$0")/measure.sh"

# The whole tree: our workers are the primary's children.
tree() { echo "$1"; pgrep -P "$1" || true; }
peers_cpu_ticks() { local t=0 p; for p in $(tree "$1"); do t=$((t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat"))); done; echo "$t"; }
peers_rss_mib() { local k=0 p; for p in $(tree "$1"); do k=$((k + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; awk -v k="$k" 'BEGIN {printf "%.0f", k / 1024}'; }

AUTH_PORT=5400
bench_nsd $AUTH_PORT
bench_up "$AUTH_PORT"
for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/hit.txt"

out="$work/report.md"
{
  echo "## Server workers: \`bench/server-workers.sh $secs $runs\` ($(date -u +%F))"
  echo
  echo "$(bench_machine)"
  echo "$(peers_versions)"
  echo
  echo "Cache hit, 1,000 names behind NSD. dnsperf -c 8 -T 1 -q 100 -t 2 pinned to core 1 in every row;"
  echo "one warm-up pass, then $runs x ${secs} s, medians. CPU/query and RSS over the server's whole process tree."
} > "$out"

table_head "1 and 2 processes"
ub_qps=""
PEERS_CPUS=0 PEERS_THREADS=1 run_server hit "Unbound, 1 thread, core 0" "$work/hit.txt" peers_start_unbound
ub_qps="$last_qps"
PEERS_CPUS=0 PEERS_THREADS=1 run_server hit "edge-resolver, 1 worker, core 0" "$work/hit.txt" peers_start_edge
ub_qps=""
PEERS_CPUS=0,1 PEERS_THREADS=2 run_server hit "Unbound, 2 threads, cores 0-1" "$work/hit.txt" peers_start_unbound
ub_qps="$last_qps"
PEERS_CPUS=0,1 PEERS_THREADS=2 run_server hit "edge-resolver, 2 workers, cores 0-1" "$work/hit.txt" peers_start_edge

cat "$out"
if [ -n "$write" ]; then
  node "$bench_root/bench/results-section.mjs" "$bench_root/bench/RESULTS.md" server-workers "$out"
  echo "bench: rewrote the server-workers section of bench/RESULTS.md" >&2
fi

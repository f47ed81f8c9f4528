#!/usr/bin/env bash
# Per-core comparison, the way the performance issue's table was measured: each server pinned to
# core 0 (`taskset -c 0`, so all its threads), dnsperf (1 thread) pinned to core 1, the same query
# files, one warm-up pass then RUNS x SECS-second runs, medians; CPU per query from
# /proc/PID/stat (user + system, all threads) over the measured runs; resident memory after them.
#
# Workloads:
#   hit   1,000 names served by NSD, every server forwarding to it, cache warm
#   root  10,000 junk-TLD names answered from a local copy of the root lookalike (ours:
#         static_zone; Unbound: auth-zone for downstream; PowerDNS Recursor: auth-zones;
#         Knot Resolver and dnsdist have no local-root mode that fits and get "—")
#   new   the same servers on junk-TLD names that are each asked once (a random-name flood,
#         Chrome's probes): one file per run, no warm-up, nothing to find in any cache
#
# Peers: Unbound, Knot Resolver (kresd), PowerDNS Recursor, dnsdist (Debian packages), each one
# thread/worker where it has the setting. Peers that are not installed are left out with a note.
#
# Runs itself inside a network namespace with only loopback. Needs root (unshare, taskset), nsd,
# dnsperf, and `npm run build` done.
#
# Usage: bench/per-core.sh [--write] [SECS [RUNS]]     (defaults 10 and 3)
#   --write   also replace the "Per core" section of bench/RESULTS.md with this run's tables
#   EDGE_BENCH_SERVERS="unbound edge kresd pdns dnsdist"   the servers to run (default: all)
#   EDGE_BENCH_RATE=40000   the offered rate of the latency table (Unbound and ours at the same
#                           rate, below what either answers flat out; 0 leaves the table out)
set -euo pipefail
write=""
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
secs="${1:-10}"
runs="${2:-3}"
bench_args=(${write:+--write} "$secs" "$runs")
source "$(dirname "$0")/lib.sh"
bench_init nsd dnsperf taskset
source "$(dirname "$0")/peers.sh"

AUTH_PORT=5400
bench_nsd $AUTH_PORT
bench_up "$AUTH_PORT"

for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/hit.txt"
zcat "$bench_root/test/fixtures/zones/root-lookalike-2026082201.zone.gz" > "$work/root.zone"
bench_junk_names "$work/root.zone" "$work/root.txt"
# Enough new names for 250,000 QPS for the whole run.
for i in $(seq 1 "$runs"); do bench_new_junk_names "$work/root.zone" "$work/new.$i.txt" $((secs * 250000)) "$i"; done
anchor="$bench_root/test/fixtures/zones/trust-anchor.ds"

out="$work/report.md"
{
  echo "## Per core: \`bench/per-core.sh $secs $runs\` ($(date -u +%F))"
  echo
  echo "$(bench_machine)"
  echo "$(peers_versions)"
  echo
  echo "Each server pinned to core 0 (all threads), dnsperf -c 8 -T 1 -q 100 -t 2 pinned to core 1;"
  echo "one warm-up pass, then $runs x ${secs} s, medians. CPU/query: user+system time of the server"
  echo "process over the measured runs divided by the queries it completed. RSS after the runs."
} > "$out"

source "$(dirname "$0")/measure.sh"

for workload in hit root new; do
  qf="$work/$workload.txt"
  newnames=""
  case "$workload" in
    hit) table_head "Cache hit: 1,000 names behind NSD" ;;
    root) table_head "Local root: junk-TLD NXDOMAIN (10,000 names)" ;;
    new)
      table_head "Local root, every name new: junk-TLD NXDOMAIN, $((secs * 250000)) names per run, none asked twice"
      qf="$work/new.@RUN@.txt"
      newnames=1
      workload=root ;;
  esac
  ub_qps=""
  run_server "$workload" "Unbound (1 thread)" "$qf" peers_start_unbound
  ub_qps="$last_qps"
  run_server "$workload" "edge-resolver (1 process)" "$qf" peers_start_edge
  if [ "$workload" = root ] && [ -z "$newnames" ]; then
    ub_qps=""
    run_server "$workload" "Unbound, DO=1" "$qf" peers_start_unbound -D
    ub_qps="$last_qps"
    run_server "$workload" "edge-resolver, DO=1" "$qf" peers_start_edge -D
    ub_qps=""
  fi
  run_server "$workload" "Knot Resolver (1 kresd)" "$qf" peers_start_kresd
  run_server "$workload" "PowerDNS Recursor (1 thread)" "$qf" peers_start_pdns
  run_server "$workload" "dnsdist (packet cache)" "$qf" peers_start_dnsdist
done

# Latency at a fixed offered rate: flat out, dnsperf keeps up to 100 queries in flight at the
# slower server, so its mean latency is 100 / QPS (Little's law) and says nothing more than the
# QPS column. At the same rate below both servers' capacity it is the server's own delay.
rate="${EDGE_BENCH_RATE:-40000}"
if [ "$rate" != 0 ]; then
  {
    echo
    echo "### Latency at $rate QPS offered (dnsperf -Q $rate), $runs x ${secs} s, medians"
    echo
    echo "| workload | server | QPS answered | avg ms | max ms | latency stddev ms |"
    echo "|---|---|---|---|---|---|"
  } >> "$out"
  for workload in hit root; do
    for s in unbound edge; do
      if [ -n "${EDGE_BENCH_SERVERS:-}" ] && [[ " $EDGE_BENCH_SERVERS " != *" $s "* ]]; then continue; fi
      measure_rate "$workload" "$s" "$work/$workload.txt" "$rate"
    done
  done
fi

{
  echo
  echo "\"—\": the server has no mode for the workload here (dnsdist is a load balancer with no zone;"
  echo "Knot Resolver 5 loads a root copy only by its prefill module over HTTPS) or is not installed."
} >> "$out"

cat "$out"
if [ -n "$write" ]; then
  node "$bench_root/bench/results-section.mjs" "$bench_root/bench/RESULTS.md" per-core "$out"
  echo "bench: rewrote the per-core section of bench/RESULTS.md" >&2
fi

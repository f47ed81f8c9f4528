#!/usr/bin/env bash
# What DNSSEC validation costs, beside Unbound with its validator on, in one run and the way
# bench/per-core.sh measures (each server pinned to core 0, dnsperf pinned to core 1, the same
# query files, medians of RUNS x SECS-second runs):
#
#   hit    1,000 names of example.test, signed here (ECDSA P-256, NSEC; keys made by ldns-keygen),
#          served by NSD; both servers forward to it and validate from a trust anchor at
#          example.test; cache warm. Plain and DO=1 (answers carry AD).
#   root   10,000 junk-TLD names against the root lookalike: ours answers from its verified local
#          copy (static_zone); Unbound reads the same copy as an RFC 8806 auth zone for its
#          iterator (for-downstream: no) and validates the NSEC proofs it gets from it.
#   cold   a fresh server, each of the 1,000 signed names asked once (every one a cache miss
#          answered by NSD and validated); the readiness probe before it has fetched the
#          example.test DNSKEY set. Median of RUNS fresh starts.
#
# Needs root (unshare, taskset), nsd, dnsperf, ldns-keygen, ldns-signzone, and `npm run build`.
#
# Usage: bench/validation.sh [--write] [SECS [RUNS]]     (defaults 10 and 3)
#   --write   also replace the "Validation per core" section of bench/RESULTS.md
#   EDGE_BENCH_SERVERS="unbound edge"   the servers to run (default: both)
set -euo pipefail
write=""
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
secs="${1:-10}"
runs="${2:-3}"
bench_args=(${write:+--write} "$secs" "$runs")
source "$(dirname "$0")/lib.sh"
bench_init nsd dnsperf taskset ldns-keygen ldns-signzone
source "$(dirname "$0")/peers.sh"
source "$(dirname "$0")/measure.sh"

# Sign example.test for a month from an hour ago; its KSK's DS is the anchor for both servers,
# beside the lookalike root's DS for the root workload.
mkdir "$work/keys"
(
  cd "$work/keys"
  ksk=$(ldns-keygen -a ECDSAP256SHA256 -k example.test)
  zsk=$(ldns-keygen -a ECDSAP256SHA256 example.test)
  now=$(date +%s)
  ldns-signzone -i $((now - 3600)) -e $((now + 30 * 86400)) -o example.test. -f "$work/example.test.signed" \
    "$bench_root/test/fixtures/example.test.zone" "$ksk" "$zsk"
  { cat "$bench_root/test/fixtures/zones/trust-anchor.ds"; cat "$ksk.ds"; } > "$work/anchors.ds"
)
export PEERS_VALIDATE="$work/anchors.ds"

AUTH_PORT=5400
bench_nsd $AUTH_PORT "$work/example.test.signed"
bench_up "$AUTH_PORT"

for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/hit.txt"
zcat "$bench_root/test/fixtures/zones/root-lookalike-2026082201.zone.gz" > "$work/root.zone"
bench_junk_names "$work/root.zone" "$work/root.txt"
anchor="$bench_root/test/fixtures/zones/trust-anchor.ds"

out="$work/report.md"
{
  echo "## Validation per core: \`bench/validation.sh $secs $runs\` ($(date -u +%F))"
  echo
  echo "$(bench_machine)"
  echo "$(peers_versions)"
  echo
  echo "Both servers validating (ours: \`[dnssec] validate = true\`; Unbound: \`module-config:"
  echo "\"validator iterator\"\`), trust anchors for the lookalike root and for example.test, signed at"
  echo "run time with ECDSA P-256 and NSEC. Each server pinned to core 0 (all threads), dnsperf"
  echo "-c 8 -T 1 -q 100 -t 2 pinned to core 1; one warm-up pass, then $runs x ${secs} s, medians."
} > "$out"

# cold LABEL START_FN: RUNS fresh starts, each asked every name of hit.txt once; one row.
cold() {
  local label="$1" start="$2" port=5410
  if [ -n "${EDGE_BENCH_SERVERS:-}" ] && [[ " $EDGE_BENCH_SERVERS " != *" ${start#peers_start_} "* ]]; then return 0; fi
  local qps=() avg=() max=() i
  for i in $(seq 1 "$runs"); do
    "$start" hit "$port" || { echo "| $label | — | — | — | — | — | — |" >> "$out"; return 0; }
    local pid="$started_pid"
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/hit.txt" -n 1 -c 8 -T 1 -q 100 -t 5 > "$work/run.out" 2>&1 || true
    qps+=("$(bench_qps "$work/run.out")")
    avg+=("$(bench_lat_ms "$work/run.out")")
    max+=("$(awk '/Average Latency/ {gsub(/[(),]/, ""); printf "%.1f", $8 * 1000}' "$work/run.out")")
    local lost; lost=$(awk '/Queries lost:/ {print $3}' "$work/run.out")
    [ "${lost:-0}" = 0 ] || echo "bench: $label lost $lost queries in a cold pass" >&2
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 0.5
  done
  local mq; mq=$(median "${qps[@]}")
  local ratio="—"
  if [ -n "$ub_qps" ] && [ "$ub_qps" != 0 ]; then ratio=$(awk -v a="$mq" -v b="$ub_qps" 'BEGIN {printf "%.2f", a / b}'); fi
  echo "| $label | $mq | $ratio | $(median "${avg[@]}") | $(median "${max[@]}") | — | — |" >> "$out"
  last_qps="$mq"
}

pair() { # TITLE WORKLOAD [dnsperf flags]
  local title="$1" workload="$2"; shift 2
  table_head "$title"
  ub_qps=""
  run_server "$workload" "Unbound (1 thread), validating" "$work/$workload.txt" peers_start_unbound "$@"
  ub_qps="$last_qps"
  run_server "$workload" "edge-resolver (1 process), validating" "$work/$workload.txt" peers_start_edge "$@"
}

pair "Cache hit: 1,000 signed names behind NSD" hit
pair "Cache hit, DO=1 (answers with AD and RRSIGs)" hit -D
pair "Local root: junk-TLD NXDOMAIN (10,000 names), DO=1" root -D

table_head "Cold cache: 1,000 signed names, each once, fresh server"
ub_qps=""
cold "Unbound (1 thread), validating" peers_start_unbound
ub_qps="$last_qps"
cold "edge-resolver (1 process), validating" peers_start_edge

{
  echo
  echo "Cold rows: QPS is the 1,000 queries over the pass's run time; CPU and RSS are not taken for"
  echo "a pass this short."
} >> "$out"

cat "$out"
if [ -n "$write" ]; then
  node "$bench_root/bench/results-section.mjs" "$bench_root/bench/RESULTS.md" validation-per-core "$out"
  echo "bench: rewrote the validation-per-core section of bench/RESULTS.md" >&2
fi

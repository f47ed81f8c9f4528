#!/usr/bin/env bash
# CPU per cache hit of two builds, measured in pairs: the per-core hit workload (1,000 names
# behind NSD, default app chain, server pinned to core 0, dnsperf -c 8 -T 1 -q 100 -t 2 pinned
# to core 1), the two servers started in turn (A B B A A B ...), each warmed by one pass and then
# measured for SECS seconds. CPU from /proc/PID/stat (user and system apart, all threads) over
# the measured queries, so load from other processes on the machine does not enter the figure
# the way it enters QPS. For judging a change to the hot path before it lands.
#
# Usage: bench/hit-pair.sh DIR_A DIR_B [SECS [ROUNDS]]   (defaults 5 and 4; DIR_*: trees with dist/ built)
#   HIT_PAIR_PROF=DIR   also write a V8 CPU profile of each run (node --cpu-prof) into DIR
set -euo pipefail
dir_a="$(cd "$1" && pwd)"; dir_b="$(cd "$2" && pwd)"
secs="${3:-5}"; rounds="${4:-4}"
bench_args=("$dir_a" "$dir_b" "$secs" "$rounds")
source "$(dirname "$0")/lib.sh"
bench_init nsd dnsperf taskset
source "$(dirname "$0")/peers.sh"

AUTH_PORT=5400
bench_nsd $AUTH_PORT
bench_up "$AUTH_PORT"
for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/hit.txt"

port=5410
conf="$work/edge.toml"
printf 'node_id = "bench"\n\n[server]\nlisten = ["127.0.0.1:%s"]\n\n[log]\nlevel = "warn"\n\n[upstreams]\ndefault = ["127.0.0.1:%s"]\n\n[apps.forward.config.routes]\n"." = "default"\n\n[dnssec]\nvalidate = false\n' "$port" "$AUTH_PORT" > "$conf"

stat_ticks() { awk '{sub(/^.*\) /, ""); print $12, $13}' "/proc/$1/stat"; }

one() { # LABEL DIR
  local label="$1" dir="$2" prof=()
  if [ -n "${HIT_PAIR_PROF:-}" ]; then mkdir -p "$HIT_PAIR_PROF/$label"; prof=(--cpu-prof --cpu-prof-dir "$HIT_PAIR_PROF/$label"); fi
  peers_run hit "$port" node "${prof[@]}" "$dir/dist/host/adapters/node/main.js" serve --config "$conf" || return 1
  local pid="$started_pid"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/hit.txt" -n 1 -c 8 -T 1 >/dev/null 2>&1 || true
  local u0 s0 u1 s1
  read -r u0 s0 < <(stat_ticks "$pid")
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/hit.txt" -l "$secs" -c 8 -T 1 -q 100 -t 2 > "$work/run.out" 2>&1 || true
  read -r u1 s1 < <(stat_ticks "$pid")
  local q rss anon hz; q=$(awk '/Queries completed:/ {print $3}' "$work/run.out"); rss=$(peers_rss_mib "$pid"); hz=$(getconf CLK_TCK)
  anon=$(awk '/RssAnon/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  awk -v l="$label" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" -v q="$q" -v qps="$(bench_qps "$work/run.out")" -v rss="$rss" -v anon="$anon" \
    'BEGIN {printf "| %s | %.2f | %.2f | %.2f | %s | %s | %s |\n", l, (u + s) / hz * 1e6 / q, u / hz * 1e6 / q, s / hz * 1e6 / q, qps, rss, anon}'
  sleep 0.5
}

echo "A: $dir_a"
echo "B: $dir_b"
echo "$secs s per run, $rounds runs each, order A B B A ..."
echo
echo "| build | CPU µs/query | user | system | QPS | RSS MiB | anonymous MiB |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then one A "$dir_a"; one B "$dir_b"; else one B "$dir_b"; one A "$dir_a"; fi
done

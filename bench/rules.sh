#!/usr/bin/env bash
# Cost of rule evaluation: the cache-hit dnsperf workload against one node without the override
# app, and with it holding 10, 1,000 and 10,000 rules, side by side in one run.
#
# dnsperf shares the two cores with the resolver, so QPS alone moves by ±15% between runs. Each
# configuration therefore runs several rounds, interleaved, and the resolver's own CPU time per
# answered query (user + system from /proc, over the timed run) is reported beside QPS: it is
# what the rules cost, and it does not depend on how the load generator was scheduled.
#
# Rule sets: bench/rules-eval.mjs's ruleSet() (a mix over all four phases, 4 rules that every
# query is checked against); none match the workload, as most rules do not match most queries.
# bench/rules-eval.mjs measures the app call alone, without a server.
#
# Runs inside a loopback-only network namespace. Needs root (unshare), nsd, dnsperf; npm run build.
# Usage: bench/rules.sh [seconds-per-run] [rounds]   (defaults 10, 3)
set -euo pipefail
secs="${1:-10}"
rounds="${2:-3}"
bench_args=("$@")
source "$(dirname "$0")/lib.sh"
bench_init nsd dnsperf
root="$bench_root"

AUTH_PORT=5400; EDGE_PORT=5401
bench_nsd $AUTH_PORT
for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/queries.txt"

make_rules() { node "$root/bench/rules-eval.mjs" --rules "$1" > "$2"; } # count file

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_once() { # label chain rules-file-or-empty -> appends "qps cpu_us_per_query" to $work/<label>
  local rules_line=""
  [ -n "$3" ] && rules_line="[rules]
file = \"$3\""
  cat > "$work/edge.toml" <<CONF
[server]
listen = ["127.0.0.1:$EDGE_PORT"]
# the NSD zones here are unsigned: the benchmarks without validation
[dnssec]
validate = false
[upstreams]
default = ["127.0.0.1:$AUTH_PORT"]
[apps]
chain = $2
[apps.forward.config.routes]
"." = "default"
$rules_line
[log]
level = "warn"
CONF
  "$root/dist/host/adapters/node/main.js" serve --config "$work/edge.toml" & local pid=$!
  bench_up "$EDGE_PORT"
  dnsperf -s 127.0.0.1 -p "$EDGE_PORT" -d "$work/queries.txt" -n 3 -c 4 >/dev/null 2>&1
  local before after
  before=$(cpu_ticks "$pid")
  dnsperf -s 127.0.0.1 -p "$EDGE_PORT" -d "$work/queries.txt" -l "$secs" -c 10 -q 100 > "$work/out" 2>&1
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local done_q
  done_q=$(awk '/Queries completed:/ {print $3}' "$work/out")
  echo "$(bench_qps "$work/out") $(awk -v t=$((after - before)) -v q="$done_q" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz * 1e6 / q}')" >> "$work/$1"
}

for n in 10 1000 10000; do make_rules "$n" "$work/r$n.rules"; done
labels=("no override app" "override, no rules" "override, 10 rules" "override, 1,000 rules" "override, 10,000 rules")
chains=('["forward"]' '["override", "forward"]' '["override", "forward"]' '["override", "forward"]' '["override", "forward"]')
files=("" "" "$work/r10.rules" "$work/r1000.rules" "$work/r10000.rules")
for r in $(seq 1 "$rounds"); do
  for i in "${!labels[@]}"; do run_once "${labels[$i]}" "${chains[$i]}" "${files[$i]}"; done
done

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "## Rule evaluation, dnsperf cache-hit workload ($(date -u +%F), ${secs}s per run, median of $rounds interleaved rounds)"
echo
bench_machine
echo "Rules: a mix over all four phases (see bench/rules.sh), 4 of them checked on every query; none match the workload. Cache hits run the pre-cache and post-cache rules."
echo
echo "| configuration | QPS | resolver CPU per query (µs) | CPU per query vs no override |"
echo "|---|---|---|---|"
base=""
for l in "${labels[@]}"; do
  qps=$(awk '{print $1}' "$work/$l" | median)
  cpu=$(awk '{print $2}' "$work/$l" | median)
  [ -z "$base" ] && base=$cpu
  printf '| %s | %s | %s | %+.1f%% |\n' "$l" "$qps" "$cpu" "$(awk -v a="$cpu" -v b="$base" 'BEGIN {print (a - b) / b * 100}')"
done

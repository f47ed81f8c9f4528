#!/usr/bin/env bash
# Cost of rule evaluation: the cache-hit dnsperf workload against one node without the override
# app, and with it holding 10, 1,000 and 10,000 rules (none matching the workload, as most rules
# do not match most queries), side by side in one run.
#
# Runs inside a loopback-only network namespace. Needs root (unshare), nsd, dnsperf; npm run build.
# Usage: bench/rules.sh [seconds-per-run]   (default 15)
set -euo pipefail
secs="${1:-15}"
bench_args=("$@")
source "$(dirname "$0")/lib.sh"
bench_init nsd dnsperf
root="$bench_root"

AUTH_PORT=5400; EDGE_PORT=5401
bench_nsd $AUTH_PORT
for i in $(seq 1 1000); do echo "host$((i - 1)).example.test A"; done > "$work/queries.txt"

# Rule sets: a realistic mix per phase (suffix rules, tag chains, client and qtype rules).
make_rules() { # count file
  node -e '
    const n = Number(process.argv[1]); const out = [];
    for (let i = 0; i < n; i++) {
      switch (i % 5) {
        case 0: out.push(`phase = pre-cache qname-suffix zone${i}.example set-tag t${i}`); break;
        case 1: out.push(`phase = pre-cache tag t${i - 1} respond NXDOMAIN`); break;
        case 2: out.push(`phase = resolve qname-suffix corp${i}.example forward-to default`); break;
        case 3: out.push(`phase = post-cache qname name${i}.example ttl-cap 30`); break;
        case 4: out.push(`phase = post-resolve qname-suffix zone${i}.example rcode SERVFAIL respond REFUSED`); break;
      }
    }
    process.stdout.write(out.join("\n") + "\n");' "$1" > "$2"
}

run_config() { # label chain rules-file-or-empty
  local rules_line=""
  [ -n "$3" ] && rules_line="[rules]
file = \"$3\""
  cat > "$work/edge.toml" <<CONF
[server]
listen = ["127.0.0.1:$EDGE_PORT"]
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
  node "$root/dist/host/adapters/node/main.js" serve --config "$work/edge.toml" & local pid=$!
  bench_up "$EDGE_PORT"
  dnsperf -s 127.0.0.1 -p "$EDGE_PORT" -d "$work/queries.txt" -n 1 -c 4 >/dev/null 2>&1
  dnsperf -s 127.0.0.1 -p "$EDGE_PORT" -d "$work/queries.txt" -l "$secs" -c 10 -q 100 > "$work/out" 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local qps
  qps=$(bench_qps "$work/out")
  if [ -z "${BASE_QPS:-}" ]; then BASE_QPS=$qps; fi
  printf '| %s | %s | %s | %+.1f%% |\n' "$1" "$qps" "$(bench_lat_ms "$work/out")" "$(awk -v a="$qps" -v b="$BASE_QPS" 'BEGIN {print (a - b) / b * 100}')"
}

for n in 10 1000 10000; do make_rules "$n" "$work/r$n.rules"; done
echo "## Rule evaluation, dnsperf cache-hit workload ($(date -u +%F), ${secs}s per run)"
echo
bench_machine
echo "Rules: a mix of suffix, tag-chain, qname and rcode rules over all four phases; none match the workload."
echo
echo "| configuration | QPS | mean latency (ms) | QPS vs no override |"
echo "|---|---|---|---|"
run_config "no override app" '["forward"]' ""
run_config "override, no rules" '["override", "forward"]' ""
run_config "override, 10 rules" '["override", "forward"]' "$work/r10.rules"
run_config "override, 1,000 rules" '["override", "forward"]' "$work/r1000.rules"
run_config "override, 10,000 rules" '["override", "forward"]' "$work/r10000.rules"

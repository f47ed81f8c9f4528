#!/usr/bin/env bash
# Cache pooling: the latency one peer hop adds (p50, p99), and the QPS of a three-node site on
# this machine against a single node, in one run.
#
# Peer hop: node a has its cache switched off, so every name it is asked that b or c owns goes
# to that owner, which answers from its cache. The baseline asks each owner only its own names,
# so it is zero hops throughout; the same names through a are exactly one hop.
# QPS: dnsperf against one node on its own (no site), then three dnsperf runs at once, one per
# node of the site.
# Runs inside a loopback-only network namespace. Needs root (unshare), nsd, dnsperf, curl;
# npm run build.
# Usage: bench/pooling.sh [seconds-per-run]   (default 15)
set -euo pipefail
secs="${1:-15}"
bench_args=("$@")
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
bench_init nsd dnsperf curl
root="$bench_root"

AUTH=5400; A=5401; B=5402; C=5403; SOLO=5404
# Each node's admin (metrics) listener is its DNS port + 100.
bench_nsd $AUTH

# The default peer_timeout_ms (150): the latency runs send one query at a time and the QPS runs
# are cache hits once warmed, so no peer is asked under load. A warm-up query that outlasts the
# bound is resolved locally and cached all the same; the timeouts are counted and printed below.
node_config() { # id port cache-entries site|solo
  cat <<CONF
node_id = "$1"
[server]
listen = ["127.0.0.1:$2"]
[admin]
listen = "127.0.0.1:$(($2 + 100))"
# the NSD zones here are unsigned: the benchmarks without validation
[dnssec]
validate = false
[upstreams]
default = ["127.0.0.1:$AUTH"]
[cache]
max_entries = $3
CONF
  if [ "$4" = site ]; then
    cat <<CONF
[site]
peers = { a = "127.0.0.1:$A", b = "127.0.0.1:$B", c = "127.0.0.1:$C" }
keys = { k1 = "bench-site-key-0123456789" }
CONF
  fi
  cat <<CONF
[apps]
chain = ["forward"]
[apps.forward.config.routes]
"." = "default"
[log]
level = "warn"
CONF
}
declare -A node_pid
start() { # id port cache-entries site|solo
  node_config "$1" "$2" "$3" "$4" > "$work/$1.toml"
  "$root/dist/host/adapters/node/main.js" serve --config "$work/$1.toml" & node_pid[$1]=$!
  pids+=($!)
}
up() { bench_up "$1"; }
qps() { bench_qps "$1"; }
# Peer queries that got no answer within the bound, on the nodes listening on the given DNS ports.
timeouts() {
  local n=0 p
  for p in "$@"; do
    n=$((n + $(curl -s "http://127.0.0.1:$((p + 100))/metrics" | awk '/^edge_peer_forwarded_total\{.*result="timeout"/ {s += $NF} END {printf "%d", s}')))
  done
  echo "$n"
}

for i in $(seq 0 999); do echo "host$i.example.test A"; done > "$work/all.txt"
# The names b owns and the names c owns (members a, b and c), per the forward app itself as node
# a runs it: asked through a, each takes one hop to its owner.
node --input-type=module -e "
  import { readFileSync, writeFileSync } from 'node:fs';
  const { AppHarness } = await import('$root/dist/host/apps/harness.js');
  const h = AppHarness.fromBytes(readFileSync('$root/build/apps/forward.wasm'), JSON.parse(readFileSync('$root/apps/forward/app.json', 'utf8')),
    { host: { node_id: 'a', peers: 'a,b,c', max_hops: '1', upstream_groups: 'default' }, config: { routes: { '.': 'default' } } });
  const names = readFileSync('$work/all.txt', 'utf8').split('\n').filter(Boolean);
  for (const owner of ['b', 'c']) {
    const own = names.filter((l) => h.query(l.split(' ')[0]).target === 'peer:' + owner);
    writeFileSync('$work/' + owner + '.txt', own.join('\n') + '\n');
  }
"

# 1. Latency of one hop: a without a cache; b and c warmed with their own names.
start a $A 0 site; start b $B 100000 site; start c $C 100000 site
up $A; up $B; up $C
dnsperf -s 127.0.0.1 -p $B -d "$work/b.txt" -n 1 -c 2 >/dev/null 2>&1
dnsperf -s 127.0.0.1 -p $C -d "$work/c.txt" -n 1 -c 2 >/dev/null 2>&1
direct_b=$(node "$here/latency.mjs" 127.0.0.1 $B "$work/b.txt" 3000)
hop_b=$(node "$here/latency.mjs" 127.0.0.1 $A "$work/b.txt" 3000)
direct_c=$(node "$here/latency.mjs" 127.0.0.1 $C "$work/c.txt" 3000)
hop_c=$(node "$here/latency.mjs" 127.0.0.1 $A "$work/c.txt" 3000)
lat_timeouts=$(timeouts $A $B $C)
kill "${node_pid[a]}" "${node_pid[b]}" "${node_pid[c]}"; wait "${node_pid[a]}" "${node_pid[b]}" "${node_pid[c]}" 2>/dev/null || true

# 2. QPS: one node on its own, then the site with a dnsperf per node at the same time.
start solo $SOLO 100000 solo
up $SOLO
dnsperf -s 127.0.0.1 -p $SOLO -d "$work/all.txt" -n 1 -c 4 >/dev/null 2>&1
dnsperf -s 127.0.0.1 -p $SOLO -d "$work/all.txt" -l "$secs" -c 10 -q 100 > "$work/solo.out" 2>&1
kill "${node_pid[solo]}"; wait "${node_pid[solo]}" 2>/dev/null || true
start a $A 100000 site; start b $B 100000 site; start c $C 100000 site
up $A; up $B; up $C
# Warm every node with every name: its own from the upstream, the others' from their owners.
for p in $A $B $C; do dnsperf -s 127.0.0.1 -p $p -d "$work/all.txt" -n 1 -c 4 >/dev/null 2>&1; done
warm_timeouts=$(timeouts $A $B $C)
p1=""; for p in $A $B $C; do dnsperf -s 127.0.0.1 -p $p -d "$work/all.txt" -l "$secs" -c 10 -q 100 > "$work/site-$p.out" 2>&1 & p1="$p1 $!"; done
wait $p1
site=$(( $(qps "$work/site-$A.out") + $(qps "$work/site-$B.out") + $(qps "$work/site-$C.out") ))
run_timeouts=$(( $(timeouts $A $B $C) - warm_timeouts ))

echo "## Cache pooling ($(date -u +%F), ${secs}s per QPS run)"
echo
bench_machine
echo
echo "One peer hop: queries one at a time, 3,000 per row, answers cached at the owner ($(wc -l < "$work/b.txt") names b owns, $(wc -l < "$work/c.txt") names c owns):"
echo
echo "| path | p50 (ms) | p90 (ms) | p99 (ms) | mean (ms) |"
echo "|---|---|---|---|---|"
node -e '
  const [db, hb, dc, hc] = process.argv.slice(1).map((s) => JSON.parse(s));
  const row = (k, v) => console.log(`| ${k} | ${v.p50.toFixed(3)} | ${v.p90.toFixed(3)} | ${v.p99.toFixed(3)} | ${v.mean.toFixed(3)} |`);
  row("client → b, its own names (0 hops)", db);
  row("client → a → b (1 hop, signed context; a has no cache)", hb);
  row("client → c, its own names (0 hops)", dc);
  row("client → a → c (1 hop, signed context; a has no cache)", hc);
  const add = (h, d, p) => (h[p] - d[p]).toFixed(3);
  console.log();
  console.log(`Added by one hop: p50 ${add(hb, db, "p50")} ms (b), ${add(hc, dc, "p50")} ms (c); p99 ${add(hb, db, "p99")} ms (b), ${add(hc, dc, "p99")} ms (c).`);
' "$direct_b" "$hop_b" "$direct_c" "$hop_c"
echo
echo "Peer queries past the 150 ms bound (resolved locally instead): $lat_timeouts in the latency runs."
echo
echo "| setup | QPS, cache hits (dnsperf -c 10 -q 100 per node) |"
echo "|---|---|"
echo "| one node, no site | $(qps "$work/solo.out") |"
echo "| three-node site, three dnsperf at once | $site |"
echo
echo "Peer queries past the bound: $warm_timeouts while warming the site, $run_timeouts during the QPS runs."

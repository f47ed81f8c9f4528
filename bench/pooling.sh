#!/usr/bin/env bash
# Cache pooling: the latency one peer hop adds (p50, p99), and the QPS of a three-node site on
# this machine against a single node, in one run.
#
# Peer hop: node A has its cache switched off and owns nothing it is asked, so every query goes
# to its owner (B or C), which answers from its cache; compared with asking the owners directly.
# QPS: dnsperf against one node, then three dnsperf runs at once, one per node of the site.
# Runs inside a loopback-only network namespace. Needs root (unshare), nsd, dnsperf; npm run build.
# Usage: bench/pooling.sh [seconds-per-run]   (default 15)
set -euo pipefail
secs="${1:-15}"
bench_args=("$@")
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
bench_init nsd dnsperf
root="$bench_root"

AUTH=5400; A=5401; B=5402; C=5403; SOLO=5404
bench_nsd $AUTH

node_config() { # id port cache-entries
  cat <<CONF
node_id = "$1"
[server]
listen = ["127.0.0.1:$2"]
[upstreams]
default = ["127.0.0.1:$AUTH"]
[cache]
max_entries = $3
[site]
peers = { a = "127.0.0.1:$A", b = "127.0.0.1:$B", c = "127.0.0.1:$C" }
keys = { k1 = "bench-site-key-0123456789" }
# Two cores are shared by three nodes and dnsperf here: a 150 ms bound would mark busy peers down.
peer_timeout_ms = 1000
[apps]
chain = ["forward"]
[apps.forward.config.routes]
"." = "default"
[log]
level = "warn"
CONF
}
declare -A node_pid
start() { # id port cache-entries
  node_config "$1" "$2" "$3" > "$work/$1.toml"
  node "$root/dist/host/adapters/node/main.js" serve --config "$work/$1.toml" & node_pid[$1]=$!
  pids+=($!)
}
up() { bench_up "$1"; }
qps() { bench_qps "$1"; }

for i in $(seq 0 999); do echo "host$i.example.test A"; done > "$work/all.txt"
# The names node a does not own (asked through a, they take one hop), per the forward app itself.
node --input-type=module -e "
  import { readFileSync, writeFileSync } from 'node:fs';
  const { AppHarness } = await import('$root/dist/host/apps/harness.js');
  const h = AppHarness.fromBytes(readFileSync('$root/build/apps/forward.wasm'), JSON.parse(readFileSync('$root/apps/forward/app.json', 'utf8')),
    { host: { node_id: 'a', peers: 'a,b,c', max_hops: '1', upstream_groups: 'default' }, config: { routes: { '.': 'default' } } });
  const names = readFileSync('$work/all.txt', 'utf8').split('\n').filter(Boolean);
  writeFileSync('$work/remote.txt', names.filter((l) => h.query(l.split(' ')[0]).verdict === 'forward').join('\n') + '\n');
"

# 1. Latency of one hop: a without a cache, owners warm.
start a $A 0; start b $B 100000; start c $C 100000
up $A; up $B; up $C
dnsperf -s 127.0.0.1 -p $A -d "$work/remote.txt" -n 2 -c 2 >/dev/null 2>&1
hop=$(node "$here/latency.mjs" 127.0.0.1 $A "$work/remote.txt" 3000)
direct=$(node "$here/latency.mjs" 127.0.0.1 $B "$work/remote.txt" 3000)
kill "${node_pid[a]}" "${node_pid[b]}" "${node_pid[c]}"; wait "${node_pid[a]}" "${node_pid[b]}" "${node_pid[c]}" 2>/dev/null || true

# 2. QPS: one node alone, then the site with a dnsperf per node at the same time.
start solo $SOLO 100000
up $SOLO
dnsperf -s 127.0.0.1 -p $SOLO -d "$work/all.txt" -n 1 -c 4 >/dev/null 2>&1
dnsperf -s 127.0.0.1 -p $SOLO -d "$work/all.txt" -l "$secs" -c 10 -q 100 > "$work/solo.out" 2>&1
kill "${node_pid[solo]}"; wait "${node_pid[solo]}" 2>/dev/null || true
start a $A 100000; start b $B 100000; start c $C 100000
up $A; up $B; up $C
for p in $A $B $C; do dnsperf -s 127.0.0.1 -p $p -d "$work/all.txt" -n 1 -c 4 >/dev/null 2>&1; done
p1=""; for p in $A $B $C; do dnsperf -s 127.0.0.1 -p $p -d "$work/all.txt" -l "$secs" -c 10 -q 100 > "$work/site-$p.out" 2>&1 & p1="$p1 $!"; done
wait $p1
site=$(( $(qps "$work/site-$A.out") + $(qps "$work/site-$B.out") + $(qps "$work/site-$C.out") ))

echo "## Cache pooling ($(date -u +%F), ${secs}s per QPS run)"
echo
bench_machine
echo
echo "One peer hop: queries one at a time ($(wc -l < "$work/remote.txt") names node a does not own, 3,000 queries), answers cached at the owner:"
echo
echo "| path | p50 (ms) | p90 (ms) | p99 (ms) | mean (ms) |"
echo "|---|---|---|---|---|"
node -e 'for (const [k, v] of [["client → owner", JSON.parse(process.argv[1])], ["client → a → owner (signed context, a has no cache)", JSON.parse(process.argv[2])]]) console.log(`| ${k} | ${v.p50.toFixed(3)} | ${v.p90.toFixed(3)} | ${v.p99.toFixed(3)} | ${v.mean.toFixed(3)} |`)' "$direct" "$hop"
echo
echo "(Asked directly, b answers its own names from cache and forwards the others to c, so the first row mixes zero and one hop.)"
echo
echo "| setup | QPS, cache hits (dnsperf -c 10 -q 100 per node) |"
echo "|---|---|"
echo "| one node | $(qps "$work/solo.out") |"
echo "| three-node site, three dnsperf at once | $site |"

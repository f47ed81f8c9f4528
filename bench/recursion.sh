#!/usr/bin/env bash
# Recursive mode against Unbound (recursive, `module-config: "iterator"`), side by side in one
# run, on the same loopback hierarchy with the same root hints and the same query file:
#
#   a test root (127.53.1.1) -> the TLD bench. (127.53.2.1) -> 100 zones z0..z99.bench., spread
#   over four addresses (127.53.3.1-4), 100 names each: 10,000 names, all served by NSD on
#   port 53 (the port a recursive resolver asks), unsigned (validation off on both sides).
#
#   cold  a fresh server (new process, empty caches) asked each of the 10,000 names once:
#         every answer is iterated (the 100 delegations are learnt on the way); RUNS times,
#         each on a fresh server, medians
#   warm  the same server, then RUNS x SECS seconds over the same names: every answer a hit
#
# The server under test is pinned to core 0 (`taskset -c 0`); dnsperf (1 thread, -c 8 -q 100)
# and the three NSD processes to core 1. QNAME minimisation on in both (their default). No local
# root copy: both prime from the hints and ask the test root, as a resolver without one does.
#
# Runs itself inside a network namespace that has only loopback. Needs root (unshare, taskset),
# nsd, unbound, dnsperf, and `npm run build` done.
#
# Usage: bench/recursion.sh [--write] [SECS [RUNS]]     (defaults 10 and 3; about 2 minutes)
#   --write   also replace the "Recursion" section of bench/RESULTS.md with this run's table
#   EDGE_BENCH_NOTE="..."   a line added under the table (e.g. that the machine was busy)
set -euo pipefail
write=""
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
secs="${1:-10}"
runs="${2:-3}"
bench_args=(${write:+--write} "$secs" "$runs")
source "$(dirname "$0")/lib.sh"
bench_init nsd unbound dnsperf taskset
source "$(dirname "$0")/peers.sh"
source "$(dirname "$0")/measure.sh"

ZONES=100
NAMES=100
ROOT_IP=127.53.1.1
TLD_IP=127.53.2.1
LEAF_IPS=(127.53.3.1 127.53.3.2 127.53.3.3 127.53.3.4)
PORT=5410

# ---- the hierarchy ------------------------------------------------------------------------
soa() { printf '$TTL 86400\n%s IN SOA ns.%s hostmaster.%s 1 3600 600 604800 3600\n' "$1" "${1#.}" "${1#.}"; }
{
  soa .
  printf '. IN NS a.root-servers.bench.\na.root-servers.bench. IN A %s\n' "$ROOT_IP"
  printf 'bench. IN NS ns.bench.\nns.bench. IN A %s\n' "$TLD_IP"
} > "$work/root.zone"
{
  soa bench.
  printf 'bench. IN NS ns.bench.\nns.bench. IN A %s\na.root-servers.bench. IN A %s\n' "$TLD_IP" "$ROOT_IP"
  for z in $(seq 0 $((ZONES - 1))); do
    printf 'z%d.bench. IN NS ns.z%d.bench.\nns.z%d.bench. IN A %s\n' "$z" "$z" "$z" "${LEAF_IPS[$((z % ${#LEAF_IPS[@]}))]}"
  done
} > "$work/bench.zone"
leaf_conf=""
for z in $(seq 0 $((ZONES - 1))); do
  {
    soa "z$z.bench."
    printf 'z%d.bench. IN NS ns.z%d.bench.\nns.z%d.bench. IN A %s\n' "$z" "$z" "$z" "${LEAF_IPS[$((z % ${#LEAF_IPS[@]}))]}"
    for n in $(seq 0 $((NAMES - 1))); do printf 'h%d 3600 IN A 192.0.%d.%d\n' "$n" "$((z % 256))" "$((n % 256))"; done
  } > "$work/z$z.zone"
  leaf_conf+=$'zone:\n  name: "z'$z$'.bench."\n  zonefile: "'$work/z$z$'.zone"\n'
done

# nsd_start NAME ZONE-CONFIG IP... : one NSD process (one server), on core 1.
nsd_start() {
  local name="$1" zones="$2"; shift 2
  local conf="$work/nsd-$name.conf"
  {
    echo "server:"
    for ip in "$@"; do echo "  ip-address: $ip@53"; done
    printf '  port: 53\n  username: ""\n  chroot: ""\n  zonesdir: "%s"\n  pidfile: "%s/nsd-%s.pid"\n  database: ""\n' "$work" "$work" "$name"
    printf '  xfrdfile: "%s/xfrd-%s.state"\n  zonelistfile: "%s/zone-%s.list"\n  logfile: "%s/nsd-%s.log"\n' "$work" "$name" "$work" "$name" "$work" "$name"
    printf '  server-count: 1\n  do-ip6: no\n  hide-version: yes\nremote-control:\n  control-enable: no\n'
    printf '%s' "$zones"
  } > "$conf"
  taskset -c 1 nsd -d -c "$conf" &
  pids+=($!)
}
nsd_start root $'zone:\n  name: "."\n  zonefile: "'$work$'/root.zone"\n' "$ROOT_IP"
nsd_start tld $'zone:\n  name: "bench."\n  zonefile: "'$work$'/bench.zone"\n' "$TLD_IP"
nsd_start leaf "$leaf_conf" "${LEAF_IPS[@]}"
for ip in "$ROOT_IP" "$TLD_IP" "${LEAF_IPS[@]}"; do
  for _ in $(seq 1 300); do dig @"$ip" +tries=1 +time=1 +norec bench. SOA >/dev/null 2>&1 && break; sleep 0.1; done
done
for _ in $(seq 1 300); do dig @"${LEAF_IPS[3]}" +tries=1 +time=1 +norec h0.z99.bench. A 2>/dev/null | grep -q 'status: NOERROR' && break; sleep 0.1; done

printf '.\t3600000\tNS\ta.root-servers.bench.\na.root-servers.bench.\t3600000\tA\t%s\n' "$ROOT_IP" > "$work/named.root"

# The 10,000 names in a fixed shuffled order (so zones are learnt along the run, not one by one).
node -e '
  let x = 7; const r = () => (x = (x * 1103515245 + 12345) >>> 0);
  const q = [];
  for (let z = 0; z < +process.argv[1]; z++) for (let n = 0; n < +process.argv[2]; n++) q.push(`h${n}.z${z}.bench A`);
  for (let i = q.length - 1; i > 0; i--) { const j = r() % (i + 1); [q[i], q[j]] = [q[j], q[i]]; }
  require("fs").writeFileSync(process.argv[3], q.join("\n") + "\n");' "$ZONES" "$NAMES" "$work/queries.txt"

# ---- the servers --------------------------------------------------------------------------
start_unbound() {
  cat > "$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$PORT
  port: $PORT
  num-threads: 1
  do-ip6: no
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: "$work/unbound.log"
  module-config: "iterator"
  root-hints: "$work/named.root"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  msg-cache-size: 64m
  rrset-cache-size: 64m
  prefetch: no
  qname-minimisation: yes
CONF
  taskset -c 0 unbound -d -c "$work/unbound.conf" > "$work/server.log" 2>&1 &
  started_pid=$!
}

start_edge() {
  cat > "$work/edge.toml" <<CONF
node_id = "bench"
[server]
listen = ["127.0.0.1:$PORT"]
[log]
level = "warn"
[resolver]
mode = "recursive"
root_hints = "$work/named.root"
qname_minimisation = true
[dnssec]
validate = false
CONF
  taskset -c 0 "$bench_root/dist/host/adapters/node/main.js" serve --config "$work/edge.toml" > "$work/server.log" 2>&1 &
  started_pid=$!
}

# Up when it answers on its port at all; the probe is a name outside the hierarchy (the test
# root's NXDOMAIN), so no name of the query file is in its cache before the cold pass.
wait_up() {
  for _ in $(seq 1 300); do
    dig @127.0.0.1 -p "$PORT" +tries=1 +time=1 probe.invalid-tld A 2>/dev/null | grep -q 'status: NXDOMAIN' && return 0
    sleep 0.1
  done
  tail -5 "$work/server.log" >&2
  echo "bench: the server on port $PORT never answered" >&2
  exit 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; sleep 0.3; }

report="$work/report.md"
cold="$work/cold.md"
out="$work/warm.md"   # measure.sh appends its rows to $out
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "## Recursion: \`bench/recursion.sh $secs $runs\` ($(date -u +%F))"
  echo
  echo "$(bench_machine)"
  echo "Unbound $(unbound -V | awk 'NR == 1 {print $2}') (\`module-config: \"iterator\"\`, 1 thread); NSD $(nsd -v 2>&1 | awk 'NR == 1 {print $3}')."
  echo
  echo "A loopback hierarchy under NSD on port 53: a test root, the TLD \`bench.\`, $ZONES zones over"
  echo "${#LEAF_IPS[@]} addresses, $((ZONES * NAMES)) names (\`h0.z0.bench\` … \`h99.z99.bench\`, in one shuffled"
  echo "query file); the same root hints for both, no local root copy, unsigned (validation off on"
  echo "both), QNAME minimisation on. The server pinned to core 0; dnsperf (1 thread) and the three"
  echo "NSD processes to core 1. CPU/query: user+system time of the server over the measured queries."
} > "$report"
{
  echo
  echo "### Cold: a fresh server, each of the $((ZONES * NAMES)) names once"
  echo
  echo "dnsperf -n 1 -c 8 -T 1 -q 100 -t 5 on a server just started (its readiness probe, a name"
  echo "outside the hierarchy, primed the root); every answer iterated: root and TLD referrals"
  echo "learnt once, each zone's delegation on its first name. Medians of $runs fresh servers."
  echo
  echo "| server | QPS | ratio to Unbound | avg ms | max ms | NOERROR of $((ZONES * NAMES)) | lost | CPU µs/query |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$cold"
{
  echo
  echo "### Warm: the same names again, every answer a cache hit"
  echo
  echo "On the last cold run's server, measured as bench/per-core.sh measures: a pass, then $runs x ${secs} s"
  echo "of dnsperf -c 8 -T 1 -q 100 -t 2, medians."
  echo
  echo "| server | QPS | ratio to Unbound | avg ms | max ms | CPU µs/query | RSS MiB |"
  echo "|---|---|---|---|---|---|---|"
} > "$out"

ub_cold=""
for server in unbound edge; do
  label="Unbound (1 thread)"
  [ "$server" = edge ] && label="edge-resolver (1 process)"
  cq=() ca=() cm=() cl=() cc=() cn=()
  for i in $(seq 1 "$runs"); do
    "start_$server"
    pid=$started_pid
    pids+=("$pid")
    wait_up
    c0=$(peers_cpu_ticks "$pid")
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$work/queries.txt" -n 1 -c 8 -T 1 -q 100 -t 5 > "$work/cold.out" 2>&1 || true
    c1=$(peers_cpu_ticks "$pid")
    done_q=$(awk '/Queries completed:/ {print $3}' "$work/cold.out")
    ok=$(grep -o 'NOERROR [0-9]*' "$work/cold.out" | awk '{print $2}' || true)
    [ "${ok:-0}" = "$((ZONES * NAMES))" ] || echo "bench: $server answered ${ok:-0} of $((ZONES * NAMES)) cold names NOERROR ($(grep 'Response codes' "$work/cold.out" | sed 's/^ *//'))" >&2
    cn+=("${ok:-0}")
    cq+=("$(bench_qps "$work/cold.out")")
    ca+=("$(bench_lat_ms "$work/cold.out")")
    cm+=("$(awk '/Average Latency/ {gsub(/[(),]/, ""); printf "%.1f", $8 * 1000}' "$work/cold.out")")
    cl+=("$(awk '/Queries lost:/ {print $3}' "$work/cold.out")")
    cc+=("$(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v q="${done_q:-0}" 'BEGIN {if (q > 0) printf "%.1f", d / hz * 1e6 / q; else print "—"}')")
    if [ "$i" = "$runs" ]; then
      measure "$label" "$PORT" "$work/queries.txt" "$pid"
      if [ "$server" = unbound ]; then ub_qps="$last_qps"; fi
    fi
    stop "$pid"
  done
  mq=$(median "${cq[@]}")
  ratio="—"
  if [ -n "$ub_cold" ] && [ "$ub_cold" != 0 ]; then ratio=$(awk -v a="$mq" -v b="$ub_cold" 'BEGIN {printf "%.2f", a / b}'); fi
  if [ "$server" = unbound ]; then ub_cold="$mq"; fi
  echo "| $label | $mq | $ratio | $(median "${ca[@]}") | $(median "${cm[@]}") | $(median "${cn[@]}") | $(median "${cl[@]}") | $(median "${cc[@]}") |" >> "$cold"
done

cat "$cold" "$out" >> "$report"
{
  echo
  echo "Load average (1, 5, 15 min) before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
  if [ -n "${EDGE_BENCH_NOTE:-}" ]; then echo "$EDGE_BENCH_NOTE"; fi
} >> "$report"
out="$report"

cat "$out"
if [ -n "$write" ]; then
  node "$bench_root/bench/results-section.mjs" "$bench_root/bench/RESULTS.md" recursion "$out"
  echo "bench: rewrote the recursion section of bench/RESULTS.md" >&2
fi

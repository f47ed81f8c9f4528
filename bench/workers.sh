#!/usr/bin/env bash
# DoH cache-hit benchmark: the Worker under `wrangler dev` (workerd) beside the Node resolver's
# DoH listener, the same GET requests to both in one run (bench/doh-load.mjs). Both forward to
# the same NSD; the Worker's upstream is the Node resolver's DoH listener, since a Worker has no
# UDP. The cache is warmed by one pass, so the measured run is cache hits: on the Worker, hits
# in the ingress isolate's cache (a shard is asked only on a miss).
#
# Runs itself inside a network namespace that has only loopback, so nothing can leave the
# machine. Needs: root (for unshare), nsd, dig, openssl; `npm install` done.
# Also runs the same bundle in workerd through the Miniflare API (bench/workerd-serve.mjs), to
# show what wrangler dev's own layers cost.
# Usage: bench/workers.sh [seconds-per-run] [connections]   (default 20, 8)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
secs="${1:-20}"
conns="${2:-8}"

if [ -z "${EDGE_BENCH_IN_NETNS:-}" ]; then
  exec unshare --net -- env EDGE_BENCH_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

for t in nsd dig openssl; do command -v "$t" >/dev/null || { echo "bench: $t is not installed" >&2; exit 1; }; done
node "$root/scripts/build.mjs" >/dev/null 2>&1 || { echo "bench: the build failed; run npm run build" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
groups=()
# wrangler dev starts children of its own (the CLI, workerd): it runs in its own process group,
# and the whole group is stopped.
cleanup() {
  for g in "${groups[@]}"; do kill -- "-$g" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

AUTH=127.0.0.1; AUTH_PORT=5400; EDGE_PORT=5401; DOH_PORT=8053; DEV_PORT=8787; MF_PORT=8788

cp "$root/test/fixtures/example.test.zone" "$work/example.test.zone"
cat > "$work/nsd.conf" <<CONF
server:
  ip-address: $AUTH@$AUTH_PORT
  port: $AUTH_PORT
  username: ""
  chroot: ""
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  database: ""
  xfrdfile: "$work/xfrd.state"
  zonelistfile: "$work/zone.list"
  logfile: "$work/nsd.log"
  server-count: 1
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: "example.test."
  zonefile: "$work/example.test.zone"
CONF
nsd -d -c "$work/nsd.conf" & pids+=($!)

cat > "$work/node.toml" <<CONF
[server]
listen = ["127.0.0.1:$EDGE_PORT"]
doh_http = ["127.0.0.1:$DOH_PORT"]
# the NSD zones here are unsigned: the benchmarks without validation
[dnssec]
validate = false
[upstreams]
default = ["$AUTH:$AUTH_PORT"]
[apps.forward.config.routes]
"." = "default"
[log]
level = "warn"
CONF
"$root/dist/host/adapters/node/main.js" serve --config "$work/node.toml" & node_pid=$!
pids+=($node_pid)

# The Worker, with wrangler.toml's bindings and a config whose upstream is the Node DoH listener.
config="node_id = \"ingress\"
# the NSD zones here are unsigned: the benchmarks without validation
[dnssec]
validate = false
[upstreams]
default = [\"http://127.0.0.1:$DOH_PORT/dns-query\"]
[apps.forward.config.routes]
\".\" = \"default\"
[site]
peer_timeout_ms = 2000
[log]
level = \"warn\""
(cd "$root" && WRANGLER_SEND_METRICS=false exec setsid node "$root/node_modules/wrangler/bin/wrangler.js" dev --ip 127.0.0.1 --port "$DEV_PORT" \
  --persist-to "$work/state" --var "EDGE_CONFIG:$config" --var "EDGE_SITE_KEYS:k1=$(openssl rand -hex 32)" --log-level warn \
  > "$work/wrangler.log" 2>&1) & groups+=($!)

# The same bundle in workerd through the Miniflare API, without wrangler dev's layers.
node "$root/scripts/build.mjs" --worker >/dev/null 2>&1
printf '%s\n' "$config" > "$work/edge.toml"
node "$here/workerd-serve.mjs" "$MF_PORT" "$work/edge.toml" 2> "$work/workerd.log" & pids+=($!)

for i in $(seq 1 1000); do echo "host$((i - 1)).example.test"; done > "$work/names.txt"

wait_dns() { for _ in $(seq 1 100); do dig @127.0.0.1 -p "$1" +tries=1 +time=1 host0.example.test A >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "bench: nothing answers on port $1" >&2; exit 1; }
wait_http() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "bench: nothing answers at $1" >&2; cat "$work/wrangler.log" >&2; exit 1; }
wait_dns "$AUTH_PORT"; wait_dns "$EDGE_PORT"
wait_http "http://127.0.0.1:$DOH_PORT/dns-query?name=host0.example.test"
wait_http "http://127.0.0.1:$DEV_PORT/dns-query?name=host0.example.test"
wait_http "http://127.0.0.1:$MF_PORT/dns-query?name=host0.example.test"

run() { # label url
  local r
  r=$(node "$here/doh-load.mjs" "$2" "$work/names.txt" "$secs" "$conns")
  node -e 'const r = JSON.parse(process.argv[1]); console.log(`| ${process.argv[2]} | ${Math.round(r.rps)} | ${r.mean.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} |`)' "$r" "$1"
}

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo "## Workers: DoH cache hit, \`bench/workers.sh $secs $conns\` ($(date -u +%F))"
echo
echo "Machine: $(nproc) cores, $cpu; $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); Node $(node --version); wrangler $(cd "$root" && npx wrangler --version 2>/dev/null | tail -1); workerd $("$root/node_modules/.bin/workerd" --version | awk '{print $2}'); kernel $(uname -r)."
echo "Workload: 1,000 names (A) served by NSD on loopback, cache warmed by one pass; DoH GET (?dns=) over HTTP/1.1 keep-alive, $conns connections, ${secs}s per run; the load generator runs on the same cores."
echo
echo "| server | requests/s | mean (ms) | p50 (ms) | p90 (ms) | p99 (ms) | errors |"
echo "|---|---|---|---|---|---|---|"
run "Node resolver, DoH listener (1 process)" "http://127.0.0.1:$DOH_PORT/dns-query"
run "Worker under wrangler dev (workerd)" "http://127.0.0.1:$DEV_PORT/dns-query"
run "Worker in workerd (Miniflare API, no wrangler dev)" "http://127.0.0.1:$MF_PORT/dns-query"
run "Node resolver again (drift check)" "http://127.0.0.1:$DOH_PORT/dns-query"

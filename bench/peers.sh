# Starting the servers bench/per-core.sh compares, each pinned to core 0 (source after lib.sh).
#
#   peers_start_NAME WORKLOAD PORT   starts NAME for WORKLOAD (hit | root) on 127.0.0.1:PORT under
#                                    `taskset -c 0`, waits until it answers, sets $started_pid;
#                                    returns 1 (nothing started) when NAME is not installed or has
#                                    no mode for WORKLOAD
#   peers_cpu_ticks PID              user + system clock ticks of PID, all its threads
#   peers_rss_mib PID                resident memory of PID, MiB
#   peers_versions                   one line naming the peers' versions
#
# Needs from the caller: $work, $bench_root, $AUTH_PORT (NSD with example.test), $work/root.zone,
# $anchor (the lookalike's DS), and the pids array of lib.sh.
#
# PEERS_CPUS (default 0) is the taskset CPU list the server runs on; PEERS_THREADS (default 1)
# its threads or processes where it has the setting (Unbound num-threads, our server.workers).
#
# PEERS_VALIDATE=FILE turns DNSSEC validation on in the servers that take it (Unbound and ours),
# with FILE (DS records, zone-file form) as their trust anchors; unset, both run without it.

peers_cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
peers_rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

peers_versions() {
  local v=()
  command -v unbound >/dev/null && v+=("Unbound $(unbound -V | awk 'NR == 1 {print $2}')")
  command -v kresd >/dev/null && v+=("Knot Resolver $(kresd --version | awk '{print $NF}')")
  command -v pdns_recursor >/dev/null && v+=("PowerDNS Recursor $(pdns_recursor --version 2>&1 | awk '/PowerDNS Recursor/ {for (i = 1; i <= NF; i++) if ($i == "Recursor") {print $(i + 1); exit}}')")
  command -v dnsdist >/dev/null && v+=("dnsdist $(dnsdist --version | awk 'NR == 1 {print $2}')")
  local IFS=';'
  echo "Peers: ${v[*]}; NSD $(nsd -v 2>&1 | awk 'NR == 1 {print $3}')."
}

# peers_wait PORT WORKLOAD: until a query of the workload is answered (NOERROR for hit, NXDOMAIN for root).
peers_wait() {
  local want="NOERROR" name="host0.example.test"
  if [ "$2" = root ]; then want="NXDOMAIN"; name="$(head -1 "$work/root.txt" | awk '{print $1}')"; fi
  for _ in $(seq 1 600); do
    dig @127.0.0.1 -p "$1" +tries=1 +time=1 "$name" A 2>/dev/null | grep -q "status: $want" && return 0
    sleep 0.1
  done
  echo "bench: nothing answered $name with $want on port $1" >&2
  return 1
}

# peers_run WORKLOAD PORT CMD...: start CMD on core 0, wait for it; 1 (and stopped) if it never answers.
peers_run() {
  local workload="$1" port="$2"; shift 2
  taskset -c "${PEERS_CPUS:-0}" "$@" > "$work/server.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  if ! peers_wait "$port" "$workload"; then
    tail -5 "$work/server.log" >&2
    kill "$started_pid" 2>/dev/null || true
    return 1
  fi
}

peers_start_unbound() {
  command -v unbound >/dev/null || return 1
  local workload="$1" port="$2" conf="$work/unbound.conf"
  cat > "$conf" <<CONF
server:
  interface: 127.0.0.1@$port
  port: $port
  num-threads: ${PEERS_THREADS:-1}
  do-ip6: no
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: "$work/unbound.log"
  do-not-query-localhost: no
  module-config: "${PEERS_VALIDATE:+validator }iterator"
  access-control: 127.0.0.0/8 allow
  msg-cache-size: 64m
  rrset-cache-size: 64m
  prefetch: no
  # test. is one of Unbound's default local zones (RFC 6761): without this it answers
  # NXDOMAIN itself instead of forwarding.
  local-zone: "test." nodefault
CONF
  local downstream=yes
  if [ -n "${PEERS_VALIDATE:-}" ]; then
    printf '  trust-anchor-file: "%s"\n  val-log-level: 0\n' "$PEERS_VALIDATE" >> "$conf"
    # Served to clients, the auth zone would be answered as is (AA, never validated); as the
    # RFC 8806 copy the iterator reads, its answers go through the validator.
    downstream=no
  fi
  if [ "$workload" = root ]; then
    printf 'auth-zone:\n  name: "."\n  zonefile: "%s"\n  for-downstream: %s\n  for-upstream: yes\n  fallback-enabled: no\n  zonemd-check: no\n' "$work/root.zone" "$downstream" >> "$conf"
  else
    printf 'forward-zone:\n  name: "."\n  forward-addr: 127.0.0.1@%s\n' "$AUTH_PORT" >> "$conf"
  fi
  peers_run "$workload" "$port" unbound -d -c "$conf"
}

peers_start_edge() {
  local workload="$1" port="$2" conf="$work/edge.toml"
  {
    printf 'node_id = "bench"\n\n[server]\nlisten = ["127.0.0.1:%s"]\n' "$port"
    [ "${PEERS_THREADS:-1}" = 1 ] || printf 'workers = %s\n' "$PEERS_THREADS"
    printf '\n[log]\nlevel = "warn"\n\n'
    if [ "$workload" != root ]; then
      printf '[upstreams]\ndefault = ["127.0.0.1:%s"]\n\n' "$AUTH_PORT"
    else
      # A closed port: every answer of this workload must come from the local root.
      printf '[upstreams]\ndefault = ["127.0.0.1:5499"]\n\n[zone]\nsource = "%s"\ntrust_anchor = "%s"\n\n' \
        "$bench_root/test/fixtures/zones/root-lookalike-2026082201.zone.gz" "$anchor"
    fi
    printf '[apps.forward.config.routes]\n"." = "default"\n'
  } > "$conf"
  if [ -n "${PEERS_VALIDATE:-}" ]; then
    printf '\n[dnssec]\nvalidate = true\ntrust_anchor = "%s"\n' "$PEERS_VALIDATE" >> "$conf"
  else
    # Unbound runs here without its validator; so does ours, where the build has one.
    printf '\n[dnssec]\nvalidate = false\n' >> "$conf"
    node "$bench_root/dist/host/adapters/node/main.js" config check "$conf" >/dev/null 2>&1 || sed -i '/^\[dnssec\]/,$d' "$conf"
  fi
  peers_run "$workload" "$port" "$bench_root/dist/host/adapters/node/main.js" serve --config "$conf"
}

peers_start_kresd() {
  command -v kresd >/dev/null || return 1
  [ "$1" = hit ] || return 1
  local port="$2" dir="$work/kresd"
  mkdir -p "$dir"
  cat > "$dir/config" <<CONF
net.listen('127.0.0.1', $port, { kind = 'dns' })
cache.open(100 * MB, 'lmdb://$dir/cache')
trust_anchors.remove('.')
policy.add(policy.all(policy.STUB({ '127.0.0.1@$AUTH_PORT' })))
CONF
  peers_run hit "$port" kresd -n -q -c "$dir/config" "$dir"
}

peers_start_pdns() {
  command -v pdns_recursor >/dev/null || return 1
  local workload="$1" port="$2" dir="$work/pdns"
  mkdir -p "$dir"
  : > "$dir/recursor.conf"
  # Root hints at a closed loopback port, so nothing is ever asked of the real root servers.
  printf '.\t3600000\tNS\tx.\nx.\t3600000\tA\t127.0.0.1\n' > "$dir/hints"
  local args=(--config-dir="$dir" --socket-dir="$dir" --local-address=127.0.0.1 --local-port="$port"
    --threads=1 --pdns-distributes-queries=no --daemon=no --write-pid=no --disable-syslog --quiet=yes
    --hint-file="$dir/hints" --max-cache-entries=1000000 --reuseport=no)
  if [ "$workload" = hit ]; then
    args+=(--dnssec=off --forward-zones=".=127.0.0.1:$AUTH_PORT")
  else
    # The root copy served as a local auth zone, as Unbound's auth-zone with for-downstream.
    args+=(--dnssec=off --auth-zones=".=$work/root.zone")
  fi
  peers_run "$workload" "$port" pdns_recursor "${args[@]}"
}

peers_start_dnsdist() {
  command -v dnsdist >/dev/null || return 1
  [ "$1" = hit ] || return 1
  local port="$2"
  cat > "$work/dnsdist.conf" <<CONF
setLocal('127.0.0.1:$port')
newServer({ address = '127.0.0.1:$AUTH_PORT' })
pc = newPacketCache(100000)
getPool(''):setCache(pc)
CONF
  peers_run hit "$port" dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf"
}

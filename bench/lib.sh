# Shared by the bench/*.sh harnesses (source it after setting `secs`): run inside a network
# namespace that has only loopback, check the tools, keep a work folder and the processes
# started, and start NSD with the 1,000-name test zone.
#
#   bench_init "$@" TOOL...      re-runs the calling script under `unshare --net`, brings lo up,
#                                checks TOOL... and the build, makes $work, cleans up on exit
#   bench_nsd PORT [ZONEFILE]    NSD on 127.0.0.1:PORT serving example.test from ZONEFILE
#                                (default test/fixtures/example.test.zone)
#   bench_up PORT [NAME]         waits until something answers NAME on PORT
#   bench_junk_names ZONE OUT    10,000 names under TLDs ZONE does not have (fixed seed)
#   bench_qps FILE / bench_lat_ms FILE   figures from a dnsperf output file
#   bench_machine                one line describing the machine and tool versions

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pids=()

bench_init() {
  local script="$0"
  if [ -z "${EDGE_BENCH_IN_NETNS:-}" ]; then
    exec unshare --net -- env EDGE_BENCH_IN_NETNS=1 bash "$script" "${bench_args[@]}"
  fi
  ip link set lo up
  for t in "$@"; do command -v "$t" >/dev/null || { echo "bench: $t is not installed" >&2; exit 1; }; done
  [ -f "$bench_root/dist/host/adapters/node/main.js" ] || { echo "bench: run npm run build first" >&2; exit 1; }
  work="$(mktemp -d)"
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

bench_nsd() {
  local port="$1"
  cp "${2:-$bench_root/test/fixtures/example.test.zone}" "$work/example.test.zone"
  cat > "$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  port: $port
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
  nsd -d -c "$work/nsd.conf" &
  pids+=($!)
}

bench_up() {
  local port="$1" name="${2:-host0.example.test}"
  for _ in $(seq 1 300); do dig @127.0.0.1 -p "$port" +tries=1 +time=1 "$name" A >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: nothing answers on port $port" >&2
  exit 1
}

# 10,000 junk names: random labels under random nonexistent TLDs (checked against ZONE's TLDs),
# the same list on every run.
bench_junk_names() {
  node -e '
    const fs = require("fs");
    const tlds = new Set(fs.readFileSync(process.argv[1], "utf8").split("\n").map((l) => /^([a-z0-9-]+)\.\s/i.exec(l)?.[1]?.toLowerCase()).filter(Boolean));
    let x = 42; const r = () => (x = (x * 1103515245 + 12345) >>> 0);
    const word = (n) => Array.from({ length: n }, () => String.fromCharCode(97 + (r() % 26))).join("");
    const out = [];
    while (out.length < 10000) { const tld = word(4 + (r() % 6)); if (!tlds.has(tld)) out.push(`${word(3 + (r() % 8))}.${tld} A`); }
    fs.writeFileSync(process.argv[2], out.join("\n") + "\n");' "$1" "$2"
}

# bench_new_junk_names ZONEFILE OUT COUNT SEED: COUNT junk-TLD names, none repeated, none a TLD
# of the zone (random 10-letter labels under random 6-letter TLDs; SEED makes a file its own).
bench_new_junk_names() {
  node -e '
    const fs = require("fs");
    const tlds = new Set(fs.readFileSync(process.argv[1], "utf8").split("\n").map((l) => /^([a-z0-9-]+)\.\s/i.exec(l)?.[1]?.toLowerCase()).filter(Boolean));
    let x = Number(process.argv[4]) >>> 0 || 1;
    const r = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16) % 26;
    const word = (n) => { let s = ""; for (let i = 0; i < n; i++) s += String.fromCharCode(97 + r()); return s; };
    const out = fs.createWriteStream(process.argv[2]);
    let n = 0, buf = [];
    while (n < Number(process.argv[3])) { const tld = word(6); if (tlds.has(tld)) continue; buf.push(`${word(10)}.${tld} A`); n++; if (buf.length === 10000) { out.write(buf.join("\n") + "\n"); buf = []; } }
    out.end(buf.length ? buf.join("\n") + "\n" : "");' "$1" "$2" "$3" "$4"
}

bench_qps() { awk '/Queries per second:/ {printf "%.0f", $4}' "$1"; }
bench_lat_ms() { awk '/Average Latency/ {printf "%.3f", $4 * 1000}' "$1"; }

bench_machine() {
  local cpu
  cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  echo "Machine: $(nproc) cores, $cpu; $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); Node $(node --version); dnsperf $(dpkg-query -W -f='${Version}' dnsperf 2>/dev/null); kernel $(uname -r)."
}

# Measuring one server the way bench/per-core.sh does (source after lib.sh and peers.sh; needs
# $out (the report), $secs, $runs and $work):
#
#   table_head TITLE                         starts a table in $out
#   measure LABEL PORT QUERYFILE PID [dnsperf flags]
#                                            one warm-up pass, then $runs x $secs s; appends a
#                                            row (medians, CPU per query, RSS); sets $last_qps.
#                                            A QUERYFILE with @RUN@ in its name is one file per
#                                            run (1..$runs) and gets no warm-up: every name new
#   run_server WORKLOAD LABEL QUERYFILE START_FN [dnsperf flags]
#                                            starts the server pinned, measures it, stops it
#   measure_rate WORKLOAD SERVER QUERYFILE RATE
#                                            unbound or edge at a fixed offered rate: appends a
#                                            row of the latency table (medians of $runs runs)
#   median N...                              the median of the numbers
#
# $ub_qps, when set, is the figure the "ratio to Unbound" column divides by. EDGE_BENCH_SERVERS
# ("unbound edge") limits run_server to those servers.

table_head() {
  { echo; echo "### $1"; echo; echo "| server | QPS | ratio to Unbound | avg ms | max ms | CPU µs/query | RSS MiB |"; echo "|---|---|---|---|---|---|---|"; } >> "$out"
}

# measure LABEL PORT QUERYFILE PID [dnsperf flags...]  -> appends one row; sets last_qps
ub_qps=""
measure() {
  local label="$1" port="$2" qf="$3" pid="$4"; shift 4
  [[ "$qf" == *@RUN@* ]] || taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$qf" -n 1 -c 8 -T 1 "$@" >/dev/null 2>&1 || true
  local c0 c1 q=0 i
  c0=$(peers_cpu_ticks "$pid")
  local qps=() avg=() max=() f_qps f_avg f_max
  for i in $(seq 1 "$runs"); do
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "${qf//@RUN@/$i}" -l "$secs" -c 8 -T 1 -q 100 -t 2 "$@" > "$work/run.out" 2>&1 || true
    read -r f_qps f_avg f_max _ < <(run_figures "$work/run.out")
    qps+=("$f_qps"); avg+=("$f_avg"); max+=("$f_max")
    q=$((q + $(awk '/Queries completed:/ {print $3}' "$work/run.out")))
  done
  c1=$(peers_cpu_ticks "$pid")
  local hz; hz=$(getconf CLK_TCK)
  local cpu_us="—"
  [ "$q" -gt 0 ] && cpu_us=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v q="$q" 'BEGIN {printf "%.1f", d / hz * 1e6 / q}')
  local rss; rss=$(peers_rss_mib "$pid")
  local mq ma mm; mq=$(median "${qps[@]}"); ma=$(median "${avg[@]}"); mm=$(median "${max[@]}")
  local ratio="—"
  if [ -n "$ub_qps" ] && [ "$ub_qps" != 0 ]; then ratio=$(awk -v a="$mq" -v b="$ub_qps" 'BEGIN {printf "%.2f", a / b}'); fi
  echo "| $label | $mq | $ratio | $ma | $mm | $cpu_us | $rss |" >> "$out"
  last_qps="$mq"
}

measure_rate() {
  local workload="$1" server="$2" qf="$3" rate="$4" port=5410 i
  local label; label=$([ "$server" = unbound ] && echo "Unbound (1 thread)" || echo "edge-resolver (1 process)")
  local what; what=$([ "$workload" = hit ] && echo "cache hit" || echo "local root")
  if ! "peers_start_$server" "$workload" "$port"; then echo "| $what | $label | — | — | — | — |" >> "$out"; return 0; fi
  local pid="$started_pid"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$qf" -n 1 -c 8 -T 1 >/dev/null 2>&1 || true
  local qps=() avg=() max=() sd=() f_qps f_avg f_max f_sd
  for i in $(seq 1 "$runs"); do
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$qf" -l "$secs" -c 8 -T 1 -q 100 -t 2 -Q "$rate" > "$work/run.out" 2>&1 || true
    read -r f_qps f_avg f_max f_sd < <(run_figures "$work/run.out")
    qps+=("$f_qps"); avg+=("$f_avg"); max+=("$f_max"); sd+=("$f_sd")
  done
  echo "| $what | $label | $(median "${qps[@]}") | $(median "${avg[@]}") | $(median "${max[@]}") | $(median "${sd[@]}") |" >> "$out"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 0.5
}

# run_figures DNSPERF_OUTPUT: "QPS avg-ms max-ms stddev-ms" of one dnsperf run.
run_figures() {
  echo "$(bench_qps "$1") $(bench_lat_ms "$1") $(awk '/Average Latency/ {gsub(/[(),]/, ""); printf "%.1f", $8 * 1000}' "$1") $(awk '/Latency StdDev/ {printf "%.3f", $4 * 1000}' "$1")"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# run_server WORKLOAD LABEL QUERYFILE START_FN [dnsperf flags]: start pinned, measure, stop.
run_server() {
  local workload="$1" label="$2" qf="$3" start="$4"; shift 4
  local port=5410
  last_qps=""
  # EDGE_BENCH_SERVERS="unbound edge" limits the run to those servers (bench/smoke.sh).
  if [ -n "${EDGE_BENCH_SERVERS:-}" ] && [[ " $EDGE_BENCH_SERVERS " != *" ${start#peers_start_} "* ]]; then return 0; fi
  if ! "$start" "$workload" "$port"; then echo "| $label | — | — | — | — | — | — |" >> "$out"; return 0; fi
  local pid="$started_pid"
  measure "$label" "$port" "$qf" "$pid" "$@"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 0.5
}

#!/usr/bin/env bash
# `npm start` to first answer with nothing changed: the build step (prestart) plus the node's
# start, timed until dig on the embedded default's 127.0.0.1:5353 gets any answer. Inside a
# loopback-only network namespace the default config's upstreams are unreachable, so the first
# answer is the SERVFAIL we make at once; nothing leaves the machine.
#
# Usage: bench/start.sh [RUNS]   (default 5; the first build, if anything changed, is not timed)
set -euo pipefail
runs="${1:-5}"
bench_args=("$runs")
source "$(dirname "$0")/lib.sh"
bench_init dig
cd "$bench_root"
npm run -s build >/dev/null 2>&1
times=()
for _ in $(seq 1 "$runs"); do
  t0=$(date +%s%N)
  npm start -s >/dev/null 2>&1 &
  p=$!
  until dig @127.0.0.1 -p 5353 +tries=1 +time=1 start.example A >/dev/null 2>&1; do sleep 0.02; done
  t1=$(date +%s%N)
  times+=("$(( (t1 - t0) / 1000000 ))")
  kill -TERM -- "$p" 2>/dev/null || true
  pkill -TERM -f 'dist/host/adapters/node/main.js serve' 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  sleep 0.5
done
printf 'npm start to first answer, ms: %s (median %s)\n' "${times[*]}" "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')"

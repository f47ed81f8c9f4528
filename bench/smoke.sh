#!/usr/bin/env bash
# Before a change to the hot path lands: a short same-run comparison with Unbound, both pinned to
# one core, on the cache-hit and local-root workloads of bench/per-core.sh (about a minute).
# Read the "ratio to Unbound" column against the last per-core run in bench/RESULTS.md; a
# drop of more than the run-to-run spread (about ±10% here) is worth a profile before landing.
# Not a test: nothing here passes or fails.
#
# Usage: bench/smoke.sh [SECS]   (default 3)
set -euo pipefail
EDGE_BENCH_SERVERS="unbound edge" exec bash "$(dirname "$0")/per-core.sh" "${1:-3}" 1

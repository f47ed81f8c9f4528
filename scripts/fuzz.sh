#!/bin/sh
# The long fuzz run (issue 13, item 10): every property of test/fuzz/decoders.test.ts with many
# more runs than npm test gives them, from a fresh seed (printed first, so a finding can be
# replayed with FUZZ_SEED=<seed>). Findings go in bench/RESULTS.md ("Fuzzing").
#
# Usage: scripts/fuzz.sh [runs per property, default 20000] [seed, default random]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-20000}
seed=${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "fuzz: FUZZ_RUNS=$runs FUZZ_SEED=$seed"
[ -f build/apps/override.wasm ] || node scripts/build.mjs
FUZZ_RUNS=$runs FUZZ_SEED=$seed exec npx vitest run test/fuzz/ --testTimeout=0

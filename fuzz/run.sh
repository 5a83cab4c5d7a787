#!/bin/sh
# Runs every libFuzzer harness of BUILD_DIR (default build-fuzz) for SECONDS each (default 60),
# or only the HARNESS names given, starting from its seed corpus, and prints executions,
# coverage and time per harness. A crash stops the run with the harness's exit code; the input
# that crashed is left in BUILD_DIR/crashes/.
# Usage: fuzz/run.sh [SECONDS] [BUILD_DIR] [HARNESS...]
set -eu
seconds=${1:-60}
build=${2:-build-fuzz}
[ $# -ge 2 ] && shift 2 || shift $#
harnesses=${*:-topology_json schedule_json workload_tsv sizes planner}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$build/crashes"
for name in $harnesses; do
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  seeds="$here/seeds/$name"
  case $name in
    topology_json) seeds="$seeds $root/data/topologies" ;;
    workload_tsv) seeds="$seeds $root/data/workloads" ;;
  esac
  log="$build/fuzz_$name.log"
  # -rss_limit_mb: an input that makes the reader allocate gigabytes is a finding too.
  # shellcheck disable=SC2086
  if ! "$build/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$build/crashes/$name-" "$corpus" $seeds >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: $name FAILED (input in $build/crashes/, log $log)"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  # The last status line: "#N DONE cov: EDGES ft: FEATURES corp: ..."
  cov=$(sed -n 's/.*.DONE .*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 edges, \2 features/p' "$log" | tail -n 1)
  echo "fuzz: $name: $runs executions in $seconds s, coverage $cov, no crash (corpus $(ls "$corpus" | wc -l) inputs)"
done

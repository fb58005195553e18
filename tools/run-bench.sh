#!/usr/bin/env bash
# Run the benchmarks against build dir $1 (a non-sanitizer build) and print figures beside their baselines.
# Benchmarks print; they never fail on a figure.
set -euo pipefail
build=${1:?usage: run-bench.sh BUILD_DIR}
echo "== OpenHV benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; shared machine: compare ratios) =="
"$build/bench_startup" "$build/openhv" "$build/guest/g_basic.elf" "${OPENHV_BENCH_RUNS:-21}"
"$build/bench_exits" "$build/guest" "${OPENHV_BENCH_EXITS:-2000}"
"$build/bench_hypercall" "$build/guest" "${OPENHV_BENCH_HYPERCALLS:-2000}"
"$build/bench_vmbus_ring" "${OPENHV_BENCH_SECONDS:-1}"
"$build/bench_disk" "${OPENHV_BENCH_DISK_SECONDS:-3}"

#!/usr/bin/env bash
# Run the benchmarks against build dir $1 (a non-sanitizer build) and print figures beside their baselines.
# Benchmarks print; they never fail on a figure. The ones that boot a guest (P1, P2, P8, and P5 with the lean
# kernel, several minutes) need /dev/kvm and are reported as not measured without it; the in-process ones (P3 VMBus
# rings, P4 storage) run anywhere. OPENHV_BENCH_P5=0 leaves P5 out.
set -euo pipefail
build=${1:?usage: run-bench.sh BUILD_DIR}
echo "== OpenHV benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; shared machine: compare ratios) =="
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	"$build/bench_startup" "$build/openhv" "$build/guest/g_basic.elf" "${OPENHV_BENCH_RUNS:-21}"
	"$build/bench_exits" "$build/guest" "${OPENHV_BENCH_EXITS:-2000}"
	"$build/bench_hypercall" "$build/guest" "${OPENHV_BENCH_HYPERCALLS:-2000}"
else
	echo "P1, P2, P8: not measured (no usable /dev/kvm on this machine)"
fi
[ "${OPENHV_BENCH_P5:-1}" = 0 ] || "$(dirname "$0")/../bench/p5_storvsp_exits.sh" "$build"
"$build/bench_vmbus_ring" "${OPENHV_BENCH_SECONDS:-3}"
"$build/bench_storvsp" "${OPENHV_BENCH_DISK_SECONDS:-3}"
"$build/bench_disk" "${OPENHV_BENCH_DISK_SECONDS:-3}"

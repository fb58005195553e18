#!/usr/bin/env bash
# Run the OpenHV test suite in build dir $1 (the ASan+UBSan tree from `make test`) and end with the line
# "N passed, N failed, N skipped". Extra arguments go to ctest (e.g. -L unit, -R acpi).
# Labels: unit (no /dev/kvm), microguest (needs /dev/kvm, skips without), e2e (boots real kernels; needs the
# guest images from tools/guest-images.sh, which the e2e tests build on first use).
set -uo pipefail
build=${1:?usage: run-tests.sh BUILD_DIR [ctest args]}
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$build" --output-on-failure --no-tests=error "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
if [ -z "$summary" ]; then
	echo "0 passed, 1 failed"
	exit 1
fi
failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
skipped=$(grep -cE '\*\*\*Skipped|Not Run' "$log" || true)
passed=$((total - failed - skipped))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]

#!/usr/bin/env bash
# P5 (issue 5): userspace exits per guest I/O while the guest drives its synthetic SCSI disk at QD32.
# Usage: bench/p5_storvsp_exits.sh [BUILD_DIR]   (needs /dev/kvm; prints "not measured" and exits 0 without it)
#
# The lean kernel (tools/guest-images.sh lean) boots with its root on /dev/sda and a scratch raw disk as /dev/sdb;
# openhv-init's io verb (docs/guest-init.md) runs 32 forked jobs of 4 KiB O_DIRECT I/O on /dev/sdb, random reads
# then random writes. Each mode boots twice, with COUNT_LO and COUNT_HI I/Os per job; boot, mount and power-off
# are the same in both, so
#     exits per I/O = (exits(HI) - exits(LO)) / (requests(HI) - requests(LO))
# where exits are the worker's userspace exits of all VPs (its -v summary: port I/O, MMIO, MSR) and requests the
# StorVSP's count ("scsi: N requests"). The baseline named beside it: the same I/Os through the in-process client
# (bench_storvsp) need no exit at all; Hyper-V's target is well under one exit per I/O at QD32 (interrupt
# coalescing through the ring's interrupt_mask and the host's post-drain ring watch, docs/vmbus.md).
set -uo pipefail
build=${1:-${OPENHV_BUILD_DIR:-build}}
build=$(cd "$build" && pwd)
export OPENHV_BUILD_DIR=$build OPENHV=$build/openhv
. "$(dirname "$0")/../tests/e2e/lib.sh"
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "P5 exits per guest I/O: not measured (no usable /dev/kvm on this machine)"
	exit 0
fi
e2e_images lean >/dev/null

LO=${OPENHV_P5_COUNT_LO:-4}
HI=${OPENHV_P5_COUNT_HI:-64}
JOBS=32
D=$E2E_DIR/p5
rm -rf "$D"
mkdir -p "$D/stage/sbin" "$D/stage/dev" "$D/stage/proc" "$D/stage/sys"
cp "$E2E_INIT" "$D/stage/sbin/init"
mke2fs -q -t ext4 -F -d "$D/stage" "$D/root.ext4" 16M || { echo "P5: mke2fs failed"; exit 1; }
truncate -s 64M "$D/scratch.img"

# run MODE COUNT -> "EXITS IO MMIO MSR REQUESTS" of one boot (empty on failure)
run() {
	local name=p5-$1-$2 err
	e2e_boot "$name" -- -v --kernel "$LEAN_VMLINUX" --cpus 2 --memory 256M --timeout "${OPENHV_P5_TIMEOUT:-3600}" \
		--disk "$D/root.ext4,ro" --disk "$D/scratch.img" \
		--cmdline "console=ttyS0 quiet panic=-1 root=/dev/sda rootfstype=ext4 rootwait openhv.run=io:/dev/sdb:$1:4096:$JOBS:$2 openhv.poweroff=1" >&2
	err=$E2E_DIR/$name.err
	if [ "$E2E_STATUS" != 0 ] || ! grep -q "^openhv-init: io /dev/sdb: $1 bs 4096, $JOBS jobs x $2: .* MB/s)"$'\r*$' "$E2E_LOG"; then
		echo "P5: boot $name failed (status $E2E_STATUS; $E2E_LOG, $err)" >&2
		return
	fi
	grep -o 'VP[0-9]*: [0-9]* userspace exits (io [0-9]*, mmio [0-9]*, msr [0-9]*)' "$err" |
		awk -v req="$(sed -n 's/.*scsi: \([0-9]*\) requests.*/\1/p' "$err" | tail -n 1)" \
		'{ gsub(/[(),]/, ""); e += $2; io += $6; mmio += $8; msr += $10 } END { print e, io, mmio, msr, req }'
}

echo "P5: userspace exits per guest I/O, lean kernel, 2 VPs, $JOBS jobs of 4 KiB O_DIRECT (QD$JOBS), $LO vs $HI I/Os per job"
for mode in randread randwrite; do
	lo=$(run "$mode" "$LO")
	hi=$(run "$mode" "$HI")
	if [ -z "$lo" ] || [ -z "$hi" ]; then
		echo "  $mode: not measured (a boot failed; see above)"
		continue
	fi
	read -r e1 io1 mm1 ms1 r1 <<<"$lo"
	read -r e2 io2 mm2 ms2 r2 <<<"$hi"
	awk -v m="$mode" -v e=$((e2 - e1)) -v io=$((io2 - io1)) -v mm=$((mm2 - mm1)) -v ms=$((ms2 - ms1)) -v r=$((r2 - r1)) \
		'BEGIN { if (r <= 0) { printf "  %s: no extra requests (%d)\n", m, r; exit }
		printf "  %-9s %.2f exits per I/O (port I/O %.2f, MMIO %.2f, MSR %.2f) over %d requests; baseline: in-process client 0\n",
		m, e / r, io / r, mm / r, ms / r, r }'
done

#!/usr/bin/env bash
# test-dry-run.sh OPENHV_INIT: the plan openhv-init makes from a kernel command line (--dry-run), checked line by
# line: modules in dependency order from a modules.dep (soft dependencies through modules.softdep and
# modules.alias), the root switch (device, type, rw/ro, init=), the power-off verb, and the io verb's read modes.
# Runs the static i386 program through run-i386.sh (native or qemu-i386); 77 = skipped when neither can.
set -uo pipefail
init=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d -p /var/tmp) # not /tmp: tmpfs before Linux 6.6 refuses O_DIRECT
trap 'rm -rf "$tmp"' EXIT
fail=0

mkdir -p "$tmp/mods"
cat >"$tmp/mods/modules.dep" <<'DEP'
kernel/drivers/hv/hv_vmbus.ko:
kernel/drivers/scsi/scsi_common.ko:
kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko
kernel/drivers/scsi/scsi_transport_fc.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko
kernel/drivers/scsi/hv_storvsc.ko: kernel/drivers/scsi/scsi_transport_fc.ko kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko kernel/drivers/hv/hv_vmbus.ko
kernel/drivers/hv/hv_utils.ko: kernel/drivers/hv/hv_vmbus.ko
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/crypto/crc32c_generic.ko:
DEP
# ext4 and jbd2 need crc32c for metadata_csum but name it only as a soft dependency (an alias), as in Debian's.
cat >"$tmp/mods/modules.softdep" <<'SOFT'
# Soft dependencies extracted from modules themselves.
softdep jbd2 pre: crypto-crc32c
softdep ext4 pre: crypto-crc32c
SOFT
cat >"$tmp/mods/modules.alias" <<'ALIAS'
alias crypto-crc32c crc32c_intel
alias crypto-crc32c crc32c_generic
ALIAS

# plan CMDLINE EXPECTED...: the plan's lines (those of "openhv-init: would ..." and "power off") must be EXPECTED,
# in this order and nothing else. Without openhv.poweroff/reboot the plan ends in /bin/sh (the build machine's).
plan() {
	local cmdline=$1 out got want
	shift
	out=$(bash "$here/run-i386.sh" "$init" --dry-run "$cmdline" "$tmp/mods" 2>&1)
	local r=$?
	[ "$r" = 77 ] && exit 77
	got=$(grep -E '^openhv-init: (would |power off|reboot$)' <<<"$out")
	want=$(printf '%s\n' "$@")
	if [ "$r" != 0 ] || [ "$got" != "$want" ]; then
		echo "FAIL: $cmdline (status $r)"
		diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
		echo "$out" | sed 's/^/    | /'
		fail=1
	else
		echo "ok   $cmdline"
	fi
}

m="$tmp/mods/kernel/drivers"
# The default guest's initramfs: storage modules, then the disk becomes /.
plan "console=ttyS0 openhv.modules=hv_storvsc,hv_utils root=/dev/sda rw rootwait" \
	"openhv-init: would load hv_vmbus ($m/hv/hv_vmbus.ko)" \
	"openhv-init: would load scsi_common ($m/scsi/scsi_common.ko)" \
	"openhv-init: would load scsi_mod ($m/scsi/scsi_mod.ko)" \
	"openhv-init: would load scsi_transport_fc ($m/scsi/scsi_transport_fc.ko)" \
	"openhv-init: would load hv_storvsc ($m/scsi/hv_storvsc.ko)" \
	"openhv-init: would load hv_utils ($m/hv/hv_utils.ko)" \
	"openhv-init: would switch root to /dev/sda (ext4, rw) and exec /sbin/init" \
	"openhv-init: would start /bin/sh"
# The default guest's root filesystem: crc32c (ext4's soft dependency) before jbd2 and ext4.
plan "openhv.modules=ext4 root=/dev/sda" \
	"openhv-init: would load crc32c_intel ($tmp/mods/kernel/arch/x86/crypto/crc32c-intel.ko)" \
	"openhv-init: would load crc32c_generic ($tmp/mods/kernel/crypto/crc32c_generic.ko)" \
	"openhv-init: would load jbd2 ($tmp/mods/kernel/fs/jbd2/jbd2.ko)" \
	"openhv-init: would load mbcache ($tmp/mods/kernel/fs/mbcache.ko)" \
	"openhv-init: would load crc16 ($tmp/mods/kernel/lib/crc16.ko)" \
	"openhv-init: would load ext4 ($tmp/mods/kernel/fs/ext4/ext4.ko)" \
	"openhv-init: would switch root to /dev/sda (ext4, ro) and exec /sbin/init" \
	"openhv-init: would start /bin/sh"
# Read-only by default; rootfstype= and init= are honoured; dashes in module names are underscores.
plan "root=/dev/sdb1 rootfstype=ext2 init=/bin/openhv-init openhv.modules=hv-vmbus" \
	"openhv-init: would load hv_vmbus ($m/hv/hv_vmbus.ko)" \
	"openhv-init: would switch root to /dev/sdb1 (ext2, ro) and exec /bin/openhv-init" \
	"openhv-init: would start /bin/sh"
# No root=: stay in the initramfs; a module listed twice loads once; power off at the end.
plan "openhv.modules=hv_utils,hv_vmbus,hv_utils openhv.poweroff" \
	"openhv-init: would load hv_vmbus ($m/hv/hv_vmbus.ko)" \
	"openhv-init: would load hv_utils ($m/hv/hv_utils.ko)" \
	"openhv-init: power off"
# An empty root= is no root switch.
plan "root= openhv.reboot" "openhv-init: reboot"

# The io verb (P5's load inside a guest): read modes run here for real, with O_DIRECT, from forked jobs.
truncate -s 8M "$tmp/disk"
out=$(bash "$here/run-i386.sh" "$init" --dry-run \
	"openhv.run=io:$tmp/disk:randread:4096:4:50;io:$tmp/disk:read:1048576:2:5;io:$tmp/none:read:4096:2:1;io:$tmp/disk:randwrite:4096:1:1;io:$tmp/disk:read:3000:1:1" 2>&1)
for want in "io $tmp/disk: randread bs 4096, 4 jobs x 50: 200 I/Os in [0-9]+ ms \([0-9]+ IOPS, [0-9]+ MB/s\)\$" \
	"io $tmp/disk: read bs 1048576, 2 jobs x 5: 10 I/Os in [0-9]+ ms" \
	"io $tmp/none: job [01] failed: -2\$" "io $tmp/none: read bs 4096, 2 jobs x 1: .*, FAILED\$" \
	"io $tmp/disk: skipped \(not PID 1\)" "io: expected io:PATH"; do
	if grep -Eq "^openhv-init: $want" <<<"$out"; then
		echo "ok   io: $want"
	else
		echo "FAIL: io: no line matching: $want"
		echo "$out" | sed 's/^/    | /'
		fail=1
	fi
done

# As /sbin/poweroff (reboot, halt) it acts only when PID 1 runs the same program: here it must refuse.
for a in poweroff reboot halt; do
	ln -s "$(cd "$(dirname "$init")" && pwd)/$(basename "$init")" "$tmp/$a"
	out=$(bash "$here/run-i386.sh" "$tmp/$a" 2>&1)
	r=$?
	if [ "$r" = 1 ] && grep -q "^openhv-init: $a: PID 1 is not openhv-init .*: refusing" <<<"$out"; then
		echo "ok   as $a on the build machine: refuses"
	else
		echo "FAIL: as $a: status $r"
		echo "$out" | sed 's/^/    | /'
		fail=1
	fi
done
exit $fail

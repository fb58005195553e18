#!/usr/bin/env bash
# test-dry-run.sh OPENHV_INIT: the plan openhv-init makes from a kernel command line (--dry-run), checked line by
# line: modules in dependency order from a modules.dep, the root switch (device, type, rw/ro, init=), the power-off
# verb. Runs the static i386 program through run-i386.sh (native or qemu-i386); 77 = skipped when neither can.
set -uo pipefail
init=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
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
DEP

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
exit $fail

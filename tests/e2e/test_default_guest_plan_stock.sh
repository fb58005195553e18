#!/usr/bin/env bash
# End-to-end rehearsal without a VM (runs with or without /dev/kvm): what README's first command (`make run`,
# tools/run-default-guest.sh) would boot, checked host-side. The script prepares exactly its images
# (OPENHV_PREPARE_ONLY=1: stock kernel, initramfs, root disk, command line); then
#  - the initramfs is unpacked and openhv-init plans its work from that command line and that module folder
#    (--dry-run, under qemu-i386 where the host cannot run i386 programs): every module it would load is in the
#    initramfs, dependencies and soft dependencies first (crc32c before jbd2 and ext4: the root filesystem has
#    metadata_csum, and the stock kernel's ext4 only names crc32c as "softdep pre: crypto-crc32c"), and it would
#    switch to /dev/sda read-write;
#  - the root disk has openhv-init as /sbin/init and as /sbin/poweroff, reboot and halt (what the Shutdown IC's
#    orderly_poweroff execs), the OpenHV disk marker, and the same kernel's modules.
. "$(dirname "$0")/lib.sh"
for t in cpio debugfs dumpe2fs cmp; do
	command -v "$t" >/dev/null || { e2e_log "FAIL: $t is missing (cpio, e2fsprogs)"; exit 1; }
done
[ -x "$E2E_INIT" ] || { e2e_log "FAIL: no guest init at $E2E_INIT"; exit 1; }
D=$E2E_DIR/default-plan
rm -rf "$D"
mkdir -p "$D/initrd"

# OPENHV_ROOT_DISK: leave the user's persistent default-root.ext4 alone (this build's init may differ from the
# one it was made with); the test reads the pristine DISK_IMAGE it would be a copy of.
out=$(OPENHV_PREPARE_ONLY=1 OPENHV_ROOT_DISK=$D/unused.ext4 "$E2E_SRC/tools/run-default-guest.sh" "$OPENHV" \
	2>"$D/prepare.err") || {
	e2e_log "FAIL: run-default-guest.sh could not prepare the images"; tail -n 20 "$D/prepare.err"; exit 1; }
KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$out")
INITRD=$(sed -n 's/^INITRD=//p' <<<"$out")
ROOT=$(sed -n 's/^DISK_IMAGE=//p' <<<"$out")
VERSION=$(sed -n 's/^VERSION=//p' <<<"$out")
CMDLINE=$(sed -n 's/^CMDLINE=//p' <<<"$out")
for v in KERNEL INITRD ROOT VERSION CMDLINE; do
	[ -n "${!v}" ] || { e2e_log "FAIL: run-default-guest.sh printed no $v"; exit 1; }
done
[ -s "$KERNEL" ] && [ -s "$INITRD" ] && [ -s "$ROOT" ] || { e2e_log "FAIL: an image is missing: $out"; exit 1; }
e2e_log "default guest: $VERSION, cmdline: $CMDLINE"

# ---- the initramfs's plan ---------------------------------------------------------------------------------------
(cd "$D/initrd" && cpio -id --quiet <"$INITRD") || { e2e_log "FAIL: cannot unpack $INITRD"; exit 1; }
moddir=$D/initrd/lib/modules/$VERSION
[ -f "$moddir/modules.dep" ] || { e2e_log "FAIL: the initramfs has no $moddir/modules.dep"; exit 1; }
if cmp -s "$D/initrd/init" "$E2E_INIT"; then
	e2e_log "ok   the initramfs's /init is this build's openhv-init"
else
	e2e_log "FAIL the initramfs's /init is not $E2E_INIT"
	e2e_fails=$((e2e_fails + 1))
fi
E2E_LOG=$D/plan.log
bash "$E2E_SRC/guest/init/run-i386.sh" "$E2E_INIT" --dry-run "$CMDLINE" "$moddir" >"$E2E_LOG" 2>&1
r=$?
[ "$r" = 77 ] && { e2e_log "SKIP: cannot run the i386 openhv-init here (no IA32 emulation, no qemu-i386)"; exit 77; }
[ "$r" = 0 ] || { e2e_log "FAIL: openhv-init --dry-run exited $r"; e2e_fails=$((e2e_fails + 1)); }
mapfile -t planned < <(sed -n 's/^openhv-init: would load \([^ ]*\) (.*/\1/p' "$E2E_LOG")
e2e_log "plan: ${planned[*]}"
missing=0
while read -r path; do
	[ -f "$path" ] || { e2e_log "FAIL a planned module is not in the initramfs: $path"; missing=$((missing + 1)); }
done < <(sed -n 's/^openhv-init: would load [^ ]* (\(.*\))$/\1/p' "$E2E_LOG")
if [ "$missing" = 0 ] && [ "${#planned[@]}" -gt 0 ]; then
	e2e_log "ok   all ${#planned[@]} planned modules are in the initramfs"
else
	e2e_fails=$((e2e_fails + missing + 1))
fi
# pos NAME: index of NAME in the plan, or 999
pos() {
	local i
	for i in "${!planned[@]}"; do [ "${planned[$i]}" = "$1" ] && { echo "$i"; return; }; done
	echo 999
}
# before A B: A is planned, and before B
before() {
	if [ "$(pos "$1")" -lt 999 ] && [ "$(pos "$1")" -lt "$(pos "$2")" ]; then
		e2e_log "ok   $1 is loaded before $2"
	else
		e2e_log "FAIL $1 is not planned before $2"
		e2e_fails=$((e2e_fails + 1))
	fi
}
before hv_vmbus hv_storvsc
before scsi_mod hv_storvsc
before hv_vmbus hv_utils
before sd_mod ext4
before crc32c_generic jbd2
before crc32c_generic ext4
before jbd2 ext4
[ "$(pos ext4)" -lt 999 ] || { e2e_log "FAIL ext4 is not planned"; e2e_fails=$((e2e_fails + 1)); }
e2e_expect "the root switch" '^openhv-init: would switch root to /dev/sda \(ext4, rw\) and exec /sbin/init$'

# ---- the root disk ----------------------------------------------------------------------------------------------
if dumpe2fs -h "$ROOT" 2>/dev/null | grep -q '^Filesystem features:.*metadata_csum'; then
	e2e_log "ok   the root filesystem has metadata_csum (so ext4 needs crc32c)"
else
	e2e_log "note: the root filesystem has no metadata_csum"
fi
link() {
	local got
	got=$(debugfs -R "stat $1" "$ROOT" 2>/dev/null | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')
	if [ "$got" = "$2" ]; then
		e2e_log "ok   $1 -> $2 on the root disk"
	else
		e2e_log "FAIL $1 on the root disk points to '${got:-nothing}', want $2"
		e2e_fails=$((e2e_fails + 1))
	fi
}
link /sbin/init /sbin/openhv-init
link /sbin/poweroff /sbin/openhv-init
link /sbin/reboot /sbin/openhv-init
link /sbin/halt /sbin/openhv-init
debugfs -R "dump /sbin/openhv-init $D/disk-init" "$ROOT" >/dev/null 2>&1
if cmp -s "$D/disk-init" "$E2E_INIT"; then
	e2e_log "ok   the root disk's /sbin/openhv-init is this build's"
else
	e2e_log "FAIL the root disk's /sbin/openhv-init differs from $E2E_INIT"
	e2e_fails=$((e2e_fails + 1))
fi
for f in /etc/openhv-disk "/lib/modules/$VERSION/modules.dep" "/lib/modules/$VERSION/modules.softdep"; do
	if debugfs -R "stat $f" "$ROOT" 2>/dev/null | grep -q '^Inode:'; then
		e2e_log "ok   the root disk has $f"
	else
		e2e_log "FAIL the root disk has no $f"
		e2e_fails=$((e2e_fails + 1))
	fi
done
e2e_finish

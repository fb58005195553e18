#!/usr/bin/env bash
# End-to-end (CI): storage on the synthetic SCSI controller (src/vsp/storvsp) with the lean kernel (hv_storvsc, sd
# and ext4 built in), 2 VPs, and no initramfs: the kernel mounts its root filesystem itself from /dev/sda, an ext4
# image this test makes with mke2fs -d (openhv-init as /sbin/init); a second, raw disk is /dev/sdb.
#  1. The guest finds the controller (its instance GUID from src/worker/vm.h, a primary and one sub-channel with
#     2 VPs), both disks and their sizes, mounts / read-write from /dev/sda, writes a file there, writes a pattern
#     over /dev/sdb, syncs and powers off (exit 0). Host-side, after e2fsck replayed the journal of a copy of the
#     image, debugfs reads the same bytes back; the raw image holds the pattern and nothing else.
#     The pattern: with an openhv-init that has the `fill` verb (fill:DEV:SEED:BYTES, a 32-bit LCG, see fill_host
#     below) the whole disk, block by block; without it the `write` verb's up to 512 bytes at offset 0.
#  2. The guest writes a second file and syncs; when it prints the marker after the sync, the test kills openhv
#     with SIGKILL. Nothing the guest saw acknowledged is lost: the file is there host-side, and the first one too.
. "$(dirname "$0")/lib.sh"
e2e_require_kvm
for t in mke2fs e2fsck debugfs python3 strings cmp; do
	command -v "$t" >/dev/null || { e2e_log "FAIL: $t is missing (e2fsprogs, binutils, python3)"; exit 1; }
done
e2e_images lean

TIMEOUT=${OPENHV_E2E_TIMEOUT:-1200}
D=$E2E_DIR/storvsp
ROOT=$D/root.ext4
DATA=$D/data.img
ROOT_MIB=32
DATA_BYTES=$((4 << 20))
rm -rf "$D"
mkdir -p "$D/stage/sbin" "$D/stage/dev" "$D/stage/proc" "$D/stage/sys" "$D/stage/tmp" "$D/stage/mnt" \
	"$D/stage/etc"
cp "$E2E_INIT" "$D/stage/sbin/init"
echo "OpenHV e2e root filesystem" >"$D/stage/etc/openhv-disk"
mke2fs -q -t ext4 -L e2e-root -F -d "$D/stage" "$ROOT" "${ROOT_MIB}M" || { e2e_log "FAIL: mke2fs"; exit 1; }
truncate -s "$DATA_BYTES" "$DATA"

# The controller's instance GUID is fixed in src/worker/vm.h.
INST=$(sed -n 's/^#define VM_SCSI_INSTANCE_STR *"\([0-9a-f-]*\)".*/\1/p' "$E2E_SRC/src/worker/vm.h")
[ -n "$INST" ] || { e2e_log "FAIL: no VM_SCSI_INSTANCE_STR in src/worker/vm.h"; exit 1; }
SCSI_CLASS=ba6163d9-04a1-4d29-b605-72e2ffb1dc7f
VMB=/sys/bus/vmbus/devices

# Does this openhv-init have the fill verb? Its "unknown command" message lists the verbs it knows.
verbs=$(strings -a "$E2E_INIT" | grep -o 'verbs: [a-z_ ]*' | head -n1)
FILL=0
case " ${verbs#verbs: } " in *" fill "*) FILL=1 ;; esac

# fill_host SEED BYTES: what `fill:DEV:SEED:BYTES` writes: byte i is bits 16..23 of x(i+1), where x(0) = SEED and
# x(k+1) = x(k) * 1103515245 + 12345 mod 2^32.
fill_host() {
	python3 - "$1" "$2" <<'PY'
import sys
x, n = int(sys.argv[1]) & 0xffffffff, int(sys.argv[2])
out = bytearray(n)
for i in range(n):
    x = (x * 1103515245 + 12345) & 0xffffffff
    out[i] = (x >> 16) & 0xff
sys.stdout.buffer.write(out)
PY
}

# check_file IMAGE PATH WANT: after e2fsck replayed the journal of a copy of IMAGE, debugfs reads PATH as WANT.
check_file() {
	local img=$1 path=$2 want=$3 copy=$D/check.ext4 rc got
	cp --sparse=always "$img" "$copy"
	e2fsck -fy "$copy" >"$D/e2fsck.log" 2>&1
	rc=$?
	if [ $rc -le 1 ]; then
		e2e_log "ok   e2fsck of the root filesystem: status $rc"
	else
		e2e_log "FAIL e2fsck of the root filesystem: status $rc"
		sed 's/^/    /' "$D/e2fsck.log" | tail -n 20
		e2e_fails=$((e2e_fails + 1))
	fi
	got=$(debugfs -R "cat $path" "$copy" 2>/dev/null)
	if [ "$got" = "$want" ]; then
		e2e_log "ok   host reads $path back: $got"
	else
		e2e_log "FAIL host reads $path as '${got:0:80}', want '$want'"
		e2e_fails=$((e2e_fails + 1))
	fi
	rm -f "$copy"
}

# ---- boot 1: write, sync, power off ----------------------------------------------------------------------------
payload=e2e-storvsp-$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
SEED=$(od -An -tu4 -N4 /dev/urandom | tr -d ' \n')
if [ $FILL = 1 ]; then
	data_cmd="fill:/dev/sdb:$SEED:$DATA_BYTES"
	e2e_log "openhv-init has the fill verb: the whole of /dev/sdb gets a pattern (seed $SEED)"
else
	pattern=$(python3 -c 'import hashlib, sys
print("".join(hashlib.sha256((sys.argv[1] + str(i)).encode()).hexdigest() for i in range(8)))' "$payload")
	data_cmd="write:/dev/sdb:$pattern"
	e2e_log "openhv-init has no fill verb (${verbs:-no verb list found}): ${#pattern} pattern bytes at the start of /dev/sdb"
fi
run="cat:/proc/mounts;ls:$VMB;cat:$VMB/$INST/class_id;ls:$VMB/$INST/channels;readlink:$VMB/$INST/driver"
run+=";cat:/sys/block/sda/size;cat:/sys/block/sdb/size;cat:/sys/block/sda/queue/max_hw_sectors_kb"
run+=";write:/e2e-file.txt:$payload;$data_cmd;sync;cat:/e2e-file.txt;echo:e2e-storvsp-done"
CMDLINE="console=ttyS0 panic=-1 root=/dev/sda rootfstype=ext4 rootwait rw"

e2e_boot lean-storvsp -- --kernel "$LEAN_VMLINUX" --cpus 2 --memory 256M --timeout "$TIMEOUT" \
	--disk "$ROOT" --disk "$DATA" --cmdline "$CMDLINE openhv.run=$run openhv.poweroff=1"

e2e_expect "kernel started" 'Linux version 6\.1\.'
e2e_expect "hv_vmbus connected" 'Vmbus version:[0-9]+\.[0-9]+'
e2e_expect "storvsc registered the controller" 'scsi host[0-9]+: storvsc_host_t'
e2e_expect "LUN 0 is sda" 'sd [0-9]+:0:0:0: \[sda\] Attached SCSI disk'
e2e_expect "LUN 1 is sdb" 'sd [0-9]+:0:0:1: \[sdb\] Attached SCSI disk'
e2e_expect "sda's size" "\[sda\] $((ROOT_MIB * 2048)) 512-byte logical blocks"
e2e_expect "sdb's size" "\[sdb\] $((DATA_BYTES / 512)) 512-byte logical blocks"
e2e_expect "write cache on (flushes reach the host)" '\[sda\] Write cache: enabled'
e2e_expect "root mounted from sda" 'VFS: Mounted root \(ext4 filesystem\)'
e2e_expect "read-write" '^openhv-init: cat /proc/mounts: /dev/root / ext4 rw'
e2e_expect "init reached" 'OPENHV: init reached'
e2e_expect "the controller on the bus" "^openhv-init: ls $VMB: $INST"
e2e_expect "its class" "^openhv-init: cat $VMB/$INST/class_id: \{$SCSI_CLASS\}"
e2e_expect "bound to hv_storvsc" "^openhv-init: readlink $VMB/$INST/driver: .*/hv_storvsc"$'\r?$'
chan=$(grep -c "^openhv-init: ls $VMB/$INST/channels: [0-9]" "$E2E_LOG")
if [ "$chan" = 2 ]; then
	e2e_log "ok   two channels: the primary and one sub-channel (2 VPs)"
else
	e2e_log "FAIL $chan channels listed for the controller, want 2 (a primary and one sub-channel)"
	e2e_fails=$((e2e_fails + 1))
fi
e2e_expect "the file written" "^openhv-init: write /e2e-file.txt: ${#payload} bytes"
if [ $FILL = 1 ]; then
	e2e_expect "the data disk filled" "^openhv-init: fill /dev/sdb: $DATA_BYTES bytes"
else
	e2e_expect "the data disk written" "^openhv-init: write /dev/sdb: ${#pattern} bytes"
fi
e2e_expect "synced" '^openhv-init: sync: ok'
e2e_expect "and read back in the guest" "^openhv-init: cat /e2e-file.txt: $payload"
e2e_expect "clean power-off" 'reboot: Power down'
e2e_expect_not "no I/O errors" 'I/O error|critical medium error|EXT4-fs error|sd .*: \[sd[ab]\] .*(Sense Key|FAILED Result)'
e2e_expect_not "no panic" 'Kernel panic|Attempted to kill init|VFS: Unable to mount root'
e2e_expect_host "the worker opened both disks" 'disk 1: .*data\.img'
e2e_expect_host "and served requests" 'scsi: [1-9][0-9]* requests'
e2e_expect_status 0

check_file "$ROOT" /e2e-file.txt "$payload"
if [ $FILL = 1 ]; then
	fill_host "$SEED" "$DATA_BYTES" >"$D/want.img"
	if bad=$(cmp "$D/want.img" "$DATA" 2>&1); then
		e2e_log "ok   every block of the data disk holds the guest's pattern ($DATA_BYTES bytes)"
	else
		e2e_log "FAIL the data disk differs from the guest's pattern: $bad"
		e2e_fails=$((e2e_fails + 1))
	fi
	rm -f "$D/want.img"
else
	if cmp -n "${#pattern}" <(printf %s "$pattern") "$DATA" >/dev/null 2>&1; then
		e2e_log "ok   the data disk starts with the guest's ${#pattern} bytes"
	else
		e2e_log "FAIL the data disk does not start with the guest's pattern: $(head -c 64 "$DATA" | od -An -c | head -n 2)"
		e2e_fails=$((e2e_fails + 1))
	fi
	if cmp -i "${#pattern}:0" -n $((DATA_BYTES - ${#pattern})) "$DATA" /dev/zero >/dev/null 2>&1; then
		e2e_log "ok   and the rest of it is untouched (zeroes)"
	else
		e2e_log "FAIL the data disk changed after the pattern"
		e2e_fails=$((e2e_fails + 1))
	fi
fi

# ---- boot 2: SIGKILL right after the guest's sync returned ----------------------------------------------------------
payload2=e2e-storvsp-kill-$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
run2="write:/e2e-kill.txt:$payload2;sync;echo:e2e-synced;sleep:3600"
e2e_boot_bg lean-storvsp-kill -- --kernel "$LEAN_VMLINUX" --cpus 2 --memory 256M --timeout "$TIMEOUT" \
	--disk "$ROOT" --disk "$DATA,ro" --cmdline "$CMDLINE openhv.run=$run2"
if e2e_wait_line '^openhv-init: echo: e2e-synced' "$TIMEOUT"; then
	kill -KILL "$E2E_PID"
	e2e_wait_bg
	if [ "$E2E_STATUS" = 137 ]; then
		e2e_log "ok   openhv killed with SIGKILL after the guest's sync"
	else
		e2e_log "FAIL openhv ended with status $E2E_STATUS, not by the SIGKILL"
		e2e_fails=$((e2e_fails + 1))
	fi
else
	e2e_signal_bg KILL 10
fi
e2e_expect "the second file written" "^openhv-init: write /e2e-kill.txt: ${#payload2} bytes"
e2e_expect "synced" '^openhv-init: sync: ok'
e2e_expect_not "no I/O errors" 'I/O error|EXT4-fs error'
check_file "$ROOT" /e2e-kill.txt "$payload2"
check_file "$ROOT" /e2e-file.txt "$payload"
e2e_finish

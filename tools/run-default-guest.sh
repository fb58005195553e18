#!/usr/bin/env bash
# Boot the default guest: the stock Debian 12 kernel (linux-image-amd64, unmodified) with its root filesystem on the
# synthetic SCSI disk (root=/dev/sda), console on this terminal.
#  - The initramfs (uncompressed) only loads modules: openhv-init as /init loads hv_vmbus, hv_utils, hv_storvsc,
#    sd_mod and ext4 (with their dependencies), then switches to the ext4 root on /dev/sda (root=, rootfstype=,
#    rootwait, rw on the command line) and runs its /sbin/init, openhv-init again (see docs/guest-init.md).
#  - The root disk is a writable copy of tools/guest-images.sh's `disk` image (64 MiB ext4: busybox userland, the
#    modules, openhv-init as /sbin/init), kept in the cache as default-root.ext4: what the guest writes stays
#    there from one run to the next, until the image is rebuilt (new kernel or init). Delete it to start afresh.
# Usage: tools/run-default-guest.sh OPENHV_BINARY [extra openhv run options, e.g. --disk another.img]
# Environment: OPENHV_CPUS (default 2), OPENHV_MEMORY (default 256M), OPENHV_CMDLINE_EXTRA,
#   OPENHV_ROOT_DISK (use this image as /dev/sda instead of the cached copy),
#   OPENHV_PREPARE_ONLY=1 (build everything, print KERNEL=, INITRD=, ROOT=, DISK_IMAGE= (the pristine image ROOT
#   is a copy of), VERSION=, CMDLINE= lines and stop before booting: tests/e2e/test_default_guest_plan_stock.sh
#   rehearses the boot from them).
set -euo pipefail
openhv=${1:?usage: run-default-guest.sh OPENHV [options]}
shift
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$(dirname "$openhv")" && pwd)
init=$build/guest/openhv-init
[ -x "$init" ] || { echo "run-default-guest: $init is missing (make build)" >&2; exit 1; }
modules=hv_vmbus,hv_utils,hv_storvsc,sd_mod,ext4

eval "$("$here/guest-images.sh" stock)"
eval "$(OPENHV_INIT=$init "$here/guest-images.sh" disk)"
cache=$(dirname "$STOCK_VMLINUX")
initrd=$cache/default-initrd-$( { cat "$init" "$here/mkinitramfs.sh"; echo "$modules"; } | sha256sum | cut -c1-12).cpio
if [ ! -s "$initrd" ]; then
	"$here/mkinitramfs.sh" --out "$initrd.tmp" --init "$init" --kernel-root "$cache/root" \
		--modules "$modules" --strip-module-signatures >&2
	mv "$initrd.tmp" "$initrd"
fi

# The root disk: a copy of the cached image, made again when the image changed.
root=${OPENHV_ROOT_DISK:-}
if [ -z "$root" ]; then
	root=$(dirname "$DISK_IMAGE")/default-root.ext4
	if [ ! -s "$root" ] || [ "$(cat "$root.base" 2>/dev/null)" != "$DISK_IMAGE" ]; then
		cp --sparse=always "$DISK_IMAGE" "$root.tmp"
		mv "$root.tmp" "$root"
		printf '%s\n' "$DISK_IMAGE" >"$root.base"
	fi
fi

cmdline="console=ttyS0 panic=-1 root=/dev/sda rootfstype=ext4 rootwait rw openhv.modules=$modules ${OPENHV_CMDLINE_EXTRA:-}"
if [ "${OPENHV_PREPARE_ONLY:-0}" = 1 ]; then
	printf 'KERNEL=%s\nINITRD=%s\nROOT=%s\nDISK_IMAGE=%s\nVERSION=%s\nCMDLINE=%s\n' "$STOCK_VMLINUX" "$initrd" \
		"$root" "$DISK_IMAGE" "$STOCK_VERSION" "$cmdline"
	exit 0
fi
cat >&2 <<MSG
openhv: booting the stock Debian kernel $STOCK_VERSION ($(nproc) host cores, ${OPENHV_CPUS:-2} VPs), root on /dev/sda:
openhv:   $root
openhv: on a software KVM (these machines) /init comes after about 3 to 5 minutes; see README.md.
openhv: Ctrl-A x quits; 'poweroff' at the guest's prompt ends the VM.
MSG
exec "$openhv" run --kernel "$STOCK_VMLINUX" --initrd "$initrd" --cpus "${OPENHV_CPUS:-2}" \
	--memory "${OPENHV_MEMORY:-256M}" --disk "$root" \
	--cmdline "$cmdline" "$@"

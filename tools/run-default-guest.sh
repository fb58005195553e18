#!/usr/bin/env bash
# Boot the default guest: the stock Debian 12 kernel (linux-image-amd64, unmodified) with an uncompressed
# initramfs (openhv-init as /init, busybox, the Hyper-V modules), console on this terminal.
# Usage: tools/run-default-guest.sh OPENHV_BINARY [extra openhv run options]
# Environment: OPENHV_CPUS (default 2), OPENHV_MEMORY (default 256M), OPENHV_CMDLINE_EXTRA.
set -euo pipefail
openhv=${1:?usage: run-default-guest.sh OPENHV [options]}
shift
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$(dirname "$openhv")" && pwd)
init=$build/guest/openhv-init
[ -x "$init" ] || { echo "run-default-guest: $init is missing (make build)" >&2; exit 1; }

eval "$("$here/guest-images.sh" stock)"
cache=$(dirname "$STOCK_VMLINUX")
busybox=$(find "${OPENHV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openhv}/busybox" -path '*/bin/busybox' -type f | head -n 1)
initrd=$cache/default-initrd-$(cat "$init" "$here/mkinitramfs.sh" | sha256sum | cut -c1-12).cpio
if [ ! -s "$initrd" ]; then
	"$here/mkinitramfs.sh" --out "$initrd.tmp" --init "$init" --kernel-root "$cache/root" \
		--modules hv_vmbus,hv_utils,hv_storvsc,hv_netvsc --strip-module-signatures \
		${busybox:+--busybox "$busybox"} >&2
	mv "$initrd.tmp" "$initrd"
fi

cat >&2 <<MSG
openhv: booting the stock Debian kernel $STOCK_VERSION ($(nproc) host cores, ${OPENHV_CPUS:-2} VPs).
openhv: on a software KVM (these machines) /init comes after about 7 (1 VP) to 15 (2 VPs) minutes; see README.md.
openhv: Ctrl-A x quits; 'poweroff' at the guest's prompt ends the VM.
MSG
exec "$openhv" run --kernel "$STOCK_VMLINUX" --initrd "$initrd" --cpus "${OPENHV_CPUS:-2}" \
	--memory "${OPENHV_MEMORY:-256M}" \
	--cmdline "console=ttyS0 panic=-1 openhv.modules=hv_vmbus,hv_utils ${OPENHV_CMDLINE_EXTRA:-}" "$@"

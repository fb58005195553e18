#!/usr/bin/env bash
# Install the Debian packages OpenHV needs to build, test and benchmark. Idempotent and quick when done:
# it asks dpkg first and only runs apt-get for what is missing.
set -euo pipefail

pkgs=(
	build-essential cmake ninja-build pkg-config   # build
	clang libclang-rt-14-dev llvm                  # fuzzing (libFuzzer) and sanitizers
	libcmocka-dev                                  # unit tests
	acpica-tools                                   # iasl: tests disassemble our generated ACPI tables
	liblzma-dev liblz4-dev libzstd-dev zlib1g-dev  # host-side bzImage payload decompression
	liburing-dev                                   # disk backend (io_uring)
	linux-libc-dev                                 # <linux/kvm.h>
	e2fsprogs cpio kmod xz-utils lz4 zstd busybox-static python3 # guest images (guest-images.sh, mkinitramfs.sh)
	qemu-user                                      # qemu-i386 runs openhv-init's host checks where the kernel lacks IA32
)
[ "${OPENHV_SETUP_BENCH:-0}" = 1 ] && pkgs+=(qemu-system-x86 hyperfine fio)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

#!/usr/bin/env bash
# End-to-end (long target, `make test-stock`): the stock Debian 12 kernel (linux-image-amd64, unmodified) boots
# under `openhv run` with 2 VPs, runs openhv-init from an uncompressed initramfs, which loads the Hyper-V modules
# named on the command line, prints its marker and powers off through ACPI S5: exit status 0.
# On these machines (software KVM) this takes ~20 minutes: see README.md.
. "$(dirname "$0")/lib.sh"
e2e_require_kvm
e2e_images stock
e2e_initramfs "$E2E_DIR/stock-initrd.cpio" --kernel-root "$(dirname "$STOCK_VMLINUX")/root" \
	--modules hv_vmbus,hv_utils,hv_storvsc,hv_netvsc

e2e_boot stock-2vp -- --kernel "$STOCK_VMLINUX" --initrd "$E2E_DIR/stock-initrd.cpio" --cpus 2 --memory 256M \
	--timeout "${OPENHV_E2E_TIMEOUT:-3600}" \
	--cmdline "console=ttyS0 panic=-1 openhv.modules=hv_vmbus,hv_utils openhv.run=echo:e2e-stock openhv.poweroff=1"
e2e_expect "kernel started" 'Linux version 6\.1\.0-[0-9]+-amd64'
e2e_expect "COM1 probed as a 16550A" 'ttyS0 at I/O 0x3f8 .* is a 16550A'
e2e_expect "i8042 found through ACPI" 'i8042: PNP: PS/2 Controller \[PNP0303'
e2e_expect "RTC gave the host's date" "rtc_cmos .*: setting system clock to $(date -u +%Y-%m-)"
e2e_expect "both VPs up" 'smp: Brought up 1 node, 2 CPUs'
e2e_expect "init reached" 'OPENHV: init reached'
e2e_expect "hv_vmbus loaded" 'openhv-init: loaded hv_vmbus'
e2e_expect "init ran its commands" '^openhv-init: echo: e2e-stock'
e2e_expect "clean power-off" 'reboot: Power down'
e2e_expect_not "no panic" 'Kernel panic|Attempted to kill init'
e2e_expect_status 0
e2e_finish

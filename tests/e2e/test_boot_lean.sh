#!/usr/bin/env bash
# End-to-end (CI): a lean kernel built from Debian's linux-source-6.1 (tools/guest-images.sh lean: the same
# driver sources as the stock kernel, Hyper-V drivers built in) boots under `openhv run` with 2 VPs, brings both
# up, runs openhv-init from an uncompressed initramfs, which prints its marker and powers the VM off through
# ACPI S5: exit status 0. The kernel finds Microsoft Hyper-V and keeps time with its reference TSC page.
# The first run builds the kernel (~25 min on 2 cores); later runs use the cache.
. "$(dirname "$0")/lib.sh"
e2e_require_kvm
e2e_images lean
e2e_initramfs "$E2E_DIR/lean-initrd.cpio"

month0=$(date -u +%Y-%m-) # the RTC line's month: the host's when the boot started, or when it ended
e2e_boot lean-2vp -- --kernel "$LEAN_VMLINUX" --initrd "$E2E_DIR/lean-initrd.cpio" --cpus 2 --memory 256M \
	--timeout "${OPENHV_E2E_TIMEOUT:-1200}" \
	--cmdline "console=ttyS0 panic=-1 openhv.run=echo:e2e-lean;cat:/proc/cpuinfo;cat:/sys/devices/system/clocksource/clocksource0/current_clocksource openhv.poweroff=1"
e2e_expect "kernel started" 'Linux version 6\.1\.'
e2e_expect "Hyper-V detected" 'Hypervisor detected: Microsoft Hyper-V'
e2e_expect "Hyper-V features as the recommended profile offers" 'Hyper-V: privilege flags low 0xae7, high 0x30, hints 0x220, misc 0x500'
e2e_expect "clocksource is the Hyper-V TSC page" '^openhv-init: cat .*current_clocksource: hyperv_clocksource_tsc_page'
e2e_expect "ACPI tables found" 'ACPI: RSDP 0x00000000000E0000'
e2e_expect "COM1 probed as a 16550A" 'ttyS0 at I/O 0x3f8 .* is a 16550A'
e2e_expect "i8042 found through ACPI" 'i8042: PNP: PS/2 Controller \[PNP0303'
e2e_expect "RTC gave the host's date" "rtc_cmos .*: setting system clock to ($month0|$(date -u +%Y-%m-))"
e2e_expect "both VPs up" 'smp: Brought up 1 node, 2 CPUs'
e2e_expect "init reached" 'OPENHV: init reached'
e2e_expect "init ran its commands" '^openhv-init: echo: e2e-lean'
e2e_expect "clean power-off" 'reboot: Power down'
e2e_expect_not "no panic" 'Kernel panic|Attempted to kill init'
e2e_expect_status 0
e2e_finish

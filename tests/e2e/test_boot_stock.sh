#!/usr/bin/env bash
# End-to-end (long target, `make test-stock`): the stock Debian 12 kernel (linux-image-amd64, unmodified) boots
# under `openhv run` with 2 VPs and runs openhv-init from an uncompressed initramfs. Init loads a module with its
# dependencies (scsi_mod needs scsi_common) through finit_module, prints its marker and runs its commands. Init also
# loads hv_vmbus and hv_utils: hv_vmbus finds the bus through the ACPI
# device (\_SB.VMOD.VMBS) and connects, and the integration components (shutdown, time sync, heartbeat) appear
# under /sys/bus/vmbus/devices/<instance GUID> with their class GUIDs, bound to hv_utils; openhv counts heartbeats.
# The kernel must find Microsoft Hyper-V (not KVM) and keep time with the Hyper-V reference TSC page, without
# kvm-clock. The run ends with `echo c > /proc/sysrq-trigger`: the guest's panic goes out through the Hyper-V crash
# MSRs, openhv prints it and exits with status 4 (ACPI power-off is covered by the lean test).
# On these machines (software KVM) this takes 10-20 minutes: see README.md.
. "$(dirname "$0")/lib.sh"
e2e_require_kvm
e2e_images stock
# Signatures stripped: verifying them is interpreted guest work (60 s -> 18 s for scsi_mod); the kernel only taints.
e2e_initramfs "$E2E_DIR/stock-initrd.cpio" --kernel-root "$(dirname "$STOCK_VMLINUX")/root" \
	--modules scsi_mod,hv_vmbus,hv_utils,hv_storvsc,hv_netvsc --strip-module-signatures

e2e_ic_setup
run="echo:e2e-stock;cat:/sys/devices/system/clocksource/clocksource0/current_clocksource;sleep:1$E2E_IC_CMDS"
run+=";sleep:3;write:/proc/sysrq-trigger:c"

month0=$(date -u +%Y-%m-) # the RTC line's month: the host's when the boot started, or when it ended
e2e_boot stock-2vp -- --kernel "$STOCK_VMLINUX" --initrd "$E2E_DIR/stock-initrd.cpio" --cpus 2 --memory 256M \
	--timeout "${OPENHV_E2E_TIMEOUT:-3600}" \
	--cmdline "console=ttyS0 panic=-1 openhv.modules=scsi_mod,hv_vmbus,hv_utils openhv.run=$run"
e2e_expect "kernel started" 'Linux version 6\.1\.0-[0-9]+-amd64'
e2e_expect "Hyper-V detected" 'Hypervisor detected: Microsoft Hyper-V'
e2e_expect "clocksource is the Hyper-V TSC page" 'clocksource: Switched to clocksource hyperv_clocksource_tsc_page'
e2e_expect "init sees the TSC page clocksource" '^openhv-init: cat .*current_clocksource: hyperv_clocksource_tsc_page'
e2e_expect_not "no kvm-clock" 'kvm-clock'
e2e_expect "COM1 probed as a 16550A" 'ttyS0 at I/O 0x3f8 .* is a 16550A'
e2e_expect "i8042 found through ACPI" 'i8042: PNP: PS/2 Controller \[PNP0303'
e2e_expect "RTC gave the host's date" "rtc_cmos .*: setting system clock to ($month0|$(date -u +%Y-%m-))"
e2e_expect "both VPs up" 'smp: Brought up 1 node, 2 CPUs'
e2e_expect "init reached" 'OPENHV: init reached'
e2e_expect "a module and its dependency loaded" '^openhv-init: loaded scsi_mod'
e2e_expect "init ran its commands" '^openhv-init: echo: e2e-stock'
e2e_expect "hv_vmbus loaded" '^openhv-init: loaded hv_vmbus'
e2e_expect "hv_utils loaded" '^openhv-init: loaded hv_utils'
e2e_ic_expect
e2e_expect "the sysrq crash panicked the guest" 'Kernel panic - not syncing: sysrq triggered crash'
e2e_expect_not "init did not die" 'Attempted to kill init'
e2e_expect_host "openhv printed the crash MSRs" 'guest crash reported through the Hyper-V crash MSRs'
e2e_expect_host "openhv reported the guest crash" 'VM stopped: guest panic: guest crashed'
e2e_expect_host "heartbeat came alive" 'heartbeat: guest alive'
e2e_expect_host "heartbeat replies counted" 'heartbeat: [1-9][0-9]* replies from the guest'
e2e_expect_status 4
e2e_finish

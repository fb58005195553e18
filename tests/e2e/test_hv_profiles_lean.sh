#!/usr/bin/env bash
# End-to-end (CI): the lean kernel under the two non-default Hyper-V profiles (docs/hyperv-interface.md).
#  - full: the guest takes the synthetic timer in direct mode as its clockevent ("Hyper-V clockevent", vector
#    0xED counted as HVS in /proc/interrupts) instead of the LAPIC timer, and a 1 s sleep ends (the timer fires).
#  - minimal: no TSC page; the guest keeps the plain TSC, marked reliable through TSC_INVARIANT.
. "$(dirname "$0")/lib.sh"
e2e_require_kvm
e2e_images lean
e2e_initramfs "$E2E_DIR/lean-initrd.cpio"

e2e_boot lean-hv-full -- --hv full --kernel "$LEAN_VMLINUX" --initrd "$E2E_DIR/lean-initrd.cpio" --cpus 2 \
	--memory 256M --timeout "${OPENHV_E2E_TIMEOUT:-1200}" \
	--cmdline "console=ttyS0 panic=-1 openhv.run=cat:/sys/devices/system/clockevents/clockevent0/current_device;sleep:1;cat:/proc/interrupts openhv.poweroff=1"
e2e_expect "Hyper-V detected with synthetic timers offered" 'Hyper-V: privilege flags low 0xaef, high 0x30, hints 0x220, misc 0x80500'
e2e_expect "the stimer is the clockevent" '^openhv-init: cat .*current_device: Hyper-V clockevent'
e2e_expect "a sleep of 1 s ended" '^openhv-init: sleep 1: ok'
e2e_expect "stimer0 interrupts were taken" '^openhv-init: cat /proc/interrupts: +HVS: +[1-9][0-9]* '
e2e_expect "clean power-off" 'reboot: Power down'
e2e_expect_status 0

e2e_boot lean-hv-minimal -- --hv minimal --kernel "$LEAN_VMLINUX" --initrd "$E2E_DIR/lean-initrd.cpio" --cpus 1 \
	--memory 256M --timeout "${OPENHV_E2E_TIMEOUT:-1200}" \
	--cmdline "console=ttyS0 panic=-1 openhv.run=cat:/sys/devices/system/clocksource/clocksource0/current_clocksource openhv.poweroff=1"
e2e_expect "Hyper-V detected, minimal profile" 'Hyper-V: privilege flags low 0x8864, high 0x30, hints 0x220, misc 0x100'
e2e_expect "the plain TSC is the clocksource" '^openhv-init: cat .*current_clocksource: tsc'
e2e_expect_not "the TSC was not marked unstable" 'Marking TSC unstable'
e2e_expect "clean power-off" 'reboot: Power down'
e2e_expect_status 0
e2e_finish

#!/usr/bin/env bash
# End-to-end (CI): VMBus and the integration components on the lean kernel (hv_vmbus and hv_utils built in), 2 VPs,
# one boot that stays up (openhv.run ends with a long sleep, no openhv.poweroff):
#  - hv_vmbus finds the bus through the ACPI device (\_SB.VMOD.VMBS, boot/acpi.h) and connects ("Vmbus version");
#  - the shutdown, time sync and heartbeat channels appear as /sys/bus/vmbus/devices/<instance GUID> (the GUIDs of
#    src/vsp/ic/ic.h) with their class GUIDs, bound to hv_utils, which negotiates each IC;
#  - the guest's CLOCK_REALTIME (openhv-init's `date`, after the time sync IC's SYNC) matches the host's within 1 s,
#    although the CMOS clock the kernel read at boot was an hour behind (--rtc-offset -3600): only time sync can
#    have set it;
#  - then the test sends SIGTERM to `openhv run`: the Shutdown IC asks the guest to power off, hv_utils answers
#    S_OK and calls orderly_poweroff(true); this initramfs has no /sbin/poweroff for it to run, so the kernel forces
#    the issue itself (kernel/reboot.c: "Failed to start orderly shutdown: forcing the issue", then "Power down"),
#    the guest powers off through ACPI S5, and openhv exits 0 well within --shutdown-timeout;
#  - the KVP channel (no hv_kvp_daemon) stays unread without troubling openhv: no timeouts, no dropped answers;
#  - openhv's summary at exit counts heartbeat replies (> 0) and time sync answers.
. "$(dirname "$0")/lib.sh"
e2e_require_kvm
e2e_images lean
e2e_initramfs "$E2E_DIR/lean-initrd.cpio"

e2e_ic_setup
run="sleep:1;ls:/sys/bus/acpi/devices$E2E_IC_CMDS"
run+=";sleep:2;date;echo:e2e-vmbus-ready;sleep:3600"
SHUTDOWN_TIMEOUT=60

e2e_boot_bg lean-vmbus -- --kernel "$LEAN_VMLINUX" --initrd "$E2E_DIR/lean-initrd.cpio" --cpus 2 --memory 256M \
	--timeout "${OPENHV_E2E_TIMEOUT:-1200}" --shutdown-timeout $SHUTDOWN_TIMEOUT --rtc-offset -3600 \
	--cmdline "console=ttyS0 panic=-1 openhv.run=$run"
if e2e_wait_line '^openhv-init: echo: e2e-vmbus-ready' "${OPENHV_E2E_TIMEOUT:-1200}"; then
	sleep 2 # a few more heartbeats
	e2e_signal_bg TERM $((SHUTDOWN_TIMEOUT + 30))
else
	e2e_signal_bg KILL 10
fi

e2e_expect "kernel started" 'Linux version 6\.1\.'
e2e_expect "hv_vmbus connected" 'Vmbus version:[0-9]+\.[0-9]+'
e2e_expect "the ACPI module device" '^openhv-init: ls /sys/bus/acpi/devices: ACPI0004:00'
e2e_expect "the ACPI VMBus device" '^openhv-init: ls /sys/bus/acpi/devices: VMBus:00'
e2e_ic_expect
e2e_expect "init reached" 'OPENHV: init reached'
rtc=$(e2e_rtc_offset)
if [ -n "$rtc" ] && awk -v d="$rtc" 'BEGIN { exit !(d > -3900 && d < -3598) }'; then
	e2e_log "ok   the kernel read the CMOS clock an hour behind: $rtc s (console latency included)"
else
	e2e_log "FAIL CMOS clock read at boot - host clock = '${rtc:-no rtc_cmos line}' s, want about -3600"
	e2e_fails=$((e2e_fails + 1))
fi

offset=$(e2e_guest_clock_offset)
if [ -n "$offset" ] && awk -v d="$offset" 'BEGIN { exit !(d > -1 && d < 1) }'; then
	e2e_log "ok   guest clock - host clock = $offset s after time sync (console latency included)"
else
	e2e_log "FAIL guest clock - host clock = '${offset:-no date line}' s, want within 1 s"
	e2e_fails=$((e2e_fails + 1))
fi

e2e_expect "the guest took the shutdown request" 'hv_utils: Shutdown request received - graceful shutdown initiated'
e2e_expect "no /sbin/poweroff: the kernel powered off itself" \
	'reboot: Failed to start orderly shutdown: forcing the issue'
e2e_expect "and powered off" 'reboot: Power down'
req=$(grep -n -m1 'Shutdown request received' "$E2E_LOG" | cut -d: -f1)
off=$(grep -n -m1 'reboot: Power down' "$E2E_LOG" | cut -d: -f1)
if [ -n "$req" ] && [ -n "$off" ] && [ "$off" -gt "$req" ]; then
	e2e_log "ok   the power-off followed the request (console lines $req, $off)"
else
	e2e_log "FAIL the power-off did not follow the shutdown request (lines '${req}', '${off}')"
	e2e_fails=$((e2e_fails + 1))
fi
e2e_expect_not "no panic" 'Kernel panic|Attempted to kill init'
e2e_expect_host "openhv asked the guest" "shutdown: asking the guest to power off \(timeout $SHUTDOWN_TIMEOUT s"
e2e_expect_host "the guest accepted" 'shutdown: the guest answered 0x00000000 \(S_OK\)'
e2e_expect_host "heartbeat came alive" 'heartbeat: guest alive'
e2e_expect_host "heartbeat replies counted" 'heartbeat: [1-9][0-9]* replies from the guest'
e2e_expect_host "time sync answered" 'timesync: [1-9][0-9]* sync and [0-9]+ sample messages sent, [1-9][0-9]* answered'
e2e_expect_host_not "KVP waited quietly for a daemon" 'kvp: .*timed out'
e2e_expect_status 0
if [ "${E2E_STOP_SECONDS:-999}" -lt "$SHUTDOWN_TIMEOUT" ]; then
	e2e_log "ok   the guest powered off ${E2E_STOP_MS} ms after SIGTERM (bound ${SHUTDOWN_TIMEOUT} s)"
else
	e2e_log "FAIL SIGTERM to exit took ${E2E_STOP_SECONDS:-?} s (bound ${SHUTDOWN_TIMEOUT} s)"
	e2e_fails=$((e2e_fails + 1))
fi
e2e_finish

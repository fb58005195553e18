#!/usr/bin/env bash
# `openhv run` ends with the right exit status and a readable reason for each way a guest can stop, proven with
# micro-guests (guest/tests/g_board.c, g_triple_fault.c, g_basic.c). Needs /dev/kvm (exit 77 = skip without it).
set -uo pipefail
: "${OPENHV:?path of the openhv binary}" "${OPENHV_GUEST_DIR:?micro-guest directory}"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not accessible"; exit 77; }

fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME WANT_STATUS GREP_STDERR_OR_EMPTY GREP_CONSOLE_OR_EMPTY -- openhv args...
expect() {
	local name=$1 want=$2 err_pat=$3 con_pat=$4
	shift 5
	timeout 120 "$OPENHV" run --console "file:$tmp/$name.console" --timeout 60 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
	local got=$?
	local ok=1
	[ "$got" = "$want" ] || ok=0
	if [ -n "$err_pat" ] && ! grep -qE "$err_pat" "$tmp/$name.err"; then ok=0; fi
	if [ -n "$con_pat" ] && ! grep -qE "$con_pat" "$tmp/$name.console"; then ok=0; fi
	if [ $ok = 1 ]; then
		echo "ok   $name (status $got)"
	else
		echo "FAIL $name: status $got (want $want), stderr:"; sed 's/^/    /' "$tmp/$name.err"
		echo "    console:"; sed 's/^/    /' "$tmp/$name.console" 2>/dev/null
		fails=$((fails + 1))
	fi
}

G=$OPENHV_GUEST_DIR
expect pass          0 ''                          ''                     -- --kernel "$G/g_basic.elf" --testdev
expect fail          4 'micro-guest failed with code 0x7' '' -- --kernel "$G/g_basic.elf" --testdev --cmdline fail=7
expect triple_fault  3 'triple fault'              ''                     -- --kernel "$G/g_triple_fault.elf"
expect panic         4 'guest panicked'            ''                     -- --kernel "$G/g_board.elf" --cmdline panic
expect acpi_s5       0 ''                          ''                     -- --kernel "$G/g_board.elf" --cmdline s5
expect acpi_reset    0 'guest reset'               ''                     -- --kernel "$G/g_board.elf" --cmdline reset
expect i8042_reset   0 'guest reset'               ''                     -- --kernel "$G/g_board.elf" --cmdline kbdreset
expect uart_console  0 ''                          'g_board: hello on COM1' -- --kernel "$G/g_board.elf" --cmdline uart
expect timeout       5 'timeout'                   ''                     -- --kernel "$G/g_basic.elf" --testdev --cmdline hang --timeout 2
expect smp_4vps      0 ''                          ''                     -- --kernel "$G/g_smp.elf" --testdev --cpus 4
# The platform quirks are what make a software KVM usable: with them the emulator-rejected instructions work;
# with --no-quirks they stop the VM there (status 1, a readable reason), while hardware KVM runs them natively.
expect quirks_on     0 ''                          ''                     -- --kernel "$G/g_quirks.elf" --testdev
if [ -e /sys/module/kvm_pvm ]; then
	expect quirks_off 1 'instruction emulation failed' '' -- --kernel "$G/g_quirks.elf" --testdev --no-quirks
else
	expect quirks_off 0 ''                        ''                     -- --kernel "$G/g_quirks.elf" --testdev --no-quirks
fi
# A hostile guest poking ports, MMIO and MSRs at random under the whole board: no crash, hang or internal error.
expect hostile       0 ''                          ''                     -- --kernel "$G/g_hostile.elf" --testdev --cpus 2
expect hv_crash      4 'guest crashed: Kernel panic' ''                   -- --kernel "$G/g_hv_crash.elf" --testdev --cmdline crash
expect hv_reset      0 'HV_X64_MSR_RESET'          ''                     -- --kernel "$G/g_hv_crash.elf" --testdev --cmdline reset
expect bad_hv        2 'hv: expected'              ''                     -- --kernel "$G/g_basic.elf" --hv bogus
expect no_kernel     1 'cannot load kernel'        ''                     -- --kernel "$tmp/missing"
expect usage         2 'needs --kernel'            ''                     --
expect bad_memory    2 'memory'                    ''                     -- --kernel "$G/g_basic.elf" --memory 12Q
expect bad_shutdown_timeout 2 'shutdown-timeout'   ''                     -- --kernel "$G/g_basic.elf" --shutdown-timeout x
# --hv off: no Hyper-V interface, so no VMBus server, no ICs and no VMBus device in the DSDT; the board still runs.
expect hv_off        0 ''                          ''                     -- --kernel "$G/g_basic.elf" --testdev --hv off
# Disks on the synthetic SCSI controller (--disk): the worker opens them, offers the controller (a micro-guest never
# connects to VMBus) and closes them at the end, with a summary line; the usage errors are in test_run_disk_usage.sh.
truncate -s 4M "$tmp/disk0.img"
truncate -s 1M "$tmp/disk1.img"
expect disk_two      0 'disk 1: .*disk1\.img, read-only' '' -- --kernel "$G/g_basic.elf" --testdev --cpus 2 \
	--disk "$tmp/disk0.img" --disk "$tmp/disk1.img,ro"
expect disk_summary  0 'scsi: 0 requests'          ''                     -- --kernel "$G/g_basic.elf" --testdev \
	--disk "$tmp/disk0.img,sector=4096"
expect disk_hv_off   2 'needs the Hyper-V interface' ''                   -- --kernel "$G/g_basic.elf" --testdev \
	--disk "$tmp/disk0.img" --hv off
# A disk another VM has open is refused (the backend locks image files): status 1, the path named.
"$OPENHV" run --console none --kernel "$G/g_basic.elf" --testdev --cmdline hang --disk "$tmp/disk0.img" \
	>/dev/null 2>"$tmp/holder.err" </dev/null &
holder=$!
sleep 1
expect disk_in_use   1 'disk0\.img'                 ''                     -- --kernel "$G/g_basic.elf" --testdev \
	--disk "$tmp/disk0.img"
kill -TERM $holder 2>/dev/null
wait $holder 2>/dev/null
if "$OPENHV" run --help | grep -q -- '--shutdown-timeout SEC'; then echo "ok   help lists --shutdown-timeout"; else
	echo "FAIL help does not list --shutdown-timeout"; fails=$((fails + 1)); fi

# A stop signal to a running VM whose guest has no Shutdown IC (a micro-guest never connects to VMBus): the VM stops
# at once with status 5 and a reason, with or without the Hyper-V interface (the guest-side shutdown, exit 0, is
# tested end to end in tests/e2e/test_vmbus_lean.sh).
# signal_stop NAME SIGNAL STDERR_PATTERN -- openhv args...
signal_stop() {
	local name=$1 sig=$2 pat=$3
	shift 4
	"$OPENHV" run --console none --kernel "$G/g_basic.elf" --testdev --cmdline hang "$@" >"$tmp/$name.out" \
		2>"$tmp/$name.err" </dev/null &
	local pid=$! t0 got
	sleep 1
	t0=$SECONDS
	kill -"$sig" $pid
	wait $pid
	got=$?
	if [ $got = 5 ] && grep -qE "$pat" "$tmp/$name.err" && [ $((SECONDS - t0)) -le 5 ]; then
		echo "ok   $name (status 5)"
	else
		echo "FAIL $name: status $got after $((SECONDS - t0)) s"; cat "$tmp/$name.err"; fails=$((fails + 1))
	fi
}
signal_stop sigterm        TERM 'Shutdown IC is not available.*|stopped by signal' --
signal_stop sigterm_no_ic  TERM 'stopped by signal'   -- --shutdown-timeout 600
signal_stop sigint_hv_off  INT  'stopped by signal'   -- --hv off
signal_stop sighup         HUP  'stopped by signal'   --
if grep -q 'Shutdown IC is not available' "$tmp/sigterm.err"; then echo "ok   sigterm said why it did not wait"; else
	echo "FAIL sigterm: no 'Shutdown IC is not available' line"; cat "$tmp/sigterm.err"; fails=$((fails + 1)); fi

echo "$fails failed"
[ $fails = 0 ]

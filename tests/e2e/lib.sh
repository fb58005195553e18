# tests/e2e/lib.sh - shared helpers for end-to-end tests that boot real kernels under `openhv run`.
# Sourced by tests/e2e/test_*.sh. The evidence is the guest's own console log (kernel messages and the lines
# guest/init prints), plus the exit status of `openhv run`.
#
# Environment (set by ctest; defaults work from a build tree):
#   OPENHV            the openhv binary            OPENHV_BUILD_DIR  the build tree (for guest/openhv-init)
#   OPENHV_SOURCE_DIR the source tree              OPENHV_E2E_DIR    where logs are kept (default: a temp dir)
set -uo pipefail

E2E_SRC=${OPENHV_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_BUILD=${OPENHV_BUILD_DIR:-$E2E_SRC/build}
OPENHV=${OPENHV:-$E2E_BUILD/openhv}
E2E_INIT=$E2E_BUILD/guest/openhv-init
E2E_DIR=${OPENHV_E2E_DIR:-$(mktemp -d /tmp/openhv-e2e.XXXXXX)}
mkdir -p "$E2E_DIR"
e2e_fails=0

e2e_log() { printf 'e2e: %s\n' "$*"; }

# Skip (exit 77) unless /dev/kvm can be used.
e2e_require_kvm() {
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		e2e_log "SKIP: /dev/kvm not accessible"
		exit 77
	fi
	[ -x "$OPENHV" ] || { e2e_log "FAIL: no openhv binary at $OPENHV"; exit 1; }
	[ -x "$E2E_INIT" ] || { e2e_log "FAIL: no guest init at $E2E_INIT"; exit 1; }
}

# Build or fetch the images (cached outside the tree): e2e_images stock|lean
e2e_images() {
	local out
	out=$("$E2E_SRC/tools/guest-images.sh" "$1") || { e2e_log "FAIL: guest-images.sh $1"; exit 1; }
	eval "$out"
}

# e2e_initramfs OUT [mkinitramfs args...]: an uncompressed initramfs with openhv-init as /init.
e2e_initramfs() {
	local out=$1
	shift
	"$E2E_SRC/tools/mkinitramfs.sh" --out "$out" --init "$E2E_INIT" "$@" >&2 ||
		{ e2e_log "FAIL: mkinitramfs"; exit 1; }
}

# e2e_boot NAME -- openhv-run-args...: boots with the console in $E2E_DIR/NAME.log; sets E2E_STATUS and
# E2E_SECONDS; the log path is E2E_LOG.
e2e_boot() {
	local name=$1
	shift 2
	E2E_LOG=$E2E_DIR/$name.log
	: >"$E2E_LOG"
	local t0=$SECONDS
	e2e_log "booting $name: openhv run $*"
	"$OPENHV" run --console "file:$E2E_LOG" "$@" </dev/null >"$E2E_DIR/$name.out" 2>"$E2E_DIR/$name.err"
	E2E_STATUS=$?
	E2E_SECONDS=$((SECONDS - t0))
	e2e_log "$name: exit status $E2E_STATUS after ${E2E_SECONDS}s (console log: $E2E_LOG)"
}

# e2e_boot_bg NAME -- openhv-run-args...: like e2e_boot, but returns at once with openhv running in the background
# (pid in E2E_PID). The console goes through a timestamper: $E2E_LOG gets the plain lines, $E2E_TLOG the same lines
# each prefixed with the host's CLOCK_REALTIME when the line was complete ("1765060000.123456 line"). End it with
# e2e_signal_bg or e2e_wait_bg.
e2e_boot_bg() {
	local name=$1
	shift 2
	E2E_LOG=$E2E_DIR/$name.log
	E2E_TLOG=$E2E_DIR/$name.tlog
	local fifo=$E2E_DIR/$name.fifo
	rm -f "$fifo"
	mkfifo "$fifo" || { e2e_log "FAIL: mkfifo $fifo"; exit 1; }
	: >"$E2E_LOG"
	: >"$E2E_TLOG"
	# bash's EPOCHREALTIME: microseconds; one printf per line to each file, so a reader sees whole lines
	(
		while IFS= read -r line || [ -n "$line" ]; do
			printf '%s\n' "$line" >&3
			printf '%s %s\n' "$EPOCHREALTIME" "$line" >&4
		done <"$fifo"
	) 3>>"$E2E_LOG" 4>>"$E2E_TLOG" &
	E2E_STAMP_PID=$!
	E2E_T0=$SECONDS
	e2e_log "booting $name in the background: openhv run $*"
	"$OPENHV" run --console stdio "$@" </dev/null >"$fifo" 2>"$E2E_DIR/$name.err" &
	E2E_PID=$!
}

# e2e_wait_line EXTENDED-REGEX SECONDS: wait until the console log of the background VM has a matching line (0), or
# openhv exited or SECONDS passed (1, counted as a failure).
e2e_wait_line() {
	local deadline=$((SECONDS + $2))
	while ! grep -qE "$1" "$E2E_LOG"; do
		if ! kill -0 "$E2E_PID" 2>/dev/null; then
			e2e_log "FAIL openhv exited before a line matching /$1/"
			e2e_fails=$((e2e_fails + 1))
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			e2e_log "FAIL no line matching /$1/ within $2 s"
			e2e_fails=$((e2e_fails + 1))
			return 1
		fi
		sleep 1
	done
	e2e_log "ok   after $((SECONDS - E2E_T0)) s: $(grep -m1 -E "$1" "$E2E_LOG" | tr -d '\r' | cut -c1-150)"
}

# e2e_wait_bg: wait for the background openhv and its timestamper; sets E2E_STATUS and E2E_SECONDS (since boot).
e2e_wait_bg() {
	wait "$E2E_PID"
	E2E_STATUS=$?
	wait "$E2E_STAMP_PID" 2>/dev/null
	E2E_SECONDS=$((SECONDS - E2E_T0))
	e2e_log "exit status $E2E_STATUS after ${E2E_SECONDS}s (console log: $E2E_LOG)"
}

# e2e_signal_bg SIGNAL LIMIT: send SIGNAL to the background openhv and wait for it, at most LIMIT seconds (then
# SIGKILL, counted as a failure). Sets E2E_STATUS, E2E_SECONDS and E2E_STOP_SECONDS (signal to exit, whole seconds;
# E2E_STOP_MS in milliseconds).
e2e_signal_bg() {
	local t0 t1
	t0=$(date +%s%N)
	kill -"$1" "$E2E_PID" 2>/dev/null
	local deadline=$((SECONDS + $2))
	while kill -0 "$E2E_PID" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
		sleep 0.2
	done
	if kill -0 "$E2E_PID" 2>/dev/null; then
		e2e_log "FAIL openhv still running $2 s after SIG$1; killing it"
		e2e_fails=$((e2e_fails + 1))
		kill -KILL "$E2E_PID"
	fi
	t1=$(date +%s%N)
	e2e_wait_bg
	E2E_STOP_MS=$(((t1 - t0) / 1000000))
	E2E_STOP_SECONDS=$((E2E_STOP_MS / 1000))
	e2e_log "SIG$1 to exit: ${E2E_STOP_MS} ms"
}

# e2e_guest_clock_offset: the guest's CLOCK_REALTIME minus the host's, in seconds (3 decimals), from a background
# boot whose openhv.run had the `date` command: the guest's time is what openhv-init printed, the host's the time
# that line reached the console ($E2E_TLOG), so the figure includes the console's latency (guest behind by it).
# Prints nothing without a date line.
e2e_guest_clock_offset() {
	tr -d '\r' <"$E2E_TLOG" | awk '
		/openhv-init: date:? [0-9]+\.[0-9]+$/ && !done { printf "%.3f\n", $NF - $1; done = 1 }'
}

# e2e_rtc_offset: the CMOS time the kernel read at boot (rtc_hctosys: "rtc_cmos ...: setting system clock to ... UTC
# (SECONDS)") minus the host's CLOCK_REALTIME when that line reached the console ($E2E_TLOG), in seconds (3
# decimals), from a background boot; the console's latency makes it slightly more negative. Prints nothing without
# the line. Unlike a date computed when the test checks, it does not depend on how long the boot took.
e2e_rtc_offset() {
	tr -d '\r' <"$E2E_TLOG" | awk '
		/rtc_cmos .*: setting system clock to .* UTC \([0-9]+\)$/ && !done {
			s = $NF; gsub(/[()]/, "", s); printf "%.3f\n", s - $1; done = 1 }'
}

# e2e_expect DESCRIPTION EXTENDED-REGEX: the console log has a matching line.
e2e_expect() {
	if grep -qE "$2" "$E2E_LOG"; then
		e2e_log "ok   $1: $(grep -m1 -E "$2" "$E2E_LOG" | tr -d '\r' | cut -c1-150)"
	else
		e2e_log "FAIL $1: no line matching /$2/"
		e2e_fails=$((e2e_fails + 1))
	fi
}

e2e_expect_not() {
	if grep -qE "$2" "$E2E_LOG"; then
		e2e_log "FAIL $1: $(grep -m1 -E "$2" "$E2E_LOG" | tr -d '\r' | cut -c1-150)"
		e2e_fails=$((e2e_fails + 1))
	else
		e2e_log "ok   $1"
	fi
}

# e2e_expect_host DESCRIPTION EXTENDED-REGEX: openhv's own stderr (not the guest console) has a matching line.
e2e_expect_host() {
	local err=${E2E_LOG%.log}.err
	if grep -qE "$2" "$err"; then
		e2e_log "ok   $1: $(grep -m1 -E "$2" "$err" | cut -c1-150)"
	else
		e2e_log "FAIL $1: openhv printed no line matching /$2/"
		e2e_fails=$((e2e_fails + 1))
	fi
}

# e2e_expect_host_not DESCRIPTION EXTENDED-REGEX: openhv's own stderr has no matching line.
e2e_expect_host_not() {
	local err=${E2E_LOG%.log}.err
	if grep -qE "$2" "$err"; then
		e2e_log "FAIL $1: $(grep -m1 -E "$2" "$err" | cut -c1-150)"
		e2e_fails=$((e2e_fails + 1))
	else
		e2e_log "ok   $1"
	fi
}

e2e_expect_status() {
	if [ "$E2E_STATUS" = "$1" ]; then
		e2e_log "ok   exit status $1"
	else
		e2e_log "FAIL exit status $E2E_STATUS, want $1; openhv said:"
		tail -n 20 "${E2E_LOG%.log}.err" | sed "s/^/    /"
		e2e_fails=$((e2e_fails + 1))
	fi
}

# End: print the tail of the log on failure and exit accordingly.
e2e_finish() {
	if [ "$e2e_fails" -gt 0 ]; then
		e2e_log "$e2e_fails check(s) failed; last console lines:"
		tail -n 40 "$E2E_LOG" | sed 's/^/    /'
		exit 1
	fi
	e2e_log "all checks passed"
	exit 0
}

# ---- VMBus integration components ------------------------------------------------------------------------------
# The IC instance GUIDs are fixed in src/vsp/ic/ic.h; the class GUIDs are Hyper-V's (Linux drivers/hv/hv_util.c).
E2E_ICS="SHUTDOWN TIMESYNC HEARTBEAT KVP"
E2E_VMBUS_DEVICES=/sys/bus/vmbus/devices
declare -A E2E_IC_CLASS=([SHUTDOWN]=0e0b6031-5213-4934-818b-38d90ced39db [TIMESYNC]=9527e630-d0ae-497b-adce-e80ab0175caf
	[HEARTBEAT]=57164f39-9115-4e78-ab55-382f3bd5422d [KVP]=a9a0f4e7-5a45-4d96-b827-8a841e8c03e6)
declare -A E2E_IC_INST

# e2e_ic_setup: fill E2E_IC_INST from ic.h (exits with a failure if a GUID is missing there) and E2E_IC_CMDS with the
# openhv-init commands (";ls:...;cat:...;readlink:...") that list the VMBus devices and show each IC's class and
# driver. Call it in the test's own shell (not in $(...)).
e2e_ic_setup() {
	local ic
	E2E_IC_CMDS=";ls:$E2E_VMBUS_DEVICES"
	for ic in $E2E_ICS; do
		E2E_IC_INST[$ic]=$(sed -n "s/^#define VSP_IC_${ic}_INSTANCE_STR *\"\([0-9a-f-]*\)\".*/\1/p" \
			"$E2E_SRC/src/vsp/ic/ic.h")
		[ -n "${E2E_IC_INST[$ic]}" ] || { e2e_log "FAIL: no VSP_IC_${ic}_INSTANCE_STR in src/vsp/ic/ic.h"; exit 1; }
		E2E_IC_CMDS+=";cat:$E2E_VMBUS_DEVICES/${E2E_IC_INST[$ic]}/class_id"
		E2E_IC_CMDS+=";readlink:$E2E_VMBUS_DEVICES/${E2E_IC_INST[$ic]}/driver"
	done
}

# e2e_ic_expect: after a boot whose openhv.run had E2E_IC_CMDS: every IC device is listed, has its class (sysfs
# class_id is "{guid}\n", vmbus_drv.c class_id_show) and is bound to hv_utils; hv_utils negotiated the best shutdown,
# time sync and heartbeat versions (Linux 6.1 takes the first of its own lists that the host offers, and OpenHV
# offers them all: 3.2, 4.0, 3.0) and rejected none of OpenHV's messages (the pr_err_ratelimited size and type
# checks of hv_util.c; those of vmbus_prep_negotiate_resp print as hv_vmbus); with no hv_kvp_daemon in the guest,
# the KVP channel stays unread (hv_kvp.c reads nothing until the daemon registers: no "KVP IC version"); and openhv
# dropped none of the guest's answers.
e2e_ic_expect() {
	local ic g D=$E2E_VMBUS_DEVICES
	e2e_expect "hv_vmbus connected" 'Vmbus version:[0-9]+\.[0-9]+'
	for ic in $E2E_ICS; do
		g=${E2E_IC_INST[$ic]}
		e2e_expect "${ic,,} IC device" "^openhv-init: ls $D: $g"
		e2e_expect "${ic,,} IC class" "^openhv-init: cat $D/$g/class_id: \{${E2E_IC_CLASS[$ic]}\}"
		e2e_expect "${ic,,} IC bound to hv_utils" "^openhv-init: readlink $D/$g/driver: .*/hv_utils"$'\r?$'
	done
	e2e_expect "shutdown IC negotiated" 'hv_utils: Shutdown IC version 3\.2'
	e2e_expect "time sync IC negotiated" 'hv_utils: TimeSync IC version 4\.0'
	e2e_expect "heartbeat IC negotiated" 'hv_utils: Heartbeat IC version 3\.0'
	e2e_expect_not "hv_utils took every IC message" \
		'hv_utils: .*(Invalid|too small|Could not read|recv failed)|hv_vmbus: Invalid icmsg negotiate'
	e2e_expect_not "KVP unread without hv_kvp_daemon" 'hv_utils: KVP IC version'
	e2e_expect_host_not "openhv took every IC answer" 'answer dropped'
}

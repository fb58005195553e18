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

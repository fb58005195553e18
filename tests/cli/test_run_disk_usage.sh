#!/usr/bin/env bash
# `openhv run --disk PATH[,OPTIONS]`, and the --kvp, --rtc-offset and --shutdown-timeout values: every mistake is a
# usage error (status 2) with a readable reason, found before a VM is built, so this runs without /dev/kvm. (A VM
# with disks is booted in tests/cli/test_run_exit_status.sh and the e2e tests.)
set -uo pipefail
: "${OPENHV:?path of the openhv binary}"

fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s 1M "$tmp/disk.img"
truncate -s 1M "$tmp/disk2.img"
truncate -s 100 "$tmp/tiny.img"
truncate -s 1M "$tmp/noread.img"
chmod 000 "$tmp/noread.img"
truncate -s 1M "$tmp/ro.img"
chmod 444 "$tmp/ro.img"
ln -s "$tmp/disk.img" "$tmp/link.img"
kernel=$tmp/kernel # never read: the disks are checked first
: >"$kernel"

# usage NAME STDERR_PATTERN -- openhv run args...
usage() {
	local name=$1 pat=$2
	shift 3
	"$OPENHV" run --kernel "$kernel" --console none "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
	local got=$?
	if [ "$got" = 2 ] && grep -qE -- "$pat" "$tmp/$name.err"; then
		echo "ok   $name (status 2: $(head -n1 "$tmp/$name.err"))"
	else
		echo "FAIL $name: status $got (want 2, stderr matching /$pat/):"
		sed 's/^/    /' "$tmp/$name.err"
		fails=$((fails + 1))
	fi
}

usage hv_off        'needs the Hyper-V interface'          -- --disk "$tmp/disk.img" --hv off
usage hv_off_before 'needs the Hyper-V interface'          -- --hv off --disk "$tmp/disk.img"
usage missing       "--disk $tmp/missing.img: No such file" -- --disk "$tmp/missing.img"
usage second_bad    "missing.img: No such file"            -- --disk "$tmp/disk.img" --disk "$tmp/missing.img,ro"
usage empty         "--disk '': expected PATH"             -- --disk ''
usage no_path       "--disk ',ro': expected PATH"          -- --disk ',ro'
usage bad_option    "unknown option"                       -- --disk "$tmp/disk.img,rx"
usage bad_sector    "sector= takes 512 or 4096"            -- --disk "$tmp/disk.img,sector=1000"
usage directory     'not a regular file or a block device' -- --disk "$tmp"
usage char_device   'not a regular file or a block device' -- --disk /dev/null
usage too_small     'smaller than one 512-byte sector'     -- --disk "$tmp/tiny.img"
usage too_small_4k  'smaller than one 4096-byte sector'    -- --disk "$tmp/tiny.img,sector=4096"
usage twice         'given twice \(LUN 0 and 1\)'          -- --disk "$tmp/disk.img" --disk "$tmp/disk.img,ro"
usage twice_link    'given twice \(LUN 1 and 2\)'          -- --disk "$tmp/disk2.img" --disk "$tmp/disk.img" --disk "$tmp/link.img"
usage missing_arg   'requires an argument'                 -- --disk
if [ "$(id -u)" != 0 ]; then
	# root reads and writes everything: these two only mean something for other users
	usage unreadable 'Permission denied'                   -- --disk "$tmp/noread.img,ro"
	usage read_only  'Permission denied \(add ,ro'         -- --disk "$tmp/ro.img"
fi
too_many=()
for i in $(seq 0 64); do
	truncate -s 4K "$tmp/m$i.img"
	too_many+=(--disk "$tmp/m$i.img")
done
usage too_many      'at most 64 disks'                     -- "${too_many[@]}"

# The other options of the worker's VMBus devices and clocks fail the same way, before a VM exists.
usage kvp_hv_off    '--kvp needs the Hyper-V interface'    -- --kvp Key=Value --hv off
usage kvp_no_equals '--kvp: expected KEY=VALUE'            -- --kvp Key
usage kvp_no_key    '--kvp: expected KEY=VALUE'            -- --kvp =Value
usage rtc_not_num   '--rtc-offset: expected seconds'       -- --rtc-offset 1h
usage rtc_empty     '--rtc-offset: expected seconds'       -- --rtc-offset ''
usage rtc_too_far   '--rtc-offset: expected seconds'       -- --rtc-offset 3153600001
usage sdt_negative  '--shutdown-timeout: expected seconds' -- --shutdown-timeout -1
usage sdt_too_long  '--shutdown-timeout: expected seconds' -- --shutdown-timeout 86401

# The help documents the option.
if "$OPENHV" run --help | grep -q -- '--disk PATH\[,ro\]'; then echo "ok   help lists --disk PATH[,ro]"; else
	echo "FAIL help does not list --disk PATH[,ro]"; fails=$((fails + 1)); fi
for opt in '--kvp KEY=VALUE' '--rtc-offset SEC' '--shutdown-timeout SEC'; do
	if "$OPENHV" run --help | grep -qF -- "$opt"; then echo "ok   help lists $opt"; else
		echo "FAIL help does not list $opt"; fails=$((fails + 1)); fi
done

echo "$fails failed"
[ $fails = 0 ]

#!/usr/bin/env bash
# run-i386.sh PROGRAM [ARGS...]: run the static i386 openhv-init on the build machine: natively where the kernel
# runs i386 programs, else under qemu-i386 (qemu-user). Exit 77 (skipped) when neither can; else PROGRAM's status.
prog=$1
shift
"$prog" "$@"
r=$?
[ "$r" != 126 ] && exit "$r"
for q in qemu-i386 qemu-i386-static; do
	if command -v "$q" >/dev/null 2>&1; then
		exec "$q" "$prog" "$@"
	fi
done
echo "run-i386: this kernel cannot run i386 programs and qemu-i386 is missing (tools/setup.sh installs qemu-user)" >&2
exit 77

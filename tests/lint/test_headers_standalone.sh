#!/usr/bin/env bash
# House style (ARCHITECTURE.md 4): every header compiles on its own, warnings as errors.
set -uo pipefail
src=${OPENHV_SOURCE_DIR:?}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in "$src"/src/*/*.h "$src"/src/*/*/*.h "$src"/include/openhv/*.h; do
	[ -e "$h" ] || continue
	rel=${h#"$src"/src/}
	rel=${rel#"$src"/include/}
	printf '#include "%s"\n' "$rel" >"$tmp/t.c"
	if ! ${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -I"$src/src" -I"$src/include" -c "$tmp/t.c" -o /dev/null \
		2>"$tmp/err"; then
		echo "FAIL $rel"; sed 's/^/    /' "$tmp/err" | head -5
		fails=$((fails + 1))
	fi
done
echo "$fails header(s) not standalone"
[ $fails = 0 ]

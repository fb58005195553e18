#!/usr/bin/env bash
# mkinitramfs.sh - build an uncompressed newc initramfs for OpenHV guests (no root, no fakeroot).
#
# Usage: tools/mkinitramfs.sh --out FILE --init PATH
#            [--kernel-root DIR [--kernel-version VER] --modules a,b,c [--strip-module-signatures]]
#            [--busybox PATH] [--extra SRC:DST ...]
#
#   --out FILE             the cpio archive to write (uncompressed: guest-side decompression is slow on a
#                          software KVM)
#   --init PATH            program or script installed as /init (e.g. build/guest/openhv-init)
#   --kernel-root DIR      an unpacked kernel package: DIR/lib/modules/VER/...
#   --kernel-version VER   default: the only folder in DIR/lib/modules
#   --modules a,b,c        modules to include with their dependency closure (names: '-' and '_' alike);
#                          compressed modules (.ko.xz/.zst/.gz) are stored decompressed; the archive gets
#                          lib/modules/VER/modules.dep (and the other depmod outputs) for the included modules
#   --strip-module-signatures  drop the appended PKCS#7 signatures (the guest kernel then skips hashing and
#                          verifying them; it taints itself instead unless module.sig_enforce is set)
#   --busybox PATH         a static busybox, installed as /bin/busybox with its applet links
#   --extra SRC:DST        copy a file (or a folder, recursively) to DST in the archive; repeatable
#
# The archive always has /dev/console (char 5,1), /dev/null (1,3) and empty /proc /sys /dev /tmp /mnt /run.
# Owner root, mtime SOURCE_DATE_EPOCH (default 0): the same inputs give the same bytes.
set -euo pipefail

die() { printf 'mkinitramfs: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d;s/^# \{0,1\}//' >&2; exit "${1:-2}"; }

out='' init='' kroot='' kver='' modules='' busybox='' strip_sig=0
extras=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=${2:?}; shift 2 ;;
        --init) init=${2:?}; shift 2 ;;
        --kernel-root) kroot=${2:?}; shift 2 ;;
        --kernel-version) kver=${2:?}; shift 2 ;;
        --modules) modules=${2:?}; shift 2 ;;
        --strip-module-signatures) strip_sig=1; shift ;;
        --busybox) busybox=${2:?}; shift 2 ;;
        --extra) extras+=("${2:?}"); shift 2 ;;
        -h|--help) usage 0 ;;
        *) usage ;;
    esac
done
if [ -z "$out" ] || [ -z "$init" ]; then usage; fi
[ -f "$init" ] || die "--init $init: no such file"
if [ -n "$modules" ] && [ -z "$kroot" ]; then die "--modules needs --kernel-root"; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkinitramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/root
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,run,root,etc}
chmod 1777 "$stage/tmp"
install -m 0755 "$init" "$stage/init"

# ---- modules and their dependency closure
if [ -n "$kroot" ]; then
    [ -d "$kroot/lib/modules" ] || die "--kernel-root $kroot has no lib/modules"
    if [ -z "$kver" ]; then
        kver=$(ls -1 "$kroot/lib/modules")
        [ "$(printf '%s\n' "$kver" | wc -l)" = 1 ] || die "several kernels in $kroot/lib/modules: pass --kernel-version"
    fi
    mdir=$kroot/lib/modules/$kver
    [ -d "$mdir" ] || die "no $mdir"
    dep_root=$kroot
    if [ ! -s "$mdir/modules.dep" ]; then
        # depmod into a temporary copy (hard links when possible) rather than the caller's tree
        mkdir -p "$tmp/dep/lib/modules"
        cp -al "$mdir" "$tmp/dep/lib/modules/" 2>/dev/null || cp -a "$mdir" "$tmp/dep/lib/modules/"
        depmod -b "$tmp/dep" "$kver" || die "depmod -b $tmp/dep $kver failed"
        dep_root=$tmp/dep
    fi
    smdir=$stage/lib/modules/$kver
    mkdir -p "$smdir"
    declare -A seen=()
    order=()
    for m in ${modules//,/ }; do
        lines=$(modprobe -C /dev/null -d "$dep_root" -S "$kver" --show-depends "$m" 2>&1) \
            || die "module $m: $lines"
        while read -r kind path _; do
            [ "$kind" = insmod ] || continue
            rel=${path#"$dep_root/lib/modules/$kver/"}
            [ -z "${seen[$rel]:-}" ] || continue
            seen[$rel]=1
            order+=("$rel")
        done <<<"$lines"
    done
    for rel in "${order[@]}"; do
        src=$dep_root/lib/modules/$kver/$rel
        dst=$smdir/${rel%.xz}; dst=${dst%.zst}; dst=${dst%.gz}
        mkdir -p "$(dirname "$dst")"
        case $rel in
            *.ko.xz)  xz -dc "$src" >"$dst" ;;
            *.ko.zst) zstd -dcq "$src" >"$dst" ;;
            *.ko.gz)  gzip -dc "$src" >"$dst" ;;
            *)        cp "$src" "$dst" ;;
        esac
        if [ "$strip_sig" = 1 ]; then
            # Linux scripts/sign-file layout: module | PKCS#7 | struct module_signature (12 bytes, sig_len
            # big-endian in the last 4) | "~Module signature appended~\n" (28 bytes)
            python3 - "$dst" <<'PY'
import struct, sys
p = sys.argv[1]
d = open(p, "rb").read()
magic = b"~Module signature appended~\n"
if d.endswith(magic) and len(d) >= len(magic) + 12:
    info = d[-len(magic) - 12:-len(magic)]
    siglen = struct.unpack(">I", info[8:12])[0]
    end = len(d) - len(magic) - 12 - siglen
    if end > 0:
        open(p, "wb").write(d[:end])
PY
        fi
    done
    # modules.order limited to what is included (depmod orders by it), then depmod's outputs for this tree
    if [ -f "$mdir/modules.order" ]; then
        for rel in "${order[@]}"; do
            r=${rel%.xz}; r=${r%.zst}; r=${r%.gz}
            grep -Fx -e "$r" -e "$rel" "$mdir/modules.order" | head -n1 | sed 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' || true
        done >"$smdir/modules.order"
    fi
    # modules.builtin lets modprobe accept built-in names; modules.builtin.modinfo (45 KB) only feeds depmod
    for f in modules.builtin modules.builtin.modinfo; do
        if [ -f "$mdir/$f" ]; then cp "$mdir/$f" "$smdir/"; fi
    done
    depmod -b "$stage" "$kver" || die "depmod -b $stage $kver failed"
    rm -f "$smdir/modules.builtin.modinfo"
    printf 'mkinitramfs: modules (%s): %s\n' "$kver" "${order[*]:-none}" >&2
fi

# ---- busybox
if [ -n "$busybox" ]; then
    [ -x "$busybox" ] || die "--busybox $busybox: not an executable"
    install -m 0755 "$busybox" "$stage/bin/busybox"
    while read -r p; do
        if [ -z "$p" ] || [ "$p" = bin/busybox ]; then continue; fi
        mkdir -p "$stage/$(dirname "$p")"
        [ -e "$stage/$p" ] || ln -s /bin/busybox "$stage/$p"
    done < <("$busybox" --list-full 2>/dev/null || true)
fi

# ---- extras
for e in "${extras[@]}"; do
    src=${e%%:*} dst=${e#*:}
    if [ "$src" = "$e" ] || [ -z "$dst" ]; then die "--extra $e: expected SRC:DST"; fi
    [ -e "$src" ] || die "--extra $src: no such file"
    dst=/${dst#/}
    mkdir -p "$stage$(dirname "$dst")"
    cp -a "$src" "$stage$dst"
done

# ---- newc writer (070701): root-owned, fixed mtime, device nodes written directly (no mknod)
python3 - "$stage" "$out" "${SOURCE_DATE_EPOCH:-0}" <<'PY'
import os, stat, sys
root, outp, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
ino = [0]
def entry(f, name, mode, data=b"", rdev=(0, 0), nlink=1):
    ino[0] += 1
    nb = name.encode() + b"\0"
    fields = (ino[0], mode, 0, 0, nlink, epoch, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0)
    f.write(b"070701" + "".join("%08X" % v for v in fields).encode() + nb)
    f.write(b"\0" * (-(110 + len(nb)) % 4))
    f.write(data)
    f.write(b"\0" * (-len(data) % 4))
paths = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        paths.append(os.path.relpath(os.path.join(d, n), root))
paths.sort()  # a folder sorts before what it holds
with open(outp + ".tmp", "wb") as f:
    for p in paths:
        full = os.path.join(root, p)
        st = os.lstat(full)
        m = st.st_mode
        if stat.S_ISLNK(m):
            entry(f, p, stat.S_IFLNK | 0o777, os.readlink(full).encode())
        elif stat.S_ISDIR(m):
            entry(f, p, m, nlink=2)
        elif stat.S_ISREG(m):
            with open(full, "rb") as g:
                entry(f, p, m, g.read())
    entry(f, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    entry(f, "dev/null", stat.S_IFCHR | 0o666, rdev=(1, 3))
    entry(f, "TRAILER!!!", 0)
    f.write(b"\0" * (-f.tell() % 512))
os.replace(outp + ".tmp", outp)
PY
printf 'mkinitramfs: wrote %s (%s bytes)\n' "$out" "$(stat -c %s "$out")" >&2

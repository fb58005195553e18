#!/usr/bin/env bash
# guest-images.sh - build and cache the guest images OpenHV boots in its tests.
#
# Usage: tools/guest-images.sh stock|disk|lean|all [--with-lean]
#
# Prints the resulting paths as KEY=PATH lines on stdout; everything else goes
# to stderr.  Idempotent: results are cached outside the work tree, keyed by
# Debian package versions (and hashes of what this script generates), so a
# second run only asks apt-cache for the current versions.
#
#   stock  STOCK_BZIMAGE, STOCK_VMLINUX, STOCK_VERSION, STOCK_INITRD
#          Debian's linux-image-amd64 kernel, its uncompressed ELF vmlinux
#          (for PVH entry) and an uncompressed newc initramfs with busybox,
#          the Hyper-V modules closure and an /init (see make_init below).
#   disk   DISK_IMAGE: a 64 MiB ext4 image, same userland + modules,
#          /sbin/init -> /init (with OPENHV_INIT: -> /sbin/openhv-init).
#   lean   LEAN_VMLINUX: a small kernel from Debian's linux-source-6.1 with the
#          Hyper-V drivers built in (tinyconfig + tools/kernel/lean.config).
#   all    stock + disk (+ lean with --with-lean).
#
# Environment:
#   OPENHV_CACHE          cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/openhv)
#   OPENHV_STOCK_META     kernel metapackage (default linux-image-amd64;
#                         linux-image-cloud-amd64 works too)
#   OPENHV_STOCK_MODULES  modules put into the initramfs (with dependencies)
#   OPENHV_INIT           disk: also install this openhv-init (build/guest/openhv-init)
#                         as /sbin/openhv-init and make it /sbin/init
#   OPENHV_LEAN_FRAGMENT  kconfig fragment (default tools/kernel/lean.config)
#   OPENHV_JOBS           make -j for the lean build (default nproc)
#   OPENHV_LEAN_CONFIG_ONLY=1  lean: stop after configuring, print LEAN_CONFIG
set -euo pipefail

# stdout carries only KEY=PATH lines: keep it on fd 3, send the rest to stderr.
exec 3>&1 1>&2

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${OPENHV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openhv}
STOCK_META=${OPENHV_STOCK_META:-linux-image-amd64}
STOCK_MODULES=${OPENHV_STOCK_MODULES:-hv_vmbus hv_storvsc hv_netvsc hv_utils hv_balloon hyperv_keyboard hid_hyperv hv_sock ext4}
LEAN_SRC_PKG=linux-source-6.1
LEAN_FRAGMENT=${OPENHV_LEAN_FRAGMENT:-$SCRIPT_DIR/kernel/lean.config}
JOBS=${OPENHV_JOBS:-$(nproc)}
# Bump when the generated initramfs/disk layout changes (part of the cache key).
GEN_FORMAT=1
# Fixed timestamp for generated archives (reproducible output).
EPOCH=${SOURCE_DATE_EPOCH:-0}

log() { printf '[guest-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
out() { printf '%s=%s\n' "$1" "$2" >&3; }
sha() { sha256sum | cut -c1-16; }

mkdir -p "$CACHE"

# Serialise concurrent runs per stage (several tests/helpers share the cache).
with_lock() { # NAME CMD...
    local name=$1; shift
    local fd
    exec {fd}>"$CACHE/.lock-$name"
    flock "$fd"
    "$@"
    flock -u "$fd"
    exec {fd}>&-
}

# ---------------------------------------------------------------- apt helpers
APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 1 ] && return 0
    log "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
}

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

need_pkgs() { # install Debian packages that are missing
    local p missing=()
    for p in "$@"; do installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages (install as root): ${missing[*]}"
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
        || die "apt-get install ${missing[*]} failed"
}

# apt-cache show of the candidate version, memoised on the state of the apt
# lists (each apt-cache call costs ~0.6 s here; a cached run must be fast).
apt_show() { # PKG
    local lk memo
    lk=$(stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* 2>/dev/null | sha)
    memo=$CACHE/.apt/$lk-$1
    if [ ! -s "$memo" ]; then
        mkdir -p "$CACHE/.apt"
        apt-cache show --no-all-versions "$1" >"$memo.tmp" 2>/dev/null && [ -s "$memo.tmp" ] \
            || { rm -f "$memo.tmp"; return 1; }
        mv "$memo.tmp" "$memo"
    fi
    cat "$memo"
}

# Candidate version of a package; runs apt-get update once if apt does not know it.
pkg_version() {
    local v
    v=$(apt_show "$1" | sed -n 's/^Version: //p' | head -n1)
    if [ -z "$v" ]; then
        apt_update_once
        v=$(apt_show "$1" | sed -n 's/^Version: //p' | head -n1)
    fi
    [ -n "$v" ] || return 1
    printf '%s\n' "$v"
}

# deb_fetch NAME VERSION -> path of the .deb in the cache (downloads once)
deb_fetch() {
    local name=$1 ver=$2 dir=$CACHE/debs f tmp
    mkdir -p "$dir"
    f=$(compgen -G "$dir/${name}_${ver//:/%3a}_*.deb" | head -n1 || true)
    if [ -z "$f" ]; then
        log "apt-get download $name=$ver"
        tmp=$(mktemp -d "$dir/.dl.XXXXXX")
        (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$name=$ver" >&2) \
            || { rm -rf "$tmp"; die "apt-get download $name=$ver failed"; }
        f=$(compgen -G "$tmp/${name}_*.deb" | head -n1) || die "no .deb for $name"
        mv "$f" "$dir/"
        rm -rf "$tmp"
        f=$dir/$(basename "$f")
    fi
    printf '%s\n' "$f"
}

# ------------------------------------------------------------ bzImage -> vmlinux
# Reads the x86 boot protocol header: setup_sects (0x1f1), payload_offset
# (0x248) and payload_length (0x24c), the payload being relative to the
# protected-mode code at (setup_sects+1)*512; decompresses it host-side.
u8()  { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n'; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' \n'; }

extract_vmlinux() { # BZIMAGE OUT
    local bz=$1 outf=$2 tmp setup pm off len start magic dec strip=4
    [ "$(dd if="$bz" bs=1 skip=$((0x202)) count=4 status=none)" = HdrS ] || die "$bz: no HdrS boot header"
    setup=$(u8 "$bz" $((0x1f1))); [ "$setup" = 0 ] && setup=4
    pm=$(( (setup + 1) * 512 ))
    off=$(u32 "$bz" $((0x248))); len=$(u32 "$bz" $((0x24c)))
    start=$((pm + off))
    tmp=$outf.payload
    dd if="$bz" of="$tmp" bs=64K iflag=skip_bytes,count_bytes skip="$start" count="$len" status=none
    magic=$(od -An -tx1 -N6 "$tmp" | tr -d ' \n')
    case $magic in
        1f8b*)         dec="gzip -dc"; strip=0 ;; # gzip carries its own size trailer
        fd377a585a00)  dec="xz -dc"; need_pkgs xz-utils ;;
        02214c18*)     dec="lz4 -dc"; need_pkgs lz4 ;;
        28b52ffd*)     dec="zstd -dc -q"; need_pkgs zstd ;;
        425a68*)       dec="bzip2 -dc"; need_pkgs bzip2 ;;
        5d0000*)       dec="xz --format=lzma -dc"; need_pkgs xz-utils ;;
        894c5a*)       dec="lzop -dc"; need_pkgs lzop ;;
        *) die "$bz: unknown payload compression (magic $magic)" ;;
    esac
    log "vmlinux: payload at $start, $len bytes, ${dec%% *}"
    local want=""
    if [ "$strip" = 4 ]; then # kernel appends the uncompressed size (le32)
        want=$(u32 "$tmp" $((len - 4)))
        truncate -s $((len - 4)) "$tmp"
    fi
    $dec <"$tmp" >"$outf.tmp" || die "decompressing the payload of $bz failed"
    rm -f "$tmp"
    if [ -n "$want" ] && [ "$(stat -c %s "$outf.tmp")" != "$want" ]; then
        die "vmlinux size $(stat -c %s "$outf.tmp") != appended size $want"
    fi
    readelf -h "$outf.tmp" >/dev/null 2>&1 || die "extracted vmlinux is not an ELF file"
    mv "$outf.tmp" "$outf"
}

has_pvh_note() { # Xen ELF note 0x12 = XEN_ELFNOTE_PHYS32_ENTRY
    readelf -n "$1" 2>/dev/null | grep -E '^\s+Xen\s' | grep -qE '0x00000012|PHYS32'
}

# --------------------------------------------------------------------- busybox
BB_ROOT=
ensure_busybox() {
    local ver dir deb
    ver=$(pkg_version busybox-static) || die "apt does not know busybox-static"
    dir=$CACHE/busybox/${ver//:/%3a}
    if [ ! -f "$dir/.done" ]; then
        deb=$(deb_fetch busybox-static "$ver")
        rm -rf "$dir"; mkdir -p "$dir"
        dpkg-deb -x "$deb" "$dir/root"
        [ -x "$dir/root/bin/busybox" ] || die "busybox-static has no bin/busybox"
        touch "$dir/.done"
    fi
    BB_ROOT=$dir/root
    BB_VER=$ver
}

# ---------------------------------------------------------------- guest /init
make_init() {
    cat <<'EOF'
#!/bin/sh
# OpenHV guest init (generated by tools/guest-images.sh; runs under busybox sh).
# Kernel command line switches:
#   openhv.modules=a,b,c  load these modules and their dependencies, in order
#   openhv.script=/path   run this script (with sh) after the marker line
#   openhv.poweroff=1     power off (after the script, if any) instead of
#                         starting a shell on the console
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

modules= script= poweroff=
for arg in $(cat /proc/cmdline); do
    case $arg in
        openhv.modules=*) modules=${arg#*=} ;;
        openhv.script=*) script=${arg#*=} ;;
        openhv.poweroff=*) poweroff=${arg#*=} ;;
    esac
done

# /etc/modules-deps: "name path..." = the module's load order (deps first),
# "name builtin" for modules built into the kernel.
loaded=' '
load_module() {
    name=$(echo "$1" | tr - _)
    line=$(grep -m1 "^$name " /etc/modules-deps) || {
        echo "OPENHV: module $1 not in this image"; return 1; }
    for p in ${line#* }; do
        [ "$p" = builtin ] && continue
        case $loaded in *" $p "*) continue ;; esac
        insmod "$p" || echo "OPENHV: insmod $p failed"
        loaded="$loaded$p "
    done
}
for m in $(echo "$modules" | tr , ' '); do
    load_module "$m"
done

echo "OPENHV: init reached" >/dev/console

if [ -n "$script" ]; then
    sh "$script"
    echo "OPENHV: script $script exited $?"
fi
if [ "$poweroff" = 1 ]; then
    sync
    poweroff -f
fi
while :; do
    setsid cttyhack sh || sh
    sleep 1
done
EOF
}

# Populate a root tree with busybox, /init and the modules closure.
# populate_root DIR KROOT KVER
populate_root() {
    local root=$1 kroot=$2 kver=$3 m line p rel name d
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,mnt,root,lib/modules/"$kver"}
    chmod 1777 "$root/tmp"
    cp "$BB_ROOT/bin/busybox" "$root/bin/busybox"
    # applet links, e.g. "bin/sh", "sbin/insmod", from the static host-runnable binary
    while read -r p; do
        [ "$p" = bin/busybox ] && continue
        mkdir -p "$root/$(dirname "$p")"
        ln -sf /bin/busybox "$root/$p"
    done < <("$BB_ROOT/bin/busybox" --list-full)
    make_init >"$root/init"
    chmod 755 "$root/init"
    printf '%s\n' "$kver" >"$root/etc/openhv-kernel"

    # modules closure, in load order
    local order=() deps=() seen=" "
    local mdir=$kroot/lib/modules/$kver
    for m in $STOCK_MODULES; do
        if ! line=$(modprobe -C /dev/null -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null); then
            log "module $m does not exist in $kver: skipped"
            continue
        fi
        local list=()
        while read -r kind p _; do
            case $kind in
                builtin) list+=(builtin) ;;
                insmod)
                    rel=${p#"$kroot"}
                    list+=("$rel")
                    case $seen in *" $rel "*) ;; *) order+=("$rel"); seen="$seen$rel " ;; esac ;;
            esac
        done <<<"$line"
        deps+=("$(echo "$m" | tr - _) ${list[*]}")
    done
    # every module of the closure gets its own line too
    for rel in "${order[@]}"; do
        name=$(basename "$rel"); name=${name%%.ko*}; name=$(echo "$name" | tr - _)
        line=$(modprobe -C /dev/null -d "$kroot" -S "$kver" --show-depends "$name" 2>/dev/null \
               | awk '$1=="insmod"{print $2}' | sed "s#^$kroot##" | tr '\n' ' ')
        deps+=("$name ${line% }")
    done
    for rel in "${order[@]}"; do
        d=$root$(dirname "$rel"); mkdir -p "$d"
        case $rel in
            *.ko.xz)  xz -dc "$kroot$rel" >"$d/$(basename "$rel" .xz)" ;;
            *.ko.zst) zstd -dcq "$kroot$rel" >"$d/$(basename "$rel" .zst)" ;;
            *.ko.gz)  gzip -dc "$kroot$rel" >"$d/$(basename "$rel" .gz)" ;;
            *)        cp "$kroot$rel" "$d/" ;;
        esac
    done
    for f in modules.builtin modules.builtin.modinfo modules.order; do
        [ -f "$mdir/$f" ] && cp "$mdir/$f" "$root/lib/modules/$kver/"
    done
    depmod -b "$root" "$kver"
    printf '%s\n' "${order[@]}" | sed 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' >"$root/etc/modules-order"
    printf '%s\n' "${deps[@]}" | sed 's/\.ko\.\(xz\|zst\|gz\)\b/.ko/g' | awk '!seen[$1]++' >"$root/etc/modules-deps"
}

# write_cpio DIR OUT: uncompressed newc archive, root-owned, fixed mtime,
# plus /dev/console and /dev/null nodes (no mknod or root needed).
write_cpio() {
    python3 - "$1" "$2" "$EPOCH" <<'PY'
import os, stat, sys
root, outp, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
ino = [721]
def entry(f, name, mode, data=b"", rdev=(0, 0), nlink=1):
    ino[0] += 1
    nb = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino[0], mode, 0, 0, nlink, epoch, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
    f.write(hdr.encode() + nb)
    f.write(b"\0" * ((4 - (110 + len(nb)) % 4) % 4))
    f.write(data)
    f.write(b"\0" * ((4 - len(data) % 4) % 4))
paths = []
for d, dirs, files in os.walk(root):
    dirs.sort()
    for n in sorted(dirs + files):
        paths.append(os.path.relpath(os.path.join(d, n), root))
paths.sort()
with open(outp + ".tmp", "wb") as f:
    for p in paths:
        full = os.path.join(root, p)
        st = os.lstat(full)
        m = st.st_mode
        if stat.S_ISLNK(m):
            entry(f, p, m, os.readlink(full).encode())
        elif stat.S_ISDIR(m):
            entry(f, p, m, nlink=2)
        elif stat.S_ISREG(m):
            with open(full, "rb") as g:
                entry(f, p, m, g.read())
        elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
            entry(f, p, m, rdev=(os.major(st.st_rdev), os.minor(st.st_rdev)))
    if "dev/console" not in paths:
        entry(f, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    if "dev/null" not in paths:
        entry(f, "dev/null", stat.S_IFCHR | 0o666, rdev=(1, 3))
    entry(f, "TRAILER!!!", 0, nlink=1)
    f.write(b"\0" * ((512 - f.tell() % 512) % 512))
os.replace(outp + ".tmp", outp)
PY
}

# ---------------------------------------------------------------------- stock
STOCK_BZIMAGE='' STOCK_VMLINUX='' STOCK_VERSION='' STOCK_INITRD='' STOCK_ROOT=''
stock_build() {
    need_pkgs kmod cpio xz-utils lz4 zstd binutils python3
    local img ver dir deb kver dep
    if ver=$(pkg_version "$STOCK_META"); then
        # "Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)"
        dep=$(apt_show "$STOCK_META" | sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' \
              | sed 's/^ *//' | grep '^linux-image-' | head -n1)
        img=${dep%% *}
        [ -n "$img" ] || die "cannot find the image package $STOCK_META depends on"
        case $dep in
            *"(= "*")"*) ver=${dep#*(= }; ver=${ver%)*} ;;
            *) ver=$(pkg_version "$img") || die "apt does not know $img" ;;
        esac
        dir=$CACHE/stock/${img}_${ver//:/%3a}
    else
        # offline: fall back to the newest complete cached build
        dir=$(ls -1dt "$CACHE"/stock/*/ 2>/dev/null | while read -r d; do
              [ -f "$d/.done" ] && { echo "${d%/}"; break; }; done)
        [ -n "$dir" ] || die "apt does not know $STOCK_META and nothing is cached"
        log "warning: apt does not know $STOCK_META; using cached $dir"
    fi

    if [ ! -f "$dir/.done" ]; then
        log "stock kernel: $img $ver"
        deb=$(deb_fetch "$img" "$ver")
        rm -rf "$dir"; mkdir -p "$dir"
        dpkg-deb -x "$deb" "$dir/root"
        kver=$(ls -1 "$dir/root/lib/modules" | head -n1)
        [ -n "$kver" ] && [ -f "$dir/root/boot/vmlinuz-$kver" ] || die "$img: no vmlinuz/modules"
        log "depmod $kver"
        depmod -b "$dir/root" "$kver"
        extract_vmlinux "$dir/root/boot/vmlinuz-$kver" "$dir/vmlinux"
        has_pvh_note "$dir/vmlinux" || log "warning: $dir/vmlinux has no PVH (Xen PHYS32_ENTRY) note"
        printf '%s\n' "$kver" >"$dir/version"
        touch "$dir/.done"
    fi
    kver=$(cat "$dir/version")
    STOCK_ROOT=$dir/root
    STOCK_VERSION=$kver
    STOCK_BZIMAGE=$dir/root/boot/vmlinuz-$kver
    STOCK_VMLINUX=$dir/vmlinux

    # initramfs, keyed by busybox version + generator + module list
    ensure_busybox
    local key
    key=$( { echo "$GEN_FORMAT $BB_VER $STOCK_MODULES"; make_init; declare -f populate_root write_cpio; } | sha)
    STOCK_INITRD=$dir/initrd-$key.cpio
    if [ ! -f "$STOCK_INITRD" ]; then
        log "initramfs for $kver (busybox $BB_VER)"
        local stage=$dir/.initrd-stage
        rm -rf "$stage"
        populate_root "$stage" "$dir/root" "$kver"
        write_cpio "$stage" "$STOCK_INITRD"
        rm -rf "$stage"
    fi
}

stock() {
    with_lock stock stock_build
    out STOCK_BZIMAGE "$STOCK_BZIMAGE"
    out STOCK_VMLINUX "$STOCK_VMLINUX"
    out STOCK_VERSION "$STOCK_VERSION"
    out STOCK_INITRD "$STOCK_INITRD"
}

# ----------------------------------------------------------------------- disk
DISK_IMAGE=
disk_build() {
    need_pkgs e2fsprogs
    local key dir stage init_sum=none
    # the root disk's own modules include the SCSI disk driver (sd_mod: /dev/sda) besides hv_storvsc
    local STOCK_MODULES="$STOCK_MODULES sd_mod"
    if [ -n "${OPENHV_INIT:-}" ]; then
        [ -f "$OPENHV_INIT" ] || die "OPENHV_INIT=$OPENHV_INIT is not a file"
        init_sum=$(sha <"$OPENHV_INIT")
    fi
    key=$( { echo "$GEN_FORMAT disk $BB_VER $STOCK_MODULES $STOCK_VERSION $init_sum"; make_init; declare -f populate_root disk_build; } | sha)
    dir=$CACHE/disk
    DISK_IMAGE=$dir/disk-$STOCK_VERSION-$key.ext4
    [ -f "$DISK_IMAGE" ] && return 0
    log "disk image for $STOCK_VERSION"
    mkdir -p "$dir"
    stage=$dir/.stage-$key
    rm -rf "$stage"
    populate_root "$stage" "$STOCK_ROOT" "$STOCK_VERSION"
    ln -sfn /init "$stage/sbin/init"
    if [ -n "${OPENHV_INIT:-}" ]; then
        # openhv-init is what runs on a software KVM (busybox's libc cannot make system calls there)
        install -m 755 "$OPENHV_INIT" "$stage/sbin/openhv-init"
        ln -sfn /sbin/openhv-init "$stage/sbin/init"
        # what the kernel's orderly_poweroff/orderly_reboot exec for the Shutdown IC: openhv-init syncs and calls
        # reboot(2) itself (busybox's would signal PID 1, and cannot make system calls on a software KVM)
        for a in poweroff reboot halt; do ln -sfn /sbin/openhv-init "$stage/sbin/$a"; done
    fi
    echo "OpenHV test disk ($STOCK_VERSION)" >"$stage/etc/openhv-disk"
    if [ "$(id -u)" = 0 ]; then
        mknod -m 600 "$stage/dev/console" c 5 1
        mknod -m 666 "$stage/dev/null" c 1 3
    fi
    find "$stage" -exec touch -h -d "@$EPOCH" {} +
    E2FSPROGS_FAKE_TIME=$EPOCH mke2fs -q -t ext4 -L openhv-root -U clear -E root_owner=0:0 \
        -d "$stage" -F "$DISK_IMAGE.tmp" 64M
    mv "$DISK_IMAGE.tmp" "$DISK_IMAGE"
    rm -rf "$stage"
}

disk() {
    with_lock stock stock_build
    with_lock disk disk_build
    out DISK_IMAGE "$DISK_IMAGE"
}

# ----------------------------------------------------------------------- lean
LEAN_VMLINUX=
lean_build() {
    [ -f "$LEAN_FRAGMENT" ] || die "no config fragment $LEAN_FRAGMENT"
    local ver fhash key dir srcdir src build deb t0 log_f
    ver=$(pkg_version "$LEAN_SRC_PKG") || die "apt does not know $LEAN_SRC_PKG"
    fhash=$(sha <"$LEAN_FRAGMENT")
    key=${ver//:/%3a}-$fhash
    dir=$CACHE/lean/$key
    LEAN_VMLINUX=$dir/vmlinux
    [ -f "$dir/.done" ] && return 0

    need_pkgs build-essential bc flex bison libelf-dev libssl-dev xz-utils kmod cpio python3
    # source: extracted once per package version
    srcdir=$CACHE/lean/src-${ver//:/%3a}
    src=$srcdir/$LEAN_SRC_PKG
    if [ ! -f "$srcdir/.done" ]; then
        deb=$(deb_fetch "$LEAN_SRC_PKG" "$ver")
        rm -rf "$srcdir"; mkdir -p "$srcdir"
        log "extracting $LEAN_SRC_PKG $ver"
        dpkg-deb -x "$deb" "$srcdir/pkg"
        local tarball
        tarball=$(compgen -G "$srcdir/pkg/usr/src/$LEAN_SRC_PKG.tar.*" | head -n1) || die "no source tarball"
        tar -C "$srcdir" -xf "$tarball"
        rm -rf "$srcdir/pkg"
        [ -f "$src/Makefile" ] || die "unexpected source layout in $tarball"
        touch "$srcdir/.done"
    fi

    # one build directory per source version: a fragment change rebuilds incrementally
    build=$CACHE/lean/build-${ver//:/%3a}
    mkdir -p "$build" "$dir"
    log_f=$dir/build.log
    log "configuring (tinyconfig + $(basename "$LEAN_FRAGMENT"))"
    make -s -C "$src" O="$build" tinyconfig >"$log_f" 2>&1 || { tail -n 30 "$log_f"; die "tinyconfig failed"; }
    "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$LEAN_FRAGMENT" >>"$log_f" 2>&1 \
        || { tail -n 30 "$log_f"; die "merge_config failed"; }
    make -s -C "$src" O="$build" olddefconfig >>"$log_f" 2>&1 || { tail -n 30 "$log_f"; die "olddefconfig failed"; }
    lean_check_config "$build/.config" | tee "$dir/config-mismatches.txt" >&2
    cp "$build/.config" "$dir/config"
    if [ "${OPENHV_LEAN_CONFIG_ONLY:-0}" = 1 ]; then
        LEAN_VMLINUX=$dir/config  # config only: no kernel
        return 0
    fi

    log "make -j$JOBS vmlinux (log: $log_f)"
    t0=$(date +%s)
    make -C "$src" O="$build" -j"$JOBS" vmlinux >>"$log_f" 2>&1 || { tail -n 40 "$log_f"; die "kernel build failed"; }
    log "build took $(( $(date +%s) - t0 )) s"
    readelf -h "$build/vmlinux" >/dev/null || die "no vmlinux ELF"
    has_pvh_note "$build/vmlinux" || die "lean vmlinux has no PVH (Xen PHYS32_ENTRY) note"
    cp "$build/vmlinux" "$LEAN_VMLINUX.tmp"
    mv "$LEAN_VMLINUX.tmp" "$LEAN_VMLINUX"
    touch "$dir/.done"
}

# Print every fragment option that did not end up as requested.
lean_check_config() { # CONFIG
    local cfg=$1 line opt want got bad=0
    while IFS= read -r line; do
        case $line in
            CONFIG_*=*) opt=${line%%=*}; want=${line#*=} ;;
            "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; want=n ;;
            *) continue ;;
        esac
        got=$(sed -n "s/^$opt=//p" "$cfg")
        [ -z "$got" ] && got=n
        if [ "$got" != "$want" ]; then
            echo "config: $opt wanted $want, got $got"
            bad=1
        fi
    done <"$LEAN_FRAGMENT"
    [ $bad = 0 ] && echo "config: all fragment options applied"
    return 0
}

lean() {
    with_lock lean lean_build
    if [ "${OPENHV_LEAN_CONFIG_ONLY:-0}" = 1 ]; then
        out LEAN_CONFIG "$LEAN_VMLINUX"
    else
        out LEAN_VMLINUX "$LEAN_VMLINUX"
    fi
}

# ----------------------------------------------------------------------- main
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d;s/^# \{0,1\}//' >&2; exit "${1:-2}"; }

# Everything runs from main (parsed as a whole before it starts), so
# editing this file while a long build runs cannot derail the running copy.
main() {
    cmd=${1:-}
    shift || true
    with_lean=0
    for a in "$@"; do
        case $a in
            --with-lean) with_lean=1 ;;
            *) usage ;;
        esac
    done
    case $cmd in
        stock) stock ;;
        disk)  disk ;;
        lean)  lean ;;
        all)   stock; with_lock disk disk_build; out DISK_IMAGE "$DISK_IMAGE"
               if [ $with_lean = 1 ]; then lean; fi ;;
        -h|--help|help) usage 0 ;;
        *) usage ;;
    esac
}

main "$@"; exit 0

#!/usr/bin/env python3
"""Symbolize an `openhv run --profile FILE` sample file with a kernel System.map and print the hottest functions.

Usage: tools/profile-report.py SAMPLES SYSTEM_MAP [--top N] [--vp N]
Each sample is one guest RIP taken every millisecond per VP, so counts read as milliseconds of (interpreted) guest
time. The stock Debian kernel's System.map is in its package (boot/System.map-VERSION under the unpacked root in
the guest-image cache); a lean kernel's is in its build tree.
"""
import argparse
import bisect
import collections


def load_map(path):
    addrs, names = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW":
                addrs.append(int(parts[0], 16))
                names.append(parts[2])
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples")
    ap.add_argument("system_map")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--vp", type=int, default=None)
    args = ap.parse_args()
    addrs, names = load_map(args.system_map)
    counts = collections.Counter()
    total = 0
    with open(args.samples) as f:
        for line in f:
            vp, rip = line.split()
            if args.vp is not None and int(vp) != args.vp:
                continue
            rip = int(rip, 16)
            i = bisect.bisect_right(addrs, rip) - 1
            counts[names[i] if i >= 0 and rip < 0xffffffffffffffff else "?"] += 1
            total += 1
    print(f"{total} samples (~{total} ms of guest time at 1 sample/ms per VP)")
    for name, n in counts.most_common(args.top):
        print(f"{n:8d} {100.0 * n / max(total, 1):5.1f}%  {name}")


if __name__ == "__main__":
    main()

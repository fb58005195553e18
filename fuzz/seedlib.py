# SPDX-License-Identifier: MIT
"""What the seed writers fuzz/seeds_<target>.py share: packing the targets' operands and writing a corpus.

The targets read their integers little-endian (fuzz/fuzz_input.h; a missing byte reads as zero): u8() ... u64()
pack them, masked to their width. be16() ... be64() pack the big-endian fields of wire formats carried inside an
operand (SCSI CDBs). write_corpus() writes a script's seeds into fuzz/corpus/<target>/.

A seeds script imports this module by name: Python puts the script's own directory (fuzz/) first on sys.path, so
`python3 fuzz/seeds_<target>.py` from the repository root and `python3 seeds_<target>.py` from fuzz/ both find it.
"""
import os
import struct
import sys

MAX_LEN = 4096  # -max_len of `make fuzz` and of the ctest runs: the fuzzer would cut a longer seed

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def be16(v):
    return struct.pack(">H", v & 0xFFFF)


def be32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def be64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)


def write_corpus(target, seeds, suffix=""):
    """Write @seeds (name -> bytes) as files <name><suffix> into fuzz/corpus/<target>/, or into the directory given
    as the script's first argument (to compare a rewrite with the committed seeds). Every seed must fit in MAX_LEN.
    With a @suffix the script owns the files that end in it: those of earlier runs are removed first, except the
    crash-* inputs kept there as findings."""
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(CORPUS, target)
    for name, data in seeds.items():
        assert len(data) <= MAX_LEN, "%s: %d bytes" % (name, len(data))
    os.makedirs(out, exist_ok=True)
    if suffix:
        for f in os.listdir(out):
            if f.endswith(suffix) and not f.startswith("crash-"):
                os.remove(os.path.join(out, f))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name + suffix), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), out))

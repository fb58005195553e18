#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz/fuzz_vsp_storvsp.c into fuzz/corpus/fuzz_vsp_storvsp/.

An input is one config byte (FZ_CFG_* in the target), then operations: an opcode byte (enum fz_op) and its operands,
integers little-endian. SRBs carry their CDB bytes as the guest sends them (big-endian fields inside); their data
buffer is a (length, offset) in the target's data window (1 MiB + 8 KiB at GPA 0x22000; offset bit 31 counts from
the window's end). The controller's LUNs: 0 = 512-byte blocks, 2 MiB; 1 = 4096-byte blocks, 2 MiB; 2 = 512-byte
blocks, 1 MiB, read-only. Re-run after changing the encoding: python3 fuzz/seeds_vsp_storvsp.py (crash-* files in
the directory are kept).
"""
from seedlib import MAX_LEN, be16, be32, be64, u8, u16, u32, u64, write_corpus

(SRB, RAW, WRITE_BUF, RESET, CLOSE, OPEN, HANDSHAKE, SUBCH, TAKE, SETTLE, BURST, UNLOAD, RECREATE,
 POLL) = range(14)

CFG_HANDSHAKE, CFG_SUBCH, CFG_SMALL, CFG_XFER256K, CFG_DIRECT, CFG_MANUAL, CFG_TAGGED, CFG_NOOPEN = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80)
LINUX = CFG_HANDSHAKE | CFG_SUBCH | CFG_TAGGED  # a Debian 12 guest on a multi-channel controller

SRB_ASYNC, SRB_DTL, SRB_RANGE, SRB_INBAND, SRB_ADDR, SRB_CHANNEL, SRB_UNTAG = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)
RAW_GPA, RAW_TID, RAW_TYPE, RAW_LEN, RAW_CHANNEL, RAW_ASYNC, RAW_INIT = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)

WRITE, READ, NODATA = 0, 1, 2
WIN = (1 << 20) + 2 * 4096
END = 0x80000000  # offset flag: from the window's end

# vstor operations
COMPLETE_IO, REMOVE_DEVICE, EXECUTE_SRB, RESET_LUN, RESET_ADAPTER, RESET_BUS, BEGIN_INIT, END_INIT, \
    QUERY_VERSION, QUERY_PROPERTIES, ENUMERATE_BUS, FCHBA_DATA, CREATE_SUB_CHANNELS = range(1, 14)
PKT_INBAND, PKT_XFER_PAGES, PKT_GPA_DIRECT, PKT_COMP = 6, 7, 9, 11


# ---- CDBs: (bytes, direction) ----------------------------------------------------------------------------------

def inquiry(evpd=False, page=0, alloc=36):
    return bytes([0x12, 1 if evpd else 0, page]) + be16(alloc) + b"\0", READ


def report_luns(select=0, alloc=4096):
    return bytes([0xA0, 0, select, 0, 0, 0]) + be32(alloc) + b"\0\0", READ


def tur():
    return bytes(6), NODATA


def rc10(lba=0, pmi=False):
    return bytes([0x25, 0]) + be32(lba) + bytes([0, 0, 1 if pmi else 0, 0]), READ


def rc16(alloc=32, sa=0x10):
    return bytes([0x9E, sa]) + bytes(8) + be32(alloc) + b"\0\0", READ


def mode_sense6(page, alloc, dbd=False, pc=0, subpage=0):
    return bytes([0x1A, 0x08 if dbd else 0, (pc << 6) | page, subpage, alloc, 0]), READ


def mode_sense10(page, alloc, dbd=False, pc=0, llbaa=False):
    return bytes([0x5A, (0x08 if dbd else 0) | (0x10 if llbaa else 0), (pc << 6) | page, 0, 0, 0, 0]) + \
        be16(alloc) + b"\0", READ


def mode_select6(plen, pf=True, sp=False):
    return bytes([0x15, (0x10 if pf else 0) | (1 if sp else 0), 0, 0, plen, 0]), WRITE


def mode_select10(plen, pf=True):
    return bytes([0x55, 0x10 if pf else 0, 0, 0, 0, 0, 0]) + be16(plen) + b"\0", WRITE


def rw(n, write, lba, blocks, fua=False, byte1=None):
    if n == 6:
        c = bytes([0x0A if write else 0x08, (lba >> 16) & 0x1F, (lba >> 8) & 0xFF, lba & 0xFF, blocks & 0xFF, 0])
    elif n == 10:
        c = bytes([0x2A if write else 0x28, 0x08 if fua else 0]) + be32(lba) + b"\0" + be16(blocks) + b"\0"
    elif n == 12:
        c = bytes([0xAA if write else 0xA8, 0x08 if fua else 0]) + be32(lba) + be32(blocks) + b"\0\0"
    else:
        c = bytes([0x8A if write else 0x88, 0x08 if fua else 0]) + be64(lba) + be32(blocks) + b"\0\0"
    if byte1 is not None:
        c = c[:1] + bytes([byte1]) + c[2:]
    return c, WRITE if write else READ


def verify(n, lba, blocks, byte1=0):
    if n == 10:
        return bytes([0x2F, byte1]) + be32(lba) + b"\0" + be16(blocks) + b"\0", NODATA
    if n == 12:
        return bytes([0xAF, byte1]) + be32(lba) + be32(blocks) + b"\0\0", NODATA
    return bytes([0x8F, byte1]) + be64(lba) + be32(blocks) + b"\0\0", NODATA


def sync10(lba=0, blocks=0):
    return bytes([0x35, 0]) + be32(lba) + b"\0" + be16(blocks) + b"\0", NODATA


def sync16(lba=0, blocks=0):
    return bytes([0x91, 0]) + be64(lba) + be32(blocks) + b"\0\0", NODATA


def unmap(plen, anchor=False):
    return bytes([0x42, 1 if anchor else 0, 0, 0, 0, 0, 0]) + be16(plen) + b"\0", WRITE


def unmap_list(descs, dlen=None, bdlen=None):
    body = b"".join(be64(lba) + be32(n) + b"\0\0\0\0" for lba, n in descs)
    bdl = len(body) if bdlen is None else bdlen
    dl = 6 + len(body) if dlen is None else dlen
    return be16(dl) + be16(bdl) + b"\0\0\0\0" + body


def ws16(lba, blocks, unmap_bit=False, ndob=False, byte1=None):
    b1 = (0x08 if unmap_bit else 0) | (0x01 if ndob else 0)
    return bytes([0x93, b1 if byte1 is None else byte1]) + be64(lba) + be32(blocks) + b"\0\0", WRITE


def ws10(lba, blocks, unmap_bit=False):
    return bytes([0x41, 0x08 if unmap_bit else 0]) + be32(lba) + b"\0" + be16(blocks) + b"\0", WRITE


def request_sense(alloc=18, desc=False):
    return bytes([0x03, 1 if desc else 0, 0, 0, alloc, 0]), READ


def start_stop(start=True, loej=False, immed=False):
    return bytes([0x1B, 1 if immed else 0, 0, 0, (2 if loej else 0) | (1 if start else 0), 0]), NODATA


def allow_removal(prevent=0):
    return bytes([0x1E, 0, 0, 0, prevent, 0]), NODATA


# ---- operations ----------------------------------------------------------------------------------------------------

def srb_body(cdb, lun=0, length=0, off=0, asynch=False, path=None, target=None, channel=None, dtl=None,
             rng=None, inband=False, untag=False, cdb_len=None, data_in=None):
    c, d = cdb
    flags = (SRB_ASYNC if asynch else 0) | (SRB_DTL if dtl is not None else 0) | (SRB_RANGE if rng else 0) | \
        (SRB_INBAND if inband else 0) | (SRB_ADDR if path is not None or target is not None else 0) | \
        (SRB_CHANNEL if channel is not None else 0) | (SRB_UNTAG if untag else 0)
    out = u8(flags) + u8(lun) + u8(len(c) if cdb_len is None else cdb_len) + u8(d if data_in is None else data_in)
    out += c.ljust(16, b"\0")[:16] + u32(length) + u32(off)
    if flags & SRB_ADDR:
        out += u8(path or 0) + u8(target or 0)
    if flags & SRB_CHANNEL:
        out += u8(channel)
    if flags & SRB_DTL:
        out += u32(dtl)
    if flags & SRB_RANGE:
        roff, rlen, sels = rng
        out += u16(roff) + u32(rlen) + u8(len(sels)) + b"".join(u16(s) for s in sels)
    return out


def srb(cdb, **kw):
    return u8(SRB) + srb_body(cdb, **kw)


def burst(count, cdb, **kw):
    return u8(BURST) + u16(count - 1) + srb_body(cdb, **kw)


def wbuf(off, data):
    return u8(WRITE_BUF) + u32(off) + u16(len(data)) + data


# PFN selectors (fz_pfn in the target)
def win_page(off):
    return (off // 4096) & 0x7FFF


def canary(after=False, second=False):
    return 0x8000 | (2 if after else 0) | (1 if second else 0)


def beyond_ram(k=0):
    return 0xA000 | k


def far(v):
    return 0xC000 | v


def wild(page):
    return 0xE000 | page


def vstor(op, flags=1, status=0, payload=b""):
    return u32(op) + u32(flags) + u32(status) + payload.ljust(52, b"\0")[:52]


def vm_srb(cdb, lun=0, dtl=0, data_in=NODATA, path=0, target=0, cdb_len=None, scsi_status=0, length=52):
    c = cdb[0] if isinstance(cdb, tuple) else cdb
    return u16(length) + bytes([0, scsi_status, 0, path, target, lun, len(c) if cdb_len is None else cdb_len,
                                20, data_in, 0]) + u32(dtl) + c.ljust(20, b"\0")[:20] + \
        u16(0) + bytes([0xFF, 0x20]) + u32(0x08) + u32(60) + u32(0)


def raw(pkt, tid=None, ptype=None, pflags=1, length=None, channel=None, gpa=None, asynch=False, init=False):
    mode = (RAW_GPA if gpa is not None else 0) | (RAW_TID if tid is not None else 0) | \
        (RAW_TYPE if ptype is not None else 0) | (RAW_LEN if length is not None else 0) | \
        (RAW_CHANNEL if channel is not None else 0) | (RAW_ASYNC if asynch else 0) | (RAW_INIT if init else 0)
    out = u8(RAW) + u8(mode) + pkt.ljust(64, b"\0")[:64]
    if tid is not None:
        out += u64(tid)
    if ptype is not None:
        out += u16(ptype) + u16(pflags)
    if length is not None:
        out += u16(length)
    if channel is not None:
        out += u8(channel)
    if gpa is not None:
        rangecount, ranges = gpa
        out += u32(rangecount) + u8(len(ranges))
        for blen, boff, sels in ranges:
            out += u32(blen) + u16(boff) + u8(len(sels)) + b"".join(u16(s) for s in sels)
    return out


def reset(path=0):
    return u8(RESET) + u8(path)


def open_(handshake=True, small=False):
    return u8(OPEN) + u8((1 if handshake else 0) | (2 if small else 0))


def handshake(*versions):
    return u8(HANDSHAKE) + u8(len(versions)) + b"".join(u16(v) for v in versions)


def subch(n):
    return u8(SUBCH) + u8(n - 1)


def take(n=0):
    return u8(TAKE) + u8(n)


def op(o):
    return u8(o)


SEEDS = {}


def seed(name, cfg, *ops):
    data = u8(cfg) + b"".join(ops)
    assert len(data) <= MAX_LEN, "%s: %d bytes" % (name, len(data))
    SEEDS[name] = data


def pattern(n, k=1):
    return bytes(((i * 131 + k * 17) >> 1) & 0xFF for i in range(n))


# ---- the Linux boot sequence ---------------------------------------------------------------------------------

boot = [subch(1)]
boot += [srb(inquiry(alloc=36), length=36, off=0x1000)]
boot += [srb(inquiry(alloc=36), path=p, target=t, length=36, off=0x1000) for p, t in ((0, 1), (1, 0), (7, 1))]
boot += [srb(report_luns(0, 4096), length=4096, off=0x2000)]
for lun in (0, 1, 2):
    boot += [srb(inquiry(True, 0, 4), lun=lun, length=4, off=0x3000),
             srb(inquiry(True, 0, 255), lun=lun, length=255, off=0x3000)]
    for page in (0x80, 0x83, 0xB0, 0xB1, 0xB2):
        boot += [srb(inquiry(True, page, 4), lun=lun, length=4, off=0x3100),
                 srb(inquiry(True, page, 255), lun=lun, length=255, off=0x3100)]
    boot += [srb(tur(), lun=lun), srb(rc16(32), lun=lun, length=32, off=0x3200),
             srb(mode_sense6(0x3F, 192), lun=lun, length=192, off=0x3300),
             srb(mode_sense6(0x08, 192), lun=lun, length=192, off=0x3300),
             srb(rw(10, False, 0, 8), lun=lun, length=8 * 512 if lun != 1 else 8 * 4096, off=0x4000)]
seed("linux_boot", LINUX, *boot)

seed("linux_scan_more", LINUX,
     srb(inquiry(True, 0x89, 255), length=255, off=0x100),           # ATA information: not ours
     srb(inquiry(True, 0xB9, 255), lun=1, length=255, off=0x100),
     srb(inquiry(True, 0x83, 255), lun=5, length=255, off=0x100),     # VPD of a missing LUN
     srb(rc10(), length=8, off=0x200), srb(rc10(), lun=1, length=8, off=0x200),
     srb(rc10(7, pmi=True), lun=2, length=8, off=0x200), srb(rc10(7), length=8, off=0x200),
     srb(rc16(12), lun=1, length=12, off=0x200), srb(rc16(32, sa=0x11), length=32, off=0x200),
     srb(mode_sense10(0x3F, 256), length=256, off=0x300),
     srb(mode_sense10(0x08, 256, llbaa=True), lun=1, length=256, off=0x300),
     srb(mode_sense10(0x0A, 256, dbd=True, pc=1), lun=2, length=256, off=0x300),
     srb(mode_sense6(0x3F, 4, pc=2), length=4, off=0x300),
     srb(mode_sense6(0x3F, 255, pc=3), length=255, off=0x300),
     srb(mode_sense6(0x1C, 255), length=255, off=0x300),
     srb(mode_sense6(0x08, 255, subpage=0xFF), length=255, off=0x300),
     srb(report_luns(1, 4096), length=4096, off=0x1000), srb(report_luns(2, 16), lun=9, length=16, off=0x1000),
     srb(report_luns(3, 4096), length=4096, off=0x1000), srb(report_luns(0, 8), length=8, off=0x1000),
     srb(report_luns(0, 4096), path=2, length=4096, off=0x1000),
     srb(rw(10, False, 4096 - 34, 34), length=34 * 512, off=0x8000),  # GPT backup
     srb(rw(10, False, 512 - 8, 8), lun=1, length=8 * 4096, off=0x8000))

# ---- I/O ----------------------------------------------------------------------------------------------------------

seed("io_read_write", LINUX,
     wbuf(0x10000, pattern(256, 1)), srb(rw(10, True, 100, 8), length=4096, off=0x10000),
     srb(rw(10, False, 100, 8), length=4096, off=0x20000),
     wbuf(0x30001, pattern(256, 2)), srb(rw(16, True, 7, 2, fua=True), lun=1, length=8192, off=0x30001),
     srb(rw(16, False, 7, 2), lun=1, length=8192, off=0x40003),
     srb(rw(6, True, 2000, 3), length=1536, off=0x30001), srb(rw(6, False, 2000, 0), length=256 * 512, off=0x50000),
     srb(rw(12, True, 9, 1), lun=1, length=4096, off=0x30001), srb(rw(12, False, 9, 1), lun=1, length=4096),
     srb(rw(10, False, 0, 16), length=1000, off=0x60000),     # shorter buffer: what fits
     srb(rw(10, True, 50, 2), length=3000, off=0x30001),      # a partial block written
     srb(rw(10, False, 0, 2), length=65536, off=0x60000),     # longer buffer: the CDB's bytes
     srb(rw(10, False, 0, 0), length=512, off=0x60000),
     srb(verify(10, 0, 8)), srb(verify(16, 4095, 1)), srb(verify(12, 4096, 1)), srb(verify(10, 0, 1, byte1=2)),
     srb(sync10()), srb(sync16(0, 4096)), srb(sync10(4096, 1)), srb(sync10(), lun=1), srb(sync16(), lun=2),
     srb(rw(10, True, 4095, 1), length=512, off=0x30001), srb(rw(10, True, 4096, 1), length=512, off=0x30001),
     srb(rw(16, False, (1 << 64) - 1, 2), length=1024), srb(rw(10, False, 0, 1, byte1=0xE0), length=512),
     srb(rw(10, False, 0, 1, byte1=0x01), length=512), srb(rw(16, False, 0, 1, byte1=0x01), length=512))

seed("io_large_unaligned", LINUX,
     wbuf(0x7FF, pattern(300, 3)),
     srb(rw(10, True, 0, 2048), length=1 << 20, off=0x7FF),            # 1 MiB, unaligned: many pages
     srb(rw(10, False, 0, 2048), length=1 << 20, off=0x1001),
     srb(rw(16, True, 0, 256), lun=1, length=1 << 20, off=0x123),
     srb(rw(16, False, 0, 257), lun=1, length=(1 << 20) + 4096, off=0),  # above max transfer: refused
     srb(rw(10, False, 4000, 96), length=96 * 512, off=1 | END),        # ends at the window's end
     srb(rw(10, False, 4000, 96), length=96 * 512, off=0 | END))

seed("xfer256k_direct", CFG_HANDSHAKE | CFG_XFER256K | CFG_DIRECT,
     wbuf(0x200, pattern(200, 4)),
     srb(rw(10, True, 1, 3), length=1536, off=0x200), srb(rw(10, False, 1, 3), length=1536, off=0x4000),
     srb(rw(10, True, 3, 512), length=1 << 18, off=0x100), srb(rw(10, False, 0, 513), length=513 * 512),
     srb(rw(10, False, 0, 513), length=1 << 18), srb(rw(16, False, 0, 64), lun=1, length=1 << 18, off=0x10),
     srb(inquiry(True, 0xB0, 64), length=64, off=0x9000), srb(rw(10, False, 0, 600), length=600 * 512))

# ---- UNMAP / WRITE SAME -------------------------------------------------------------------------------------

seed("unmap_write_same", LINUX,
     srb(inquiry(True, 0xB2, 64), length=64, off=0x100), srb(inquiry(True, 0xB0, 64), lun=1, length=64, off=0x100),
     wbuf(0x1000, unmap_list([(8, 16)])), srb(unmap(24), length=24, off=0x1000),
     wbuf(0x1000, unmap_list([(0, 8), (100, 1), (4000, 96), (9, 0)])), srb(unmap(72), length=72, off=0x1000),
     wbuf(0x1000, unmap_list([(8, 4)])), srb(unmap(24), lun=1, length=24, off=0x1000),
     wbuf(0x1000, unmap_list([(4095, 2)])), srb(unmap(24), length=24, off=0x1000),       # beyond the end
     wbuf(0x1000, unmap_list([(0, 1)], dlen=100)), srb(unmap(24), length=24, off=0x1000),
     wbuf(0x1000, unmap_list([(0, 1)], bdlen=17)), srb(unmap(24), length=24, off=0x1000),
     srb(unmap(24), length=16, off=0x1000), srb(unmap(0)), srb(unmap(4), length=4, off=0x1000),
     srb(unmap(24, anchor=True), length=24, off=0x1000), srb(unmap(24), lun=2, length=24, off=0x1000),
     wbuf(0x2000, bytes(512)),
     srb(ws16(16, 64, unmap_bit=True), length=512, off=0x2000),                  # Linux's WRITE_ZEROES
     srb(ws16(16, 8, unmap_bit=True), lun=1, length=4096, off=0x2000),
     srb(ws16(32, 8), length=512, off=0x2000),
     wbuf(0x3000, pattern(64, 5)),
     srb(ws16(64, 40), length=512, off=0x3000), srb(ws16(3, 3), lun=1, length=4096, off=0x3000),
     srb(ws10(200, 5), length=512, off=0x3000), srb(ws10(200, 5, unmap_bit=True), length=512, off=0x2000),
     srb(ws16(300, 7, ndob=True)), srb(ws16(0, 0), length=512, off=0x3000),
     srb(ws16(0, 1), length=100, off=0x3000), srb(ws16(4090, 10), length=512, off=0x3000),
     srb(ws16(0, 1, byte1=0x04), length=512, off=0x3000), srb(ws16(0, 1), lun=2, length=512, off=0x3000),
     srb(ws16(0, 4096, unmap_bit=True), length=512, off=0x2000),
     srb(ws16(0, 3000), length=512, off=0x3000))                                 # > 1 MiB of a pattern

seed("unmap_many", CFG_HANDSHAKE | CFG_TAGGED,
     wbuf(0x4000, unmap_list([(i * 15, 7) for i in range(120)])),
     srb(unmap(8 + 16 * 120), length=8 + 16 * 120, off=0x4000),
     wbuf(0x4000, unmap_list([], dlen=6 + 16 * 257, bdlen=16 * 257)),  # one descriptor too many
     srb(unmap(8 + 16 * 257), length=8 + 16 * 257, off=0x4000))

# ---- the read-only LUN ---------------------------------------------------------------------------------------

seed("read_only_lun", CFG_HANDSHAKE,
     srb(mode_sense6(0x3F, 192), lun=2, length=192, off=0x100), srb(rc16(32), lun=2, length=32, off=0x100),
     srb(rw(10, False, 0, 16), lun=2, length=8192, off=0x1000),
     srb(rw(10, True, 0, 1), lun=2, length=512, off=0x1000), srb(rw(6, True, 0, 0), lun=2, length=512, off=0x1000),
     srb(rw(12, True, 5, 1), lun=2, length=512, off=0x1000), srb(rw(16, True, 5, 1, fua=True), lun=2, length=512),
     srb(rw(10, True, 0, 0), lun=2), srb(ws16(0, 8, unmap_bit=True), lun=2, length=512, off=0x1000),
     srb(ws10(0, 8), lun=2, length=512, off=0x1000), srb(ws16(0, 8, ndob=True), lun=2),
     srb(unmap(0), lun=2), srb(sync10(), lun=2), srb(rw(10, False, 2047, 1), lun=2, length=512, off=0x1000))

# ---- addressing --------------------------------------------------------------------------------------------------

seed("missing_luns", CFG_HANDSHAKE,
     srb(inquiry(alloc=36), lun=3, length=36, off=0x100), srb(inquiry(alloc=96), lun=255, length=96, off=0x100),
     srb(inquiry(True, 0, 255), lun=7, length=255, off=0x100), srb(inquiry(alloc=36), path=1, length=36),
     srb(inquiry(alloc=36), target=1, lun=1, length=36), srb(inquiry(alloc=36), lun=3, length=36, cdb_len=5),
     srb(tur(), lun=3), srb(tur(), path=7), srb(rw(10, False, 0, 1), lun=4, length=512),
     srb(report_luns(0, 4096), lun=3, length=4096, off=0x2000),
     srb(report_luns(0, 4096), path=1, target=1, length=4096, off=0x2000),
     srb(report_luns(0, 4096), lun=3, length=4096, cdb_len=10), srb(rc16(32), target=1, length=32),
     srb(mode_sense6(0x3F, 192), lun=64, length=192))

# ---- multi-channel, queue depth, reset --------------------------------------------------------------------

seed("subchannels_io", LINUX,
     subch(3),
     *[srb(rw(10, (ch & 1) == 0, 64 * ch, 8), lun=ch % 2, channel=ch, length=8 * (512 if ch % 2 == 0 else 4096),
           off=0x10000 * (ch + 1)) for ch in range(4)],
     burst(64, rw(10, False, 0, 16), channel=0, asynch=True, length=8192, off=0x40000),
     burst(64, rw(10, True, 16, 16), channel=1, asynch=True, length=8192, off=0x50000),
     burst(32, tur(), lun=1, channel=2, asynch=True), op(SETTLE),
     srb(rw(16, False, 0, 1), lun=1, channel=3, length=4096), subch(2))

seed("queue_full", CFG_HANDSHAKE | CFG_TAGGED,
     burst(300, rw(10, False, 0, 8), asynch=True, length=4096, off=0x10000),
     burst(40, rw(10, True, 8, 8), asynch=True, length=4096, off=0x20000), op(SETTLE))

seed("reset_inflight", LINUX,
     subch(2),
     burst(48, rw(10, True, 0, 32), asynch=True, length=16384, off=0x10000),
     burst(48, rw(16, False, 0, 4), lun=1, channel=1, asynch=True, length=16384, off=0x30000),
     op(POLL), reset(0),
     burst(20, ws16(0, 512, unmap_bit=True), asynch=True, length=512, off=0x1000),
     wbuf(0x2000, unmap_list([(0, 8), (64, 8)])),
     burst(20, unmap(40), lun=0, asynch=True, length=40, off=0x2000), reset(3), reset(0),
     srb(tur()), srb(tur(), channel=2))

seed("reset_nested", LINUX,
     subch(2), burst(300, rw(10, False, 0, 8), channel=1, asynch=True, length=4096, off=0x1000),
     raw(vstor(RESET_BUS), channel=1, asynch=True),
     burst(100, rw(16, True, 0, 1), lun=1, channel=2, asynch=True, length=4096, off=0x8000),
     raw(vstor(RESET_LUN), channel=2, asynch=True), op(POLL), reset(0), op(SETTLE))

seed("small_rings", CFG_HANDSHAKE | CFG_SMALL,
     burst(120, tur(), asynch=True), op(SETTLE),
     burst(100, rw(10, False, 0, 1), asynch=True, length=512, off=0x800), reset(0),
     srb(rw(10, False, 0, 2048), length=1 << 20, off=0x10))

seed("manual_take", CFG_HANDSHAKE | CFG_SMALL | CFG_MANUAL,
     burst(80, rw(10, False, 0, 1), asynch=True, length=512), op(SETTLE), take(5), op(SETTLE),
     burst(10, tur(), asynch=True), take(0), srb(tur()), take(1), reset(0), take(0))

# ---- lifecycle ---------------------------------------------------------------------------------------------------

seed("close_reopen", LINUX,
     subch(3), burst(32, rw(10, False, 0, 64), channel=0, asynch=True, length=32768, off=0x8000),
     op(POLL), op(CLOSE), open_(), subch(3), srb(rw(10, False, 0, 8), lun=1, channel=3, length=32768),
     op(CLOSE), open_(small=True), srb(tur()), op(CLOSE), open_(handshake=False), srb(tur()))

seed("unload_inflight", LINUX,
     subch(3), burst(48, rw(10, False, 0, 128), lun=1, channel=0, asynch=True, length=65536, off=0),
     op(POLL), op(UNLOAD), open_(), subch(2), srb(rw(10, False, 0, 8), length=4096), op(UNLOAD), srb(tur()))

seed("recreate_inflight", LINUX,
     subch(2), wbuf(0, pattern(128, 6)),
     burst(64, rw(10, True, 0, 16), channel=0, asynch=True, length=8192, off=0),
     op(POLL), op(RECREATE), open_(), srb(rw(10, False, 0, 16), length=8192, off=0x10000), subch(2),
     op(RECREATE), op(RECREATE), open_(), srb(tur()))

# ---- handshake ----------------------------------------------------------------------------------------------

seed("handshake_variants", CFG_NOOPEN | CFG_SUBCH,
     srb(tur()), open_(handshake=False), srb(tur()), srb(inquiry(), length=36),   # I/O before the handshake
     subch(2),                                                                       # refused: no handshake
     handshake(0x0600), handshake(0x0501), handshake(0x0400, 0x0200), handshake(0x0603, 0x0602),
     handshake(0xFFFF, 0, 0x0501, 0x0602), handshake(), subch(4), subch(1),
     raw(vstor(QUERY_VERSION, payload=u16(0x0400)), init=True),
     raw(vstor(QUERY_PROPERTIES), init=True), raw(vstor(FCHBA_DATA), init=True),
     raw(vstor(ENUMERATE_BUS), init=True), raw(vstor(0), init=True), raw(vstor(14), init=True),
     raw(vstor(0xFFFFFFFF), init=True), raw(vstor(BEGIN_INIT), channel=1), raw(vstor(QUERY_VERSION), channel=2),
     raw(vstor(QUERY_PROPERTIES), channel=3), raw(vstor(END_INIT), channel=4),
     raw(vstor(CREATE_SUB_CHANNELS, payload=u16(4)), channel=1),
     raw(vstor(CREATE_SUB_CHANNELS, payload=u16(100))), raw(vstor(BEGIN_INIT)),
     raw(vstor(CREATE_SUB_CHANNELS, payload=u16(2))), raw(vstor(END_INIT)),
     raw(vstor(CREATE_SUB_CHANNELS, payload=u16(2))), srb(tur()))

# ---- hostile packets and SRBs ------------------------------------------------------------------------------------

seed("hostile_packets", CFG_HANDSHAKE | CFG_SUBCH,
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), length=10),            # short
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), length=60),            # short, padded to 64
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), length=200),           # long: accepted
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), length=8500),          # larger than any request
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), length=8500, ptype=PKT_INBAND, pflags=0),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), ptype=PKT_XFER_PAGES),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), ptype=PKT_COMP),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), ptype=PKT_INBAND, pflags=0),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), ptype=PKT_INBAND, pflags=0, length=20),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), ptype=0x1234, pflags=1, length=20),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(rw(10, False, 0, 1), dtl=512, data_in=READ))),  # data in-band
     raw(vstor(EXECUTE_SRB, payload=vm_srb(rw(10, False, 0, 1), dtl=512, data_in=3))),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur(), cdb_len=0))),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur(), cdb_len=17))),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur(), cdb_len=255, scsi_status=0x55))),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur(), dtl=0xFFFFFFFF, data_in=NODATA))),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur(), lun=200, length=36))),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), channel=1),
     raw(vstor(COMPLETE_IO)), raw(vstor(REMOVE_DEVICE)), raw(vstor(RESET_LUN)), raw(vstor(RESET_ADAPTER)),
     raw(vstor(RESET_BUS), channel=1), raw(vstor(ENUMERATE_BUS)), raw(vstor(99)),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), tid=0),                # id 0: Linux drops the answer
     raw(vstor(EXECUTE_SRB, payload=vm_srb(tur())), tid=0xFFFFFFFFFFFFFFFD),
     srb(tur()))

RD = vstor(EXECUTE_SRB, payload=vm_srb(rw(10, False, 0, 8), dtl=4096, data_in=READ))
WR = vstor(EXECUTE_SRB, payload=vm_srb(rw(10, True, 0, 8), dtl=4096, data_in=WRITE))
seed("hostile_ranges", CFG_HANDSHAKE,
     raw(RD, gpa=(1, [(4096, 0, [win_page(0x10000)])])),                       # well-formed by hand
     raw(RD, gpa=(1, [(4096, 0x800, [win_page(0x10000), win_page(0x30000)])])),  # two scattered pages
     raw(RD, gpa=(2, [(2048, 0, [win_page(0x10000)]), (2048, 2048, [win_page(0x11000)])])),
     raw(RD, gpa=(0, [(4096, 0, [win_page(0x10000)])])),                       # rangecount 0
     raw(RD, gpa=(0xFFFFFFFF, [(4096, 0, [win_page(0x10000)])])),              # more ranges than described
     raw(RD, gpa=(1, [(4096, 4096, [win_page(0x10000), win_page(0x11000)])])),  # offset >= a page
     raw(RD, gpa=(1, [(0, 0, [win_page(0x10000)])])),                          # empty range
     raw(RD, gpa=(1, [(8192, 0, [win_page(0x10000)])])),                       # fewer PFNs than bytes
     raw(RD, gpa=(1, [(2048, 0, [win_page(0x10000)])])),                       # fewer bytes than the SRB
     raw(RD, gpa=(1, [(4096, 0, [beyond_ram(0)])])), raw(RD, gpa=(1, [(4096, 0, [beyond_ram(5)])])),
     raw(RD, gpa=(1, [(4096, 0, [far(0x1FFF)])])), raw(RD, gpa=(1, [(4096, 0, [far(0x0123)])])),
     raw(RD, gpa=(1, [(4096, 0, [win_page(WIN - 4096)])])),
     raw(WR, gpa=(1, [(4096, 0, [canary()])])),                                 # the guest names a canary
     raw(RD, gpa=(1, [(4096, 0, [win_page(0)])]), ptype=PKT_INBAND),
     raw(RD, gpa=(1, [(4096, 0, [win_page(0)] * 255)])),                        # many PFNs, still fits
     raw(RD, gpa=(1, [(4096, 0, [win_page(0)] * 255), (4096, 0, [win_page(0)] * 255),
                      (4096, 0, [win_page(0)] * 255)])),                       # beyond 8 KiB: refused
     srb(tur()))

seed("hostile_srbs", CFG_HANDSHAKE,
     srb(rw(10, False, 0, 8), length=4096, off=0x1000, dtl=8192),               # dtl beyond the range
     srb(rw(10, False, 0, 8), length=4096, off=0x1000, dtl=1024),               # dtl shorter
     srb(rw(10, True, 0, 8), length=4096, off=0x1000, dtl=0),
     srb(rw(10, False, 0, 8), length=4096, off=0x1000, dtl=0x7FFFFFFF),
     srb(rw(10, False, 0, 8), length=4096, off=0x1000, inband=True),            # data without a range
     srb(rw(10, False, 0, 8), rng=(0, 4096, [beyond_ram(1)])),
     srb(rw(10, False, 0, 8), rng=(100, 4096, [win_page(0x1000), beyond_ram(1)])),
     srb(rw(10, False, 0, 8), rng=(5000, 4096, [win_page(0x1000), win_page(0x2000)])),
     srb(rw(10, False, 0, 8), rng=(0, 4096, [far(0x1FFF)])),
     srb(rw(10, False, 0, 8), rng=(0, 4096, [])),
     srb(rw(10, False, 0, 8), rng=(0, 0, [win_page(0x1000)])),
     srb(rw(10, False, 0, 8), rng=(4095, 4096, [win_page(0x3000), win_page(0x9000)])),
     srb(rw(10, False, 0, 16), rng=(0, 8192, [win_page(0x5000)] * 2)),          # one page twice
     srb(rw(10, False, 0, 10), rng=(0, 8192, [win_page(0x1000), win_page(0x3000)])),  # CDB ends mid-page
     srb(rw(10, True, 0, 10), rng=(100, 8192, [win_page(0x1000), win_page(0x3000), win_page(0x5000)])),
     srb(tur(), cdb_len=0), srb(tur(), cdb_len=16), srb(tur(), data_in=3), srb(tur(), data_in=255),
     srb(rw(10, False, 0, 1), length=512, data_in=NODATA), srb(rw(10, False, 0, 1), length=512, data_in=WRITE),
     srb(inquiry(), length=36, data_in=WRITE), srb(rw(10, False, 0, 1), cdb_len=6, length=512),
     srb(rw(16, False, 0, 1), cdb_len=10, length=512), srb(tur(), untag=True),
     srb((b"\xff" + bytes(15), READ), length=64), srb((b"\x00" * 5 + b"\x01", NODATA)),
     srb((b"\x00" * 5 + b"\x04", NODATA)), srb((b"\xc0" + bytes(15), READ), length=16),
     srb((b"\xe0" + bytes(15), READ), length=16), srb((b"\x7f" + bytes(15), READ), length=16, cdb_len=16))

seed("misc_cdbs", CFG_HANDSHAKE,
     srb(request_sense(18), length=18), srb(request_sense(252), length=252, off=3), srb(request_sense(desc=True)),
     srb(start_stop()), srb(start_stop(False, True, True)), srb(allow_removal(1)), srb(allow_removal(0)),
     srb(inquiry(alloc=0), length=36), srb(inquiry(alloc=1), length=36), srb(inquiry(alloc=36)),
     srb((b"\x12\x02\x00\x00\x24\x00", READ), length=36), srb((b"\x12\x00\x80\x00\x24\x00", READ), length=36),
     srb(inquiry(True, 0x83, 255), length=10), srb(rc16(32), length=4), srb(rc10(), length=0))

ms_cache = b"\x08\x12" + bytes([0x04]) + bytes(17)  # caching page, WCE=1
ms_cache_off = b"\x08\x12" + bytes(18)
ms_ctrl = b"\x0a\x0a" + bytes([0x00, 0x10]) + bytes(8)
seed("mode_select", CFG_HANDSHAKE,
     srb(mode_sense6(0x08, 255), length=255, off=0x100),
     wbuf(0x2000, bytes([0, 0, 0, 0]) + ms_cache), srb(mode_select6(24), length=24, off=0x2000),
     wbuf(0x2000, bytes([0, 0, 0, 0]) + ms_cache_off), srb(mode_select6(24), length=24, off=0x2000),
     wbuf(0x2000, bytes([0, 0, 0, 8]) + bytes([0, 0, 0x10, 0, 0, 0, 2, 0]) + ms_ctrl),
     srb(mode_select6(24), length=24, off=0x2000),
     wbuf(0x2000, bytes(8) + ms_cache + ms_ctrl), srb(mode_select10(40), lun=1, length=40, off=0x2000),
     wbuf(0x2000, bytes([0, 0, 0, 0, 1, 0, 0, 16]) + be64(512) + bytes(4) + be32(4096)),
     srb(mode_select10(24), lun=1, length=24, off=0x2000),
     srb(mode_select6(24, pf=False), length=24, off=0x2000), srb(mode_select6(24, sp=True), length=24, off=0x2000),
     srb(mode_select6(0)), srb(mode_select6(3), length=3, off=0x2000), srb(mode_select6(200), length=100),
     wbuf(0x2000, bytes([0, 0, 0, 0]) + b"\x1c\x0a" + bytes(10)), srb(mode_select6(16), length=16, off=0x2000),
     wbuf(0x2000, bytes([0, 0, 0, 0]) + b"\x08\x30"), srb(mode_select6(6), length=6, off=0x2000))

seed("busy_disk", LINUX,
     subch(3), burst(320, rw(10, False, 0, 8), asynch=True, length=4096, off=0x1000), op(SETTLE),
     burst(320, rw(10, True, 0, 1), lun=1, asynch=True, length=4096, off=0x1000))

seed("unsent_close", CFG_HANDSHAKE | CFG_SMALL | CFG_MANUAL,
     burst(100, tur(), asynch=True), op(SETTLE), op(CLOSE), open_(small=True),
     burst(100, tur(), asynch=True), op(SETTLE), reset(0), take(0))

# 67 iovec pieces for a 256 KiB controller (66 at most): four ranges that each start on a page's last byte
PIECES = [(1 + 4096 * 16, 4095, [win_page(0x2000 * i) for i in range(17)]) for _ in range(3)] + \
    [(1 + 4096 * 15, 4095, [win_page(0x2000 * i + 0x1000) for i in range(16)])]
seed("iov_pieces", CFG_HANDSHAKE | CFG_XFER256K,
     raw(vstor(EXECUTE_SRB, payload=vm_srb(rw(10, False, 0, 512), dtl=sum(r[0] for r in PIECES), data_in=READ)),
         gpa=(4, PIECES)),
     raw(vstor(EXECUTE_SRB, payload=vm_srb(rw(10, False, 0, 400), dtl=sum(r[0] for r in PIECES[:3]),
                                           data_in=READ)), gpa=(3, PIECES[:3])),
     srb(tur()))

seed("mode_select_lists", CFG_HANDSHAKE,
     wbuf(0x2000, bytes([0, 0, 0, 20]) + bytes(8)), srb(mode_select6(12), length=12, off=0x2000),  # bdl too long
     wbuf(0x2000, bytes([0, 0, 0, 4]) + bytes(4)), srb(mode_select6(8), length=8, off=0x2000),     # bdl not 8
     wbuf(0x2000, bytes([0, 0, 0, 8]) + be32(5) + bytes([0, 0, 2, 0])),                          # wrong capacity
     srb(mode_select6(12), length=12, off=0x2000),
     wbuf(0x2000, bytes([0, 0, 0, 8]) + be32(4096) + bytes([0, 0, 2, 0]) + ms_cache + b"\x08"),   # a stray byte
     srb(mode_select6(33), length=33, off=0x2000),
     wbuf(0x2000, bytes([0, 0, 0, 0]) + b"\x0a\x0a\x04" + bytes(9)),                              # D_SENSE
     srb(mode_select6(16), length=16, off=0x2000),
     wbuf(0x2000, bytes([0, 0, 0, 0, 1, 0, 0, 16]) + be64(4096) + bytes(4) + be32(512) + ms_ctrl),
     srb(mode_select10(36), length=36, off=0x2000), srb(mode_select10(36), length=36, off=0x2000, lun=1))

seed("wild_pfn", CFG_HANDSHAKE,
     srb(rw(10, False, 0, 8), rng=(0, 4096, [wild(0x142)])),        # READ into the rings
     srb(rw(10, False, 0, 1), rng=(0, 512, [wild(0x10)])),          # into the SIM page
     srb(tur()))


if __name__ == "__main__":
    write_corpus("fuzz_vsp_storvsp", SEEDS, ".bin")

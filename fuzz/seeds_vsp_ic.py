#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz/fuzz_vsp_ic.c into fuzz/corpus/fuzz_vsp_ic/.

An input is one config byte (FZ_CFG_* in the target), then operations: an opcode byte (enum fz_op) and its operands,
integers little-endian. The guest's answers are built by REPLY from the host's request as the Linux-like client
(guest/vsc/vsc_ic.c) would answer it, then patched: the offsets below are those of an IC message as it travels in
the packet (pipe header 0-7, icmsg_hdr 8-27, body from 28). Re-run after changing the encoding:
python3 fuzz/seeds_vsp_ic.py (crash-* files in the directory are kept).
"""
from seedlib import u8, u16, u32, u64, write_corpus

(OPEN, CLOSE, AUTO, TAKE, REPLY, SHUTDOWN, KVP_SET, KVP_GET, FIRE, WAIT, UTF16, UTF8, VERSIONS,
 RECREATE, GUEST_ITEMS) = range(15)
SD, TS, HB, KVP = range(4)

CFG_REFTIME, CFG_NO_KVP, CFG_HB_FAST, CFG_TS_FAST, CFG_KVP_FAST, CFG_OPEN, CFG_NEGOTIATE = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)
UP = CFG_OPEN | CFG_NEGOTIATE  # every channel open and negotiated by the Linux-like client

# Packet payload offsets (include/openhv/vmbus_ic.h).
PIPE_FLAGS, PIPE_MSGSIZE = 0, 4
IC_FRAME, IC_TYPE, IC_MSGVER, IC_SIZE, IC_STATUS, IC_TID, IC_FLAGS = 8, 12, 14, 18, 20, 24, 25
BODY = 28
NEG_FCNT, NEG_MCNT, NEG_VERS = BODY, BODY + 2, BODY + 8
HB_SEQ = BODY
KVP_OP, KVP_POOL = BODY, BODY + 1
ENUM_INDEX = BODY + 4
ENUM_TYPE, ENUM_KSIZE, ENUM_VSIZE, ENUM_KEY, ENUM_VALUE = BODY + 8, BODY + 12, BODY + 16, BODY + 20, BODY + 532

S_OK, E_FAIL, S_CONT = 0, 0x80004005, 0x80070103
REG_SZ, REG_U32, REG_U64 = 1, 4, 8
RESPONSE = 1 | 4  # TRANSACTION | RESPONSE


def ver(major, minor):
    return u16(major) + u16(minor)


def utf16(s, nul=True):
    """UTF-16LE of a str (surrogate pairs for astral characters), NUL included by default."""
    return s.encode("utf-16-le") + (b"\0\0" if nul else b"")


def op_open(svc):
    return u8(OPEN) + u8(svc)


def op_close(svc):
    return u8(CLOSE) + u8(svc)


def op_auto(svc, rounds=8):
    return u8(AUTO) + u8(svc) + u8(rounds - 1)


def op_auto_all(rounds=8):
    return u8(AUTO) + u8(0x80) + u8(rounds - 1)


def op_take(svc):
    return u8(TAKE) + u8(svc)


def op_reply(svc, take=True, base=2, tid=None, type_flags=None, patches=(), length=None, desc=None):
    """The guest's answer: base 0 empty, 1 the request, 2 the Linux answer to it; then patches (offset, bytes)."""
    mode = (1 if take else 0) | base << 1
    b = b""
    if tid is not None:
        mode |= 0x08
        b += u64(tid)
    if type_flags is not None:
        mode |= 0x10
        b += u16(type_flags[0]) + u16(type_flags[1])
    if patches:
        mode |= 0x20
        pieces = []
        for off, data in patches:  # long data: split into 255-byte patches
            for i in range(0, len(data), 255):
                pieces.append((off + i, data[i:i + 255]))
        assert len(pieces) <= 8, "at most 8 patches"
        b += u8(len(pieces))
        for off, data in pieces:
            b += u16(off) + u8(len(data)) + data
    if length is not None:
        mode |= 0x40
        b += u16(length)
    if desc is not None:
        mode |= 0x80
        b += u8(len(desc)) + desc
    return u8(REPLY) + u8(svc) + u8(mode) + b


def op_shutdown(reboot=False, force=False, raw_kind=None):
    sel = (1 if reboot else 0) | (2 if force else 0)
    if raw_kind is not None:
        sel |= 4 | raw_kind << 3
    return u8(SHUTDOWN) + u8(sel)


def op_kvp_set(key, value):
    k = key.encode() if isinstance(key, str) else key
    v = value.encode() if isinstance(value, str) else value
    return u8(KVP_SET) + u16(len(k)) + u16(len(v)) + k + v


def op_kvp_get(key, cap=256):
    k = key.encode() if isinstance(key, str) else key
    return u8(KVP_GET) + u16(len(k)) + u16(cap) + k


def op_fire(svc):
    return u8(FIRE) + u8(svc)


def op_wait():
    return u8(WAIT)


def op_utf16(data, cap):
    assert len(data) % 2 == 0
    return u8(UTF16) + u16(len(data) // 2) + u16(cap - 1) + data


def op_utf8(data, max_units):
    return u8(UTF8) + u16(len(data)) + u16(max_units) + data


def op_versions(svc, fw, msg):
    b = u8(VERSIONS) + u8(svc) + u8(len(fw) | len(msg) << 2)
    for v in list(fw) + list(msg):
        b += u32(v)
    return b


def op_recreate():
    return u8(RECREATE)


def op_guest_items(n):
    """The client's auto pool: the first n generated items Item000.. (0: the default three)."""
    return u8(GUEST_ITEMS) + u16(n)


def negotiate_body(fw, msg, fcnt=1, mcnt=1):
    """A negotiate answer body from NEG_FCNT on: counts, reserved, the two chosen versions."""
    return u16(fcnt) + u16(mcnt) + u32(0) + ver(*fw) + ver(*msg)


def enum_item(key, value, vtype=REG_SZ, ksize=None, vsize=None):
    """Patches for an ENUMERATE answer item: status S_OK, type, sizes, key, value (UTF-16LE unless bytes)."""
    k = utf16(key) if isinstance(key, str) else key
    if isinstance(value, bytes):
        v = value
    elif vtype == REG_SZ:
        v = utf16(value)
    elif vtype == REG_U32:
        v = u32(value)
    else:
        v = u64(value)
    p = [(IC_STATUS, u32(S_OK)), (ENUM_TYPE, u32(vtype) + u32(len(k) if ksize is None else ksize) + u32(len(v) if vsize is None else vsize))]
    p.append((ENUM_KEY, k))
    if v:
        p.append((ENUM_VALUE, v))
    return p


SEEDS = {}


def seed(name, config, *ops):
    SEEDS[name] = u8(config) + b"".join(ops)


# ---- valid, Linux-like ------------------------------------------------------------------------------------------

seed("linux_all_up", UP, op_auto_all(8))
seed("linux_all_up_reftime", UP | CFG_REFTIME, op_auto_all(8), op_fire(TS), op_auto(TS), op_fire(HB), op_auto(HB))
seed("linux_no_kvp", UP | CFG_NO_KVP | CFG_REFTIME, op_auto_all(4), op_kvp_set("k", "v"), op_kvp_get("k"))
seed("open_by_ops", 0, op_open(SD), op_open(TS), op_open(HB), op_open(KVP), op_auto_all(8))

# Negotiation answered by hand: the Linux answer built from the request (trans_id patched in by the target).
seed("negotiate_manual_each", CFG_OPEN | CFG_REFTIME,
     op_reply(SD), op_reply(TS), op_reply(HB), op_reply(KVP),
     op_reply(TS), op_reply(HB), op_reply(KVP))
# Linux's answers spelled out: framework 3.0 with the newest message version of each service.
seed("negotiate_spelled_out", CFG_OPEN | CFG_REFTIME,
     op_reply(SD, base=1, patches=[(IC_SIZE, u16(16)), (IC_FLAGS, u8(RESPONSE)),
                                    (NEG_FCNT, negotiate_body((3, 0), (3, 2)))]),
     op_reply(TS, base=1, patches=[(IC_SIZE, u16(16)), (IC_FLAGS, u8(RESPONSE)),
                                    (NEG_FCNT, negotiate_body((3, 0), (4, 0)))]),
     op_reply(HB, base=1, patches=[(IC_SIZE, u16(16)), (IC_FLAGS, u8(RESPONSE)),
                                    (NEG_FCNT, negotiate_body((3, 0), (3, 0)))]),
     op_reply(KVP, base=1, patches=[(IC_SIZE, u16(16)), (IC_FLAGS, u8(RESPONSE)),
                                     (NEG_FCNT, negotiate_body((3, 0), (4, 0)))]),
     op_auto_all(4))
# Old guests: framework 1.0 and the oldest message versions; time sync in the 3.0/1.0 format.
seed("negotiate_old_versions", CFG_OPEN | CFG_REFTIME,
     op_versions(SD, [0x10000], [0x10000]), op_versions(TS, [0x10000], [0x10000]),
     op_versions(HB, [0x10000], [0x10000]), op_versions(KVP, [0x10000], [0x10000]),
     op_auto_all(6), op_shutdown(), op_auto(SD), op_fire(TS), op_auto(TS))
seed("negotiate_ts3_noref", CFG_OPEN, op_auto(TS), op_fire(TS), op_auto(TS))

# ---- services --------------------------------------------------------------------------------------------------

seed("shutdown_poweroff_reboot", UP,
     op_shutdown(), op_reply(SD),
     op_shutdown(reboot=True, force=True), op_reply(SD),
     op_shutdown(force=True), op_reply(SD, patches=[(IC_STATUS, u32(E_FAIL))]),
     op_shutdown(raw_kind=7), op_shutdown(raw_kind=1))
seed("shutdown_before_negotiate", CFG_OPEN, op_shutdown(), op_reply(SD), op_shutdown(reboot=True), op_auto(SD))
seed("shutdown_ring_full", UP, *([op_shutdown()] * 8), op_auto(SD, 8), op_shutdown())
seed("heartbeat_manual", UP | CFG_HB_FAST,
     op_fire(HB), op_reply(HB), op_fire(HB), op_reply(HB),
     op_fire(HB), op_take(HB), op_fire(HB), op_reply(HB))  # answering the newer settles the older
seed("heartbeat_lost", UP | CFG_HB_FAST, op_wait(), op_wait(), op_auto(HB), op_wait(), op_auto(HB))
seed("timesync_samples", UP | CFG_REFTIME | CFG_TS_FAST, op_fire(TS), op_reply(TS), op_fire(TS), op_wait(),
     op_auto(TS), op_close(TS), op_open(TS), op_auto(TS, 3))

# ---- KVP -------------------------------------------------------------------------------------------------------

seed("kvp_set_then_enumerate", CFG_OPEN | CFG_REFTIME,
     op_kvp_set("VirtualMachineName", "vm1"), op_kvp_set("Schl\u00fcssel", "caf\u00e9"),
     op_auto(KVP, 8), op_kvp_get("OSName"), op_kvp_get("NetworkAddressIPv4", 5), op_kvp_get("Nope"),
     op_kvp_set("A", "1"), op_kvp_set("VirtualMachineName", "vm2"), op_auto(KVP), op_kvp_get(b"", 1))
# Enumeration answered by hand, one item each: UTF-16 keys and values with astral characters and REG_U32/U64.
seed("kvp_enum_utf16", CFG_OPEN,
     op_reply(KVP),  # negotiate
     op_reply(KVP, base=2, patches=enum_item("Gr\u00fc\u00dfe \U0001F600", "\u65e5\u672c \U00010348")),
     op_reply(KVP, base=2, patches=enum_item("Count", 4000000000, REG_U32)),
     op_reply(KVP, base=2, patches=enum_item("Big", 0xFFFFFFFFFFFFFFFF, REG_U64)),
     op_reply(KVP, base=2, patches=[(IC_STATUS, u32(S_CONT))]),
     op_kvp_get("Gr\u00fc\u00dfe \U0001F600"), op_kvp_get("Count"), op_kvp_get("Big"), op_kvp_get("Big", 3))
# Hostile items: unpaired surrogates, no NUL, odd sizes, a key of 256 units, an empty key, sizes beyond the arrays.
seed("kvp_enum_hostile_items", CFG_OPEN,
     op_reply(KVP),
     op_reply(KVP, patches=enum_item(u16(0xD800) + b"A\0" + u16(0xDC00) + u16(0xDBFF), u16(0xDFFF) + u16(0xD83D))),
     op_reply(KVP, patches=enum_item(b"K\0" * 200, b"V\0" * 255, ksize=512, vsize=2048)),
     op_reply(KVP, patches=enum_item(b"x\0" * 16, b"y\0", ksize=7, vsize=1)),
     op_reply(KVP, patches=enum_item(b"\0\0", b"v\0\0\0")),
     op_reply(KVP, patches=enum_item(b"k\0\0\0", b"", ksize=514, vsize=0)),
     op_reply(KVP, patches=enum_item(b"k\0\0\0", b"", ksize=4, vsize=2050)),
     op_reply(KVP, patches=enum_item(b"k\0\0\0", b"", vtype=3)),
     op_reply(KVP, patches=[(IC_STATUS, u32(S_OK)), (ENUM_INDEX, u32(77))]),
     op_reply(KVP, patches=[(IC_STATUS, u32(S_OK)), (KVP_POOL, u8(0))]),
     op_reply(KVP, patches=[(IC_STATUS, u32(E_FAIL))]),
     op_kvp_get(b"\xef\xbf\xbdA"), op_kvp_get("K" * 200, 4000))
seed("kvp_enum_short_answer", CFG_OPEN,
     op_reply(KVP), op_reply(KVP, patches=[(IC_SIZE, u16(100))], length=128),
     op_reply(KVP, take=False, patches=[(PIPE_MSGSIZE, u32(20 + 4)), (IC_SIZE, u16(4))], length=32),
     op_reply(KVP, take=False), op_auto(KVP))
seed("kvp_set_answers", CFG_OPEN,
     op_reply(KVP), op_auto(KVP),  # empty-ish pass
     op_kvp_set("A", "1"), op_reply(KVP, patches=[(IC_STATUS, u32(E_FAIL))]),
     op_kvp_set("B", "\U0001F600" * 3), op_reply(KVP, patches=[(KVP_OP, u8(3))]),
     op_reply(KVP, take=False), op_kvp_set("B", "2"), op_auto(KVP))
seed("kvp_host_strings", 0,
     op_kvp_set(b"", b"x"), op_kvp_set(b"bad\xff", b"x"), op_kvp_set(b"k", b"\xc0\xaf"),
     op_kvp_set(b"k", b"\xed\xa0\x80"), op_kvp_set(b"k", b"\xf4\x90\x80\x80"), op_kvp_set(b"k", b"\xe2\x82"),
     op_kvp_set(b"a" * 255, b"x"), op_kvp_set(b"a" * 256, b"x"), op_kvp_set(b"\xf0\x9f\x98\x80" * 64, b"y"),
     *[op_kvp_set("K%u" % i, "v") for i in range(30)], op_kvp_set("OneTooMany", "v"), op_kvp_set("K3", "w"))
seed("kvp_host_long_values", CFG_OPEN, op_kvp_set(b"v", b"b" * 1023), op_kvp_set(b"v", b"b" * 1024),
     op_reply(KVP), op_auto(KVP, 8))
seed("kvp_host_long_value_utf8", CFG_OPEN, op_kvp_set(b"w", "\u20ac".encode() * 1023),
     op_kvp_set("\U0001F600" * 128, "x"), op_auto(KVP, 8))  # 1023 units: fits; a key of 256 units: not
# A bigger auto pool: the host's guest table (32) overflows; 300 items meet the 256-index cap of one pass.
seed("kvp_guest_table_full", CFG_OPEN, op_guest_items(40), op_auto(KVP, 64), op_kvp_get("Item000"),
     op_kvp_get("Item039"))
seed("kvp_enum_cap", CFG_OPEN, op_guest_items(300), *[op_auto(KVP, 64)] * 5, op_guest_items(0), op_close(KVP),
     op_open(KVP), op_auto(KVP, 16))
# A full table (32 items kept of 40), then a complete pass of three other items: none of them is kept, since the
# stale entries hold every slot until the pass ends, and then they go too (the table ends empty).
seed("kvp_full_table_next_pass", CFG_OPEN, op_guest_items(40), op_auto(KVP, 64), op_close(KVP), op_open(KVP),
     op_guest_items(0), op_auto(KVP, 16), op_kvp_get("OSName"), op_kvp_get("Item000"))
# A second pass that reports one item forgets the others.
seed("kvp_second_pass_forgets", UP, op_close(KVP), op_open(KVP), op_reply(KVP), op_reply(KVP),
     op_reply(KVP, patches=[(IC_STATUS, u32(S_CONT))]), op_kvp_get("OSName"), op_kvp_get("FullyQualifiedDomainName"))
# Re-sent after every timeout while the guest reads nothing: the host -> guest ring fills up.
seed("kvp_timeout_ring_full", UP | CFG_KVP_FAST, op_kvp_set("A", "1"), op_wait(), op_wait(), op_wait(),
     op_fire(KVP), op_auto(KVP, 16))
seed("heartbeat_ring_full", UP, *[op_fire(HB)] * 170, op_auto(HB, 64), op_fire(HB), op_auto(HB))
seed("timesync_ring_full", UP | CFG_REFTIME, *[op_fire(TS)] * 240, op_auto(TS, 64), op_fire(TS), op_auto(TS))
seed("short_bodies", CFG_OPEN,
     op_reply(SD, patches=[(PIPE_MSGSIZE, u32(24)), (IC_SIZE, u16(4))], length=32),  # negotiate body < 8
     op_reply(SD, take=False, length=5000),  # larger than the channel's receive buffer
     op_reply(SD, take=False), op_reply(KVP),
     op_reply(KVP, patches=[(PIPE_MSGSIZE, u32(22)), (IC_SIZE, u16(2))], length=30),  # KVP body < 4
     op_auto(KVP))
seed("kvp_timeout", UP | CFG_KVP_FAST,
     op_kvp_set("A", "1"), op_take(KVP), op_wait(), op_fire(KVP),
     op_reply(KVP, take=False),  # the late answer to the abandoned request
     op_auto(KVP))
seed("kvp_enum_timeout", CFG_OPEN | CFG_KVP_FAST, op_reply(KVP), op_take(KVP), op_wait(), op_fire(KVP),
     op_reply(KVP, take=False), op_auto(KVP), op_kvp_get("OSName"))
seed("kvp_silent_then_close", CFG_OPEN, op_auto(SD), op_kvp_set("A", "1"), op_kvp_set("B", "2"),
     op_close(KVP), op_open(KVP), op_auto(KVP), op_kvp_get("OSName"))

# ---- framing and trans_id -----------------------------------------------------------------------------------------

seed("framing_hostile", CFG_OPEN,
     op_take(SD),
     op_reply(SD, take=False, patches=[(PIPE_FLAGS, u32(2))]),
     op_reply(SD, take=False, patches=[(PIPE_MSGSIZE, u32(0xFFFFFFFF))]),
     op_reply(SD, take=False, patches=[(IC_SIZE, u16(0xFFFF))]),
     op_reply(SD, take=False, patches=[(IC_FLAGS, u8(7))]),
     op_reply(SD, take=False, patches=[(IC_TID, u8(0x55))]),
     op_reply(SD, take=False, patches=[(IC_TYPE, u16(3))]),
     op_reply(SD, take=False, length=27),
     op_reply(SD, take=False, length=0),
     op_reply(SD, take=False, tid=0),
     op_reply(SD, take=False, tid=0xFFFFFFFFFFFFFFFF),
     op_reply(SD, take=False, type_flags=(0xB, 0)),  # VM_PKT_COMP
     op_reply(SD, take=False, type_flags=(0x9, 0), desc=u32(0) + u32(1) + u32(0) + u32(8) + u64(0x1234)),
     op_reply(SD, take=False, type_flags=(0x6, 1)),  # INBAND with completion requested: accepted
     op_reply(SD, take=False),  # the same answer again: stale
     op_auto(SD))
seed("negotiate_hostile", CFG_OPEN | CFG_REFTIME,
     op_take(HB),
     op_reply(HB, take=False, patches=[(NEG_FCNT, u16(2) + u16(1))]),
     op_reply(HB, take=False, patches=[(NEG_VERS, ver(2, 0))]),
     op_reply(HB, take=False, patches=[(NEG_VERS + 4, ver(4, 0))]),
     op_reply(HB, take=False, patches=[(IC_SIZE, u16(8))]),
     op_reply(HB, take=False, patches=[(IC_SIZE, u16(4))], length=32),
     op_reply(HB, take=False, patches=[(NEG_FCNT, u16(0) + u16(0))]),  # no common version: service unused
     op_reply(HB, take=False), op_fire(HB), op_shutdown(),
     op_take(TS), op_reply(TS, take=False, patches=[(NEG_VERS + 4, ver(4, 0))]), op_auto(TS))
seed("heartbeat_hostile", UP,
     op_fire(HB), op_reply(HB, patches=[(HB_SEQ, u64(0x1000))]),
     op_fire(HB), op_reply(HB, patches=[(IC_SIZE, u16(4))]),
     op_fire(HB), op_reply(HB, patches=[(IC_TYPE, u16(0))]),
     op_fire(HB), op_reply(HB, base=1, patches=[(IC_FLAGS, u8(RESPONSE))]),
     op_reply(HB, take=False, tid=1))

# ---- lifecycle ----------------------------------------------------------------------------------------------------

seed("close_reopen_midway", UP,
     op_shutdown(), op_close(SD), op_open(SD), op_reply(SD), op_shutdown(), op_auto(SD),
     op_kvp_set("A", "1"), op_take(KVP), op_close(KVP), op_reply(KVP, take=False), op_open(KVP), op_auto(KVP),
     op_close(HB), op_fire(HB), op_open(HB), op_auto(HB))
seed("recreate_open", UP, op_kvp_set("A", "1"), op_take(KVP), op_recreate(), op_shutdown(),
     op_open(SD), op_open(KVP), op_auto_all(8), op_kvp_get("OSName"), op_recreate(), op_auto_all(2))

# ---- the converters directly ----------------------------------------------------------------------------------------

seed("utf_direct", 0,
     op_utf16(utf16("Gr\u00fc\u00dfe \U0001F600 \u65e5\u672c", nul=False), 64),
     op_utf16(u16(0xD800) + u16(0x41) + u16(0xDC00) + u16(0xDBFF), 16),
     op_utf16(utf16("\U0001F600\U0001F600", nul=False), 6),
     op_utf16(utf16("\u20ac\u20ac", nul=False), 4),
     op_utf16(b"", 1), op_utf16(u16(0x41) + u16(0) + u16(0x42), 8),
     op_utf8("a\u00fc\u20ac\U0001F600".encode(), 6), op_utf8("a\u00fc\u20ac\U0001F600".encode(), 5),
     op_utf8(b"\xc0\xaf", 8), op_utf8(b"\xed\xa0\x80", 8), op_utf8(b"ab\xf4\x90\x80\x80", 2),
     op_utf8(b"\xf0\x9f\x98", 8), op_utf8(b"", 0), op_utf8(b"", 1), op_utf8(b"x" * 600, 1000))


if __name__ == "__main__":
    write_corpus("fuzz_vsp_ic", SEEDS, ".bin")

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz/fuzz_vmbus.c into fuzz/corpus/fuzz_vmbus/.

Each seed is a program of the target's operations (see the comment at the top of fuzz_vmbus.c and enum fz_op;
integers little-endian). Re-run after changing the operation encoding: python3 fuzz/seeds_vmbus.py
Check what the seeds reach: FUZZ_VMBUS_STATS=1 build-h4/fuzz_vmbus fuzz/corpus/fuzz_vmbus/<seed>

At start the server offers three devices: relid 1 = echo (slot 0), relid 2 = refuse (slot 1), relid 3 = chatty
(slot 2, 512-byte packets). Ring pages are guest pages 16 + base ... (the GPADL op folds them into RAM).
"""
from seedlib import u8, u16, u32, u64, write_corpus

(POST_RAW, CONTACT, REQUEST_OFFERS, GPADL, TEARDOWN, OPEN, CLOSE, RELEASE, MODIFY, UNLOAD, TL_CONNECT, RAM_WRITE,
 RING_HDR, PACKET, SIGNAL, GUEST_READ, POLL, TAKE, AUTOTAKE, OFFER, RESCIND, HOST_SEND, KICK, RECREATE, SYNIC,
 DEV_MODE, SUBCHANNELS) = range(27)
SLOTS = 6
NOAUTO = 0x80

# CONTACT version selectors.
V53, V52, V51, V50, V41, V40, V30, V24, V11, V013, VRAW = range(11)
ECHO, REFUSE, CHATTY, SILENT = range(4)
LOW = 16  # first ring page
RAM_PAGES = 256

# Ring header fields for RING_HDR (which = field << 1 | out).
F_WRITE, F_READ, F_MASK, F_PENDING, F_FEATURES = range(5)


def op(code, noauto=False):
    return u8(code | (NOAUTO if noauto else 0))


def relid(r):
    return u8(r) if r < 8 else u8(0x80) + u32(r)


def contact(ver, vcpu=0, sint=0, flags=0, raw=None, noauto=False):
    b = op(CONTACT, noauto) + u8(ver)
    if ver == VRAW:
        b += u32(raw)
    return b + u8(vcpu) + u8(sint) + u8(flags)


def request_offers(noauto=False):
    return op(REQUEST_OFFERS, noauto)


def gpadl(r, idx, npfn, base, mode=0, split=26, noauto=False):
    assert 1 <= npfn < 4400
    n = npfn if npfn < 64 else 0x8000 | npfn  # bit 15: a large GPADL
    return op(GPADL, noauto) + relid(r) + u8(idx) + u16(n) + u16(base) + u8(mode) + u8(split)


def teardown(r, idx, noauto=False):
    return op(TEARDOWN, noauto) + relid(r) + u8(idx)


def open_ch(r, idx, d=0, vp=0, openid=0, flags=0, bad=None, noauto=False):
    b = op(OPEN, noauto) + relid(r) + u8(openid) + u8(idx) + u8(vp) + u8(d) + u8(flags)
    if flags & 1:
        b += u32(bad[0]) + u32(bad[1])
    return b


def close_ch(r):
    return op(CLOSE) + relid(r)


def release(r):
    return op(RELEASE) + relid(r)


def modify(r, vp):
    return op(MODIFY) + relid(r) + u8(vp)


def unload(noauto=False):
    return op(UNLOAD, noauto)


def tl_connect(size=32):
    return op(TL_CONNECT) + u8(size)


def ram_write(gpa, data):
    assert gpa >= LOW * 4096 and 1 <= len(data) <= 256
    return op(RAM_WRITE) + u32(gpa - LOW * 4096) + u8(len(data) - 1) + data


def ring_hdr(idx, out, field, value):
    return op(RING_HDR) + u8(idx) + u8(field << 1 | (1 if out else 0)) + u32(value)


# PACKET kinds.
K_INBAND, K_GPA, K_COMP, K_RAW = 0, 1, 2, 3
K_COMPREQ, K_LEN8, K_OFF8, K_NOSPACE, K_NOSIGNAL, K_SIGNAL = 4, 8, 16, 32, 64, 128


def packet(idx, kind, payload=b"", tr=0, big=False, ranges=None, rc=None, len8=None, off8=None, rawtype=None,
           noauto=False):
    """ranges: list of (pfn_byte, pages, offset, count) for GPA-direct; big: payload is len(payload) * 16 bytes."""
    assert len(payload) <= 255
    b = op(PACKET, noauto) + u8(idx) + u8(kind) + u16(tr | (0x8000 if big else 0)) + u8(len(payload)) + payload
    if kind & 3 == K_GPA:
        ranges = ranges or [(0, 1, 0, 0)]
        b += u8(rc if rc is not None else len(ranges) - 1)
        for pb, np, off, cnt in ranges:
            b += u8(pb) + u8(np - 1) + u16(off) + u16(cnt)
    if kind & K_LEN8:
        b += u16(len8)
    if kind & K_OFF8:
        b += u16(off8)
    if kind & 3 == K_RAW:
        b += u8(rawtype)
    return b


def signal(r, vp=0, flag=0, raw_conn=None):
    b = op(SIGNAL)
    b += u8(0x80) + u32(raw_conn) if raw_conn is not None else u8(r)
    b += u8(vp)
    return b + (u8(0x80) + u16(flag) if flag >= 16 else u8(flag))


def guest_read(idx, maxp=64, flags=0, noauto=False):
    return op(GUEST_READ, noauto) + u8(idx) + u8(maxp - 1) + u8(flags)


def poll(n=1):
    return op(POLL) + u8(n - 1)


def take(vp=0, sint=2, flags=0):
    return op(TAKE) + u8(vp) + u8(sint) + u8(flags)


def autotake(on):
    return op(AUTOTAKE) + u8(1 if on else 0)


def offer(slot, kind):
    return op(OFFER) + u8(slot) + u8(kind)


def chan(slot, sub=0):
    """Channel selector: device slot, sub-channel index (0 = primary)."""
    return u8(slot + SLOTS * sub)


def rescind(slot, sub=0, noauto=False):
    return op(RESCIND, noauto) + chan(slot, sub)


def host_send(slot, sel, length, sub=0):
    return op(HOST_SEND) + chan(slot, sub) + u8(sel) + u8(length)


def kick(slot, n, sub=0):
    return op(KICK) + chan(slot, sub) + u8(n - 1)


def subchannels(slot, n):
    return op(SUBCHANNELS) + u8(slot) + u8(n)


def recreate(sel):
    return op(RECREATE) + u8(sel)


def synic(vp, on):
    return op(SYNIC) + u8(vp) + u8(1 if on else 0)


def dev_mode(slot, mode):
    return op(DEV_MODE) + u8(slot) + u8(mode)


def raw(payload, vp=0, conn=1, msg_type=None):
    sel = {1: 0, 4: 1, 0x10001: 2}.get(conn, 3)
    b = op(POST_RAW) + u8(vp)
    if msg_type is not None:
        sel |= 4
    b += u8(sel)
    if sel & 3 == 3:
        b += u32(conn)
    if msg_type is not None:
        b += u32(msg_type)
    return b + u8(len(payload)) + payload


def msg(msgtype, *words):
    return u32(msgtype) + u32(0) + b"".join(u32(w) for w in words)


# ---- building blocks -----------------------------------------------------------------------------------------------

def connect(ver=V53):
    return contact(ver) + request_offers()


def ring(r, idx, npfn, base, d=None):
    """A ring GPADL (header + bodies) and the OPEN of channel r on it."""
    return gpadl(r, idx, npfn, base) + open_ch(r, idx, d or npfn // 2)


def echo_traffic(idx, n=8):
    b = b""
    for i in range(n):
        b += packet(idx, K_INBAND | K_COMPREQ, bytes([i & 0x3F]) + b"request %d" % i, tr=i)
    b += guest_read(idx)
    return b


def seeds():
    s = {}

    # 5.3: offers, a 16-page ring GPADL, open, every packet kind, wrap-around, close, teardown, reopen.
    b = connect(V53) + ring(1, 0, 8, 0)
    b += packet(0, K_INBAND | K_COMPREQ, b"\x00hello", tr=1)
    b += packet(0, K_INBAND, b"\x80echo me back", tr=2)
    b += packet(0, K_INBAND | K_COMPREQ, b"\x40\x0dxfer pages please", tr=3)
    b += packet(0, K_GPA | K_COMPREQ, b"\x00scsi", tr=4, ranges=[(100, 2, 512, 6000), (7, 1, 0, 0)])
    b += packet(0, K_GPA | K_COMPREQ, b"\x00one range", tr=5, ranges=[(30, 3, 4000, 0)])
    b += packet(0, K_COMP, b"a completion from the guest", tr=6)
    b += guest_read(0)
    for i in range(40):  # 1 KiB packets: the 12 KiB guest -> host ring wraps
        b += packet(0, K_INBAND | K_COMPREQ, bytes([i]) * 64, tr=0x100 + i, big=True)
        if i % 5 == 4:
            b += guest_read(0)
    b += guest_read(0) + close_ch(1) + teardown(1, 0)
    b += ring(1, 1, 12, 40, d=4) + echo_traffic(1, 6) + close_ch(1) + teardown(1, 1)
    s["echo_v53"] = b

    # 4.0 (connection 1, interrupt page): the chatty device, header + body GPADL, unsolicited bursts, the
    # guest's reads signalling a host that waits with pending_send_sz.
    b = connect(V40) + gpadl(3, 2, 34, 100, split=26) + open_ch(3, 2, 6)
    b += guest_read(2) + dev_mode(2, 3) + kick(2, 16)
    for _ in range(6):
        b += guest_read(2, 8) + poll()
    b += packet(2, K_INBAND | K_COMPREQ, b"to chatty", tr=9)
    b += kick(2, 16) + guest_read(2, 64) + guest_read(2, 64)
    b += close_ch(3) + teardown(3, 2) + gpadl(3, 2, 12, 100, split=5) + open_ch(3, 2, 6)
    b += guest_read(2) + close_ch(3) + teardown(3, 2)
    # Small host -> guest ring: the bursts stop on -EAGAIN and resume when the guest reads.
    b += gpadl(3, 3, 5, 150) + open_ch(3, 3, 3) + kick(2, 16) + kick(2, 16)
    for _ in range(8):
        b += guest_read(3, 3)
    b += guest_read(3, 64, flags=8) + kick(2, 4) + guest_read(3, 64, flags=16) + close_ch(3)
    s["chatty_v40"] = b

    # Tiny rings (one data page each way): many wraps, back-pressure on the completions.
    b = connect(V52) + ring(1, 0, 4, 60, d=2)
    for i in range(24):
        b += packet(0, K_INBAND | K_COMPREQ, bytes([i]) * (40 + i * 7), tr=i)
        if i % 3 == 2:
            b += guest_read(0, 2)
    b += guest_read(0) + signal(1)
    b += dev_mode(0, 8) + echo_traffic(0, 5) + signal(1) + guest_read(0)
    s["wrap_small"] = b

    # Sub-channels: the guest asks the echo device for 3 (relids 4-6), opens and uses them, asks again (refused),
    # closes the primary (the sub-channels go), reopens, asks for 2; host-side requests; hot-remove of one
    # sub-channel and of the device with its sub-channels; a bus reset forgets them.
    b = connect(V53) + ring(1, 0, 6, 0, d=3) + packet(0, K_INBAND | K_COMPREQ, b"\x20\x03create", tr=1)
    for i in range(3):
        b += ring(4 + i, 1 + i, 6, 10 + 8 * i, d=3) + packet(1 + i, K_INBAND | K_COMPREQ, b"\x80sub", tr=10 + i)
    b += guest_read(0) + guest_read(1) + guest_read(2) + guest_read(3) + kick(0, 3, sub=2) + host_send(0, 1, 9, sub=3)
    b += packet(0, K_INBAND, b"\x20\x02again") + subchannels(0, 2) + subchannels(0, 0x80)
    b += close_ch(1) + teardown(1, 0) + release(5) + release(6) + release(4)
    b += ring(1, 4, 6, 60, d=3) + packet(4, K_INBAND, b"\x20\x00zero") + packet(4, K_INBAND, b"\x20\xffmany")
    b += subchannels(0, 2) + ring(4, 5, 6, 80, d=3) + packet(5, K_INBAND | K_COMPREQ, b"\x00on sub 1", tr=3)
    b += rescind(0, sub=1) + close_ch(4) + teardown(4, 5) + release(4) + guest_read(5)
    b += packet(4, K_INBAND | K_COMPREQ, b"\x20\x01", tr=4) + ring(4, 6, 6, 100, d=3) + rescind(0)
    b += contact(V53) + request_offers() + offer(0, ECHO) + ring(1, 7, 6, 120, d=3)
    b += packet(7, K_INBAND, b"\x20\x05five") + unload()
    s["subchannels"] = b

    # Back-pressure: the guest does not read the host -> guest ring until the host waits for space.
    b = connect(V53) + ring(1, 0, 6, 80, d=4)
    for i in range(60):
        b += packet(0, K_INBAND | K_COMPREQ, b"\x00" + bytes([i]) * 60, tr=i)
    b += guest_read(0, 4) + guest_read(0, 64) + guest_read(0, 64) + poll(2) + guest_read(0, 64)
    s["backpressure"] = b

    # The guest asks the host to signal when its ring has room (pending_send_sz on the guest -> host ring).
    b = connect(V53) + ring(1, 0, 6, 120, d=3)
    b += ring_hdr(0, False, F_PENDING, 2000)
    for i in range(11):  # 7.5 of the 8 KiB: less free space than pending_send_sz
        b += packet(0, K_INBAND | K_NOSIGNAL, bytes([i]) * 42, tr=i, big=True, noauto=True)
    b += signal(1) + guest_read(0)
    s["pending_send"] = b

    # The refusing device, then told to accept; a second open of an open channel; open result statuses.
    b = connect(V51) + gpadl(2, 3, 8, 140) + open_ch(2, 3, 4)
    b += dev_mode(1, 1) + open_ch(2, 3, 4) + guest_read(3) + packet(3, K_INBAND, b"hi", tr=1)
    b += open_ch(2, 3, 4) + close_ch(2) + teardown(2, 3)
    s["refuse_open"] = b

    # Hot-remove while open, the guest releases the relid, a new device takes it; silent device (no callbacks).
    b = connect(V53) + dev_mode(0, 0x80) + ring(1, 0, 8, 20) + echo_traffic(0, 3)
    b += rescind(0) + close_ch(1) + teardown(1, 0) + release(1)
    b += offer(0, ECHO) + ring(1, 4, 8, 30) + echo_traffic(4, 3)
    b += offer(3, SILENT) + ring(4, 5, 8, 50) + packet(5, K_INBAND, b"nobody listens", tr=1) + signal(4)
    b += poll(3) + rescind(3) + release(4) + offer(3, CHATTY) + offer(3, CHATTY) + rescind(2)
    # Devices that withdraw themselves from their own notify and timer callbacks.
    b += dev_mode(0, 0x40) + packet(4, K_INBAND, b"last words", tr=2) + release(1)
    b += offer(5, CHATTY) + ring(1, 6, 6, 70, d=3) + dev_mode(5, 0x40) + kick(5, 3) + guest_read(6) + release(1)
    s["rescind_release"] = b

    # UNLOAD with open channels, reconnect at 5.0, reopen on a reused GPADL handle.
    b = connect(V53) + ring(1, 0, 8, 10) + echo_traffic(0, 2) + ring(3, 1, 8, 60)
    b += unload() + contact(V50) + request_offers() + ring(1, 0, 8, 10) + echo_traffic(0, 2)
    b += unload() + unload() + contact(V30) + request_offers() + ring(1, 2, 8, 90) + echo_traffic(2, 2)
    s["unload_reconnect"] = b

    # MODIFYCHANNEL at 5.3 (answered) and 4.1 (not answered), events to VP 1.
    b = connect(V53) + ring(1, 0, 8, 10) + modify(1, 1) + echo_traffic(0, 3) + modify(1, 5) + modify(9, 0)
    b += contact(V41) + request_offers() + ring(1, 0, 8, 10, d=3) + modify(1, 1) + echo_traffic(0, 2)
    s["modify"] = b

    # Every version, refused ones, odd targets: messages to VP 1 / SINT 5, then back.
    b = contact(V11) + contact(V013) + contact(VRAW, raw=0x00060000) + contact(V24) + request_offers()
    b += contact(V53, vcpu=1, sint=0xF5) + request_offers() + ring(1, 0, 8, 10, d=4) + echo_traffic(0, 2)
    b += contact(V40, vcpu=0x85) + request_offers() + contact(V50, flags=1) + contact(V53, flags=2 | 4 << 2)
    b += contact(V52, sint=0xF2) + request_offers()
    s["versions"] = b

    # Destroy and recreate the server with a lower max version; 5.3 refused, 4.0 accepted.
    b = connect(V53) + ring(1, 0, 8, 10) + echo_traffic(0, 2) + recreate(1)
    b += contact(V53) + contact(V41) + contact(V40) + request_offers() + ring(3, 0, 8, 10) + guest_read(0)
    b += recreate(2) + connect(V50) + ring(2, 1, 8, 40) + recreate(0)
    s["recreate"] = b

    # Two channels at once on separate rings, interleaved.
    b = connect(V53) + ring(1, 0, 10, 0) + ring(3, 1, 10, 20)
    for i in range(10):
        b += packet(0, K_INBAND | K_COMPREQ, b"\x80" + bytes([i]) * 30, tr=i)
        b += packet(1, K_INBAND | K_COMPREQ, bytes([i]) * 30, tr=i)
        b += kick(2, 2)
    b += guest_read(0) + guest_read(1) + close_ch(3) + guest_read(1) + close_ch(1)
    s["two_channels"] = b

    # Large GPADLs: 70 pages over 8 distinct pages (rings mapped from repeated pages), 80 with stride 7.
    # (Mapping costs a few microseconds a page: mutations of this seed are the slow inputs.)
    b = connect(V53) + gpadl(1, 5, 70, 3, mode=3, split=10) + open_ch(1, 5, 35) + echo_traffic(5, 4)
    b += close_ch(1) + teardown(1, 5) + gpadl(1, 6, 80, 0, mode=1, split=26 | 0) + open_ch(1, 6, 10)
    b += echo_traffic(6, 2) + teardown(1, 6)
    s["gpadl_large"] = b

    # Hostile GPADLs: pages beyond RAM, huge PFNs, every bad range, truncated, extra and overlong bodies,
    # teardown of a pending GPADL, wrong relid, open of refused/foreign GPADLs, teardown while open.
    b = connect(V53)
    b += gpadl(1, 0, 8, 0, mode=4) + gpadl(1, 1, 8, 0, mode=8) + gpadl(1, 2, 30, 0, mode=32, split=3)
    for v in range(8):
        b += gpadl(1, 3 + v, 8, 200, mode=16, split=v << 5 | 8)
    b += gpadl(1, 11, 40, 0, mode=0x40) + gpadl(1, 12, 40, 0, mode=0xC0, split=5) + teardown(1, 2)
    b += gpadl(2, 13, 8, 30) + open_ch(1, 13, 4) + gpadl(9, 14, 8, 30) + gpadl(1, 15, 1, 30)
    b += open_ch(1, 3, 4) + open_ch(1, 11, 4) + open_ch(1, 11, 1) + open_ch(1, 11, 7) + open_ch(1, 11, 4, vp=9)
    b += open_ch(1, 11, 4) + teardown(1, 11) + teardown(2, 11) + teardown(1, 11)
    b += close_ch(1) + close_ch(5) + release(1) + release(1) + release(5)
    s["hostile_gpadl"] = b

    # Hostile rings: indices out of range, unaligned, bogus len8/offset8, short packets, bad GPA ranges,
    # hostile initial indices, a ring that breaks while the host sends.
    b = connect(V53) + ring(1, 0, 8, 10)
    b += packet(0, K_GPA | K_COMPREQ, b"\x00", ranges=[(3, 2, 4095, 9000)])
    b += packet(0, K_GPA, b"\x00", ranges=[(3, 1, 0x8000, 10)])
    b += packet(0, K_GPA, b"\x00", rc=0x80 | 1, ranges=[(3, 1, 0, 0), (4, 1, 0, 0)])
    b += packet(0, K_GPA, b"\x00", ranges=[(255, 2, 0, 0)])
    b += packet(0, K_RAW | K_COMPREQ, b"\x00raw", rawtype=0x77) + guest_read(0)
    b += packet(0, K_INBAND | K_LEN8, b"\x00x", len8=0xFFFF) + guest_read(0)
    b += close_ch(1) + open_ch(1, 0, 4) + packet(0, K_INBAND | K_OFF8, b"\x00x", off8=1) + close_ch(1)
    b += open_ch(1, 0, 4) + ring_hdr(0, False, F_WRITE, 5) + signal(1) + close_ch(1)
    b += open_ch(1, 0, 4) + ring_hdr(0, False, F_WRITE, 0x10000) + signal(1) + close_ch(1)
    b += open_ch(1, 0, 4) + ring_hdr(0, True, F_READ, 0x7FFFFFF8) + packet(0, K_INBAND | K_COMPREQ, b"\x80r")
    b += close_ch(1) + open_ch(1, 0, 4, flags=1, bad=(4096 * 3, 12)) + close_ch(1)
    b += open_ch(1, 0, 4) + ram_write((LOW + 11) * 4096, u16(6) + u16(2) + u16(3) + u16(0) + u64(1) + u64(0) * 4)
    b += ring_hdr(0, False, F_WRITE, 24) + signal(1)
    b += open_ch(1, 0, 4) + packet(0, K_INBAND | K_NOSPACE, b"\x00" * 255, big=True) + signal(1)
    s["hostile_ring"] = b

    # Hostile channel messages: short, long, unknown, before INITIATE_CONTACT, bad connections and types,
    # bogus relids, events to unknown connections.
    b = raw(msg(3)) + raw(msg(5, 1)) + raw(b"\x0e\x00") + raw(msg(14, 0x50003, 0) + b"\x00" * 4)
    b += raw(msg(16)[:7]) + raw(msg(16), conn=4) + raw(msg(14, 0x50003, 0, 2, 0, 0, 0, 0, 0), conn=0x10001)
    b += raw(msg(14, 0x50003), msg_type=2) + raw(msg(14, 0x50003), vp=0x85) + raw(b"\xff" * 240)
    b += connect(V53)
    for t in range(0, 26):
        b += raw(msg(t, 1, 2, 3, 4))
    b += raw(msg(8, 1, 0xBEEF, 0x10 | 1 << 16, 4096, 0) + u64(20) + u64(21))
    b += raw(msg(9, 0, 0xBEEF) + u64(22)) + raw(msg(11, 1, 0xBEEF)) + raw(msg(13, 0xFFFFFFFF))
    b += raw(msg(5, 1, 1, 0xBEEF, 0, 1) + b"\x00" * 120) + raw(msg(22, 1, 0xFFFFFFFF))
    b += raw(msg(3) + b"\x00" * 232) + raw(msg(21) + b"\x11" * 32) + tl_connect(5) + tl_connect(40)
    b += signal(0, raw_conn=0x10000) + signal(0, raw_conn=0x10000 + 2047) + signal(1, flag=2047)
    b += signal(1, flag=4000) + signal(1, vp=0x81) + signal(0, raw_conn=0xFFFFFFFF)
    s["hostile_msgs"] = b

    # The guest stops taking messages: SynIC queue then server backlog fill up; then it catches up in order.
    b = connect(V53) + autotake(False)
    for _ in range(40):
        b += request_offers()
    b += take() + take() + take(flags=0) + poll(2) + autotake(True) + ring(1, 0, 8, 10) + echo_traffic(0, 2)
    for _ in range(70):  # more posts than the server's queue holds before it polls
        b += request_offers(noauto=True)
    b += poll(4)
    s["backlog"] = b

    # SynIC message page off and on again while the server talks.
    b = connect(V53) + synic(0, False) + request_offers() + ring(1, 0, 8, 10) + synic(0, True)
    b += contact(V53) + request_offers() + ring(1, 1, 8, 30) + echo_traffic(1, 2)
    b += synic(1, False) + modify(1, 1) + echo_traffic(1, 2) + take(1, 2, 2)
    s["synic_toggle"] = b

    # Host-side sends of every kind and size, and device modes.
    b = connect(V53) + ring(1, 0, 8, 10) + ring(3, 1, 8, 30)
    for sel in (0, 1, 2 | 5 << 2, 2 | 31 << 2, 3, 0x80, 0x81, 0x82 | 3 << 2, 0xC7):
        b += host_send(0, sel, 200) + host_send(2, sel, 100)
    b += guest_read(0) + guest_read(1) + host_send(1, 0, 10) + host_send(4, 0, 10)
    for mode in (1, 2, 3, 4, 16, 32, 8):
        b += dev_mode(0, mode) + packet(0, K_INBAND | K_COMPREQ, b"\x40\x07mode" + bytes([mode]) * 100, tr=mode)
        b += packet(0, K_GPA | K_COMPREQ, b"\x00", ranges=[(5, 1, 0, 0)]) + guest_read(0)
    s["host_send_modes"] = b
    return s


if __name__ == "__main__":
    write_corpus("fuzz_vmbus", seeds())

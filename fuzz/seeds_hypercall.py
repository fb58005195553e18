#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz/fuzz_hypercall.c into fuzz/corpus/fuzz_hypercall/.

Each seed is a sequence of the target's operations (see the enum fz_op and the fz_* readers there; integers are
little-endian). Re-run after changing the operation encoding: python3 fuzz/seeds_hypercall.py
"""
import struct

from seedlib import u8, u16, u32, u64, write_corpus

(MSR_WRITE, MSR_READ, HYPERCALL, POST_MESSAGE, SIGNAL_EVENT, HOST_POST, HOST_SIGNAL, GUEST_EOM, GUEST_WRITE,
 REGISTRY, HANDLER_MODE, QUERY, DECODE) = range(13)

# Indexes into fz_msrs[].
M = dict(GUEST_OS_ID=0, HYPERCALL=1, VP_INDEX=2, RESET=3, VP_RUNTIME=4, TIME_REF_COUNT=5, REFERENCE_TSC=6,
         TSC_FREQUENCY=7, APIC_FREQUENCY=8, EOI=9, VP_ASSIST_PAGE=10, SCONTROL=11, SVERSION=12, SIEFP=13, SIMP=14,
         EOM=15, SINT2=16, SINT0=17, SINT15=18, STIMER0_CONFIG=19, STIMER0_COUNT=20, STIMER1_CONFIG=21,
         STIMER3_COUNT=22, CRASH_P0=23, CRASH_P3=24, CRASH_P4=25, CRASH_CTL=26, TSC_INVARIANT_CONTROL=27)


def wrmsr(vp, name, value):
    return u8(MSR_WRITE) + u8(vp) + u8(M[name]) + u8(0) + u64(value)


def rdmsr(vp, name):
    return u8(MSR_READ) + u8(vp) + u8(M[name]) + u8(0)


def wrmsr_raw(vp, index, value):
    return u8(MSR_WRITE) + u8(vp) + u8(0x80) + u8(0) + u16(index - 0x40000000) + u64(value)


def post(vp, conn_sel, gpa, payload, msg_type=None):
    sel = conn_sel | (0x80 if msg_type is not None else 0)
    b = u8(POST_MESSAGE) + u8(vp) + u8(sel) + u32(gpa)
    if msg_type is not None:
        b += u32(msg_type)
    return b + u8(len(payload)) + payload


def signal(vp, conn_sel, flag):
    return u8(SIGNAL_EVENT) + u8(vp) + u8(conn_sel) + u16(flag)


def host_post(vp, sint, payload, msg_type=1):
    return u8(HOST_POST) + u8(vp) + u8(sint) + u8(0x80) + u32(msg_type) + u8(len(payload)) + payload


def host_signal(vp, sint, flag):
    return u8(HOST_SIGNAL) + u8(vp) + u8(sint) + u16(flag)


def eom(vp, sint, force=False):
    return u8(GUEST_EOM) + u8(vp) + u8(sint | (0x80 if force else 0))


def hypercall(vp, control, inp, out, page=b"", mode=0):
    b = u8(HYPERCALL) + u8(vp) + u8(mode) + u64(control) + u64(inp) + u64(out)
    if not control & (1 << 16):
        page = page or b"\0"
        b += u8(len(page) - 1) + page
    return b


def linux_boot():
    """What Linux 6.1 does on 2 CPUs up to hv_vmbus' SynIC setup (guest-core.md 1.5)."""
    b = rdmsr(0, "REFERENCE_TSC") + wrmsr(0, "REFERENCE_TSC", 0x9001)
    b += rdmsr(0, "TSC_FREQUENCY") + rdmsr(0, "APIC_FREQUENCY")
    b += rdmsr(0, "VP_INDEX") + wrmsr(0, "VP_ASSIST_PAGE", 0x7001)
    b += wrmsr(0, "GUEST_OS_ID", 0x8100000601770000)
    b += rdmsr(0, "HYPERCALL") + wrmsr(0, "HYPERCALL", 0x5001) + rdmsr(0, "HYPERCALL")
    b += rdmsr(1, "VP_INDEX") + wrmsr(1, "VP_ASSIST_PAGE", 0x8001)
    b += rdmsr(0, "CRASH_CTL")
    for vp in (0, 1):
        simp = 0x10000 + vp * 0x2000
        b += rdmsr(vp, "SIMP") + wrmsr(vp, "SIMP", simp | 1)
        b += rdmsr(vp, "SIEFP") + wrmsr(vp, "SIEFP", (simp + 0x1000) | 1)
        b += rdmsr(vp, "SINT2") + wrmsr(vp, "SINT2", 0xF3)
        b += rdmsr(vp, "SCONTROL") + wrmsr(vp, "SCONTROL", 1)
    return b


def initiate_contact():
    # CHANNELMSG_INITIATE_CONTACT (14): version 5.3, target VP 0, interrupt page 0, monitor pages.
    return struct.pack("<IIIIQQQ", 14, 0, (5 << 16) | 3, 0, 0, 0x30000, 0x31000)


def seeds():
    s = {}
    boot = linux_boot()
    s["linux_boot"] = boot + u8(QUERY)
    b = boot + post(0, 0, 0x40000, initiate_contact())
    b += eom(0, 2) + post(1, 0, 0x40100, initiate_contact()) + post(1, 0, 0x40100, initiate_contact())
    b += eom(1, 2) + eom(1, 2) + u8(QUERY)
    s["vmbus_contact"] = b
    b = boot + u8(HANDLER_MODE) + u8(1) + post(0, 0, 0x40000, b"\x01\x02\x03\x04")
    b += u8(HANDLER_MODE) + u8(0x80) + post(0, 1, 0x40000, b"\x05" * 16)
    b += post(0, 3, 0x40000, b"x" * 8) + post(0, 0, 0x40007, b"") + post(0, 0, 0x40F80, b"y")
    b += post(0, 0x40, 0x40000, b"") + u8(REGISTRY) + u8(0) + post(0, 0, 0x40000, b"z")
    s["post_errors"] = b
    b = boot
    for i in range(40):  # VP 0's SINT2 queue overflows (-ENOBUFS), VP 1's does not
        b += host_post(0, 2, bytes([i]) * (i * 37 % 61)) + host_post(1, 2, bytes([i]) * (i % 3))
    for i in range(45):
        b += eom(i & 1, 2)
    s["host_queue"] = b + u8(QUERY)
    b = boot + signal(0, 2, 0) + signal(1, 2, 5) + signal(0, 3, 0) + signal(0, 2, 2047)
    b += host_signal(0, 2, 1) + host_signal(0, 2, 1) + host_signal(1, 5, 2047)
    b += u8(REGISTRY) + u8(0x02) + signal(0, 2, 0) + u8(REGISTRY) + u8(0x22) + signal(0, 2, 7)
    s["signal_events"] = b
    b = boot + wrmsr(0, "STIMER0_COUNT", 1000) + wrmsr(0, "STIMER0_CONFIG", 1 | (2 << 16))
    b += wrmsr(1, "STIMER1_CONFIG", 1 | 2 | 8 | (2 << 16)) + wrmsr_raw(1, 0x400000B3, 500)
    b += wrmsr_raw(0, 0x400000B4, 1 | (1 << 12) | (0xED << 4)) + wrmsr_raw(0, 0x400000B5, 200)
    b += u8(QUERY) + eom(0, 2) + eom(1, 2) + u8(QUERY)
    s["stimers"] = b
    text = b"Kernel panic - not syncing: VFS: Unable to mount root fs\n\x00\x01\xff"
    b = boot + u8(GUEST_WRITE) + u32(0x20000) + u8(len(text) - 1) + text
    b += wrmsr(0, "CRASH_P0", 0) + wrmsr(0, "CRASH_P3", 0x20000) + wrmsr(0, "CRASH_P4", len(text))
    b += wrmsr(0, "CRASH_CTL", (1 << 63) | (1 << 62)) + u8(QUERY)
    b += wrmsr(0, "CRASH_P4", 1 << 40) + wrmsr(0, "CRASH_CTL", (1 << 63) | (1 << 62))
    b += wrmsr(0, "CRASH_P3", 0xFFFFFFFFFFFFF000) + wrmsr(0, "CRASH_CTL", (1 << 63) | (1 << 62)) + u8(QUERY)
    b += wrmsr(0, "RESET", 1)
    s["crash_reset"] = b
    b = boot
    for ctl in (0x5C, 0x1005D, 0x46, 0x2, 0x3 | (4 << 32), 0x8001, 0xFFFF, 0x5C | (1 << 27), 0x5C | (1 << 32),
                0x3 | (5 << 32) | (4 << 48), 0x3 | (4 << 32) | (5 << 48), 0x13 | (3 << 17)):
        b += hypercall(0, ctl, 0x40000, 0x41000, struct.pack("<IIII", 4, 0, 1, 8) + b"\xAA" * 8)
        b += u8(DECODE) + u64(ctl)
    b += hypercall(1, 0x5C, 0x100000, 0, b"", mode=0) + hypercall(0, 0x1005D, 0x1000010000, 0)
    s["hypercalls"] = b
    # Pages moved, disabled and placed over each other; SINT edge cases.
    b = boot + wrmsr(0, "SIMP", 0x9001) + wrmsr(0, "SIEFP", 0x9001) + host_post(0, 2, b"a") + host_signal(0, 2, 3)
    b += wrmsr(0, "SINT2", 0x1000F) + wrmsr(0, "SINT2", 0x0F) + wrmsr(0, "SINT2", 0x300F3) + host_post(0, 2, b"b")
    b += wrmsr(0, "SCONTROL", 0) + host_post(0, 2, b"c") + wrmsr(0, "SCONTROL", 1) + wrmsr(0, "SIMP", 0x100001)
    b += wrmsr(0, "SIMP", 0xFF001) + host_post(0, 2, b"d") + eom(0, 2, True) + wrmsr(0, "HYPERCALL", 0xFF001)
    b += wrmsr(0, "GUEST_OS_ID", 0) + wrmsr(0, "HYPERCALL", 0x5003) + wrmsr(0, "HYPERCALL", 0x6001)
    s["pages_moved"] = b
    return s


if __name__ == "__main__":
    write_corpus("fuzz_hypercall", seeds())

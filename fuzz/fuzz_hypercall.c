// SPDX-License-Identifier: MIT
/*
 * fuzz/fuzz_hypercall.c - libFuzzer target for the guest-facing surface of hv/ (TARGETS.md R1): synthetic MSRs
 * 0x40000000-0x400001FF, hypercalls (input value, input page, HvPostMessage/HvSignalEvent against the connection
 * registry), the SynIC message slots with MessagePending/EOM, event flags, the hypercall/TSC/SynIC pages at guest-
 * chosen GPAs, crash MSRs, synthetic timers.
 *
 * One static 1 MiB guest RAM; each input gets a fresh hvi_partition (2 VPs, FULL profile, a message connection
 * whose handler answers into the SynIC and an event connection whose handler signals back) and zeroed RAM, so an
 * input replays the same way (up to the timer thread, which fires on wall-clock time). The input is a sequence of
 * operations, each an opcode byte followed by its operands; missing bytes read as zero.
 *
 * Oracles beyond ASan/UBSan: the documented return-value sets of hvi_msr_access(), hvi_hypercall(),
 * hvi_synic_post_message() and hvi_synic_signal_event(); hvi_hypercall_decode() against the field layout; the
 * reference time never going backwards.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "hv/hv.h"
#include "lib/log.h"
#include "vid/memory.h"

#define FZ_RAM (1ull << 20)
#define FZ_VPS 2u
#define FZ_MAX_OPS 2048u
#define FZ_CONN_MSG 4u       /* VMBUS_MESSAGE_CONNECTION_ID_4 */
#define FZ_CONN_MSG_OLD 1u   /* VMBUS_MESSAGE_CONNECTION_ID (pre-WIN10) */
#define FZ_CONN_EVT 0x10000u /* a channel's child relid-based connection id */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the partition under test ------------------------------------------------------------------------------ */

static struct vid_memory *fz_mem;
static struct hvi_partition *fz_hv;
static _Atomic unsigned fz_interrupts, fz_stops;
static int fz_handler_ret;      /* what the message handler returns next */
static bool fz_handler_unregister; /* the message handler removes and re-adds its own connection */
static uint64_t fz_last_ref;       /* reference time at the last query of this input */

static void fz_interrupt(void *opaque, uint32_t vp_index, uint8_t vector)
{
	FZ_CHECK(vp_index < FZ_VPS);
	FZ_CHECK(vector >= HV_SYNIC_FIRST_VALID_VECTOR);
	atomic_fetch_add(&fz_interrupts, 1);
}

static void fz_stop(void *opaque, enum hvi_stop why, const char *message)
{
	FZ_CHECK(why == HVI_STOP_CRASH || why == HVI_STOP_RESET);
	FZ_CHECK(message != NULL);
	atomic_fetch_add(&fz_stops, 1);
}

/* Like the VMBus server: answer a guest message with a host message on SINT2 of the sender's VP. */
static int fz_on_message(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
			 const void *payload, uint32_t size)
{
	int ret;

	FZ_CHECK(vp_index < FZ_VPS);
	FZ_CHECK(size <= HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	FZ_CHECK(message_type != HVMSG_NONE && !(message_type & 0x80000000u));
	ret = hvi_synic_post_message(fz_hv, vp_index, 2, message_type, payload, size);
	FZ_CHECK(ret == 0 || ret == -ENXIO || ret == -ENOBUFS || ret == -ENOMEM);
	if (fz_handler_unregister) {
		FZ_CHECK(hvi_connection_unregister(fz_hv, connection_id) == 0);
		FZ_CHECK(hvi_message_connection_register(fz_hv, connection_id, fz_on_message, NULL) == 0);
	}
	return fz_handler_ret;
}

static void fz_on_event(void *opaque, uint32_t vp_index, uint32_t connection_id, uint16_t flag)
{
	int ret;

	FZ_CHECK(vp_index < FZ_VPS);
	FZ_CHECK(flag < HV_EVENT_FLAGS_COUNT);
	ret = hvi_synic_signal_event(fz_hv, vp_index, 2, flag);
	FZ_CHECK(ret == 0 || ret == -ENXIO);
}

static void fz_setup(void)
{
	static bool once;
	struct hvi_config cfg = {
		.profile = HVI_PROFILE_FULL,
		.vp_count = FZ_VPS,
		.interrupt = fz_interrupt,
		.stop = fz_stop,
		.tsc_hz = 2000000000ull, /* fixed: no calibration per input */
	};

	if (!once) {
		once = true;
		/* Guest-triggered warnings are rate-limited anyway; FUZZ_LOG=1 shows everything. */
		log_set_level(getenv("FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
		if (vid_memory_create(FZ_RAM, &fz_mem) < 0)
			abort();
	}
	memset(vid_memory_ptr(fz_mem, 0, FZ_RAM), 0, FZ_RAM);
	cfg.memory = fz_mem;
	if (hvi_partition_create(&cfg, &fz_hv) < 0)
		abort();
	FZ_CHECK(hvi_message_connection_register(fz_hv, FZ_CONN_MSG, fz_on_message, NULL) == 0);
	FZ_CHECK(hvi_message_connection_register(fz_hv, FZ_CONN_MSG_OLD, fz_on_message, NULL) == 0);
	FZ_CHECK(hvi_event_connection_register(fz_hv, FZ_CONN_EVT, fz_on_event, NULL, -1) == 0);
	fz_handler_ret = 0;
	fz_handler_unregister = false;
	fz_last_ref = 0;
	atomic_store(&fz_interrupts, 0);
	atomic_store(&fz_stops, 0);
}

static void fz_teardown(void)
{
	hvi_partition_destroy(fz_hv);
	fz_hv = NULL;
}

/* ---- operand shaping: mostly-valid values, so the fuzzer gets past the first checks ------------------------- */

static const uint32_t fz_msrs[] = {
	HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL, HV_X64_MSR_VP_INDEX, HV_X64_MSR_RESET,
	HV_X64_MSR_VP_RUNTIME, HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_TSC_FREQUENCY,
	HV_X64_MSR_APIC_FREQUENCY, HV_X64_MSR_EOI, HV_X64_MSR_VP_ASSIST_PAGE, HV_X64_MSR_SCONTROL,
	HV_X64_MSR_SVERSION, HV_X64_MSR_SIEFP, HV_X64_MSR_SIMP, HV_X64_MSR_EOM, HV_X64_MSR_SINT0 + 2,
	HV_X64_MSR_SINT0, HV_X64_MSR_SINT15, HV_X64_MSR_STIMER0_CONFIG, HV_X64_MSR_STIMER0_COUNT,
	HV_X64_MSR_STIMER0_CONFIG + 2, HV_X64_MSR_STIMER3_COUNT, HV_X64_MSR_CRASH_P0, HV_X64_MSR_CRASH_P0 + 3,
	HV_X64_MSR_CRASH_P4, HV_X64_MSR_CRASH_CTL, HV_X64_MSR_TSC_INVARIANT_CONTROL,
	HV_X64_MSR_REENLIGHTENMENT_CONTROL,
};

static const uint16_t fz_codes[] = {
	HVCALL_POST_MESSAGE, HVCALL_SIGNAL_EVENT, HVCALL_GET_PARTITION_ID, HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE,
	HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, HVCALL_SEND_IPI, HVCALL_NOTIFY_LONG_SPIN_WAIT, 0x8001,
};

static const uint32_t fz_conn_ids[] = { FZ_CONN_MSG, FZ_CONN_MSG_OLD, FZ_CONN_EVT, 0, 5, 0xFFFFFF, 0x1000004 };

/* A GPA: with @mode bit 0, folded into RAM (plus one page beyond) keeping the low 12 bits. */
static uint64_t fz_gpa(uint64_t raw, uint8_t mode)
{
	if (!(mode & 1))
		return raw;
	return (((raw >> 12) % (FZ_RAM / 4096 + 1)) << 12) | (raw & 0xFFF);
}

static uint32_t fz_vp(uint8_t b)
{
	return b % 8 == 7 ? b : b % FZ_VPS; /* now and then a VP that does not exist */
}

/* ---- the operations ------------------------------------------------------------------------------------------ */

enum fz_op {
	FZ_OP_MSR_WRITE,
	FZ_OP_MSR_READ,
	FZ_OP_HYPERCALL,
	FZ_OP_POST_MESSAGE, /* a well-formed HvPostMessage with fuzzer fields */
	FZ_OP_SIGNAL_EVENT, /* a fast HvSignalEvent */
	FZ_OP_HOST_POST,
	FZ_OP_HOST_SIGNAL,
	FZ_OP_GUEST_EOM,     /* the guest consumes a slot like vmbus_signal_eom() */
	FZ_OP_GUEST_WRITE,   /* raw bytes into guest RAM (e.g. over the SynIC pages) */
	FZ_OP_REGISTRY,
	FZ_OP_HANDLER_MODE,
	FZ_OP_QUERY,
	FZ_OP_DECODE,
	FZ_OP_COUNT
};

static void fz_msr(struct fz_input *in, bool is_write)
{
	uint8_t vp = fz_u8(in), sel = fz_u8(in), mode = fz_u8(in);
	uint32_t index;
	uint64_t value = 0;
	int ret;

	if (sel & 0x80)
		index = HV_X64_MSR_GUEST_OS_ID + (fz_u16(in) & 0x1FF);
	else
		index = fz_msrs[sel % (sizeof(fz_msrs) / sizeof(fz_msrs[0]))];
	if (is_write) {
		value = fz_u64(in);
		if (mode & 2) /* page MSRs: enable bit plus a GPA in or just beyond RAM */
			value = (fz_gpa(value, 1) & ~0xFFFull) | (value & 0xFFF) | 1;
	}
	ret = hvi_msr_access(fz_hv, fz_vp(vp), index, is_write, &value);
	FZ_CHECK(ret == 0 || ret == -EPERM);
	if (!is_write && ret == 0) {
		if (index == HV_X64_MSR_EOM)
			FZ_CHECK(value == 0);
		if (index == HV_X64_MSR_SVERSION)
			FZ_CHECK(value == HV_SYNIC_VERSION_1);
		if (index == HV_X64_MSR_VP_INDEX)
			FZ_CHECK(value == fz_vp(vp));
	}
}

/* Write the input block for a hypercall: up to 256 bytes of fuzzer data at @gpa, if that is RAM. */
static void fz_put_input(struct fz_input *in, uint64_t gpa)
{
	uint8_t buf[HV_MESSAGE_SIZE];
	unsigned len = fz_u8(in) + 1u;

	fz_bytes(in, buf, len);
	(void)vid_memory_write(fz_mem, gpa, buf, len);
}

static void fz_check_result(uint64_t result, uint64_t control)
{
	static const uint16_t ok[] = {
		HV_STATUS_SUCCESS, HV_STATUS_INVALID_HYPERCALL_CODE, HV_STATUS_INVALID_HYPERCALL_INPUT,
		HV_STATUS_INVALID_ALIGNMENT, HV_STATUS_INVALID_PARAMETER, HV_STATUS_ACCESS_DENIED,
		HV_STATUS_INSUFFICIENT_MEMORY, HV_STATUS_INVALID_VP_INDEX, HV_STATUS_INVALID_PORT_ID,
		HV_STATUS_INVALID_CONNECTION_ID, HV_STATUS_INSUFFICIENT_BUFFERS,
	};
	uint16_t st = (uint16_t)(result & HV_HYPERCALL_RESULT_MASK);
	uint64_t reps = (result >> HV_HYPERCALL_REP_COMP_RESULT_OFFSET) & 0xFFF;
	bool known = false;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		known |= st == ok[i];
	FZ_CHECK(known);
	/* Nothing outside status and reps completed; never more reps than asked. */
	FZ_CHECK((result & ~(HV_HYPERCALL_RESULT_MASK | 0xFFFull << HV_HYPERCALL_REP_COMP_RESULT_OFFSET)) == 0);
	FZ_CHECK(reps <= ((control & HV_HYPERCALL_REP_COMP_MASK) >> HV_HYPERCALL_REP_COMP_OFFSET));
}

static void fz_hypercall(struct fz_input *in)
{
	uint8_t vp = fz_u8(in), mode = fz_u8(in);
	uint64_t control = fz_u64(in), input = fz_u64(in), output = fz_u64(in);

	if (mode & 2)
		control = (control & ~HV_HYPERCALL_CODE_MASK) | fz_codes[control % (sizeof(fz_codes) / sizeof(fz_codes[0]))];
	if (mode & 4)
		control &= ~HV_HYPERCALL_RSVD_MASK;
	if (mode & 8)
		control &= ~(HV_HYPERCALL_REP_COMP_MASK | HV_HYPERCALL_REP_START_MASK | HV_HYPERCALL_VARHEAD_MASK);
	input = fz_gpa(input, mode);
	output = fz_gpa(output, mode >> 4);
	if (!(control & HV_HYPERCALL_FAST_BIT))
		fz_put_input(in, input);
	fz_check_result(hvi_hypercall(fz_hv, fz_vp(vp), control, input, output), control);
}

static void fz_post_message(struct fz_input *in)
{
	struct hv_input_post_message msg;
	uint8_t vp = fz_u8(in), sel = fz_u8(in);
	uint64_t gpa = fz_gpa(fz_u32(in), 1) & ~7ull;
	uint64_t control = HVCALL_POST_MESSAGE;

	memset(&msg, 0, sizeof(msg));
	msg.connectionid = fz_conn_ids[sel % (sizeof(fz_conn_ids) / sizeof(fz_conn_ids[0]))];
	msg.message_type = sel & 0x80 ? fz_u32(in) : 1;
	msg.payload_size = sel & 0x40 ? fz_u32(in) : fz_u8(in) % (HV_MESSAGE_PAYLOAD_BYTE_COUNT + 1);
	fz_bytes(in, msg.payload, msg.payload_size < sizeof(msg.payload) ? msg.payload_size : sizeof(msg.payload));
	(void)vid_memory_write(fz_mem, gpa, &msg, sizeof(msg));
	fz_check_result(hvi_hypercall(fz_hv, fz_vp(vp), control, gpa, 0), control);
}

static void fz_signal_event(struct fz_input *in)
{
	uint8_t vp = fz_u8(in), sel = fz_u8(in);
	uint64_t rdx = fz_conn_ids[sel % (sizeof(fz_conn_ids) / sizeof(fz_conn_ids[0]))];
	uint64_t control = HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT;

	rdx |= (uint64_t)(sel & 0x80 ? fz_u16(in) : fz_u16(in) % 16) << HV_SIGNAL_EVENT_FLAG_SHIFT;
	if (sel & 0x40)
		rdx ^= fz_u64(in);
	fz_check_result(hvi_hypercall(fz_hv, fz_vp(vp), control, rdx, 0), control);
}

static void fz_host_post(struct fz_input *in)
{
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT + 8];
	uint8_t vp = fz_u8(in), sint = fz_u8(in), sel = fz_u8(in);
	uint32_t type = sel & 0x80 ? fz_u32(in) : 1;
	uint32_t size = sel & 0x40 ? fz_u16(in) : fz_u8(in) % (HV_MESSAGE_PAYLOAD_BYTE_COUNT + 1);
	int ret;

	fz_bytes(in, payload, size < sizeof(payload) ? size : sizeof(payload));
	/* Sizes beyond the buffer are passed as one more than it (still > 240: must be refused, never read). */
	ret = hvi_synic_post_message(fz_hv, fz_vp(vp), sel & 0x20 ? sint : sint % HV_SYNIC_SINT_COUNT, type, payload,
				     size <= sizeof(payload) ? size : sizeof(payload) + 1);
	FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENXIO || ret == -ENOBUFS || ret == -ENOMEM);
}

static void fz_host_signal(struct fz_input *in)
{
	uint8_t vp = fz_u8(in), sint = fz_u8(in);
	uint16_t flag = fz_u16(in);
	int ret = hvi_synic_signal_event(fz_hv, fz_vp(vp), sint & 0x80 ? sint : sint % HV_SYNIC_SINT_COUNT,
					 sint & 0x40 ? flag : flag % HV_EVENT_FLAGS_COUNT);

	FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENXIO);
}

/* The guest frees slot @sint of its SIM page (if it has one in RAM) and EOMs when MessagePending was set. */
static void fz_guest_eom(struct fz_input *in)
{
	uint8_t vp = fz_u8(in) % FZ_VPS, sel = fz_u8(in);
	unsigned sint = sel % HV_SYNIC_SINT_COUNT;
	uint64_t simp = 0, zero = 0;
	struct hv_message *slot;
	bool eom = sel & 0x80;

	if (hvi_msr_access(fz_hv, vp, HV_X64_MSR_SIMP, false, &simp) == 0) {
		slot = vid_memory_ptr(fz_mem, (simp & HV_PAGE_ADDRESS_MASK) + sint * HV_MESSAGE_SIZE, HV_MESSAGE_SIZE);
		if (slot) {
			__atomic_store_n(&slot->header.message_type, HVMSG_NONE, __ATOMIC_SEQ_CST);
			eom |= __atomic_load_n(&slot->header.message_flags, __ATOMIC_SEQ_CST) & HV_MESSAGE_FLAG_PENDING;
		}
	}
	if (eom) /* EOM is #GP only where the profile does not offer the SynIC */
		FZ_CHECK(hvi_msr_access(fz_hv, vp, HV_X64_MSR_EOM, true, &zero) == 0);
}

static void fz_guest_write(struct fz_input *in)
{
	uint8_t buf[256];
	uint64_t gpa = fz_gpa(fz_u32(in), 1);
	unsigned len = fz_u8(in) + 1u;

	fz_bytes(in, buf, len);
	(void)vid_memory_write(fz_mem, gpa, buf, len);
}

static void fz_registry(struct fz_input *in)
{
	uint8_t sel = fz_u8(in);
	uint32_t id = sel & 0x80 ? fz_u32(in) : fz_conn_ids[sel % (sizeof(fz_conn_ids) / sizeof(fz_conn_ids[0]))];
	int ret;

	switch ((sel >> 4) & 3) {
	case 0:
		ret = hvi_connection_unregister(fz_hv, id);
		FZ_CHECK(ret == 0 || ret == -ENOENT);
		break;
	case 1:
		ret = hvi_message_connection_register(fz_hv, id, fz_on_message, NULL);
		FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -EEXIST || ret == -ENOSPC);
		FZ_CHECK(ret != -EINVAL || id == 0 || id > HV_CONNECTION_ID_MASK);
		break;
	default:
		ret = hvi_event_connection_register(fz_hv, id, fz_on_event, NULL, -1);
		FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -EEXIST || ret == -ENOSPC);
		break;
	}
}

static void fz_handler_mode(struct fz_input *in)
{
	static const int rets[] = { 0, -ENOBUFS, -EAGAIN, -EINVAL, -ENOENT, -ENOMEM, -EIO };
	uint8_t sel = fz_u8(in);

	fz_handler_ret = rets[sel % (sizeof(rets) / sizeof(rets[0]))];
	fz_handler_unregister = sel & 0x80;
}

static void fz_query(struct fz_input *in)
{
	struct hvi_crash crash;
	struct hvi_stats st;
	uint64_t ref = hvi_reference_time(fz_hv);

	(void)in;
	FZ_CHECK(ref >= fz_last_ref);
	fz_last_ref = ref;
	hvi_partition_crash(fz_hv, &crash);
	FZ_CHECK(memchr(crash.message, '\0', sizeof(crash.message)) != NULL);
	FZ_CHECK(crash.reported || crash.message[0] == '\0');
	hvi_partition_stats(fz_hv, &st);
	FZ_CHECK(st.post_messages <= st.hypercalls);
}

static void fz_decode(struct fz_input *in)
{
	struct hvi_hypercall_input d;
	uint64_t control = fz_u64(in);
	uint16_t st = hvi_hypercall_decode(control, &d);

	FZ_CHECK(st == HV_STATUS_SUCCESS || st == HV_STATUS_INVALID_HYPERCALL_INPUT);
	FZ_CHECK(d.code == (control & HV_HYPERCALL_CODE_MASK));
	FZ_CHECK(d.fast == !!(control & HV_HYPERCALL_FAST_BIT));
	FZ_CHECK(d.varhead_qwords == ((control & HV_HYPERCALL_VARHEAD_MASK) >> HV_HYPERCALL_VARHEAD_OFFSET));
	FZ_CHECK(d.rep_count == ((control & HV_HYPERCALL_REP_COMP_MASK) >> HV_HYPERCALL_REP_COMP_OFFSET));
	FZ_CHECK(d.rep_start == ((control & HV_HYPERCALL_REP_START_MASK) >> HV_HYPERCALL_REP_START_OFFSET));
	if (control & HV_HYPERCALL_RSVD_MASK)
		FZ_CHECK(st == HV_STATUS_INVALID_HYPERCALL_INPUT);
	if (st == HV_STATUS_SUCCESS)
		FZ_CHECK(d.rep_start <= d.rep_count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = { data, size };

	fz_setup();
	/* A crash or reset stops the VM: the input ends there too (and the crash log stays one report an input). */
	for (unsigned n = 0; in.left && n < FZ_MAX_OPS && !atomic_load(&fz_stops); n++) {
		switch (fz_u8(&in) % FZ_OP_COUNT) {
		case FZ_OP_MSR_WRITE: fz_msr(&in, true); break;
		case FZ_OP_MSR_READ: fz_msr(&in, false); break;
		case FZ_OP_HYPERCALL: fz_hypercall(&in); break;
		case FZ_OP_POST_MESSAGE: fz_post_message(&in); break;
		case FZ_OP_SIGNAL_EVENT: fz_signal_event(&in); break;
		case FZ_OP_HOST_POST: fz_host_post(&in); break;
		case FZ_OP_HOST_SIGNAL: fz_host_signal(&in); break;
		case FZ_OP_GUEST_EOM: fz_guest_eom(&in); break;
		case FZ_OP_GUEST_WRITE: fz_guest_write(&in); break;
		case FZ_OP_REGISTRY: fz_registry(&in); break;
		case FZ_OP_HANDLER_MODE: fz_handler_mode(&in); break;
		case FZ_OP_QUERY: fz_query(&in); break;
		case FZ_OP_DECODE: fz_decode(&in); break;
		}
	}
	fz_query(&in);
	fz_teardown();
	return 0;
}

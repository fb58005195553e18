// SPDX-License-Identifier: MIT
/*
 * hv/hypercall.c - the hypercall page, hypercall decoding and dispatch (TLFS 3 "Hypercall Interface"), and the
 * registry of message and event connections (TLFS 11.10 "SynIC messages and events" / HvPostMessage, HvSignalEvent).
 *
 * The hypercall page. Without in-kernel Hyper-V, VMCALL never reaches userspace (KVM takes it as a KVM hypercall),
 * so the page the guest calls holds code that traps with port I/O instead (guest-core.md 1.7):
 *
 *   00 F3 0F 1E FA           endbr64                (Linux checks it to keep IBT on)
 *   04 48 81 F9 5D 00 01 00  cmp rcx, 0x1005D       fast HvSignalEvent?
 *   0B 75 14                 jne slow
 *   0D 48 89 D0              mov rax, rdx
 *   10 48 C1 E8 20           shr rax, 32            flag number and reserved bits all zero?
 *   14 75 0B                 jne slow
 *   16 89 D0                 mov eax, edx           the connection id
 *   18 45 31 DB              xor r11d, r11d         status if the OUT is taken by an ioeventfd: success
 *   1B E7 E5                 out HVI_PORT_SIGNAL, eax
 *   1D 44 89 D8              mov eax, r11d          the status (userspace sets R11 when it takes the OUT)
 *   20 C3                    ret
 *   21 E7 E4          slow:  out HVI_PORT_HYPERCALL, eax
 *   23 C3                    ret                    RAX set by userspace
 *
 * HvSignalEvent, the I/O hot path, thus meets a KVM ioeventfd matching the connection id (datamatch) and never
 * leaves the kernel; an id without an eventfd exits to userspace like any other hypercall. The stub uses only
 * registers Linux's hv_do_hypercall declares clobbered (RAX, RCX, RDX, R8-R11, flags). On the exit userspace
 * leaves RIP alone: hardware KVM reports it at the OUT and skips the OUT on the next KVM_RUN, kvm_pvm reports it
 * already past the OUT.
 *
 * Errors become HV_STATUS values in exactly one place, hvi_status_from_errno().
 */
#define _GNU_SOURCE
#define LOG_TAG "hv"
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv/internal.h"
#include "lib/log.h"

#define HVI_STUB_SIGNAL_OUT 0x1B /* offset of "out HVI_PORT_SIGNAL" */
#define HVI_STUB_HYPERCALL_OUT 0x21 /* offset of "out HVI_PORT_HYPERCALL" */

static const uint8_t hvi_hypercall_stub[] = {
	0xF3, 0x0F, 0x1E, 0xFA,
	0x48, 0x81, 0xF9, 0x5D, 0x00, 0x01, 0x00,
	0x75, 0x14,
	0x48, 0x89, 0xD0,
	0x48, 0xC1, 0xE8, 0x20,
	0x75, 0x0B,
	0x89, 0xD0,
	0x45, 0x31, 0xDB,
	0xE7, HVI_PORT_SIGNAL,
	0x44, 0x89, 0xD8,
	0xC3,
	0xE7, HVI_PORT_HYPERCALL,
	0xC3,
};
_Static_assert(sizeof(hvi_hypercall_stub) == HVI_STUB_HYPERCALL_OUT + 3, "stub layout");

/* Fill the page at @gpa (hv->lock held). The rest of the page is INT3. -EPERM if it is not RAM. */
int hvi_hypercall_page_write(struct hvi_partition *hv, uint64_t gpa)
{
	uint8_t *page = vid_memory_ptr(hv->mem, gpa, VID_PAGE_SIZE);

	if (!page) {
		log_guest("hypercall page 0x%" PRIx64 " is not RAM", gpa);
		return -EPERM;
	}
	memset(page, 0xCC, VID_PAGE_SIZE);
	memcpy(page, hvi_hypercall_stub, sizeof(hvi_hypercall_stub));
	return 0;
}

/* -errno of a handler or of the registry -> HV_STATUS (the hypercall boundary). */
static uint16_t hvi_status_from_errno(int err)
{
	switch (err) {
	case 0: return HV_STATUS_SUCCESS;
	case -ENOBUFS:
	case -EAGAIN: return HV_STATUS_INSUFFICIENT_BUFFERS;
	case -ENOMEM: return HV_STATUS_INSUFFICIENT_MEMORY;
	case -ENOENT: return HV_STATUS_INVALID_CONNECTION_ID;
	case -EACCES:
	case -EPERM: return HV_STATUS_ACCESS_DENIED;
	case -EFAULT: return HV_STATUS_INVALID_PARAMETER;
	default: return HV_STATUS_INVALID_PARAMETER;
	}
}

uint16_t hvi_hypercall_decode(uint64_t control, struct hvi_hypercall_input *out)
{
	memset(out, 0, sizeof(*out));
	out->code = (uint16_t)(control & HV_HYPERCALL_CODE_MASK);
	out->fast = !!(control & HV_HYPERCALL_FAST_BIT);
	out->varhead_qwords = (uint16_t)((control & HV_HYPERCALL_VARHEAD_MASK) >> HV_HYPERCALL_VARHEAD_OFFSET);
	out->rep_count = (uint16_t)((control & HV_HYPERCALL_REP_COMP_MASK) >> HV_HYPERCALL_REP_COMP_OFFSET);
	out->rep_start = (uint16_t)((control & HV_HYPERCALL_REP_START_MASK) >> HV_HYPERCALL_REP_START_OFFSET);
	if (control & HV_HYPERCALL_RSVD_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (out->rep_start > out->rep_count || (out->rep_start && out->rep_start == out->rep_count))
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	return HV_STATUS_SUCCESS;
}

/* ---- connection registry ---------------------------------------------------------------------------------- */

/*
 * Connections live in a fixed array (allocated at creation) searched linearly up to the high-water mark: a
 * partition has tens of them. A handler runs without the registry lock held (it may register or unregister
 * connections, as the VMBus server does when a channel opens); @inflight counts running handlers so that
 * unregistering waits for them (except the caller's own, when a handler removes its own connection).
 */
static _Thread_local const struct hvi_connection *hvi_running_conn;

static struct hvi_connection *hvi_conn_find(struct hvi_partition *hv, uint32_t id)
{
	for (unsigned i = 0; i < hv->nconns; i++) {
		if (hv->conns[i].kind != HVI_CONN_FREE && hv->conns[i].id == id)
			return &hv->conns[i];
	}
	return NULL;
}

static int hvi_conn_add(struct hvi_partition *hv, const struct hvi_connection *c)
{
	struct hvi_connection *slot = NULL;

	if (c->id == 0 || c->id > HV_CONNECTION_ID_MASK)
		return -EINVAL;
	if (hvi_conn_find(hv, c->id))
		return -EEXIST;
	for (unsigned i = 0; i < hv->nconns; i++) {
		if (hv->conns[i].kind == HVI_CONN_FREE && atomic_load(&hv->conns[i].inflight) == 0) {
			slot = &hv->conns[i];
			break;
		}
	}
	if (!slot) {
		if (hv->nconns >= HVI_MAX_CONNECTIONS)
			return -ENOSPC;
		slot = &hv->conns[hv->nconns++];
	}
	slot->id = c->id;
	slot->message_fn = c->message_fn;
	slot->event_fn = c->event_fn;
	slot->opaque = c->opaque;
	slot->fd = c->fd;
	atomic_store(&slot->inflight, 0);
	slot->kind = c->kind; /* last: readers hold the read lock anyway */
	return 0;
}

int hvi_message_connection_register(struct hvi_partition *hv, uint32_t connection_id, hvi_message_fn fn,
				    void *opaque)
{
	struct hvi_connection c = { .kind = HVI_CONN_MESSAGE, .id = connection_id, .message_fn = fn,
				    .opaque = opaque, .fd = -1 };
	int ret;

	if (!hv || !fn)
		return -EINVAL;
	pthread_rwlock_wrlock(&hv->conn_lock);
	ret = hvi_conn_add(hv, &c);
	pthread_rwlock_unlock(&hv->conn_lock);
	return ret;
}

int hvi_event_connection_register(struct hvi_partition *hv, uint32_t connection_id, hvi_event_fn fn, void *opaque,
				  int fd)
{
	struct hvi_connection c = { .kind = HVI_CONN_EVENT, .id = connection_id, .event_fn = fn, .opaque = opaque,
				    .fd = fd < 0 ? -1 : fd };
	int ret;

	if (!hv || (!fn && fd < 0))
		return -EINVAL;
	pthread_rwlock_wrlock(&hv->conn_lock);
	ret = hvi_conn_add(hv, &c);
	if (ret == 0 && c.fd >= 0 && hv->part) {
		ret = vid_ioeventfd_assign(hv->part, true, HVI_PORT_SIGNAL, 4, true, connection_id, c.fd);
		if (ret < 0)
			hvi_conn_find(hv, connection_id)->kind = HVI_CONN_FREE;
	}
	pthread_rwlock_unlock(&hv->conn_lock);
	return ret;
}

int hvi_connection_unregister(struct hvi_partition *hv, uint32_t connection_id)
{
	struct hvi_connection *c;

	if (!hv)
		return -EINVAL;
	pthread_rwlock_wrlock(&hv->conn_lock);
	c = hvi_conn_find(hv, connection_id);
	if (!c) {
		pthread_rwlock_unlock(&hv->conn_lock);
		return -ENOENT;
	}
	if (c->kind == HVI_CONN_EVENT && c->fd >= 0 && hv->part)
		vid_ioeventfd_deassign(hv->part, true, HVI_PORT_SIGNAL, 4, true, connection_id, c->fd);
	c->kind = HVI_CONN_FREE;
	pthread_rwlock_unlock(&hv->conn_lock);
	/* Wait for running handlers, unless this thread is inside this connection's own handler. */
	while (atomic_load(&c->inflight) > (hvi_running_conn == c ? 1 : 0))
		sched_yield();
	return 0;
}

void hvi_connections_free(struct hvi_partition *hv)
{
	free(hv->conns);
	hv->conns = NULL;
	hv->nconns = 0;
}

/* Look up @id of @kind and pin it (inflight++). NULL if absent. */
static struct hvi_connection *hvi_conn_get(struct hvi_partition *hv, uint32_t id, enum hvi_conn_kind kind)
{
	struct hvi_connection *c;

	pthread_rwlock_rdlock(&hv->conn_lock);
	c = hvi_conn_find(hv, id);
	if (c && c->kind == kind)
		atomic_fetch_add(&c->inflight, 1);
	else
		c = NULL;
	pthread_rwlock_unlock(&hv->conn_lock);
	return c;
}

static void hvi_conn_put(struct hvi_connection *c)
{
	atomic_fetch_sub(&c->inflight, 1);
}

/* ---- the calls ------------------------------------------------------------------------------------------- */

/* HvPostMessage (TLFS 11.10.1): memory input, 256 bytes at an 8-byte aligned GPA, within one page. */
static uint16_t hvi_post_message(struct hvi_partition *hv, uint32_t vp_index, const struct hvi_hypercall_input *in,
				 uint64_t input_gpa)
{
	struct hv_input_post_message msg;
	const struct hvi_connection *cur;
	struct hvi_connection *c;
	int ret;

	if (in->fast || in->rep_count || in->varhead_qwords)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (input_gpa & 7)
		return HV_STATUS_INVALID_ALIGNMENT;
	/* TLFS 3.4: input parameters may not cross a page boundary. */
	if ((input_gpa & (VID_PAGE_SIZE - 1)) + sizeof(msg) > VID_PAGE_SIZE)
		return HV_STATUS_INVALID_ALIGNMENT;
	/* One copy out of guest memory; everything below looks only at the copy. */
	if (vid_memory_read(hv->mem, input_gpa, &msg, sizeof(msg)) < 0)
		return HV_STATUS_INVALID_PARAMETER;
	if (msg.payload_size > HV_MESSAGE_PAYLOAD_BYTE_COUNT || msg.message_type == HVMSG_NONE ||
	    (msg.message_type & 0x80000000u))
		return HV_STATUS_INVALID_PARAMETER;
	c = hvi_conn_get(hv, msg.connectionid, HVI_CONN_MESSAGE);
	if (!c)
		return HV_STATUS_INVALID_CONNECTION_ID;
	atomic_fetch_add(&hv->stats.post_messages, 1);
	cur = hvi_running_conn;
	hvi_running_conn = c;
	ret = c->message_fn(c->opaque, vp_index, msg.connectionid, msg.message_type, msg.payload, msg.payload_size);
	hvi_running_conn = cur;
	hvi_conn_put(c);
	return hvi_status_from_errno(ret);
}

/* HvSignalEvent (TLFS 11.10.2): 8 bytes of input, fast (RDX) or at a GPA: 31:0 connection id, 47:32 flag. */
static uint16_t hvi_signal_event(struct hvi_partition *hv, uint32_t vp_index, const struct hvi_hypercall_input *in,
				 uint64_t input)
{
	const struct hvi_connection *cur;
	struct hvi_connection *c;
	uint32_t id;
	uint16_t flag;

	if (in->rep_count || in->varhead_qwords)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (!in->fast) {
		uint64_t v;

		if (input & 7)
			return HV_STATUS_INVALID_ALIGNMENT;
		if (vid_memory_read(hv->mem, input, &v, sizeof(v)) < 0)
			return HV_STATUS_INVALID_PARAMETER;
		input = v;
	}
	if (input >> 48)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	id = (uint32_t)input;
	flag = (uint16_t)(input >> HV_SIGNAL_EVENT_FLAG_SHIFT);
	if (flag >= HV_EVENT_FLAGS_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	c = hvi_conn_get(hv, id, HVI_CONN_EVENT);
	if (!c)
		return HV_STATUS_INVALID_CONNECTION_ID;
	atomic_fetch_add(&hv->stats.signal_events_slow, 1);
	/* Flag 0 of a connection with an eventfd always goes to the eventfd, whichever path the signal took. */
	if (c->event_fn && !(c->fd >= 0 && flag == 0)) {
		cur = hvi_running_conn;
		hvi_running_conn = c;
		c->event_fn(c->opaque, vp_index, id, flag);
		hvi_running_conn = cur;
	} else {
		uint64_t one = 1;

		if (write(c->fd, &one, sizeof(one)) < 0)
			log_guest("connection 0x%x: eventfd write failed", id);
	}
	hvi_conn_put(c);
	return HV_STATUS_SUCCESS;
}

uint64_t hvi_hypercall(struct hvi_partition *hv, uint32_t vp_index, uint64_t control, uint64_t input,
		       uint64_t output)
{
	struct hvi_hypercall_input in;
	uint16_t status;

	atomic_fetch_add(&hv->stats.hypercalls, 1);
	if (vp_index >= hv->vp_count)
		return HV_STATUS_INVALID_VP_INDEX;
	status = hvi_hypercall_decode(control, &in);
	if (status != HV_STATUS_SUCCESS)
		return status;
	switch (in.code) {
	case HVCALL_POST_MESSAGE:
		if (!(hv->features_ebx & HV_POST_MESSAGES))
			return HV_STATUS_ACCESS_DENIED;
		status = hvi_post_message(hv, vp_index, &in, input);
		break;
	case HVCALL_SIGNAL_EVENT:
		if (!(hv->features_ebx & HV_SIGNAL_EVENTS))
			return HV_STATUS_ACCESS_DENIED;
		status = hvi_signal_event(hv, vp_index, &in, input);
		break;
	default:
		log_guest("VP%u: hypercall 0x%x is not implemented", vp_index, in.code);
		status = HV_STATUS_INVALID_HYPERCALL_CODE;
		break;
	}
	/* Simple calls complete no reps; rep calls are not offered yet (RAX 43:32 stays 0). */
	return status;
}

/* ---- the page's exits ------------------------------------------------------------------------------------ */

/*
 * Is this OUT the one at @offset of the hypercall page? RIP must be at that offset of a virtual page that maps the
 * hypercall page's GPA (KVM_TRANSLATE, cached per VP until the hypercall MSR changes). *@user_page says whether
 * that virtual page is user-accessible: if it is not (Linux maps the page kernel-only), the code that ran the OUT
 * ran at CPL 0-2, since x86 faults a CPL-3 instruction fetch from a supervisor page, and no segment registers need
 * to be read.
 */
static bool hvi_exit_from_page(struct hvi_partition *hv, struct vid_vp *vp, const struct kvm_regs *regs,
			       unsigned offset, bool *user_page)
{
	struct hvi_vp *hvp = &hv->vps[vid_vp_index(vp)];
	uint64_t msr, gpa, rip_off = regs->rip & (VID_PAGE_SIZE - 1);
	bool user;

	pthread_mutex_lock(&hv->lock);
	msr = hv->hypercall_msr;
	pthread_mutex_unlock(&hv->lock);
	/*
	 * KVM reports a port-I/O exit with RIP at the OUT and skips it on the next KVM_RUN; an interpreting KVM
	 * (kvm_pvm, shared/reference/platform.md) has already stepped past it (the OUT imm8 is 2 bytes). Both are
	 * this OUT: RIP is left as it is either way.
	 */
	if (!(msr & HV_X64_MSR_HYPERCALL_ENABLE) || (rip_off != offset && rip_off != offset + 2))
		return false;
	if (hvp->page_rip == (regs->rip & ~(VID_PAGE_SIZE - 1)) && hvp->page_gpa == (msr & HV_PAGE_ADDRESS_MASK)) {
		*user_page = hvp->page_user;
		return true;
	}
	if (vid_vp_translate(vp, regs->rip, &gpa, &user) < 0 ||
	    (gpa & HV_PAGE_ADDRESS_MASK) != (msr & HV_PAGE_ADDRESS_MASK))
		return false;
	hvp->page_rip = regs->rip & ~(VID_PAGE_SIZE - 1);
	hvp->page_gpa = msr & HV_PAGE_ADDRESS_MASK;
	hvp->page_user = user;
	*user_page = user;
	return true;
}

/*
 * The page's OUT exits. Cost matters here (TARGETS.md P8): one KVM_GET_REGS and one KVM_SET_REGS per hypercall,
 * plus KVM_GET_SREGS only when the page is user-accessible. (On kvm_pvm each register ioctl costs ~10 us, about
 * a whole exit; on hardware KVM well under 1 us.)
 */
static int hvi_page_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data,
			unsigned size)
{
	struct hvi_partition *hv = opaque;
	bool signal = port == HVI_PORT_SIGNAL, user_page = false;
	struct timespec t0, t1;
	struct kvm_regs regs;
	uint64_t result;
	int ret;

	if (!is_write || size != 4)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = vid_vp_get_regs(vp, &regs);
	if (ret < 0)
		return ret;
	if (!hvi_exit_from_page(hv, vp, &regs, signal ? HVI_STUB_SIGNAL_OUT : HVI_STUB_HYPERCALL_OUT, &user_page)) {
		log_guest("VP%u: OUT to hypercall port 0x%x from outside the hypercall page (RIP 0x%llx): ignored",
			  vid_vp_index(vp), port, (unsigned long long)regs.rip);
		return 0;
	}
	/* TLFS 3.2: hypercalls are for CPL 0. Only a user-accessible page can be running at CPL 3 here. */
	if (user_page) {
		struct kvm_sregs sregs;

		ret = vid_vp_get_sregs(vp, &sregs);
		if (ret < 0)
			return ret;
		user_page = (sregs.cs.selector & 3) != 0;
	}
	if (user_page) {
		log_guest("VP%u: hypercall from CPL 3 denied", vid_vp_index(vp));
		result = HV_STATUS_ACCESS_DENIED;
	} else if (signal) {
		result = hvi_hypercall(hv, vid_vp_index(vp), HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, regs.rdx, 0);
	} else {
		result = hvi_hypercall(hv, vid_vp_index(vp), regs.rcx, regs.rdx, regs.r8);
	}
	if (signal)
		regs.r11 = result;
	else
		regs.rax = result;
	ret = vid_vp_set_regs(vp, &regs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_fetch_add(&hv->stats.page_exits, 1);
	atomic_fetch_add(&hv->stats.page_exit_ns, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll +
							      (t1.tv_nsec - t0.tv_nsec)));
	return ret;
}

int hvi_hypercall_ports_register(struct hvi_partition *hv)
{
	int ret = vid_pio_register(hv->part, HVI_PORT_HYPERCALL, 1, hvi_page_pio, hv);

	if (!ret)
		ret = vid_pio_register(hv->part, HVI_PORT_SIGNAL, 1, hvi_page_pio, hv);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_vmbus.c - VMBus on a real partition (tests/mg/mg_vmbus.c): the guest-side client library
 * (guest/vsc) over the hypercall page and the SynIC, against the VMBus server running in the VMM. It polls the
 * SINT2 message slot and the SIEF bits (SINT2 masked: no interrupt handler needed).
 *
 *   echo  connect with Linux's version list, request offers, open the host's echo device (class ECHO_CLASS) with
 *         3-page rings (8 KiB of data each way, so the packets below wrap around several times), send ECHO_ROUNDS
 *         in-band packets of growing sizes with completion requested and check each completion echoes the
 *         trans_id and the bytes; close; UNLOAD.
 *         Values: the negotiated version, the echo device's relid, the number of good echoes, then V_DONE.
 *   ic    connect, open the heartbeat and shutdown integration components and answer their NEGOTIATE; answer
 *         HEARTBEATS heartbeats, report V_IC_READY (the host then asks for a power-off through the shutdown IC),
 *         answer the shutdown request.
 *         Values: the heartbeat's negotiated message version, V_IC_READY, the shutdown flags received, V_DONE.
 */
#include "rt/vsc_hvc.h"
#include "vsc/vsc_ic.h"

#define ECHO_CLASS VMBUS_GUID_INIT(0x0e4c40b5, 0x3c3d, 0x4d0a, 0x9d, 0x53, 0x6f, 0x70, 0x65, 0x6e, 0x68, 0x76)
#define ECHO_ROUNDS 40u
#define HEARTBEATS 3u
#define V_DONE 0xd0d0d0d0u
#define V_IC_READY 0x1c1c1c1cu

static struct vsc_bus bus;
static struct vsc_channel ch;
static struct vsc_ic hb, sd;
static uint8_t out[1024], in[2048];

static int case_echo(void)
{
	static const struct vmbus_guid cls = ECHO_CLASS;
	const struct vsc_offer *o;
	struct vsc_packet pkt;
	unsigned good = 0;

	MG_CHECK(vsc_bus_connect(&bus, NULL, 0) == 0);
	mg_report(bus.version);
	MG_CHECK(vsc_bus_request_offers(&bus) == 0);
	o = vsc_bus_find_offer(&bus, &cls, 0);
	MG_CHECK(o != NULL);
	mg_report(o->msg.child_relid);
	MG_CHECK(vsc_channel_open(&bus, &ch, o->msg.child_relid, 3 * VSC_PAGE_SIZE, 3 * VSC_PAGE_SIZE, 0) == 0);
	for (unsigned i = 0; i < ECHO_ROUNDS; i++) {
		uint32_t len = 8 + i * 24;
		int ret;

		for (uint32_t b = 0; b < len; b++)
			out[b] = (uint8_t)(i * 7 + b);
		MG_CHECK(vsc_channel_send_inband(&ch, 1000 + i, out, len) == 0);
		ret = vsc_channel_recv_wait(&ch, in, sizeof(in), &pkt, 2000);
		if (ret > 0 && pkt.type == VM_PKT_COMP && pkt.trans_id == 1000 + i && pkt.data_len == len &&
		    !memcmp(pkt.data, out, len))
			good++;
		else
			mg_printf("echo %u: ret %d type %u trans_id %u len %u\n", i, ret, pkt.type,
				  (unsigned)pkt.trans_id, pkt.data_len);
	}
	mg_report(good);
	MG_CHECK(vsc_channel_close(&ch) == 0);
	MG_CHECK(vsc_bus_unload(&bus) == 0);
	return 0;
}

static int case_ic(void)
{
	unsigned beats = 0;

	MG_CHECK(vsc_bus_connect(&bus, NULL, 0) == 0);
	MG_CHECK(vsc_bus_request_offers(&bus) == 0);
	vsc_ic_init(&hb, VSC_IC_HEARTBEAT);
	vsc_ic_init(&sd, VSC_IC_SHUTDOWN);
	MG_CHECK(vsc_ic_open(&bus, &hb) == 0);
	MG_CHECK(vsc_ic_open(&bus, &sd) == 0);
	/* NEGOTIATE on both, then heartbeats. */
	while (!sd.negotiated || hb.heartbeats < HEARTBEATS) {
		MG_CHECK(++beats < 200);
		vsc_ic_poll(&sd);
		if (vsc_ic_wait(&hb, 2000) < 0 && !sd.negotiated)
			continue;
	}
	mg_report(hb.msg_version);
	mg_report(V_IC_READY);
	for (unsigned i = 0; i < 100 && !sd.shutdowns; i++) {
		vsc_ic_poll(&hb);
		vsc_ic_wait(&sd, 100);
	}
	MG_CHECK(sd.shutdowns == 1);
	mg_report(sd.shutdown_flags);
	return 0;
}

int mg_main(const struct hvm_start_info *si)
{
	int ret;

	MG_CHECK(hvc_hypercall_enable(hvc_hypercall_page_default, 0) == 0);
	MG_CHECK(hvc_synic_enable() == 0);
	hvc_sint_set(VMBUS_MESSAGE_SINT, 0xf3, true, false); /* masked: the client polls the slot and the SIEF */
	vsc_bus_init(&bus, vsc_hvc_platform(), 0);
	ret = mg_cmdline_has("ic") ? case_ic() : case_echo();
	mg_report(V_DONE);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * openhv/vmbus.h - VMBus on the wire: channel messages (SynIC messages on SINT2), the ring buffer header, packet
 * descriptors and GPA ranges, protocol versions, connection ids and device class GUIDs. Wire formats only.
 *
 * Names and values follow Linux 6.1 include/linux/hyperv.h and drivers/hv/hyperv_vmbus.h (the client OpenHV
 * serves), so code can be read against them; facts and minimum lengths: shared/reference/guest-core.md sections
 * 4-6. All fields little-endian, all structs packed as on the wire.
 */
#ifndef OPENHV_VMBUS_H
#define OPENHV_VMBUS_H

#include <stdint.h>

/* ---- GUIDs: Microsoft mixed-endian layout (Data1 u32 LE, Data2/Data3 u16 LE, Data4 8 bytes) ------------- */

struct vmbus_guid {
	uint8_t b[16];
};
_Static_assert(sizeof(struct vmbus_guid) == 16, "vmbus_guid");

/* A GUID initializer from its string form aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee (Linux GUID_INIT). */
#define VMBUS_GUID_INIT(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                                     \
	{ { (uint8_t)(a), (uint8_t)((a) >> 8), (uint8_t)((a) >> 16), (uint8_t)((a) >> 24), (uint8_t)(b),              \
	    (uint8_t)((b) >> 8), (uint8_t)(c), (uint8_t)((c) >> 8), (d0), (d1), (d2), (d3), (d4), (d5), (d6), (d7) } }

/* Device classes (if_type) Linux 6.1 drivers bind to (drivers/hv/channel_mgmt.c vmbus_devs[], guest-core.md 5.9). */
#define HV_SCSI_GUID VMBUS_GUID_INIT(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f)
#define HV_IDE_GUID VMBUS_GUID_INIT(0x32412632, 0x86cb, 0x44a2, 0x9b, 0x5c, 0x50, 0xd1, 0x41, 0x73, 0x54, 0xf5)
#define HV_NIC_GUID VMBUS_GUID_INIT(0xf8615163, 0xdf3e, 0x46c5, 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e)
#define HV_SHUTDOWN_GUID VMBUS_GUID_INIT(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb)
#define HV_TS_GUID VMBUS_GUID_INIT(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf)
#define HV_HEART_BEAT_GUID VMBUS_GUID_INIT(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d)
#define HV_KVP_GUID VMBUS_GUID_INIT(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6)
#define HV_VSS_GUID VMBUS_GUID_INIT(0x35fa2e29, 0xea23, 0x4236, 0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb, 0xa4, 0x40)
#define HV_FCOPY_GUID VMBUS_GUID_INIT(0x34d14be3, 0xdee4, 0x41c8, 0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77, 0xc1, 0x92)
#define HV_KBD_GUID VMBUS_GUID_INIT(0xf912ad6d, 0x2b17, 0x48ea, 0xbd, 0x65, 0xf9, 0x27, 0xa6, 0x1c, 0x76, 0x84)
#define HV_MOUSE_GUID VMBUS_GUID_INIT(0xcfa8b69e, 0x5b4a, 0x4cc0, 0xb9, 0x8b, 0x8b, 0xa1, 0xa1, 0xf3, 0xf9, 0x5a)
#define HV_SYNTHVID_GUID VMBUS_GUID_INIT(0xda0a7802, 0xe377, 0x4aac, 0x8e, 0x77, 0x05, 0x58, 0xeb, 0x10, 0x73, 0xf8)
#define HV_DM_GUID VMBUS_GUID_INIT(0x525074dc, 0x8985, 0x46e2, 0x80, 0x57, 0xa3, 0x07, 0xdc, 0x18, 0xa5, 0x02)

/* ---- protocol versions (major << 16 | minor), connection ids, SINT (drivers/hv/hyperv_vmbus.h) -------- */

#define VMBUS_MAKE_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define VERSION_WIN8       VMBUS_MAKE_VERSION(2, 4)
#define VERSION_WIN8_1     VMBUS_MAKE_VERSION(3, 0)
#define VERSION_WIN10      VMBUS_MAKE_VERSION(4, 0)
#define VERSION_WIN10_V4_1 VMBUS_MAKE_VERSION(4, 1)
#define VERSION_WIN10_V5   VMBUS_MAKE_VERSION(5, 0)
#define VERSION_WIN10_V5_1 VMBUS_MAKE_VERSION(5, 1)
#define VERSION_WIN10_V5_2 VMBUS_MAKE_VERSION(5, 2)
#define VERSION_WIN10_V5_3 VMBUS_MAKE_VERSION(5, 3)

#define VMBUS_MESSAGE_CONNECTION_ID   1u /* guest -> host channel messages (and INITIATE_CONTACT below 5.0) */
#define VMBUS_MESSAGE_CONNECTION_ID_4 4u /* INITIATE_CONTACT from 5.0 on */
#define VMBUS_EVENT_CONNECTION_ID     2u /* legacy shared event connection (not used with dedicated interrupts) */
#define VMBUS_MONITOR_CONNECTION_ID   3u
#define VMBUS_MESSAGE_SINT            2u /* host -> guest messages and channel events */
#define VMBUS_CHANNEL_MESSAGE_TYPE    1u /* hv_message.header.message_type of channel messages, both ways */
#define VMBUS_MAX_RELID               2047u /* relids are 1..2047: bits of the SINT2 event-flags bitmap */

/* ---- channel messages (enum vmbus_channel_message_type) ------------------------------------------------ */

enum vmbus_channel_message_type {
	CHANNELMSG_INVALID = 0,
	CHANNELMSG_OFFERCHANNEL = 1,
	CHANNELMSG_RESCIND_CHANNELOFFER = 2,
	CHANNELMSG_REQUESTOFFERS = 3,
	CHANNELMSG_ALLOFFERS_DELIVERED = 4,
	CHANNELMSG_OPENCHANNEL = 5,
	CHANNELMSG_OPENCHANNEL_RESULT = 6,
	CHANNELMSG_CLOSECHANNEL = 7,
	CHANNELMSG_GPADL_HEADER = 8,
	CHANNELMSG_GPADL_BODY = 9,
	CHANNELMSG_GPADL_CREATED = 10,
	CHANNELMSG_GPADL_TEARDOWN = 11,
	CHANNELMSG_GPADL_TORNDOWN = 12,
	CHANNELMSG_RELID_RELEASED = 13,
	CHANNELMSG_INITIATE_CONTACT = 14,
	CHANNELMSG_VERSION_RESPONSE = 15,
	CHANNELMSG_UNLOAD = 16,
	CHANNELMSG_UNLOAD_RESPONSE = 17,
	CHANNELMSG_18 = 18,
	CHANNELMSG_19 = 19,
	CHANNELMSG_20 = 20,
	CHANNELMSG_TL_CONNECT_REQUEST = 21,
	CHANNELMSG_MODIFYCHANNEL = 22,
	CHANNELMSG_TL_CONNECT_RESULT = 23,
	CHANNELMSG_MODIFYCHANNEL_RESPONSE = 24,
	CHANNELMSG_COUNT
};

struct vmbus_channel_message_header {
	uint32_t msgtype; /* enum vmbus_channel_message_type */
	uint32_t padding;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_message_header) == 8, "vmbus_channel_message_header");

/* chn_flags of an offer (include/linux/hyperv.h VMBUS_CHANNEL_*). */
#define VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE 0x0001u
#define VMBUS_CHANNEL_SERVER_SUPPORTS_TRANSFER_PAGES 0x0002u
#define VMBUS_CHANNEL_SERVER_SUPPORTS_GPADLS 0x0004u
#define VMBUS_CHANNEL_NAMED_PIPE_MODE 0x0010u
#define VMBUS_CHANNEL_LOOPBACK_OFFER 0x0100u
#define VMBUS_CHANNEL_PARENT_OFFER 0x0200u
#define VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION 0x0400u
#define VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER 0x2000u

#define VMBUS_PIPE_TYPE_BYTE    0x00000000u
#define VMBUS_PIPE_TYPE_MESSAGE 0x00000004u
#define MAX_USER_DEFINED_BYTES  120u
#define MAX_PIPE_USER_DEFINED_BYTES 116u

/* CHANNELMSG_OFFERCHANNEL, host -> guest, 196 bytes (struct vmbus_channel_offer_channel). */
struct vmbus_channel_offer_channel {
	struct vmbus_channel_message_header header;
	struct vmbus_guid if_type;     /* device class */
	struct vmbus_guid if_instance; /* unique per primary channel: the guest's sysfs device name */
	uint64_t reserved1;
	uint64_t reserved2;
	uint16_t chn_flags;            /* VMBUS_CHANNEL_* */
	uint16_t mmio_megabytes;       /* MiB of MMIO space the device wants (synthetic video) */
	union {
		uint8_t user_def[MAX_USER_DEFINED_BYTES];
		struct {
			uint32_t pipe_mode; /* VMBUS_PIPE_TYPE_* */
			uint8_t user_def[MAX_PIPE_USER_DEFINED_BYTES];
		} __attribute__((packed)) pipe;
	} u;
	uint16_t sub_channel_index;    /* 0: primary */
	uint16_t reserved3;
	uint32_t child_relid;          /* 1..VMBUS_MAX_RELID */
	uint8_t monitorid;
	uint8_t monitor_allocated;     /* bit 0 */
	uint16_t is_dedicated_interrupt; /* bit 0 */
	uint32_t connection_id;        /* what the guest passes to HvSignalEvent for this channel */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_offer_channel) == 196, "vmbus_channel_offer_channel");

/* CHANNELMSG_RESCIND_CHANNELOFFER (host -> guest), CHANNELMSG_CLOSECHANNEL and CHANNELMSG_RELID_RELEASED
 * (guest -> host): the header and a relid, 12 bytes. */
struct vmbus_channel_relid_message {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_relid_message) == 12, "vmbus_channel_relid_message");

/* CHANNELMSG_OPENCHANNEL, guest -> host, 148 bytes. */
struct vmbus_channel_open_channel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t openid;                 /* echoed in the result; Linux sets it to child_relid */
	uint32_t ringbuffer_gpadlhandle; /* both rings: pages [0, d) guest -> host, [d, n) host -> guest */
	uint32_t target_vp;              /* VP index that takes this channel's event interrupts */
	uint32_t downstream_ringbuffer_pageoffset; /* d, in 4 KiB pages */
	uint8_t userdata[MAX_USER_DEFINED_BYTES];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_open_channel) == 148, "vmbus_channel_open_channel");

/* CHANNELMSG_OPENCHANNEL_RESULT, host -> guest, 20 bytes. status 0: success. */
struct vmbus_channel_open_result {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_open_result) == 20, "vmbus_channel_open_result");

/* One GPA range of a GPADL or a GPA-direct packet: byte_count bytes from byte_offset into pfn_array[0]. */
struct gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint64_t pfn_array[];
} __attribute__((packed));
_Static_assert(sizeof(struct gpa_range) == 8, "gpa_range");

/* CHANNELMSG_GPADL_HEADER, guest -> host: 28 + 8 * n bytes (n <= 26 PFNs here, the rest in GPADL_BODY). */
struct vmbus_channel_gpadl_header {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;          /* handle chosen by the guest */
	uint16_t range_buflen;   /* bytes of all ranges: 8 + 8 * total PFNs for one range */
	uint16_t rangecount;     /* Linux: always 1 */
	struct gpa_range range[];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_header) == 20, "vmbus_channel_gpadl_header");
#define VMBUS_GPADL_HEADER_MAX_PFNS 26u /* (240 - 28) / 8 */

/* CHANNELMSG_GPADL_BODY, guest -> host: 16 + 8 * m bytes (m <= 28). */
struct vmbus_channel_gpadl_body {
	struct vmbus_channel_message_header header;
	uint32_t msgnumber; /* Linux leaves it 0 */
	uint32_t gpadl;
	uint64_t pfn[];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_body) == 16, "vmbus_channel_gpadl_body");
#define VMBUS_GPADL_BODY_MAX_PFNS 28u /* (240 - 16) / 8 */

/* CHANNELMSG_GPADL_CREATED, host -> guest, 20 bytes. creation_status 0: success. */
struct vmbus_channel_gpadl_created {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;
	uint32_t creation_status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_created) == 20, "vmbus_channel_gpadl_created");

/* CHANNELMSG_GPADL_TEARDOWN, guest -> host, 16 bytes. */
struct vmbus_channel_gpadl_teardown {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_teardown) == 16, "vmbus_channel_gpadl_teardown");

/* CHANNELMSG_GPADL_TORNDOWN, host -> guest, 12 bytes. */
struct vmbus_channel_gpadl_torndown {
	struct vmbus_channel_message_header header;
	uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_torndown) == 12, "vmbus_channel_gpadl_torndown");

/* CHANNELMSG_INITIATE_CONTACT, guest -> host, 40 bytes. */
struct vmbus_channel_initiate_contact {
	struct vmbus_channel_message_header header;
	uint32_t vmbus_version_requested;
	uint32_t target_vcpu; /* VP index that takes the host's channel messages */
	union {
		uint64_t interrupt_page; /* below 5.0 */
		struct {
			uint8_t msg_sint; /* from 5.0: the SINT for host messages (Linux: 2) */
			uint8_t msg_vtl;
			uint8_t reserved[6];
		} __attribute__((packed)) s;
	} u;
	uint64_t monitor_page1; /* parent -> child */
	uint64_t monitor_page2; /* child -> parent */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_initiate_contact) == 40, "vmbus_channel_initiate_contact");

/* CHANNELMSG_VERSION_RESPONSE, host -> guest, 16 bytes. */
struct vmbus_channel_version_response {
	struct vmbus_channel_message_header header;
	uint8_t version_supported; /* non-zero: accepted */
	uint8_t connection_state;
	uint16_t padding;
	uint32_t msg_conn_id;      /* from 5.0: the connection id of the guest's further messages */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_version_response) == 16, "vmbus_channel_version_response");

/* CHANNELMSG_MODIFYCHANNEL, guest -> host, 16 bytes. */
struct vmbus_channel_modifychannel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t target_vp;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_modifychannel) == 16, "vmbus_channel_modifychannel");

/* CHANNELMSG_MODIFYCHANNEL_RESPONSE, host -> guest (5.3), 16 bytes. */
struct vmbus_channel_modifychannel_response {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_modifychannel_response) == 16, "vmbus_channel_modifychannel_response");

/* CHANNELMSG_TL_CONNECT_REQUEST, guest -> host, 40 bytes (hv_sock). */
struct vmbus_channel_tl_connect_request {
	struct vmbus_channel_message_header header;
	struct vmbus_guid guest_endpoint_id;
	struct vmbus_guid host_service_id;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_tl_connect_request) == 40, "vmbus_channel_tl_connect_request");

/* ---- ring buffer (struct hv_ring_buffer, guest-core.md 5.6) ------------------------------------------- */

#define VMBUS_RING_HEADER_BYTES 4096u
#define VMBUS_RING_FEAT_PENDING_SEND_SZ 0x1u /* feature_bits bit 0 */

struct hv_ring_buffer {
	uint32_t write_index;     /* byte offset of the next write in the data area; producer */
	uint32_t read_index;      /* byte offset of the next read; consumer */
	uint32_t interrupt_mask;  /* consumer: "don't signal me" */
	uint32_t pending_send_sz; /* producer: "signal me when this many bytes are free" */
	uint32_t reserved1[12];
	uint32_t feature_bits;    /* VMBUS_RING_FEAT_* */
	uint8_t reserved2[4028];
	/* the data area follows in the next page */
}; /* not packed: naturally aligned, so the index fields can be accessed atomically (clang insists) */
_Static_assert(sizeof(struct hv_ring_buffer) == VMBUS_RING_HEADER_BYTES, "hv_ring_buffer");

/* ---- packets in the ring (include/linux/hyperv.h) ----------------------------------------------------- */

enum vmbus_packet_type {
	VM_PKT_INVALID = 0x0,
	VM_PKT_SYNCH = 0x1,
	VM_PKT_ADD_XFER_PAGESET = 0x2,
	VM_PKT_RM_XFER_PAGESET = 0x3,
	VM_PKT_ESTABLISH_GPADL = 0x4,
	VM_PKT_TEARDOWN_GPADL = 0x5,
	VM_PKT_DATA_INBAND = 0x6,
	VM_PKT_DATA_USING_XFER_PAGES = 0x7,
	VM_PKT_DATA_USING_GPADL = 0x8,
	VM_PKT_DATA_USING_GPA_DIRECT = 0x9,
	VM_PKT_CANCEL_REQUEST = 0xa,
	VM_PKT_COMP = 0xb,
	VM_PKT_DATA_USING_ADDITIONAL_PKT = 0xc,
	VM_PKT_ADDITIONAL_DATA = 0xd,
};

#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 1u

/* Every packet starts with this; the payload is at offset8 * 8, the packet is len8 * 8 bytes, and an 8-byte
 * trailer (u64: the packet's start offset << 32) follows it in the ring. */
struct vmpacket_descriptor {
	uint16_t type;    /* enum vmbus_packet_type */
	uint16_t offset8;
	uint16_t len8;
	uint16_t flags;   /* VMBUS_DATA_PACKET_FLAG_* */
	uint64_t trans_id;
} __attribute__((packed));
_Static_assert(sizeof(struct vmpacket_descriptor) == 16, "vmpacket_descriptor");

#define VMBUS_PACKET_TRAILER_BYTES 8u

/* VM_PKT_DATA_USING_GPA_DIRECT: the descriptor, then this header, then rangecount ranges (each a gpa_range
 * with its PFNs), then the payload at offset8 * 8. */
struct vmbus_gpa_direct_header {
	uint32_t reserved;
	uint32_t rangecount;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpa_direct_header) == 8, "vmbus_gpa_direct_header");

/* VM_PKT_DATA_USING_XFER_PAGES (host -> guest, netvsc receive): the descriptor, then this, then range_cnt
 * vmtransfer_page_range. */
struct vmtransfer_page_packet_header {
	uint16_t xfer_pageset_id;
	uint8_t sender_owns_set;
	uint8_t reserved;
	uint32_t range_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vmtransfer_page_packet_header) == 8, "vmtransfer_page_packet_header");

struct vmtransfer_page_range {
	uint32_t byte_count;
	uint32_t byte_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct vmtransfer_page_range) == 8, "vmtransfer_page_range");

#endif /* OPENHV_VMBUS_H */

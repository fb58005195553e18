/* SPDX-License-Identifier: MIT */
/*
 * openhv/storvsp.h - the synthetic storage protocol on a VMBus channel (storvsc <-> storvsp): vstor packets, the
 * SCSI request block, channel properties, protocol versions, SRB status codes. Wire formats only.
 *
 * Names and values follow Linux 6.1 drivers/scsi/storvsc_drv.c (the client OpenHV serves); facts in
 * shared/reference/guest-devices.md section 1. All fields little-endian, structs packed as on the wire.
 */
#ifndef OPENHV_STORVSP_H
#define OPENHV_STORVSP_H

#include <stdint.h>

/* vstor_packet.operation (enum vstor_packet_operation) */
enum vstor_packet_operation {
	VSTOR_OPERATION_COMPLETE_IO = 1,
	VSTOR_OPERATION_REMOVE_DEVICE = 2,
	VSTOR_OPERATION_EXECUTE_SRB = 3,
	VSTOR_OPERATION_RESET_LUN = 4,
	VSTOR_OPERATION_RESET_ADAPTER = 5,
	VSTOR_OPERATION_RESET_BUS = 6,
	VSTOR_OPERATION_BEGIN_INITIALIZATION = 7,
	VSTOR_OPERATION_END_INITIALIZATION = 8,
	VSTOR_OPERATION_QUERY_PROTOCOL_VERSION = 9,
	VSTOR_OPERATION_QUERY_PROPERTIES = 10,
	VSTOR_OPERATION_ENUMERATE_BUS = 11,
	VSTOR_OPERATION_FCHBA_DATA = 12,
	VSTOR_OPERATION_CREATE_SUB_CHANNELS = 13,
	VSTOR_OPERATION_MAXIMUM = 13
};

/* Protocol versions (vmstorage_protocol_version.major_minor: major in the high byte). */
#define VMSTOR_PROTO_VERSION(major, minor) ((uint16_t)(((major) << 8) | (minor)))
#define VMSTOR_PROTO_VERSION_WIN8   VMSTOR_PROTO_VERSION(5, 1)
#define VMSTOR_PROTO_VERSION_WIN8_1 VMSTOR_PROTO_VERSION(6, 0)
#define VMSTOR_PROTO_VERSION_WIN10  VMSTOR_PROTO_VERSION(6, 2)

#define REQUEST_COMPLETION_FLAG 0x1u /* vstor_packet.flags: the guest always sets it */

/* SRB data direction (vmscsi_request.data_in) */
#define WRITE_TYPE   0
#define READ_TYPE    1
#define UNKNOWN_TYPE 2

#define STORVSC_SENSE_BUFFER_SIZE 0x14 /* 20 */
#define STORVSC_MAX_CMD_LEN 0x10       /* 16 */

/* SRB status (Windows srb.h), vmscsi_request.srb_status: low 6 bits the code, plus flags. */
#define SRB_STATUS_PENDING 0x00
#define SRB_STATUS_SUCCESS 0x01
#define SRB_STATUS_ABORTED 0x02
#define SRB_STATUS_ERROR 0x04
#define SRB_STATUS_BUSY 0x05
#define SRB_STATUS_INVALID_REQUEST 0x06
#define SRB_STATUS_INVALID_PATH_ID 0x07
#define SRB_STATUS_NO_DEVICE 0x08
#define SRB_STATUS_TIMEOUT 0x09
#define SRB_STATUS_DATA_OVERRUN 0x12
#define SRB_STATUS_INVALID_LUN 0x20
#define SRB_STATUS_INVALID_TARGET_ID 0x21
#define SRB_STATUS_INTERNAL_ERROR 0x30
#define SRB_STATUS_QUEUE_FROZEN 0x40
#define SRB_STATUS_AUTOSENSE_VALID 0x80

/* srb_flags the guest sets (informational for the host) */
#define SRB_FLAGS_QUEUE_ACTION_ENABLE 0x00000002
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER 0x00000008
#define SRB_FLAGS_DATA_IN 0x00000040
#define SRB_FLAGS_DATA_OUT 0x00000080
#define SRB_FLAGS_NO_QUEUE_FREEZE 0x00000100

/* The SCSI request block, win8 layout (52 bytes; the pre-win8 36-byte form is not negotiated by Linux 6.1). */
struct vmscsi_request {
	uint16_t length;             /* sizeof(struct vmscsi_request) */
	uint8_t srb_status;
	uint8_t scsi_status;
	uint8_t port_number;
	uint8_t path_id;
	uint8_t target_id;
	uint8_t lun;
	uint8_t cdb_length;
	uint8_t sense_info_length;
	uint8_t data_in;             /* WRITE_TYPE, READ_TYPE, UNKNOWN_TYPE */
	uint8_t reserved;
	uint32_t data_transfer_length; /* bytes; the completion reports what was transferred */
	union {
		uint8_t cdb[STORVSC_MAX_CMD_LEN];
		uint8_t sense_data[STORVSC_SENSE_BUFFER_SIZE];
		uint8_t reserved_array[STORVSC_SENSE_BUFFER_SIZE];
	} u;
	/* win8 extension */
	uint16_t reserve;
	uint8_t queue_tag;
	uint8_t queue_action;
	uint32_t srb_flags;
	uint32_t time_out_value;
	uint32_t queue_sort_key;
} __attribute__((packed));
_Static_assert(sizeof(struct vmscsi_request) == 52, "vmscsi_request");

/* QUERY_PROPERTIES answer (24 bytes). */
#define STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL 0x1u
struct vmstorage_channel_properties {
	uint32_t reserved;
	uint16_t max_channel_cnt;    /* sub-channels the host can offer */
	uint16_t reserved1;
	uint32_t flags;              /* STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL */
	uint32_t max_transfer_bytes; /* largest single transfer; must be non-zero */
	uint64_t reserved2;
} __attribute__((packed));
_Static_assert(sizeof(struct vmstorage_channel_properties) == 24, "vmstorage_channel_properties");

struct vmstorage_protocol_version {
	uint16_t major_minor;
	uint16_t revision;           /* 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct vmstorage_protocol_version) == 4, "vmstorage_protocol_version");

/* FCHBA_DATA answer (Fibre Channel controllers only). */
struct hv_fc_wwn_packet {
	uint8_t primary_active;
	uint8_t reserved1[3];
	uint8_t primary_port_wwn[8];
	uint8_t primary_node_wwn[8];
	uint8_t secondary_port_wwn[8];
	uint8_t secondary_node_wwn[8];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_fc_wwn_packet) == 36, "hv_fc_wwn_packet");

/* The packet of every storvsc exchange: 64 bytes (the payload of an in-band or GPA-direct VMBus packet). */
struct vstor_packet {
	uint32_t operation;          /* enum vstor_packet_operation */
	uint32_t flags;              /* REQUEST_COMPLETION_FLAG */
	uint32_t status;             /* NTSTATUS-like: 0 success */
	union {
		struct vmscsi_request vm_srb;
		struct vmstorage_channel_properties storage_channel_properties;
		struct vmstorage_protocol_version version;
		struct hv_fc_wwn_packet wwn_packet;
		uint16_t sub_channel_count;
		uint8_t buffer[52];
	} u;
} __attribute__((packed));
_Static_assert(sizeof(struct vstor_packet) == 64, "vstor_packet");

/* NTSTATUS values hosts put in vstor_packet.status (Linux only logs them; QUERY_PROTOCOL_VERSION tests != 0). */
#define STORVSP_STATUS_SUCCESS 0x00000000u
#define STORVSP_STATUS_REVISION_MISMATCH 0xC0000059u
#define STORVSP_STATUS_INVALID_PARAMETER 0xC000000Du
#define STORVSP_STATUS_INVALID_DEVICE_STATE 0xC0000184u
#define STORVSP_STATUS_IO_DEVICE_ERROR 0xC0000185u
#define STORVSP_STATUS_DEVICE_DOES_NOT_EXIST 0xC00000C0u
#define STORVSP_STATUS_BUSY 0x80000011u
#define STORVSP_STATUS_DATA_OVERRUN 0x80000005u

/* The trans_id Linux uses for the init handshake and for a bus reset (not a requestor id). */
#define VMBUS_RQST_INIT  0xFFFFFFFFFFFFFFFDull
#define VMBUS_RQST_RESET 0xFFFFFFFFFFFFFFFCull

/* The guest's receive buffer for one packet from the host: vmpacket_descriptor (16) + vstor_packet (64). */
#define STORVSC_MAX_PKT_SIZE 80u

#endif /* OPENHV_STORVSP_H */

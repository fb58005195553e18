/* SPDX-License-Identifier: MIT */
/*
 * openhv/vmbus_ic.h - the integration components (ICs) on the wire: the pipe and IC message headers, version
 * negotiation, and the message bodies of shutdown, time sync, heartbeat and KVP (data exchange). Wire formats only.
 *
 * Names and values follow Linux 6.1 include/linux/hyperv.h (vmbuspipe_hdr, icmsg_hdr, icmsg_negotiate,
 * shutdown_msg_data, heartbeat_msg_data, ictimesync_data, ictimesync_ref_data, ICMSGTYPE_*, ICMSGHDRFLAG_*,
 * ICTIMESYNCFLAG_*, HV_S_OK ...) and include/uapi/linux/hyperv.h (hv_kvp_*), so code can be read against the
 * guest's drivers/hv/hv_util.c and hv_kvp.c. Facts, sizes and offsets: shared/reference/guest-devices.md section 3
 * and appendix C. All fields little-endian, all structs packed as on the wire.
 *
 * Every IC message, both ways, is one VM_PKT_DATA_INBAND packet:
 *   vmbuspipe_hdr (8) | icmsg_hdr (20) | body (icmsgsize bytes)
 * The host sends requests (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST); the guest answers by rewriting the
 * request in place (status, icflags = TRANSACTION | RESPONSE, sometimes the body) and sending back the same number
 * of bytes with the request's packet trans_id.
 */
#ifndef OPENHV_VMBUS_IC_H
#define OPENHV_VMBUS_IC_H

#include <stdint.h>

#include "openhv/vmbus.h"

/* ---- framing ------------------------------------------------------------------------------------------------ */

/* Pipe header of a pipe-mode channel message. flags: the pipe message type (1 = data; Linux has no name for it). */
struct vmbuspipe_hdr {
	uint32_t flags;
	uint32_t msgsize; /* bytes after this header */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbuspipe_hdr) == 8, "vmbuspipe_hdr");
#define VMBUSPIPE_FLAG_DATA 1u

struct ic_version {
	uint16_t major;
	uint16_t minor;
} __attribute__((packed));
_Static_assert(sizeof(struct ic_version) == 4, "ic_version");

/* An IC version as one number, major << 16 | minor (Linux's UTIL_FW_VERSION, SD_VERSION ...). */
#define IC_MAKE_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))

struct icmsg_hdr {
	struct ic_version icverframe; /* framework version */
	uint16_t icmsgtype;           /* ICMSGTYPE_* */
	struct ic_version icvermsg;   /* message version */
	uint16_t icmsgsize;           /* body bytes */
	uint32_t status;              /* HRESULT (HV_S_OK, HV_E_FAIL ...) */
	uint8_t ictransaction_id;
	uint8_t icflags;              /* ICMSGHDRFLAG_* */
	uint8_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct icmsg_hdr) == 20, "icmsg_hdr");

/* Bytes before the body: pipe header + IC header (Linux ICMSG_HDR). Shorter packets are dropped by the guest. */
#define ICMSG_HDR (sizeof(struct vmbuspipe_hdr) + sizeof(struct icmsg_hdr))

#define ICMSGTYPE_NEGOTIATE   0u
#define ICMSGTYPE_HEARTBEAT   1u
#define ICMSGTYPE_KVPEXCHANGE 2u
#define ICMSGTYPE_SHUTDOWN    3u
#define ICMSGTYPE_TIMESYNC    4u
#define ICMSGTYPE_VSS         5u
#define ICMSGTYPE_FCOPY       7u

#define ICMSGHDRFLAG_TRANSACTION 1u
#define ICMSGHDRFLAG_REQUEST     2u
#define ICMSGHDRFLAG_RESPONSE    4u

/* HRESULTs in icmsg_hdr.status (include/linux/hyperv.h). */
#define HV_S_OK                        0x00000000u
#define HV_E_FAIL                      0x80004005u
#define HV_S_CONT                      0x80070103u /* KVP: no more items (enumeration index past the end) */
#define HV_ERROR_NOT_SUPPORTED         0x80070032u
#define HV_ERROR_MACHINE_LOCKED        0x800704F7u
#define HV_ERROR_DEVICE_NOT_CONNECTED  0x8007048Fu
#define HV_INVALIDARG                  0x80070057u
#define HV_GUID_NOTFOUND               0x80041002u
#define HV_ERROR_ALREADY_EXISTS        0x80070050u
#define HV_ERROR_DISK_FULL             0x80070070u

/* ---- version negotiation (ICMSGTYPE_NEGOTIATE) ---------------------------------------------------------------- */

/*
 * Host request: icframe_vercnt framework versions, then icmsg_vercnt message versions, in icversion_data[].
 * Guest answer (in place, icmsgsize 0x10): counts 1/1 and [0] = chosen framework, [1] = chosen message version;
 * counts 0/0 when nothing matched.
 */
struct icmsg_negotiate {
	uint16_t icframe_vercnt;
	uint16_t icmsg_vercnt;
	uint32_t reserved;
	struct ic_version icversion_data[]; /* icframe_vercnt + icmsg_vercnt entries */
} __attribute__((packed));
_Static_assert(sizeof(struct icmsg_negotiate) == 8, "icmsg_negotiate");

#define IC_VERSION_NEGOTIATION_MAX_VER_COUNT 100u
/* Bytes of a whole negotiate message with @fcnt framework and @mcnt message versions (pipe header included). */
#define ICMSG_NEGOTIATE_PKT_SIZE(fcnt, mcnt)                                                                           \
	(ICMSG_HDR + sizeof(struct icmsg_negotiate) + ((fcnt) + (mcnt)) * sizeof(struct ic_version))

/* Framework versions (Linux hv_util.c fw_versions[]: UTIL_FW_VERSION 3.0, UTIL_WS2K8_FW_VERSION 1.0). */
#define UTIL_FW_VERSION       IC_MAKE_VERSION(3, 0)
#define UTIL_WS2K8_FW_VERSION IC_MAKE_VERSION(1, 0)

/* ---- shutdown (ICMSGTYPE_SHUTDOWN) ---------------------------------------------------------------------------- */

/* Message versions, guest order 3.2, 3.1, 3.0, 1.0 (hv_util.c sd_versions[]); the body is the same for all. */
#define SD_VERSION_3_2 IC_MAKE_VERSION(3, 2)
#define SD_VERSION_3_1 IC_MAKE_VERSION(3, 1)
#define SD_VERSION     IC_MAKE_VERSION(3, 0)
#define SD_WS2008_VERSION IC_MAKE_VERSION(1, 0)

/* The guest requires the full body (packet payload >= ICMSG_HDR + 2060) or it does not answer. */
struct shutdown_msg_data {
	uint32_t reason_code;
	uint32_t timeout_seconds;
	uint32_t flags;                /* ICSHUTDOWNFLAG_* */
	uint8_t display_message[2048]; /* UTF-16LE, for Windows guests */
} __attribute__((packed));
_Static_assert(sizeof(struct shutdown_msg_data) == 2060, "shutdown_msg_data");

/* shutdown_msg_data.flags (Linux switches on the values 0..5; OpenVMM names the bits force/restart/hibernate). */
#define ICSHUTDOWNFLAG_FORCE     1u /* 0/1: power off, 2/3: reboot */
#define ICSHUTDOWNFLAG_RESTART   2u
#define ICSHUTDOWNFLAG_HIBERNATE 4u /* 4/5: hibernate if the guest supports S4, else E_FAIL */

/* ---- time sync (ICMSGTYPE_TIMESYNC) --------------------------------------------------------------------------- */

/* Message versions, guest order 4.0, 3.0, 1.0 (hv_util.c ts_versions[]). */
#define TS_VERSION_4      IC_MAKE_VERSION(4, 0) /* body ictimesync_ref_data */
#define TS_VERSION_3      IC_MAKE_VERSION(3, 0) /* body ictimesync_data */
#define TS_VERSION_1      IC_MAKE_VERSION(1, 0) /* body ictimesync_data */

/* 100 ns intervals from 1601-01-01 (Windows FILETIME epoch) to 1970-01-01 (Linux WLTIMEDELTA). */
#define WLTIMEDELTA 116444736000000000ull

#define ICTIMESYNCFLAG_PROBE  0u
#define ICTIMESYNCFLAG_SYNC   1u /* hard set: the guest steps its clock */
#define ICTIMESYNCFLAG_SAMPLE 2u /* soft: the guest's "hyperv" PTP clock only */

/* Message versions 3.0 and 1.0. Times in 100 ns units since 1601-01-01 (UTC). */
struct ictimesync_data {
	uint64_t parenttime;
	uint64_t childtime;
	uint64_t roundtriptime;
	uint8_t flags; /* ICTIMESYNCFLAG_* */
} __attribute__((packed));
_Static_assert(sizeof(struct ictimesync_data) == 25, "ictimesync_data");

/* Message version 4.0: parenttime (host UTC, 100 ns since 1601) sampled at partition reference time
 * vmreferencetime (100 ns); the guest adds (reference now - vmreferencetime). */
struct ictimesync_ref_data {
	uint64_t parenttime;
	uint64_t vmreferencetime;
	uint8_t flags; /* ICTIMESYNCFLAG_* */
	int8_t leapflags;
	int8_t stratum;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct ictimesync_ref_data) == 22, "ictimesync_ref_data");

/* ---- heartbeat (ICMSGTYPE_HEARTBEAT) -------------------------------------------------------------------------- */

/* Message versions, guest order 3.0, 1.0 (hv_util.c hb_versions[]). */
#define HB_VERSION        IC_MAKE_VERSION(3, 0)
#define HB_WS2008_VERSION IC_MAKE_VERSION(1, 0)

/* The guest needs >= 8 body bytes and answers seq_num + 1. */
struct heartbeat_msg_data {
	uint64_t seq_num;
	uint32_t reserved[8];
} __attribute__((packed));
_Static_assert(sizeof(struct heartbeat_msg_data) == 40, "heartbeat_msg_data");

/* ---- KVP, key-value pair exchange (ICMSGTYPE_KVPEXCHANGE; include/uapi/linux/hyperv.h) ------------------------ */

/* Message versions, guest order 4.0, 3.0, 1.0 (hv_kvp.c kvp_versions[]: WIN8, WIN7, WS2008); same body. */
#define WIN8_SRV_VERSION   IC_MAKE_VERSION(4, 0)
#define WIN7_SRV_VERSION   IC_MAKE_VERSION(3, 0)
#define WS2008_SRV_VERSION IC_MAKE_VERSION(1, 0)

#define HV_KVP_EXCHANGE_MAX_VALUE_SIZE 2048u /* bytes of UTF-16LE, NUL included */
#define HV_KVP_EXCHANGE_MAX_KEY_SIZE   512u

enum hv_kvp_exchg_op {
	KVP_OP_GET = 0,
	KVP_OP_SET,
	KVP_OP_DELETE,
	KVP_OP_ENUMERATE,
	KVP_OP_GET_IP_INFO,
	KVP_OP_SET_IP_INFO,
	KVP_OP_COUNT /* number of operations, must be last */
};

enum hv_kvp_exchg_pool {
	KVP_POOL_EXTERNAL = 0, /* host-pushed items (the guest keeps them in /var/lib/hyperv/.kvp_pool_0) */
	KVP_POOL_GUEST,
	KVP_POOL_AUTO,         /* the guest's intrinsic items (FullyQualifiedDomainName, OSName, ...) */
	KVP_POOL_AUTO_EXTERNAL,
	KVP_POOL_AUTO_INTERNAL,
	KVP_POOL_COUNT
};

/* hv_kvp_exchg_msg_value.value_type (Windows registry types). */
#define REG_SZ  1u
#define REG_U32 4u
#define REG_U64 8u

#define ADDR_FAMILY_NONE 0x00u
#define ADDR_FAMILY_IPV4 0x01u
#define ADDR_FAMILY_IPV6 0x02u

#define MAX_ADAPTER_ID_SIZE 128u
#define MAX_IP_ADDR_SIZE    1024u
#define MAX_GATEWAY_SIZE    512u

struct hv_kvp_hdr {
	uint8_t operation; /* enum hv_kvp_exchg_op */
	uint8_t pool;      /* enum hv_kvp_exchg_pool */
	uint16_t pad;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_hdr) == 4, "hv_kvp_hdr");

/* Sizes in bytes including the terminating NUL; strings UTF-16LE on the wire. */
struct hv_kvp_exchg_msg_value {
	uint32_t value_type; /* REG_SZ, REG_U32, REG_U64 */
	uint32_t key_size;
	uint32_t value_size;
	uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
	union {
		uint8_t value[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
		uint32_t value_u32;
		uint64_t value_u64;
	} __attribute__((packed));
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_exchg_msg_value) == 2572, "hv_kvp_exchg_msg_value");

struct hv_kvp_msg_enumerate {
	uint32_t index;
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_enumerate) == 2576, "hv_kvp_msg_enumerate");

struct hv_kvp_msg_get {
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_get) == 2572, "hv_kvp_msg_get");

struct hv_kvp_msg_set {
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_set) == 2572, "hv_kvp_msg_set");

struct hv_kvp_msg_delete {
	uint32_t key_size;
	uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_delete) == 516, "hv_kvp_msg_delete");

/* Kernel <-> daemon registration (never on the wire; part of the union's size). */
struct hv_kvp_register {
	uint8_t version[HV_KVP_EXCHANGE_MAX_KEY_SIZE / 2];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_register) == 256, "hv_kvp_register");

/* GET_IP_INFO / SET_IP_INFO: UTF-16LE lists separated by ';'. */
struct hv_kvp_ipaddr_value {
	uint16_t adapter_id[MAX_ADAPTER_ID_SIZE];
	uint8_t addr_family; /* ADDR_FAMILY_* */
	uint8_t dhcp_enabled;
	uint16_t ip_addr[MAX_IP_ADDR_SIZE];
	uint16_t sub_net[MAX_IP_ADDR_SIZE];
	uint16_t gate_way[MAX_GATEWAY_SIZE];
	uint16_t dns_addr[MAX_IP_ADDR_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_ipaddr_value) == 7426, "hv_kvp_ipaddr_value");

/* The body of a KVP message (uapi struct hv_kvp_msg). Requests need only the header and their own member. */
struct hv_kvp_msg {
	union {
		struct hv_kvp_hdr kvp_hdr;
		uint32_t error; /* kernel <-> daemon only */
	} __attribute__((packed));
	union {
		struct hv_kvp_msg_get kvp_get;
		struct hv_kvp_msg_set kvp_set;
		struct hv_kvp_msg_delete kvp_delete;
		struct hv_kvp_msg_enumerate kvp_enum_data;
		struct hv_kvp_ipaddr_value kvp_ip_val;
		struct hv_kvp_register kvp_register;
	} __attribute__((packed)) body;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg) == 7430, "hv_kvp_msg");

/* GET_IP_INFO / SET_IP_INFO as they travel on the channel: the value right after operation and pool. */
struct hv_kvp_ip_msg {
	uint8_t operation;
	uint8_t pool;
	struct hv_kvp_ipaddr_value kvp_ip_val;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_ip_msg) == 7428, "hv_kvp_ip_msg");

/* Body bytes of the requests a host sends: header plus the operation's member. */
#define HV_KVP_SET_BODY_BYTES  (sizeof(struct hv_kvp_hdr) + sizeof(struct hv_kvp_msg_set))       /* 2576 */
#define HV_KVP_ENUM_BODY_BYTES (sizeof(struct hv_kvp_hdr) + sizeof(struct hv_kvp_msg_enumerate)) /* 2580 */

#endif /* OPENHV_VMBUS_IC_H */

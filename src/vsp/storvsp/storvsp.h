/* SPDX-License-Identifier: MIT */
/*
 * vsp/storvsp/storvsp.h - the synthetic SCSI controller (Hyper-V's StorVSP): one VMBus device of class
 * HV_SCSI_GUID whose LUNs are disks on disk backends. The client is Linux 6.1 drivers/scsi/storvsc_drv.c
 * (shared/reference/guest-devices.md section 1): the init handshake on the primary channel (BEGIN_INITIALIZATION,
 * QUERY_PROTOCOL_VERSION 6.2/6.0/5.1, QUERY_PROPERTIES, END_INITIALIZATION), CREATE_SUB_CHANNELS, then
 * EXECUTE_SRB on any channel, each completed on the channel it came on with the SRB status, SCSI status and
 * sense the SCSI target (scsi_disk.h) produced.
 *
 * Addressing: disk i of the config is path 0, target 0, LUN i (Linux names them sda, sdb, ... in that order).
 * Every other path/target/LUN answers INQUIRY with "no LUN here" and everything else with SRB INVALID_LUN.
 *
 * Threads: everything on the VMBus server's I/O thread; disk completions arrive there too (the disks' eventfds
 * are watched by the server). Prefix storvsp_.
 */
#ifndef OPENHV_VSP_STORVSP_STORVSP_H
#define OPENHV_VSP_STORVSP_STORVSP_H

#include <stdbool.h>
#include <stdint.h>

#include "openhv/vmbus.h"

struct vmbus_server;
struct storvsp;

#define STORVSP_MAX_LUNS 64u
#define STORVSP_DEFAULT_MAX_TRANSFER (1u << 20) /* bytes per request the guest may send (QUERY_PROPERTIES) */
#define STORVSP_QUEUE_DEPTH 256u                /* requests in flight per channel (Linux: ~330 per channel);
						 * each disk's backend queue holds this many per channel (at most
						 * 4096), so a deep guest queue never meets SAM BUSY */

struct storvsp_disk_config {
	const char *path;     /* raw image file or block device */
	bool read_only;
	bool direct;          /* O_DIRECT */
	uint32_t block_size;  /* logical block size: 512 (0) or 4096 */
};

struct storvsp_config {
	struct vmbus_server *srv;          /* borrowed */
	struct vmbus_guid instance_id;     /* the controller's instance GUID (the guest's sysfs name) */
	const char *name;                  /* for logs ("scsi0"); copied */
	const struct storvsp_disk_config *disks; /* LUN i = disks[i] */
	unsigned disk_count;               /* 0..STORVSP_MAX_LUNS */
	unsigned max_subchannels;          /* sub-channels offered at most (Linux asks for online CPUs - 1); 0: none */
	uint32_t max_transfer_bytes;       /* 0: STORVSP_DEFAULT_MAX_TRANSFER; at least 256 KiB, multiple of 4 KiB, at
					    * most 32 MiB (each channel receives packets of max / 4096 + 1 PFNs) */
};

/*
 * Open the disks and offer the controller. Call before vmbus_server_start() or on the I/O thread. Returns 0 and
 * *@out; -EINVAL (bad config), -ENOMEM, or the -errno of opening a disk (the path is logged).
 */
int storvsp_create(const struct storvsp_config *cfg, struct storvsp **out);

/*
 * Rescind the controller, wait for the requests in flight and close the disks. Before vmbus_server_destroy, on
 * the I/O thread or when the server is not running. NULL is a no-op.
 */
void storvsp_destroy(struct storvsp *s);

/* Counters (read from any thread; monotonic). */
struct storvsp_stats {
	uint64_t requests;        /* EXECUTE_SRB packets taken */
	uint64_t completions;     /* completions sent */
	uint64_t bytes_read;      /* payload moved disk -> guest */
	uint64_t bytes_written;   /* guest -> disk */
	uint64_t errors;          /* completions with SRB status other than SUCCESS */
	uint64_t bad_packets;     /* malformed guest packets dropped or answered with an error */
	uint64_t busy;            /* requests answered BUSY (queue full) */
	uint32_t protocol;        /* negotiated vstor version (0: none yet) */
	uint32_t channels_open;   /* primary + sub-channels open now */
};
void storvsp_stats(struct storvsp *s, struct storvsp_stats *out);

#endif /* OPENHV_VSP_STORVSP_STORVSP_H */

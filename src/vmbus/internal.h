/* SPDX-License-Identifier: MIT */
/*
 * vmbus/internal.h - the VMBus server's private state, shared by its files:
 *   server.c  connection state machine, channel messages, offers, GPADLs, channel open/close/rescind
 *   ring.c    host ends of the rings: mapping GPADL pages, reading and writing packets, signalling rules
 *   loop.c    the I/O loop: message queue from VP threads, eventfds, timers, fds, cross-thread calls
 * Everything here but the message queue, the call queue and the stats is touched by the I/O thread only.
 */
#ifndef OPENHV_VMBUS_INTERNAL_H
#define OPENHV_VMBUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "openhv/hvgdk.h"
#include "vmbus/vmbus.h"

#define VMBUS_MSGQ_LEN 64u             /* channel messages queued from VP threads (then HV_STATUS 19: retry) */
#define VMBUS_BACKLOG_MAX 4096u        /* host -> guest messages waiting for SynIC queue space */
#define VMBUS_GPADL_MAX 1024u          /* GPADLs per connection */
#define VMBUS_GPADL_TOTAL_PFNS (1u << 20) /* PFNs stored over all GPADLs (8 MiB of host memory) */
#define VMBUS_RING_MAX_PAGES 4097u     /* one ring: header + 16 MiB of data */
#define VMBUS_RING_MAPS_MAX 8192u      /* mmaps of all rings of a server: a guest that scatters its ring pages
					* cannot use up the process's map count (vm.max_map_count, 65530) */
#define VMBUS_CHANNEL_CONNECTION_BASE 0x10000u /* a channel's event connection id: base + relid */
#define VMBUS_NOTIFY_ROUNDS 64u        /* notify calls per wakeup before yielding to other channels */
#define VMBUS_RECV_BUDGET 4096u        /* packets one channel yields per loop round: a guest that keeps its ring
					* full of cheap packets cannot hold the I/O thread (other channels, timers,
					* messages and calls go on) */
#define VMBUS_POLL_NS 20000u           /* after draining, keep watching the ring this long before unmasking */
#define VMBUS_PUBLISH_BATCH 32u        /* incoming packets taken before the read index is shown to the guest */

/* A copied guest -> host channel message, queued by the VP thread for the I/O thread. */
struct vmbus_qmsg {
	uint32_t vp;
	uint32_t connection_id;
	uint32_t size;
	uint8_t data[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
};

/* A host -> guest message that found the SynIC queue full: retried from the loop, in order. */
struct vmbus_outmsg {
	struct vmbus_outmsg *next;
	uint32_t size;
	uint8_t data[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
};

/* A cross-thread call (vmbus_server_call). */
struct vmbus_call {
	struct vmbus_call *next;
	void (*fn)(void *opaque);
	void *opaque;
	bool done;
};

enum vmbus_watch_kind { VMBUS_WATCH_WAKE, VMBUS_WATCH_CHANNEL, VMBUS_WATCH_FD };

/* What an epoll event points at. */
struct vmbus_watch {
	enum vmbus_watch_kind kind;
	int fd;
	struct vmbus_channel *ch;             /* VMBUS_WATCH_CHANNEL */
	void (*fn)(void *opaque, int fd);     /* VMBUS_WATCH_FD */
	void *opaque;
	struct vmbus_watch *next;             /* the server's list of FD watches */
};

/* A GPADL: guest pages described to the host (guest-core.md 5.4). */
struct vmbus_gpadl {
	struct vmbus_gpadl *next;
	uint32_t handle;
	uint32_t relid;
	uint32_t byte_count;
	uint32_t byte_offset;
	uint32_t pfn_count;    /* announced by the header */
	uint32_t pfn_received; /* header + bodies so far */
	uint64_t *pfns;
	bool complete;         /* GPADL_CREATED sent with status 0 */
	struct vmbus_channel *ring_of; /* the open channel whose rings these pages are, or NULL */
};

/*
 * The host end of one ring. The header page and the data pages are mapped from the guest RAM memfd into one
 * private virtual range: header, data, and the data once more, so a packet that wraps is contiguous here too.
 * The cursor is the host's own index (read index of the incoming ring, write index of the outgoing one): the
 * guest's copy in the header is only ever written, never trusted.
 */
struct vmbus_ring {
	uint8_t *map;          /* NULL when not mapped */
	size_t map_len;        /* bytes */
	struct hv_ring_buffer *hdr;
	uint8_t *data;
	uint32_t size;         /* data bytes: (pages - 1) * 4096 */
	uint32_t cursor;
	unsigned maps;         /* mmaps behind @map (counted in the server's budget) */
	uint32_t published;    /* incoming ring: the read index the guest was last shown */
	uint32_t unpublished;  /* incoming ring: packets taken since */
};

struct vmbus_channel {
	struct vmbus_channel *next; /* server list, by relid */
	struct vmbus_server *srv;
	uint32_t relid;
	uint32_t connection_id;
	struct vmbus_offer_config cfg; /* cfg.name points at name[] */
	uint16_t sub_index;    /* 0: primary; else sub-channel of @primary */
	struct vmbus_channel *primary;
	unsigned subchannels;  /* primary: sub-channels offered for the current open */
	void *context;         /* vmbus_channel_set_context */
	char name[32];
	bool offer_sent;       /* the current connection has seen OFFERCHANNEL */
	bool offer_held;       /* offer kept back until a rescinded twin is released (server.c vmbus_offer_held) */
	bool rescinded;        /* VSP gone; waiting for RELID_RELEASED (ops no longer called) */
	bool open;
	bool opening;          /* inside ops->open: signals are deferred until OPENCHANNEL_RESULT went out */
	bool signal_deferred;
	bool broken;           /* corrupt ring: stopped until closed */
	bool pending_space;    /* we set pending_send_sz on the outgoing ring */
	bool no_poll;          /* vmbus_channel_set_poll(false): unmask right after notify */
	uint32_t recv_budget;  /* packets vmbus_channel_recv still hands out in this loop round */
	bool budget_kicked;    /* ... spent: the channel's eventfd was written to come back next round */
	uint32_t target_vp;
	struct vmbus_gpadl *ring_gpadl;
	struct vmbus_ring in;  /* guest -> host */
	struct vmbus_ring out; /* host -> guest */
	int event_fd;
	struct vmbus_watch watch;
};

struct vmbus_timer;

struct vmbus_server {
	struct hvi_partition *hv;
	struct vid_memory *mem;
	unsigned vp_count;
	uint32_t max_version;

	/* from VP threads and other threads */
	pthread_mutex_t lock;  /* msgq, calls */
	struct vmbus_qmsg msgq[VMBUS_MSGQ_LEN];
	unsigned msgq_head, msgq_count;
	struct vmbus_call *calls, **calls_tail;
	pthread_cond_t call_done;
	int wake_fd;
	struct vmbus_watch wake_watch;
	bool messages_registered;

	/* the loop */
	int epoll_fd;
	pthread_t thread;
	bool started;         /* the I/O thread runs */
	bool threaded;        /* it ran once: vmbus_server_call never calls directly any more */
	atomic_bool stopping;
	struct vmbus_timer *timers;
	struct vmbus_watch *fd_watches;
	struct vmbus_watch *dead_watches; /* removed during a round: freed at its end (epoll may still name them) */

	/* connection state (I/O thread; state/version readable anywhere) */
	_Atomic int state;            /* enum vmbus_connection_state */
	_Atomic uint32_t version;
	uint32_t target_vp;           /* VP that takes channel messages */
	uint8_t msg_sint;
	struct vmbus_channel *channels;
	struct vmbus_gpadl *gpadls;
	unsigned gpadl_count;
	uint32_t gpadl_pfns;
	unsigned ring_maps;           /* mmaps of all mapped rings (VMBUS_RING_MAPS_MAX) */
	struct vmbus_outmsg *backlog, **backlog_tail;
	unsigned backlog_len;

	struct {
		_Atomic uint64_t messages_in, messages_rejected, messages_out, resets, guest_signals, host_signals,
			channels_broken;
	} stats;
};

/* server.c */
void vmbus_msg_dispatch(struct vmbus_server *srv, const struct vmbus_qmsg *m);
void vmbus_backlog_flush(struct vmbus_server *srv);
void vmbus_channel_event(struct vmbus_channel *ch);
void vmbus_channels_free_all(struct vmbus_server *srv);
void vmbus_channels_budget_reset(struct vmbus_server *srv);

/* ring.c */
int vmbus_ring_map(struct vmbus_server *srv, const uint64_t *pfns, uint32_t pages, struct vmbus_ring *r);
void vmbus_ring_unmap(struct vmbus_server *srv, struct vmbus_ring *r);
bool vmbus_ring_in_empty(const struct vmbus_ring *r);
void vmbus_ring_in_publish(struct vmbus_channel *ch);
void vmbus_channel_signal_guest(struct vmbus_channel *ch);
void vmbus_channel_break(struct vmbus_channel *ch, const char *why);

/* loop.c */
bool vmbus_on_io_thread(const struct vmbus_server *srv);
int vmbus_loop_init(struct vmbus_server *srv);
void vmbus_loop_fini(struct vmbus_server *srv);
int vmbus_loop_watch(struct vmbus_server *srv, struct vmbus_watch *w);
void vmbus_loop_unwatch(struct vmbus_server *srv, struct vmbus_watch *w);
uint64_t vmbus_now_ns(void);

#endif /* OPENHV_VMBUS_INTERNAL_H */

// SPDX-License-Identifier: MIT
/*
 * vmbus/loop.c - the VMBus server's I/O loop: the queue of channel messages the VP threads hand over, channel
 * eventfds, VSP timers and fds, and calls from other threads. One round is vmbus_server_poll(); the I/O thread
 * runs rounds until the server is destroyed.
 */
#define _GNU_SOURCE
#define LOG_TAG "vmbus"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmbus/internal.h"

uint64_t vmbus_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The server whose loop this thread is running (the I/O thread, or a vmbus_server_poll caller). */
static _Thread_local const struct vmbus_server *vmbus_current;

bool vmbus_on_io_thread(const struct vmbus_server *srv)
{
	return vmbus_current == srv;
}

static void vmbus_wake(struct vmbus_server *srv)
{
	uint64_t one = 1;

	if (write(srv->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("wake: %s", strerror(errno));
}

int vmbus_loop_watch(struct vmbus_server *srv, struct vmbus_watch *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	return epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

void vmbus_loop_unwatch(struct vmbus_server *srv, struct vmbus_watch *w)
{
	epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
}

int vmbus_loop_init(struct vmbus_server *srv)
{
	int ret;

	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->epoll_fd < 0 || srv->wake_fd < 0)
		return -errno;
	srv->wake_watch = (struct vmbus_watch){ .kind = VMBUS_WATCH_WAKE, .fd = srv->wake_fd };
	ret = vmbus_loop_watch(srv, &srv->wake_watch);
	if (ret)
		return ret;
	srv->calls_tail = &srv->calls;
	srv->backlog_tail = &srv->backlog;
	return 0;
}

static void vmbus_watches_free(struct vmbus_watch **list)
{
	struct vmbus_watch *w = *list;

	while (w) {
		struct vmbus_watch *next = w->next;

		free(w);
		w = next;
	}
	*list = NULL;
}

void vmbus_loop_fini(struct vmbus_server *srv)
{
	vmbus_watches_free(&srv->fd_watches);
	vmbus_watches_free(&srv->dead_watches);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	if (srv->epoll_fd >= 0)
		close(srv->epoll_fd);
	srv->wake_fd = srv->epoll_fd = -1;
}

/* ---- the message connections' handler: runs on the VP thread that posted ------------------------------- */

int vmbus_message_handler(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
			  const void *payload, uint32_t size);

/*
 * HvPostMessage to connection 1 or 4: copy the message into the queue and wake the I/O thread. A full queue gives
 * HV_STATUS_INSUFFICIENT_BUFFERS, which Linux retries (vmbus_post_msg). Message type must be 1 (channel message).
 */
int vmbus_message_handler(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
			  const void *payload, uint32_t size)
{
	struct vmbus_server *srv = opaque;
	struct vmbus_qmsg *m;

	if (message_type != VMBUS_CHANNEL_MESSAGE_TYPE || size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return -EINVAL;
	pthread_mutex_lock(&srv->lock);
	if (srv->msgq_count == VMBUS_MSGQ_LEN || atomic_load(&srv->stopping)) {
		pthread_mutex_unlock(&srv->lock);
		return -EAGAIN;
	}
	m = &srv->msgq[(srv->msgq_head + srv->msgq_count) % VMBUS_MSGQ_LEN];
	m->vp = vp_index;
	m->connection_id = connection_id;
	m->size = size;
	memcpy(m->data, payload, size);
	srv->msgq_count++;
	pthread_mutex_unlock(&srv->lock);
	vmbus_wake(srv);
	return 0;
}

/* ---- timers ------------------------------------------------------------------------------------------------ */

void vmbus_timer_cancel(struct vmbus_server *srv, struct vmbus_timer *t)
{
	for (struct vmbus_timer **p = &srv->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->due_ns = 0;
	t->next = NULL;
}

void vmbus_timer_arm(struct vmbus_server *srv, struct vmbus_timer *t, uint64_t delay_ms, void (*fn)(void *opaque),
		     void *opaque)
{
	vmbus_timer_cancel(srv, t);
	t->fn = fn;
	t->opaque = opaque;
	t->due_ns = vmbus_now_ns() + delay_ms * 1000000ull;
	t->next = srv->timers;
	srv->timers = t;
}

/* Milliseconds until the first timer is due (0 if one is), or -1 without timers. */
static int vmbus_timers_next_ms(struct vmbus_server *srv)
{
	uint64_t now = vmbus_now_ns(), first = UINT64_MAX;

	for (struct vmbus_timer *t = srv->timers; t; t = t->next)
		if (t->due_ns < first)
			first = t->due_ns;
	if (first == UINT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	return (int)((first - now + 999999) / 1000000);
}

/*
 * Run the timers due at the start of this round, one at a time (a callback may arm or cancel any timer). One clock
 * reading per round: a timer a callback re-arms with 0 ms runs in the next round, so a round always ends.
 */
static int vmbus_timers_run(struct vmbus_server *srv)
{
	uint64_t now = vmbus_now_ns();
	int n = 0;

	for (;;) {
		struct vmbus_timer *t;

		for (t = srv->timers; t; t = t->next)
			if (t->due_ns <= now)
				break;
		if (!t)
			return n;
		vmbus_timer_cancel(srv, t);
		t->fn(t->opaque);
		n++;
	}
}

/* ---- fds and calls ---------------------------------------------------------------------------------------- */

int vmbus_server_add_fd(struct vmbus_server *srv, int fd, void (*fn)(void *opaque, int fd), void *opaque)
{
	struct vmbus_watch *w;
	int ret;

	if (!srv || fd < 0 || !fn)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct vmbus_watch){ .kind = VMBUS_WATCH_FD, .fd = fd, .fn = fn, .opaque = opaque };
	ret = vmbus_loop_watch(srv, w);
	if (ret) {
		free(w);
		return ret;
	}
	w->next = srv->fd_watches;
	srv->fd_watches = w;
	return 0;
}

int vmbus_server_remove_fd(struct vmbus_server *srv, int fd)
{
	for (struct vmbus_watch **p = &srv->fd_watches; *p; p = &(*p)->next) {
		struct vmbus_watch *w = *p;

		if (w->fd == fd) {
			vmbus_loop_unwatch(srv, w);
			*p = w->next;
			w->fn = NULL; /* an event of this round may still point at it */
			w->next = srv->dead_watches;
			srv->dead_watches = w;
			return 0;
		}
	}
	return -ENOENT;
}

int vmbus_server_call(struct vmbus_server *srv, void (*fn)(void *opaque), void *opaque)
{
	struct vmbus_call call = { .fn = fn, .opaque = opaque };

	/* On the loop's own thread, or with no I/O thread ever (the caller drives the server): call directly. */
	if (vmbus_on_io_thread(srv) || !srv->threaded) {
		fn(opaque);
		return 0;
	}
	pthread_mutex_lock(&srv->lock);
	if (atomic_load(&srv->stopping)) {
		pthread_mutex_unlock(&srv->lock);
		return -ESHUTDOWN;
	}
	*srv->calls_tail = &call;
	srv->calls_tail = &call.next;
	vmbus_wake(srv);
	while (!call.done)
		pthread_cond_wait(&srv->call_done, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

/* Run the queued calls; each caller is woken when its call returned. */
static int vmbus_calls_run(struct vmbus_server *srv)
{
	int n = 0;

	for (;;) {
		struct vmbus_call *c;

		pthread_mutex_lock(&srv->lock);
		c = srv->calls;
		if (c) {
			srv->calls = c->next;
			if (!srv->calls)
				srv->calls_tail = &srv->calls;
		}
		pthread_mutex_unlock(&srv->lock);
		if (!c)
			return n;
		c->fn(c->opaque);
		pthread_mutex_lock(&srv->lock);
		c->done = true;
		pthread_cond_broadcast(&srv->call_done);
		pthread_mutex_unlock(&srv->lock);
		n++;
	}
}

/* ---- one round ------------------------------------------------------------------------------------------- */

/* Dispatch the queued channel messages in arrival order. */
static int vmbus_msgq_run(struct vmbus_server *srv)
{
	struct vmbus_qmsg m;
	int n = 0;

	/* At most one queue's worth per round: VP threads refilling it cannot hold the loop. */
	for (unsigned k = 0; k < VMBUS_MSGQ_LEN; k++) {
		pthread_mutex_lock(&srv->lock);
		if (!srv->msgq_count) {
			pthread_mutex_unlock(&srv->lock);
			return n;
		}
		m = srv->msgq[srv->msgq_head];
		srv->msgq_head = (srv->msgq_head + 1) % VMBUS_MSGQ_LEN;
		srv->msgq_count--;
		pthread_mutex_unlock(&srv->lock);
		vmbus_msg_dispatch(srv, &m);
		n++;
	}
	return n;
}

static int vmbus_round(struct vmbus_server *srv, int timeout_ms)
{
	struct epoll_event ev[32];
	int n, t, processed = 0;

	t = vmbus_timers_next_ms(srv);
	if (t < 0 || (timeout_ms >= 0 && timeout_ms < t))
		t = timeout_ms;
	if (srv->backlog && (t < 0 || t > 1))
		t = 1;
	pthread_mutex_lock(&srv->lock);
	if (srv->msgq_count || srv->calls)
		t = 0;
	pthread_mutex_unlock(&srv->lock);
	vmbus_channels_budget_reset(srv);
	n = epoll_wait(srv->epoll_fd, ev, 32, t);
	if (n < 0 && errno != EINTR) {
		log_err("epoll_wait: %s", strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct vmbus_watch *w = ev[i].data.ptr;
		uint64_t count;

		switch (w->kind) {
		case VMBUS_WATCH_WAKE:
			if (read(w->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_warn("wake fd: %s", strerror(errno));
			break;
		case VMBUS_WATCH_CHANNEL:
			vmbus_channel_event(w->ch);
			processed++;
			break;
		case VMBUS_WATCH_FD:
			if (w->fn) {
				w->fn(w->opaque, w->fd);
				processed++;
			}
			break;
		}
	}
	processed += vmbus_msgq_run(srv);
	processed += vmbus_calls_run(srv);
	processed += vmbus_timers_run(srv);
	vmbus_backlog_flush(srv);
	vmbus_watches_free(&srv->dead_watches);
	return processed;
}

int vmbus_server_poll(struct vmbus_server *srv, int timeout_ms)
{
	const struct vmbus_server *prev = vmbus_current;
	int n;

	if (!srv || srv->started)
		return -EINVAL;
	vmbus_current = srv;
	n = vmbus_round(srv, timeout_ms);
	vmbus_current = prev;
	return n;
}

static void *vmbus_io_thread(void *arg)
{
	struct vmbus_server *srv = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "vmbus-io");
	vmbus_current = srv;
	while (!atomic_load(&srv->stopping))
		vmbus_round(srv, -1);
	return NULL;
}

int vmbus_server_start(struct vmbus_server *srv)
{
	int ret;

	if (!srv)
		return -EINVAL;
	if (srv->started)
		return -EALREADY;
	srv->started = srv->threaded = true;
	ret = pthread_create(&srv->thread, NULL, vmbus_io_thread, srv);
	if (ret) {
		srv->started = srv->threaded = false;
		return -ret;
	}
	return 0;
}

/* Stop the I/O thread (if any) and fail calls that are still queued. */
void vmbus_loop_stop(struct vmbus_server *srv);
void vmbus_loop_stop(struct vmbus_server *srv)
{
	atomic_store(&srv->stopping, true);
	if (srv->started) {
		vmbus_wake(srv);
		pthread_join(srv->thread, NULL);
		srv->started = false;
	}
	/* Calls queued before stopping was seen still run here, so their callers return. */
	vmbus_calls_run(srv);
}

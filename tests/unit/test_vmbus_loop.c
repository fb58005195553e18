// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server's I/O loop (vmbus/vmbus.h): vmbus_server_poll() rounds, VSP timers, watched
 * file descriptors, vmbus_server_call() from other threads and from the loop itself, and the real I/O thread
 * (vmbus_server_start) driving a guest client end to end.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "vmbus_fixture.h"

static struct vmbfx fx;

static const struct vmbus_guid scsi_guid = HV_SCSI_GUID;
static const struct vmbus_guid nic_guid = HV_NIC_GUID;

static uint64_t now_ms(void) { return vmbfx_now_ms(NULL); }

/* ---- timers ------------------------------------------------------------------------------------------------- */

struct tick {
	unsigned fired;
	uint64_t at_ms;
	unsigned order;
};
static unsigned tick_seq;

static void on_tick(void *opaque)
{
	struct tick *t = opaque;

	t->fired++;
	t->at_ms = now_ms();
	t->order = ++tick_seq;
}

/* Poll until @t fired or @limit_ms passed. */
static void poll_until(struct tick *t, unsigned limit_ms)
{
	uint64_t end = now_ms() + limit_ms;

	while (!t->fired && now_ms() < end)
		assert_true(vmbus_server_poll(fx.srv, 20) >= 0);
}

static void test_timers(void **state)
{
	struct vmbus_timer t1, t2, t3, t4;
	struct tick k1 = { 0 }, k2 = { 0 }, k3 = { 0 }, k4 = { 0 };
	uint64_t start;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	memset(&t1, 0, sizeof(t1));
	memset(&t2, 0, sizeof(t2));
	memset(&t3, 0, sizeof(t3));
	memset(&t4, 0, sizeof(t4));
	tick_seq = 0;
	start = now_ms();
	vmbus_timer_arm(fx.srv, &t1, 40, on_tick, &k1);
	vmbus_timer_arm(fx.srv, &t2, 10, on_tick, &k2);
	vmbus_timer_arm(fx.srv, &t4, 15, on_tick, &k4);
	vmbus_timer_cancel(fx.srv, &t4);
	assert_int_equal(vmbus_server_poll(fx.srv, 0), 0);
	assert_int_equal(k1.fired + k2.fired, 0);
	poll_until(&k1, 2000);
	assert_int_equal(k1.fired, 1);
	assert_int_equal(k2.fired, 1);
	assert_int_equal(k2.order, 1);
	assert_int_equal(k1.order, 2);
	assert_true(k2.at_ms >= start + 10);
	assert_true(k1.at_ms >= start + 40);
	assert_int_equal(k4.fired, 0); /* cancelled */
	/* One-shot: nothing more. Re-arming an armed timer moves it. */
	vmbus_timer_arm(fx.srv, &t3, 10, on_tick, &k3);
	vmbus_timer_arm(fx.srv, &t3, 60, on_tick, &k3);
	start = now_ms();
	poll_until(&k3, 2000);
	assert_int_equal(k3.fired, 1);
	assert_true(k3.at_ms >= start + 50);
	assert_int_equal(vmbus_server_poll(fx.srv, 30), 0);
	assert_int_equal(k1.fired + k2.fired + k3.fired + k4.fired, 3);
	vmbfx_fini(&fx);
}

/* A timer callback may arm timers (its own too) and call vmbus_server_call, which runs at once there. */
static struct vmbus_timer chain_timer;
static unsigned chain_left, inner_calls;
static pthread_t chain_thread_seen;

static void inner_call(void *opaque)
{
	(void)opaque;
	inner_calls++;
	chain_thread_seen = pthread_self();
}

static void on_chain(void *opaque)
{
	(void)opaque;
	assert_int_equal(vmbus_server_call(fx.srv, inner_call, NULL), 0);
	if (--chain_left)
		vmbus_timer_arm(fx.srv, &chain_timer, 1, on_chain, NULL);
}

static void test_timer_chain_and_call_inside_loop(void **state)
{
	uint64_t end;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	memset(&chain_timer, 0, sizeof(chain_timer));
	chain_left = 5;
	inner_calls = 0;
	vmbus_timer_arm(fx.srv, &chain_timer, 1, on_chain, NULL);
	end = now_ms() + 2000;
	while (chain_left && now_ms() < end)
		assert_true(vmbus_server_poll(fx.srv, 10) >= 0);
	assert_int_equal(chain_left, 0);
	assert_int_equal(inner_calls, 5);
	assert_true(pthread_equal(chain_thread_seen, pthread_self()));
	vmbfx_fini(&fx);
}

/* ---- fds ---------------------------------------------------------------------------------------------------- */

struct fd_seen {
	unsigned calls;
	int fd;
	char last;
};

static void on_fd(void *opaque, int fd)
{
	struct fd_seen *s = opaque;
	char c;

	s->calls++;
	s->fd = fd;
	if (read(fd, &c, 1) == 1)
		s->last = c;
}

static void test_fd_watch(void **state)
{
	int p[2];
	struct fd_seen seen = { 0 };

	(void)state;
	vmbfx_init(&fx, 1, 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vmbus_server_add_fd(fx.srv, -1, on_fd, &seen), -EINVAL);
	assert_int_equal(vmbus_server_add_fd(fx.srv, p[0], NULL, &seen), -EINVAL);
	assert_int_equal(vmbus_server_add_fd(fx.srv, p[0], on_fd, &seen), 0);
	assert_int_equal(vmbus_server_poll(fx.srv, 0), 0);
	assert_int_equal(seen.calls, 0);
	assert_int_equal(write(p[1], "a", 1), 1);
	assert_int_equal(vmbus_server_poll(fx.srv, 100), 1);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.fd, p[0]);
	assert_int_equal(seen.last, 'a');
	/* A poll that waits is woken by the fd. */
	assert_int_equal(write(p[1], "b", 1), 1);
	assert_int_equal(vmbus_server_poll(fx.srv, -1), 1);
	assert_int_equal(seen.last, 'b');
	assert_int_equal(vmbus_server_remove_fd(fx.srv, p[0]), 0);
	assert_int_equal(vmbus_server_remove_fd(fx.srv, p[0]), -ENOENT);
	assert_int_equal(write(p[1], "c", 1), 1);
	assert_int_equal(vmbus_server_poll(fx.srv, 20), 0);
	assert_int_equal(seen.calls, 2);
	close(p[0]);
	close(p[1]);
	vmbfx_fini(&fx);
}

/* A message posted by a VP wakes a poll that would wait for ever. */
static void test_poll_woken_by_message(void **state)
{
	struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };

	(void)state;
	vmbfx_init(&fx, 1, 0);
	vmbfx_post_ok(&fx, &ro, sizeof(ro)); /* before INITIATE_CONTACT: rejected, but processed */
	assert_int_equal(vmbus_server_poll(fx.srv, -1), 1);
	assert_int_equal(vmbfx_stats(&fx).messages_in, 1);
	vmbfx_fini(&fx);
}

/* ---- vmbus_server_call from another thread --------------------------------------------------------------- */

struct call_ctx {
	pthread_t ran_on;
	_Atomic int ran;
	_Atomic int returned;
	int ret;
};

static void call_fn(void *opaque)
{
	struct call_ctx *c = opaque;

	c->ran_on = pthread_self();
	atomic_store(&c->ran, 1);
}

static void *caller_thread(void *opaque)
{
	struct call_ctx *c = opaque;

	c->ret = vmbus_server_call(fx.srv, call_fn, c);
	atomic_store(&c->returned, 1);
	return NULL;
}

/*
 * Without an I/O thread the test thread drives the loop; a call from another thread runs in the next
 * vmbus_server_poll, on the polling thread, and the caller waits for it (vmbus.h: "Run @fn on the I/O thread (or
 * in the next vmbus_server_poll) and wait for it to return").
 */
/*
 * Without the I/O thread the caller drives the server, so vmbus_server_call runs @fn at once on the calling thread
 * (a single-threaded test or tool calling a VSP's any-thread API must not wait for a poll that never comes).
 */
static void test_call_runs_in_poll(void **state)
{
	struct call_ctx c;
	pthread_t th;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(pthread_create(&th, NULL, caller_thread, &c), 0);
	assert_int_equal(pthread_join(th, NULL), 0); /* returns without any vmbus_server_poll */
	assert_int_equal(c.ret, 0);
	assert_int_equal(atomic_load(&c.ran), 1);
	assert_true(pthread_equal(c.ran_on, th));
	vmbfx_fini(&fx);
}

/* ---- the I/O thread ------------------------------------------------------------------------------------------ */

struct offer_ctx {
	struct vmbfx *f;
	struct vmbfx_vsp *v;
	pthread_t ran_on;
};

static void offer_on_io(void *opaque)
{
	struct offer_ctx *o = opaque;

	o->ran_on = pthread_self();
	o->v = vmbfx_offer(o->f, nic_guid, 2);
}

static void test_io_thread_end_to_end(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch, ch2;
	uint8_t buf[256];
	struct vsc_packet pkt;
	struct offer_ctx oc = { .f = &fx };

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1); /* before start: no synchronisation needed */
	assert_int_equal(vmbus_server_start(fx.srv), 0);
	assert_int_equal(vmbus_server_start(fx.srv), -EALREADY);
	assert_int_equal(vmbus_server_poll(fx.srv, 0), -EINVAL);
	fx.pump_off = true; /* the I/O thread runs the server */
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 1);
	assert_int_equal(vsc_channel_open(&fx.bus, &ch, vmbfx_relid(v), 4 * 4096, 4 * 4096, 1), 0);
	for (uint64_t id = 1; id <= 50; id++) {
		assert_int_equal(vsc_channel_send_inband(&ch, id, "threaded", 8), 0);
		assert_true(vsc_channel_recv_wait(&ch, buf, sizeof(buf), &pkt, 2000) > 0);
		assert_true(pkt.trans_id == id);
		assert_memory_equal(pkt.data, "threaded", 8);
	}
	assert_true(ch.events >= 1); /* recv_wait saw the channel's event flag on VP 1 */
	/* VSP API calls from another thread go through vmbus_server_call, onto the I/O thread. */
	assert_int_equal(vmbus_server_call(fx.srv, offer_on_io, &oc), 0);
	assert_false(pthread_equal(oc.ran_on, pthread_self()));
	assert_non_null(oc.v);
	vmbfx_expect_msg(&fx, CHANNELMSG_OFFERCHANNEL, NULL, 0);
	assert_int_equal(vsc_channel_open(&fx.bus, &ch2, vmbfx_relid(oc.v), 2 * 4096, 2 * 4096, 0), 0);
	assert_int_equal(vsc_channel_send_inband(&ch2, 7, "second..", 8), 0);
	assert_true(vsc_channel_recv_wait(&ch2, buf, sizeof(buf), &pkt, 2000) > 0);
	assert_true(pkt.trans_id == 7);
	assert_int_equal(vsc_channel_close(&ch2), 0);
	/* Destroy with a channel open: the thread stops, the VSP's close runs. */
	vmbus_server_destroy(fx.srv);
	fx.srv = NULL;
	assert_int_equal(v->closes, 1);
	vmbfx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_chain_and_call_inside_loop),
		cmocka_unit_test(test_fd_watch),
		cmocka_unit_test(test_poll_woken_by_message),
		cmocka_unit_test(test_call_runs_in_poll),
		cmocka_unit_test(test_io_thread_end_to_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

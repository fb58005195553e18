// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_hv_message.c - guest -> host HvPostMessage to registered connections (and the -errno -> HV_STATUS
 * translation), host -> guest hvi_synic_post_message() into the SIM slot with the SINT interrupt, a masked SINT,
 * and the MessagePending/EOM protocol with a busy slot (TLFS 11.9-11.10, guest-core.md 3.3).
 * Guest: guest/tests/g_hv_message.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_hv_common.h"

#define CONN_ECHO 0x2a
#define CONN_BUSY 0x2b
#define CONN_BAD 0x2c
#define CONN_TRIPLE 0x2d
#define SINT_VMBUS 2

struct msg_log {
	unsigned calls;
	uint32_t last_vp, last_conn, last_type, last_size;
	int post_errors;
};

static int on_echo(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
		   const void *payload, uint32_t size)
{
	struct mg_hv *t = opaque;
	struct msg_log *log = t->opaque;
	int ret;

	pthread_mutex_lock(&t->lock);
	log->calls++;
	log->last_vp = vp_index;
	log->last_conn = connection_id;
	log->last_type = message_type;
	log->last_size = size;
	pthread_mutex_unlock(&t->lock);
	ret = hvi_synic_post_message(t->hv, vp_index, SINT_VMBUS, message_type, payload, size);
	if (ret < 0) {
		fprintf(stderr, "echo: hvi_synic_post_message: %s\n", strerror(-ret));
		log->post_errors++;
	}
	return 0;
}

static int on_busy(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
		   const void *payload, uint32_t size)
{
	return -EAGAIN;
}

static int on_bad(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
		  const void *payload, uint32_t size)
{
	return -EINVAL;
}

/* Three messages at once: the first takes the slot, the other two wait for EOM. */
static int on_triple(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
		     const void *payload, uint32_t size)
{
	struct mg_hv *t = opaque;
	struct msg_log *log = t->opaque;

	for (uint32_t i = 1; i <= 3; i++) {
		int ret = hvi_synic_post_message(t->hv, vp_index, SINT_VMBUS, 0x100 + i, &i, sizeof(i));

		if (ret < 0) {
			fprintf(stderr, "triple: hvi_synic_post_message(%u): %s\n", i, strerror(-ret));
			log->post_errors++;
		}
	}
	return 0;
}

static int connect_all(struct mg_hv *t)
{
	int ret;

	ret = hvi_message_connection_register(t->hv, CONN_ECHO, on_echo, t);
	if (!ret)
		ret = hvi_message_connection_register(t->hv, CONN_BUSY, on_busy, t);
	if (!ret)
		ret = hvi_message_connection_register(t->hv, CONN_BAD, on_bad, t);
	if (!ret)
		ret = hvi_message_connection_register(t->hv, CONN_TRIPLE, on_triple, t);
	return ret;
}

#define MSG_VALUES 7

/*
 * Run the guest's @which part and check what both parts share: the guest's result 0, its MSG_VALUES values equal
 * to @want, no failed host post, and 3 messages delivered. The test checks the rest of *@s and *@log.
 */
static void run(const char *which, const uint32_t want[MSG_VALUES], struct hvi_stats *s, struct msg_log *log)
{
	struct mg_hv t;
	struct mg_result res;

	memset(log, 0, sizeof(*log));
	mg_hv_init(&t, HVI_PROFILE_RECOMMENDED, 1);
	t.connect = connect_all;
	t.opaque = log;
	assert_int_equal(mg_hv_run(&t, "g_hv_message", which, NULL, &res, s), 0);
	/* The registry after the run: a second registration of the same id is refused, unregistering works once. */
	assert_int_equal(hvi_message_connection_register(t.hv, CONN_ECHO, on_echo, &t), -EEXIST);
	assert_int_equal(hvi_connection_unregister(t.hv, CONN_ECHO), 0);
	assert_int_equal(hvi_connection_unregister(t.hv, CONN_ECHO), -ENOENT);
	mg_hv_fini(&t);

	assert_true(mg_result_is(&res, 0));
	assert_int_equal(res.nvalues, MSG_VALUES);
	for (unsigned i = 0; i < MSG_VALUES; i++)
		assert_int_equal(res.values[i], want[i]);
	assert_int_equal(log->post_errors, 0);
	assert_int_equal(s->messages_delivered, 3);
}

static void test_echo(void **state)
{
	static const uint32_t want[MSG_VALUES] = {
		HV_STATUS_SUCCESS,
		HV_STATUS_SUCCESS,
		HV_STATUS_INVALID_CONNECTION_ID,
		HV_STATUS_INSUFFICIENT_BUFFERS, /* -EAGAIN */
		HV_STATUS_INVALID_PARAMETER,    /* -EINVAL */
		2,                              /* one SINT interrupt per echo */
		1,                              /* masked: no interrupt */
	};
	struct hvi_stats s;
	struct msg_log log;

	run("echo", want, &s, &log);
	assert_int_equal(log.calls, 3); /* 240 bytes, 5 bytes, masked */
	assert_int_equal(log.last_vp, 0);
	assert_int_equal(log.last_conn, CONN_ECHO);
	assert_int_equal(log.last_type, 9);
	assert_int_equal(log.last_size, 6);
	assert_int_equal(s.messages_queued, 0);
	assert_int_equal(s.eoms, 0);
	assert_true(s.post_messages >= 3);
}

static void test_eom(void **state)
{
	static const uint32_t want[MSG_VALUES] = {
		HV_STATUS_SUCCESS,
		0x101, 1, /* MessagePending: two more queued */
		0x102, 1, /* one more queued */
		0x103, 0, /* the last one */
	};
	struct hvi_stats s;
	struct msg_log log;

	run("eom", want, &s, &log);
	assert_int_equal(s.messages_queued, 2);
	assert_int_equal(s.eoms, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_eom),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

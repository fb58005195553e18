// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_doorbell.c - ioeventfd and irqfd through the partition layer (vid_ioeventfd_assign,
 * vid_irqfd_assign): the guest's matching port writes reach an eventfd with no userspace exit (the port handler
 * sees only the non-matching write), and a host write to an irqfd interrupts the guest. Guest: g_doorbell.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mg_harness.h"

#define DOORBELL_PORT 0x5f8
#define IRQFD_GSI 10

struct doorbell_test {
	int ioevent_fd;
	int irq_fd;
	atomic_uint handler_writes;
	atomic_uint last_value;
	atomic_uint rung;          /* guest reported 1 */
	uint64_t ioevent_count;    /* read by the host thread */
	int errors;
};

static int doorbell_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data,
			unsigned size)
{
	struct doorbell_test *t = opaque;
	uint32_t v = 0;

	if (is_write) {
		memcpy(&v, data, size < 4 ? size : 4);
		atomic_fetch_add(&t->handler_writes, 1);
		atomic_store(&t->last_value, v);
	}
	return 0;
}

static int doorbell_setup(void *opaque, struct vid_partition *part)
{
	struct doorbell_test *t = opaque;
	int ret;

	ret = vid_pio_register(part, DOORBELL_PORT, 4, doorbell_pio, t);
	if (!ret)
		ret = vid_ioeventfd_assign(part, true, DOORBELL_PORT, 4, true, 0x1234, t->ioevent_fd);
	if (!ret)
		ret = vid_irqfd_assign(part, t->irq_fd, IRQFD_GSI);
	return ret;
}

static void doorbell_value(void *opaque, struct vid_partition *part, struct vid_vp *vp, uint32_t value)
{
	struct doorbell_test *t = opaque;

	if (value == 1)
		atomic_store(&t->rung, 1);
}

static void doorbell_thread(void *opaque, struct vid_partition *part, atomic_bool *stopping)
{
	struct doorbell_test *t = opaque;
	uint64_t one = 1;

	while (!atomic_load(&t->rung))
		if (!mg_sleep_ms(stopping, 1))
			return;
	/* Both matching writes were counted by the kernel; reading resets the counter. */
	if (read(t->ioevent_fd, &t->ioevent_count, sizeof(t->ioevent_count)) != (ssize_t)sizeof(t->ioevent_count))
		t->errors++;
	if (!mg_sleep_ms(stopping, 20)) /* let the guest reach hlt */
		return;
	if (write(t->irq_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		t->errors++;
}

static void test_doorbells(void **state)
{
	struct doorbell_test t;
	struct mg_harness_hooks hooks = { .opaque = &t, .setup = doorbell_setup, .value = doorbell_value,
					  .thread = doorbell_thread };
	struct mg_result res;

	memset(&t, 0, sizeof(t));
	t.ioevent_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	t.irq_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(t.ioevent_fd >= 0 && t.irq_fd >= 0);
	assert_int_equal(mg_run("g_doorbell", 1, 32, NULL, &hooks, &res), 0);
	mg_result_print("g_doorbell", &res);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.ioevent_count, 2);                      /* both matching writes, no exits */
	assert_int_equal(atomic_load(&t.handler_writes), 1);       /* only the non-matching one exited */
	assert_int_equal(atomic_load(&t.last_value), 0x9999);
	assert_int_equal(res.nvalues, 2);
	assert_int_equal(res.values[1], 2);
	close(t.ioevent_fd);
	close(t.irq_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_doorbells) };

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

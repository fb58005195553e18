// SPDX-License-Identifier: MIT
/*
 * tests/lib/mg_harness.c - run a micro-guest on /dev/kvm with the test device and a watchdog (mg_harness.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define LOG_TAG "mg"
#include "mg_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "boot/layout.h"
#include "boot/linux.h"
#include "lib/log.h"
#include "openhv/testdev.h"

struct mg_ctx {
	struct vid_partition *part;
	const struct mg_harness_hooks *hooks;
	struct mg_result *res;
	pthread_mutex_t lock; /* res, echo, line, text_len: VPs write the device concurrently */
	uint32_t echo;
	char line[256];
	size_t line_len;
	size_t text_len;

	/* watchdog */
	pthread_mutex_t wd_lock;
	pthread_cond_t wd_cond;
	bool wd_done;
	unsigned timeout_s;

	/* test thread */
	atomic_bool stopping;
};

static double mg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- test device ------------------------------------------------------------------------------------------ */

/* Print the buffered line (caller holds ctx->lock). */
static void mg_line_flush(struct mg_ctx *ctx)
{
	if (!ctx->line_len)
		return;
	fprintf(stderr, "mg: %.*s\n", (int)ctx->line_len, ctx->line);
	ctx->line_len = 0;
}

static void mg_putc_locked(struct mg_ctx *ctx, char c)
{
	struct mg_result *res = ctx->res;

	if (ctx->text_len + 1 < sizeof(res->text)) {
		res->text[ctx->text_len++] = c;
		res->text[ctx->text_len] = '\0';
	}
	if (c == '\n') {
		mg_line_flush(ctx);
		return;
	}
	/* Guest text is untrusted: show control bytes as '?'. */
	ctx->line[ctx->line_len++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '?';
	if (ctx->line_len == sizeof(ctx->line))
		mg_line_flush(ctx);
}

static int mg_testdev_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data,
			  unsigned size)
{
	struct mg_ctx *ctx = opaque;
	struct mg_result *res = ctx->res;
	unsigned off = port - LAYOUT_TESTDEV_PORT;
	uint32_t v = 0;

	if (size > sizeof(v))
		return 0;
	if (is_write)
		memcpy(&v, data, size);

	switch (off) {
	case TESTDEV_REG_RESULT:
		if (!is_write)
			return 0;
		{
			char msg[64];
			bool first;

			pthread_mutex_lock(&ctx->lock);
			first = !res->result_written;
			if (first) {
				res->result = v;
				res->result_written = true;
			}
			pthread_mutex_unlock(&ctx->lock);
			snprintf(msg, sizeof(msg), "micro-guest result 0x%x", v);
			if (first)
				vid_partition_request_stop(ctx->part, VID_STOP_POWEROFF, msg);
		}
		return 0;
	case TESTDEV_REG_VALUE:
		if (!is_write)
			return 0;
		pthread_mutex_lock(&ctx->lock);
		if (res->nvalues < MG_RESULT_MAX_VALUES)
			res->values[res->nvalues++] = v;
		else
			res->nvalues_dropped++;
		pthread_mutex_unlock(&ctx->lock);
		if (ctx->hooks && ctx->hooks->value)
			ctx->hooks->value(ctx->hooks->opaque, ctx->part, vp, v);
		return 0;
	case TESTDEV_REG_PUTC:
		if (!is_write)
			return 0;
		pthread_mutex_lock(&ctx->lock);
		mg_putc_locked(ctx, (char)(v & 0xff));
		pthread_mutex_unlock(&ctx->lock);
		return 0;
	case TESTDEV_REG_ECHO:
		pthread_mutex_lock(&ctx->lock);
		if (is_write) {
			ctx->echo = v;
		} else {
			v = ctx->echo + 1;
			memcpy(data, &v, size);
		}
		pthread_mutex_unlock(&ctx->lock);
		return 0;
	default:
		return 0; /* reads stay all ones */
	}
}

/* ---- threads -------------------------------------------------------------------------------------------- */

static void *mg_watchdog_thread(void *arg)
{
	struct mg_ctx *ctx = arg;
	struct timespec deadline;
	bool expired = false;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ctx->timeout_s;
	pthread_mutex_lock(&ctx->wd_lock);
	while (!ctx->wd_done && !expired)
		expired = pthread_cond_timedwait(&ctx->wd_cond, &ctx->wd_lock, &deadline) == ETIMEDOUT;
	pthread_mutex_unlock(&ctx->wd_lock);
	if (expired) {
		char msg[64];

		snprintf(msg, sizeof(msg), "micro-guest watchdog: no result after %u s", ctx->timeout_s);
		fprintf(stderr, "mg: %s\n", msg);
		vid_partition_request_stop(ctx->part, VID_STOP_HOST_REQUEST, msg);
	}
	return NULL;
}

static void *mg_hook_thread(void *arg)
{
	struct mg_ctx *ctx = arg;

	ctx->hooks->thread(ctx->hooks->opaque, ctx->part, &ctx->stopping);
	return NULL;
}

bool mg_sleep_ms(atomic_bool *stopping, unsigned ms)
{
	while (ms) {
		unsigned step = ms < 5 ? ms : 5;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step * 1000000L };

		if (stopping && atomic_load(stopping))
			return false;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return !(stopping && atomic_load(stopping));
}

/* ---- KVM statistics ------------------------------------------------------------------------------------------ */

/* ---- running ----------------------------------------------------------------------------------------------- */

static int mg_guest_path(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("OPENHV_GUEST_DIR");
	const char *build = getenv("OPENHV_BUILD_DIR");
	size_t n = strlen(name);
	const char *ext = n > 4 && !strcmp(name + n - 4, ".elf") ? "" : ".elf";
	int w;

	if (strchr(name, '/'))
		w = snprintf(buf, len, "%s", name);
	else if (dir && *dir)
		w = snprintf(buf, len, "%s/%s%s", dir, name, ext);
	else if (build && *build)
		w = snprintf(buf, len, "%s/guest/%s%s", build, name, ext);
	else
		w = snprintf(buf, len, "guest/%s%s", name, ext);
	if (w < 0 || (size_t)w >= len)
		return -ENAMETOOLONG;
	return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}

static unsigned mg_timeout(const struct mg_harness_hooks *hooks)
{
	const char *env = getenv("OPENHV_MG_TIMEOUT");

	if (hooks && hooks->timeout_s)
		return hooks->timeout_s;
	if (env && atoi(env) > 0)
		return (unsigned)atoi(env);
	return MG_DEFAULT_TIMEOUT_S;
}

int mg_run(const char *name, unsigned vp_count, unsigned mem_mb, const char *cmdline,
	   const struct mg_harness_hooks *hooks, struct mg_result *res)
{
	struct vid_memory *mem = NULL;
	struct vid_partition *part = NULL;
	struct mg_ctx *ctx;
	struct boot_linux_config bcfg;
	struct boot_entry_state st;
	pthread_t wd, hook;
	bool hook_started = false;
	char path[4096];
	double t0;
	int fd, ret;

	memset(res, 0, sizeof(*res));
	res->reason = VID_STOP_NONE;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -ENODEV;
	close(fd);
	ret = mg_guest_path(name, path, sizeof(path));
	if (ret < 0) {
		log_err("micro-guest %s: %s (%s)", name, strerror(-ret), path);
		return ret;
	}

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->hooks = hooks;
	ctx->res = res;
	ctx->timeout_s = mg_timeout(hooks);
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->wd_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ctx->wd_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	atomic_init(&ctx->stopping, false);

	ret = vid_memory_create((uint64_t)mem_mb << 20, &mem);
	if (ret < 0) {
		log_err("vid_memory_create(%u MiB): %s", mem_mb, strerror(-ret));
		goto out_ctx;
	}
	{
		struct vid_partition_config pcfg = { .vp_count = vp_count, .memory = mem };

		ret = vid_partition_create(&pcfg, &part);
		if (ret < 0) {
			log_err("vid_partition_create: %s", strerror(-ret));
			if (ret == -ENOENT || ret == -EACCES || ret == -EPERM)
				ret = -ENODEV;
			goto out_mem;
		}
	}
	ctx->part = part;

	memset(&bcfg, 0, sizeof(bcfg));
	bcfg.kernel_path = path;
	bcfg.cmdline = cmdline ? cmdline : "";
	bcfg.entry = BOOT_ENTRY_PVH;
	ret = boot_linux_prepare(mem, &bcfg, &st);
	if (ret < 0) {
		log_err("boot_linux_prepare(%s): %s", path, strerror(-ret));
		goto out_part;
	}
	ret = boot_linux_apply(vid_partition_vp(part, 0), &st);
	if (ret < 0) {
		log_err("boot_linux_apply: %s", strerror(-ret));
		goto out_part;
	}
	ret = vid_pio_register(part, LAYOUT_TESTDEV_PORT, LAYOUT_TESTDEV_PORTS, mg_testdev_pio, ctx);
	if (ret < 0) {
		log_err("test device registration: %s", strerror(-ret));
		goto out_part;
	}
	if (hooks && hooks->setup) {
		ret = hooks->setup(hooks->opaque, part);
		if (ret < 0) {
			log_err("micro-guest %s: setup hook: %s", name, strerror(-ret));
			goto out_part;
		}
	}

	ret = pthread_create(&wd, NULL, mg_watchdog_thread, ctx);
	if (ret) {
		ret = -ret;
		goto out_part;
	}
	if (hooks && hooks->thread) {
		ret = pthread_create(&hook, NULL, mg_hook_thread, ctx);
		if (ret) {
			log_err("hook thread: %s", strerror(ret));
			vid_partition_request_stop(part, VID_STOP_HOST_REQUEST, "hook thread failed");
		} else {
			hook_started = true;
		}
	}

	t0 = mg_now();
	res->reason = vid_partition_run(part);
	res->seconds = mg_now() - t0;

	atomic_store(&ctx->stopping, true);
	if (hook_started)
		pthread_join(hook, NULL);
	pthread_mutex_lock(&ctx->wd_lock);
	ctx->wd_done = true;
	pthread_cond_broadcast(&ctx->wd_cond);
	pthread_mutex_unlock(&ctx->wd_lock);
	pthread_join(wd, NULL);

	pthread_mutex_lock(&ctx->lock);
	mg_line_flush(ctx);
	pthread_mutex_unlock(&ctx->lock);
	snprintf(res->stop_message, sizeof(res->stop_message), "%s", vid_partition_stop_message(part));
	for (unsigned i = 0; i < vid_partition_vp_count(part); i++) {
		struct vid_vp *vp = vid_partition_vp(part, i);
		uint64_t v;

		for (unsigned r = 0; r < 64; r++)
			res->exits += vid_vp_exit_count(vp, r);
		if (vid_vp_kvm_stat(vp, "insn_emulation", &v) == 0)
			res->emulated_insns += v;
	}
	ret = 0;

out_part:
	if (hooks && hooks->teardown)
		hooks->teardown(hooks->opaque, part);
	vid_partition_destroy(part);
out_mem:
	vid_memory_destroy(mem);
out_ctx:
	pthread_cond_destroy(&ctx->wd_cond);
	pthread_mutex_destroy(&ctx->wd_lock);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	return ret;
}

void mg_require_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "SKIP: /dev/kvm unavailable (%s): micro-guest tests need KVM\n", strerror(errno));
		exit(77);
	}
	close(fd);
}

void mg_result_print(const char *name, const struct mg_result *res)
{
	char vals[256];
	size_t n = 0;

	vals[0] = '\0';
	for (unsigned i = 0; i < res->nvalues && n + 12 < sizeof(vals); i++)
		n += (size_t)snprintf(vals + n, sizeof(vals) - n, "%s%x", i ? " " : "", res->values[i]);
	fprintf(stderr, "mg[%s]: %s, result %s0x%x, %u values [%s%s], %.3f s, %llu exits, %llu emulated instructions"
		"%s%s\n", name, vid_stop_reason_name(res->reason), res->result_written ? "" : "(none) ", res->result,
		res->nvalues, vals, n + 12 >= sizeof(vals) ? " ..." : "", res->seconds, (unsigned long long)res->exits,
		(unsigned long long)res->emulated_insns, res->stop_message[0] ? "; stop: " : "", res->stop_message);
}

bool mg_result_is(const struct mg_result *res, uint32_t result)
{
	return res->reason == VID_STOP_POWEROFF && res->result_written && res->result == result;
}

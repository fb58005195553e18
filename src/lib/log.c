// SPDX-License-Identifier: MIT
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level_cur = -1;

static enum log_level log_level_from_env(void)
{
	const char *e = getenv("OPENHV_LOG");

	if (!e)
		return LOG_INFO;
	if (!strcasecmp(e, "error"))
		return LOG_ERROR;
	if (!strcasecmp(e, "warn"))
		return LOG_WARN;
	if (!strcasecmp(e, "debug"))
		return LOG_DEBUG;
	return LOG_INFO;
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_level_cur, (int)level);
}

enum log_level log_get_level(void)
{
	int l = atomic_load(&log_level_cur);

	if (l < 0) {
		l = (int)log_level_from_env();
		atomic_store(&log_level_cur, l);
	}
	return (enum log_level)l;
}

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };

void log_msg(enum log_level level, const char *tag, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n, m;

	if (level > log_get_level())
		return;
	n = snprintf(buf, sizeof(buf), "openhv[%s] %s: ", tag, log_level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

static uint64_t log_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int log_ratelimit_allow(struct log_ratelimit *rl)
{
	uint64_t now = log_now_ns();
	uint64_t start = atomic_load(&rl->window_start_ns);

	if (now - start > LOG_RATELIMIT_INTERVAL_NS) {
		if (atomic_compare_exchange_strong(&rl->window_start_ns, &start, now)) {
			uint32_t sup = atomic_exchange(&rl->suppressed, 0);

			atomic_store(&rl->printed, 0);
			if (sup)
				log_msg(LOG_WARN, "log", "%u messages suppressed", sup);
		}
	}
	if (atomic_fetch_add(&rl->printed, 1) < LOG_RATELIMIT_BURST)
		return 1;
	atomic_fetch_add(&rl->suppressed, 1);
	return 0;
}

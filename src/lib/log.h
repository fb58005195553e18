/* SPDX-License-Identifier: MIT */
/*
 * lib/log.h - leveled, tagged logging to stderr, with a rate-limited variant for guest-triggered messages.
 *
 * Each .c file defines LOG_TAG before including this header. Messages go to stderr as
 * "openhv[TAG] level: text". The level threshold comes from log_set_level() or the OPENHV_LOG environment
 * variable (error, warn, info, debug). Thread-safe: each message is one write(2).
 */
#ifndef OPENHV_LIB_LOG_H
#define OPENHV_LIB_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set the threshold: messages above @level are dropped. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Print one message. @tag is the per-file tag. Never fails (a failed write is ignored). */
void log_msg(enum log_level level, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Rate limit state for one call site: at most LOG_RATELIMIT_BURST messages per LOG_RATELIMIT_INTERVAL_NS;
 * a summary of what was suppressed is printed with the next message that passes. Zero-initialise it (static).
 */
struct log_ratelimit {
	_Atomic uint64_t window_start_ns;
	_Atomic uint32_t printed;
	_Atomic uint32_t suppressed;
};
#define LOG_RATELIMIT_BURST 10u
#define LOG_RATELIMIT_INTERVAL_NS 5000000000ull

/* Returns nonzero if a message may be printed now (and counts it). */
int log_ratelimit_allow(struct log_ratelimit *rl);

#ifndef LOG_TAG
#define LOG_TAG "openhv"
#endif

#define log_err(...) log_msg(LOG_ERROR, LOG_TAG, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, LOG_TAG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, LOG_TAG, __VA_ARGS__)
#define log_dbg(...)                                                                                                   \
	do {                                                                                                           \
		if (log_get_level() >= LOG_DEBUG)                                                                      \
			log_msg(LOG_DEBUG, LOG_TAG, __VA_ARGS__);                                                      \
	} while (0)

/* Guest-triggered warning: rate-limited per call site. */
#define log_guest(...)                                                                                                 \
	do {                                                                                                           \
		static struct log_ratelimit log_rl_;                                                                   \
		if (log_ratelimit_allow(&log_rl_))                                                                     \
			log_msg(LOG_WARN, LOG_TAG, __VA_ARGS__);                                                       \
	} while (0)

#endif

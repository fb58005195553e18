/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_check.h - the fuzz targets' oracle: FZ_CHECK(cond) is an assertion that also holds in release builds.
 * A failed one prints "<file>: oracle failed at line <n>: <cond>" (the target's name for a check in fuzz_<name>.c,
 * the header's for one in a shared header) and aborts, which libFuzzer reports as a finding and saves the input.
 *
 * Header-only: included by every target and by the shared fuzz headers that check something.
 */
#ifndef OPENHV_FUZZ_CHECK_H
#define OPENHV_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Report @cond failed at @file:@line and abort. @file as __FILE__: printed without its directory and ".c". */
static inline _Noreturn void fz_check_failed(const char *file, int line, const char *cond)
{
	const char *name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t len = strlen(name);

	if (len > 2 && strcmp(name + len - 2, ".c") == 0)
		len -= 2;
	fprintf(stderr, "%.*s: oracle failed at line %d: %s\n", (int)len, name, line, cond);
	abort();
}

#define FZ_CHECK(cond)                                                                                             \
	do {                                                                                                       \
		if (!(cond))                                                                                       \
			fz_check_failed(__FILE__, __LINE__, #cond);                                                \
	} while (0)

#endif /* OPENHV_FUZZ_CHECK_H */

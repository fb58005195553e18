/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_exitloop.c - the exit-cost baseline of bench/bench_exits.c: "n=N" 32-bit `out`s of the value
 * 0x1234 to port 0x5f8 in a tight loop, then pass. Whether each is a userspace exit or an ioeventfd signal
 * is the host's choice.
 */
#include "rt/mg.h"

int mg_main(const struct hvm_start_info *si)
{
	unsigned n = (unsigned)mg_cmdline_uint("n", 0);

	for (unsigned i = 0; i < n; i++)
		outl(0x5f8, 0x1234);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_bench.c - the hypercall round trips of bench/bench_hypercall.c (TARGETS.md P8). Command line
 * "mode=post|signal|out n=N": enable the hypercall page, then N HvPostMessage calls to connection 1 (an exit to
 * userspace each), N fast HvSignalEvent calls to connection 2 (the host serves it with an ioeventfd), or N bare
 * `out`s to port 0x5f8 (the floor, as guest/tests/g_exitloop.c). Every status must be HV_STATUS_SUCCESS; the
 * first failure is the result code (0x100 + status).
 */
#include "rt/hvc.h"

int mg_main(const struct hvm_start_info *si)
{
	unsigned n = (unsigned)mg_cmdline_uint("n", 0);
	unsigned mode = (unsigned)mg_cmdline_uint("mode", 0); /* 0 out, 1 post, 2 signal */
	static const uint64_t payload[2] = { 0x1122334455667788ull, 0x99aabbccddeeff00ull };

	if (hvc_hypercall_enable(hvc_hypercall_page_default, 0) < 0)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		uint16_t status = 0;

		if (mode == 1)
			status = hvc_post_message(1, 1, payload, sizeof(payload));
		else if (mode == 2)
			status = hvc_signal_event(2, 0);
		else
			outl(0x5f8, 0x1234);
		if (status)
			return 0x100 + status;
	}
	return 0;
}

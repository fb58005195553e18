// SPDX-License-Identifier: MIT
/*
 * bench/bench_vmbus_ring.c - P3 (shared/TARGETS.md): VMBus ring throughput between the in-process guest client
 * (guest/vsc) and the server, 64 KiB and 256-byte packets, both directions, beside memcpy of the same sizes
 * measured in the same run.
 *
 * Setup: the plain-memory partition of tests/lib/vmbus_fixture.h, a channel with 2 MiB rings each way, and the
 * server's own I/O thread running (vmbus_server_start), so the client (this thread) and the VSP (the I/O thread)
 * run in parallel as in a VM: guest -> host signals go through HvSignalEvent -> the channel's eventfd, host ->
 * guest ones are SIEF flags, and both sides follow the interrupt_mask / pending_send_sz rules.
 *   guest -> host: the client writes packets as fast as the ring takes them; the VSP copies each one out
 *                  (vmbus_channel_recv) and counts it.
 *   host -> guest: the VSP writes packets until the ring is full and resumes when the guest has read enough;
 *                  the client copies each one out (vsc_channel_recv).
 * Baseline: single-threaded memcpy of the same packet size, source walking a 2 MiB buffer (like a ring), into one
 * destination buffer (like the VSP's).
 *
 * Usage: bench_vmbus_ring [SECONDS per case, default 1]
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/log.h"
#include "vmbus_fixture.h"

#define RING_PAGES 513u /* header + 2 MiB */
#define BIG 65536u
#define SMALL 256u
#define ROUNDS 3u

struct bench_vsp {
	struct vmbus_channel *ch;
	_Alignas(8) uint8_t buf[BIG + 4096];
	uint8_t payload[BIG];
	/* guest -> host */
	atomic_uint_fast64_t rx_packets, rx_bytes;
	/* host -> guest: packets still to send, their size */
	atomic_uint_fast64_t tx_left;
	uint32_t tx_size;
	atomic_uint_fast64_t tx_sent;
};

/* The median of ROUNDS (3) values. */
static double median3(const double *v)
{
	double a = v[0], b = v[1], c = v[2];

	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Send what is left until the ring is full. Returns false on a full ring (back-pressure). */
static bool bench_vsp_pump_tx(struct bench_vsp *v)
{
	while (atomic_load(&v->tx_left)) {
		int ret = vmbus_channel_send_inband(v->ch, 0, v->payload, v->tx_size, false);

		if (ret == -EAGAIN)
			return false;
		if (ret) {
			fprintf(stderr, "bench: vmbus_channel_send: %s\n", strerror(-ret));
			atomic_store(&v->tx_left, 0);
			return true;
		}
		atomic_fetch_sub(&v->tx_left, 1);
		atomic_fetch_add(&v->tx_sent, 1);
	}
	return true;
}

static int bench_open(struct vmbus_channel *ch, void *opaque) { return 0; }
static void bench_close(struct vmbus_channel *ch, void *opaque) {}

static bool bench_notify(struct vmbus_channel *ch, void *opaque)
{
	struct bench_vsp *v = opaque;
	struct vmbus_packet pkt;
	int ret;

	while ((ret = vmbus_channel_recv(ch, v->buf, sizeof(v->buf), &pkt)) > 0) {
		atomic_fetch_add(&v->rx_packets, 1);
		atomic_fetch_add(&v->rx_bytes, pkt.data_len);
	}
	if (ret != -EAGAIN)
		fprintf(stderr, "bench: vmbus_channel_recv: %s\n", strerror(-ret));
	return bench_vsp_pump_tx(v);
}

static void bench_start_tx(void *opaque)
{
	bench_vsp_pump_tx(opaque);
}

static const struct vmbus_device_ops bench_ops = {
	.open = bench_open, .close = bench_close, .notify = bench_notify
};

/* memcpy of @size-byte blocks from a 2 MiB source into one destination for ~@seconds: bytes per second. */
static double bench_memcpy(uint32_t size, double seconds)
{
	size_t span = 2u << 20;
	uint8_t *src = malloc(span), *dst = malloc(size);
	uint64_t n = 0, bytes = 0;
	size_t off = 0;
	double t0, t;

	memset(src, 0x5a, span);
	memset(dst, 0, size);
	t0 = now_s();
	do {
		for (int i = 0; i < 1024; i++) {
			memcpy(dst, src + off, size);
			__asm__ volatile("" ::"r"(dst) : "memory");
			off += size;
			if (off + size > span)
				off = 0;
		}
		n += 1024;
		t = now_s();
	} while (t - t0 < seconds);
	bytes = n * size;
	free(src);
	free(dst);
	return (double)bytes / (t - t0);
}

/* Guest -> host: packets of @size for ~@seconds. Returns payload bytes per second; *@pps packets per second. */
static double bench_g2h(struct vmbfx *f, struct vsc_channel *ch, struct bench_vsp *v, uint32_t size, double seconds,
			double *pps)
{
	static uint8_t data[BIG];
	uint64_t sent = 0, start_packets = atomic_load(&v->rx_packets);
	double t0 = now_s(), t;

	memset(data, 0xa5, size);
	do {
		for (int i = 0; i < 256; i++) {
			int ret;

			while ((ret = vsc_channel_send_inband(ch, 0, data, size)) == -VSC_EAGAIN)
				__builtin_ia32_pause();
			if (ret) {
				fprintf(stderr, "bench: vsc_channel_send: %d\n", ret);
				return 0;
			}
			sent++;
		}
		t = now_s();
	} while (t - t0 < seconds);
	/* Wait until the VSP took everything. */
	while (atomic_load(&v->rx_packets) - start_packets < sent)
		__builtin_ia32_pause();
	t = now_s();
	*pps = (double)sent / (t - t0);
	return (double)sent * size / (t - t0);
}

/* Host -> guest: packets of @size for ~@seconds (in batches the VSP sends). Bytes per second; *@pps. */
static double bench_h2g(struct vmbfx *f, struct vsc_channel *ch, struct bench_vsp *v, uint32_t size, double seconds,
			double *pps)
{
	static _Alignas(8) uint8_t buf[BIG + 4096];
	uint64_t got = 0, batch = size >= BIG ? 4096 : 1u << 20;
	struct vsc_packet pkt;
	double t0 = now_s(), t;

	v->tx_size = size;
	do {
		uint64_t target = got + batch;

		atomic_store(&v->tx_left, batch);
		vmbus_server_call(f->srv, bench_start_tx, v);
		while (got < target) {
			int ret = vsc_channel_recv(ch, buf, sizeof(buf), &pkt);

			if (ret == -VSC_EAGAIN) {
				__builtin_ia32_pause();
				continue;
			}
			if (ret < 0) {
				fprintf(stderr, "bench: vsc_channel_recv: %d\n", ret);
				return 0;
			}
			got++;
		}
		t = now_s();
	} while (t - t0 < seconds);
	*pps = (double)got / (t - t0);
	return (double)got * size / (t - t0);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	struct vmbus_offer_config oc = { .name = "bench", .ops = &bench_ops, .max_packet_bytes = BIG + 4096 };
	struct bench_vsp *v = calloc(1, sizeof(*v));
	struct vmbfx *f = calloc(1, sizeof(*f));
	struct vsc_channel ch;
	const struct vsc_offer *offer;
	double mc_big, mc_small, g2h_big, g2h_small, h2g_big, h2g_small, pps_big, pps_small, pps, pps2;
	struct vmbus_server_stats st;

	if (seconds <= 0)
		seconds = 1.0;
	log_set_level(LOG_WARN);
	vmbfx_init(f, 1, 0);
	oc.class_id = (struct vmbus_guid)HV_NIC_GUID;
	oc.instance_id = vmbfx_instance(0xbe);
	oc.opaque = v;
	if (vmbus_device_offer(f->srv, &oc, &v->ch)) {
		fprintf(stderr, "bench: offer failed\n");
		return 1;
	}
	vmbfx_connect(f);
	offer = vsc_bus_find_offer(&f->bus, &oc.class_id, 0);
	if (!offer || vsc_channel_open(&f->bus, &ch, offer->msg.child_relid, RING_PAGES * VSC_PAGE_SIZE,
				       RING_PAGES * VSC_PAGE_SIZE, 0)) {
		fprintf(stderr, "bench: open failed\n");
		return 1;
	}
	/* From here the server runs on its own thread; the client no longer pumps it. */
	f->pump_off = true;
	if (vmbus_server_start(f->srv)) {
		fprintf(stderr, "bench: cannot start the I/O thread\n");
		return 1;
	}

	/* Medians of ROUNDS rounds, each case in turn, so that noise from the shared machine hits all alike. */
	{
		double t[6][ROUNDS], p[4][ROUNDS];

		for (unsigned r = 0; r < ROUNDS; r++) {
			t[0][r] = bench_memcpy(BIG, seconds / ROUNDS);
			t[1][r] = bench_memcpy(SMALL, seconds / ROUNDS);
			t[2][r] = bench_g2h(f, &ch, v, BIG, seconds / ROUNDS, &p[0][r]);
			t[3][r] = bench_g2h(f, &ch, v, SMALL, seconds / ROUNDS, &p[1][r]);
			t[4][r] = bench_h2g(f, &ch, v, BIG, seconds / ROUNDS, &p[2][r]);
			t[5][r] = bench_h2g(f, &ch, v, SMALL, seconds / ROUNDS, &p[3][r]);
		}
		mc_big = median3(t[0]);
		mc_small = median3(t[1]);
		g2h_big = median3(t[2]);
		g2h_small = median3(t[3]);
		h2g_big = median3(t[4]);
		h2g_small = median3(t[5]);
		pps_big = median3(p[0]);
		pps_small = median3(p[1]);
		pps = median3(p[2]);
		pps2 = median3(p[3]);
	}
	printf("P3 VMBus ring (medians of %u rounds), guest -> host (in-process client -> server I/O thread, 2 MiB "
	       "ring):\n", ROUNDS);
	printf("P3   64 KiB packets: %.2f GB/s (%.0f packets/s) vs memcpy %.2f GB/s: %.0f %% (target >= 50 %%)\n",
	       g2h_big / 1e9, pps_big, mc_big / 1e9, 100.0 * g2h_big / mc_big);
	printf("P3   256 B packets:  %.2f M packets/s (%.2f GB/s) vs memcpy %.2f M blocks/s: %.0f %% (target >= 2 M "
	       "packets/s)\n",
	       pps_small / 1e6, g2h_small / 1e9, mc_small / SMALL / 1e6, 100.0 * g2h_small / mc_small);
	printf("P3 VMBus ring, host -> guest (server I/O thread -> in-process client):\n");
	printf("P3   64 KiB packets: %.2f GB/s (%.0f packets/s) vs memcpy %.2f GB/s: %.0f %%\n", h2g_big / 1e9, pps,
	       mc_big / 1e9, 100.0 * h2g_big / mc_big);
	printf("P3   256 B packets:  %.2f M packets/s (%.2f GB/s) vs memcpy %.2f M blocks/s: %.0f %%\n", pps2 / 1e6,
	       h2g_small / 1e9, mc_small / SMALL / 1e6, 100.0 * h2g_small / mc_small);
	vmbus_server_stats(f->srv, &st);
	printf("P3   signals: %llu guest -> host, %llu host -> guest, client HvSignalEvent calls %llu\n",
	       (unsigned long long)st.guest_signals, (unsigned long long)st.host_signals,
	       (unsigned long long)ch.signals);
	vmbfx_fini(f);
	free(f);
	free(v);
	return 0;
}

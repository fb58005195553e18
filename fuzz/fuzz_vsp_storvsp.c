// SPDX-License-Identifier: MIT
/*
 * fuzz/fuzz_vsp_storvsp.c - libFuzzer target for the synthetic SCSI controller (vsp/storvsp, TARGETS.md R1): vstor
 * packets (handshake, EXECUTE_SRB in-band and GPA-direct, sub-channels, resets, unknown operations, short, long and
 * oversized packets), SRBs (addressing, direction, data_transfer_length, GPA ranges with PFNs in the data window,
 * the canary pages, beyond RAM or anywhere in RAM), and CDBs with their data (INQUIRY, VPD, REPORT LUNS, MODE
 * SENSE/SELECT, READ CAPACITY, READ/WRITE/VERIFY 6-16, SYNCHRONIZE CACHE, UNMAP and WRITE SAME parameter data ...)
 * on disks of the io_uring backend (backend/disk), mixed with close/re-open, UNLOAD and reconnect, and the
 * controller destroyed and created again with requests in flight.
 *
 * The platform is fuzz_platform.h, as for fuzz_vsp_ic.c: one hvi partition on 16 MiB of plain memory for all inputs
 * (1 VP, its timer thread stopped, the SynIC turned off and on per input), and per input a fresh VMBus server run on
 * this thread (vmbus_server_poll), a fresh storvsp with three LUNs, and the guest-side storvsc client (guest/vsc/
 * vsc_stor.h) connected and, unless the config says otherwise, with the primary open. The LUNs are image files in
 * a per-process directory (/dev/shm when it exists: tmpfs, so SYNCHRONIZE CACHE costs nothing; directories of
 * processes that are gone are removed at start-up): LUN 0 512-byte
 * blocks, 2 MiB; LUN 1 4096-byte blocks, 2 MiB; LUN 2 512-byte blocks, 1 MiB, read-only, written once with a
 * pattern. LUNs 0 and 1 are truncated to nothing and re-grown (all zero, plus an 8 KiB pattern at byte 0) before
 * every input, so an input replays the same way.
 *
 * Disk completions are asynchronous (io_uring). After every operation that is not marked asynchronous the target
 * settles: it runs the server (vmbus_server_poll, which runs the disks' eventfd watches) and takes the client's
 * completions until two idle rounds pass with no disk request in flight (the disks are found through the server's
 * fd watches, vmbus/internal.h), bounded.
 *
 * Guest memory: 0x10000 SynIC pages; 0x20000 two canary pages; 0x22000 the data window (1 MiB + 8 KiB, a fixed
 * pattern at the start of each input: every SRB buffer the client builds lies in it); two more canary pages; then
 * the rings (bump allocator).
 *
 * Input: one config byte (FZ_CFG_*), then operations, each an opcode byte (enum fz_op, modulo the count) and its
 * operands (integers little-endian; missing bytes read as zero). seeds_vsp_storvsp.py writes the seeds and has the
 * same encoding.
 *
 * Oracles beyond ASan/UBSan/LSan:
 *  - every completion parses as Linux's storvsc would take it: the client's error counters (vsc_stor_errors) stay
 *    zero: no short or long packet, nothing but COMPLETE_IO for a request, the right channel, no overrun, and no
 *    unknown trans_id (raw packets use ids of their own that the target registers with the client when the host
 *    must answer them; a raw packet the host must not answer is not registered, so an answer to it shows);
 *  - no request hangs: after settling (completions taken) every request the host must answer has been answered,
 *    and a RESET_BUS is answered only after every earlier request of the primary; the disks never stay busy;
 *  - SRB results are consistent: an error moves no data, SUCCESS means GOOD, CHECK CONDITION carries fixed-format
 *    autosense (or is SRB INVALID_LUN); malformed SRBs the client builds get INVALID_REQUEST; a missing path /
 *    target / LUN answers INQUIRY with data (0x7F), REPORT LUNS with the list, everything else INVALID_LUN;
 *    the read-only LUN never reports a WRITE, WRITE SAME or UNMAP done, and its image file is never modified;
 *  - with one request alone in flight (a model): READ/WRITE move min(CDB bytes, buffer) bytes, and the guest buffer
 *    and the image file agree afterwards; WRITE SAME leaves its block over the whole range; INQUIRY/REPORT LUNS
 *    data starts as specified; the 8 KiB of guest memory either side of the buffer do not change;
 *  - guest memory outside the buffers: the canary pages never change (unless a raw PFN named them); after a close,
 *    an UNLOAD or the controller's destroy, nothing writes the data window any more;
 *  - the handshake negotiates the first version of the client's list the host knows (6.2, 6.0, 5.1), or none;
 *  - host stats: errors <= requests, busy <= errors, channels_open equals the channels the client has open,
 *    protocol one of the three; the server breaks no channel and sends the bus nothing malformed.
 * Checks the input itself made unsound switch themselves off: raw trans_ids of the input's choice (tainted),
 * PFNs anywhere in RAM (wild: the host may legitimately write the rings, SynIC pages and canaries).
 *
 * FUZZ_LOG=1 shows the server's debug log; FUZZ_STORVSP_TRACE=1 prints each operation and result;
 * FUZZ_STORVSP_DUMP=<file> writes every input there before running it (the input fuzz_main.c aborted on);
 * FUZZ_STORVSP_STATS=1 prints what each input reached (requests, answers, model checks, host counters, taint).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/disk/disk.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "fuzz_platform.h"
#include "hv/hv.h"
#include "lib/log.h"
#include "openhv/storvsp.h"
#include "vid/memory.h"
#include "vmbus/internal.h" /* the server's fd watches (the disks) */
#include "vmbus/vmbus.h"
#include "vsc/vsc.h"
#include "vsc/vsc_stor.h"
#include "vsp/storvsp/storvsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- guest memory ------------------------------------------------------------------------------------------- */

#define FZ_PAGE         4096u
#define FZ_RAM          (16ull << 20)
#define FZ_RAM_PAGES    (FZ_RAM / FZ_PAGE)
#define FZ_CANARY_A     FZ_PLATFORM_LOW          /* 2 pages */
#define FZ_WIN_BASE     0x22000ull               /* the data window */
#define FZ_WIN_BYTES    ((1u << 20) + 2 * FZ_PAGE)
#define FZ_WIN_PAGES    (FZ_WIN_BYTES / FZ_PAGE)
#define FZ_CANARY_B     (FZ_WIN_BASE + FZ_WIN_BYTES) /* 2 pages */
#define FZ_CANARY_PAGES 2u
#define FZ_ALLOC_BASE   0x140000ull              /* rings and the bus's pages from here */
#define FZ_CANARY_BYTE  0xC5u
#define FZ_GUARD        8192u                    /* bytes either side of a model request's buffer checked */

/* ---- the controller ---------------------------------------------------------------------------------------- */

#define FZ_NLUN         3u
#define FZ_MAX_SUBCH    4u
#define FZ_WAIT_MS      500u  /* bound of every wait of the client (the host answers at once or not at all) */
#define FZ_SETTLE_ROUNDS 4000u
#define FZ_MAX_OPS      256u
#define FZ_MAX_RECS     4096u /* requests (client and raw) per input */
#define FZ_MAX_BURST    320u
#define FZ_MAX_OPENS    8u    /* channel-open cycles per input (each maps 256 KiB of rings per channel) */
#define FZ_MAX_RECREATE 2u
#define FZ_MAX_UNLOAD   2u
#define FZ_RAW_BIT      (1ull << 40) /* trans_ids of raw packets */
#define FZ_RAW_MAX      9000u        /* raw payload bytes (beyond storvsp's 8 KiB receive buffer) */
#define FZ_SLOT_INFLIGHT 1u          /* vsc_stor.c's VSC_STOR_SLOT_INFLIGHT (raw packets are registered by hand) */

static const uint32_t fz_bs[FZ_NLUN] = { 512, 4096, 512 };
static const uint64_t fz_disk_bytes[FZ_NLUN] = { 2u << 20, 2u << 20, 1u << 20 };
#define FZ_RO_LUN 2u

/* The config byte. */
#define FZ_CFG_HANDSHAKE 0x01u /* the Linux handshake at set-up */
#define FZ_CFG_SUBCH     0x02u /* the controller offers up to FZ_MAX_SUBCH sub-channels */
#define FZ_CFG_SMALL     0x04u /* the primary's rings are 32 KiB out, 4 KiB in (ring-full paths both ways) */
#define FZ_CFG_XFER256K  0x08u /* max_transfer_bytes 256 KiB (else the default 1 MiB) */
#define FZ_CFG_DIRECT    0x10u /* LUNs 0 and 1 O_DIRECT (where the file system allows it) */
#define FZ_CFG_MANUAL    0x20u /* completions are taken only by TAKE (and at the end) */
#define FZ_CFG_TAGGED    0x40u /* requests as for a tagged device */
#define FZ_CFG_NOOPEN    0x80u /* the primary is not opened at set-up */

enum fz_op {
	FZ_OP_SRB,       /* SRB body (below) */
	FZ_OP_RAW,       /* u8 mode (FZ_RAW_*), 64 packet bytes, operands */
	FZ_OP_WRITE_BUF, /* u32 window offset, u16 length, bytes */
	FZ_OP_RESET,     /* u8 path_id: RESET_BUS as storvsc_host_reset_handler() */
	FZ_OP_CLOSE,     /* close every channel (requests in flight are forgotten) */
	FZ_OP_OPEN,      /* u8: bit 0 Linux handshake, bit 1 small rings */
	FZ_OP_HANDSHAKE, /* u8 n (% 5; 0: Linux's list), n x u16 versions */
	FZ_OP_SUBCH,     /* u8 count */
	FZ_OP_TAKE,      /* u8 max (0: all) */
	FZ_OP_SETTLE,
	FZ_OP_BURST,     /* u16 count, SRB body: count copies (the channel's, or round robin), then settle unless
			  * the body says asynchronous */
	FZ_OP_UNLOAD,    /* UNLOAD with whatever is in flight, reconnect */
	FZ_OP_RECREATE,  /* storvsp_destroy with whatever is open and in flight, storvsp_create */
	FZ_OP_POLL,      /* one server round, nothing else */
	FZ_OP_COUNT
};

/* SRB body: u8 flags, u8 lun, u8 cdb_len, u8 data_in, 16 CDB bytes, u32 len, u32 off, then the operands flags ask
 * for, in this order. */
#define FZ_SRB_ASYNC   0x01u /* no settle after */
#define FZ_SRB_DTL     0x02u /* u32 data_transfer_length of the input's choice */
#define FZ_SRB_RANGE   0x04u /* u16 range offset, u32 range length, u8 n, n x u16 PFN selectors (fz_pfn) */
#define FZ_SRB_INBAND  0x08u /* in-band even with data */
#define FZ_SRB_ADDR    0x10u /* u8 path_id, u8 target_id (else 0, 0) */
#define FZ_SRB_CHANNEL 0x20u /* u8 channel (modulo the client's channel count) */
#define FZ_SRB_UNTAG   0x40u /* flip the config's tagged */

/* RAW: u8 mode, 64 bytes of vstor_packet, then the operands the mode asks for, in this order. */
#define FZ_RAW_GPA     0x01u /* GPA-direct: u32 rangecount field, u8 n (% 8) ranges: u32 len, u16 off, u8 npfn,
			      * npfn x u16 PFN selectors */
#define FZ_RAW_TID     0x02u /* u64 trans_id of the input's choice (0, the reserved ids, ids in flight or in the
			      * target's own id space taint the trans_id checks) */
#define FZ_RAW_TYPE    0x04u /* u16 packet type, u16 packet flags (else INBAND / GPA_DIRECT, completion requested) */
#define FZ_RAW_LEN     0x08u /* u16 payload length (% FZ_RAW_MAX + 1; beyond 64: zeroes) */
#define FZ_RAW_CHANNEL 0x10u /* u8 channel */
#define FZ_RAW_ASYNC   0x20u /* no settle after */
#define FZ_RAW_INIT    0x40u /* as vsc_stor_init_op: in-band on the primary, trans_id VMBUS_RQST_INIT, wait */

static uint16_t fz_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t fz_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t fz_be64(const uint8_t *p) { return (uint64_t)fz_be32(p) << 32 | fz_be32(p + 4); }

/* ---- state ------------------------------------------------------------------------------------------------- */

static struct storvsp *fz_sp;
static struct vsc_stor fz_st;
static uint8_t fz_config;
static bool fz_trace;
static bool fz_stats;        /* FUZZ_STORVSP_STATS: one line per input */
static uint8_t *fz_win;      /* host view of the data window */
static uint8_t *fz_win_init; /* its content at the start of every input */
static uint8_t *fz_ro_init;  /* the read-only image's content */
#define FZ_PATH_MAX 384
static char fz_dir[64];
static char fz_path[FZ_NLUN][96];
static int fz_fd[FZ_NLUN];
static struct stat fz_ro_stat;
static uint64_t fz_inputs;
/* Scratch (large blocks from malloc cost an mmap each under ASan, and the io_uring workers make those slow). */
static uint8_t fz_snap[FZ_WIN_BYTES];
static uint8_t fz_img[2u << 20];
static uint8_t fz_canary_want[FZ_CANARY_PAGES * FZ_PAGE];

/* Per input. */
static bool fz_tainted;        /* raw trans_ids of the input's choice: the client's id bookkeeping is unsound */
static bool fz_wild;           /* a PFN anywhere in RAM: the host may write rings, SynIC pages, canaries */
static bool fz_canary_named;   /* a PFN named a canary page */
static bool fz_handshaken;     /* the client's last handshake on this open succeeded */
static unsigned fz_opens_left, fz_recreates_left, fz_unloads_left;
static uint64_t fz_nid;        /* last request id handed out */

enum fz_rec_state { FZ_REC_NONE = 0, FZ_REC_PENDING, FZ_REC_DONE, FZ_REC_ABANDONED };

/* One request the client (or a raw packet) sent, and what came back. */
struct fz_rec {
	uint8_t state;
	bool raw;
	bool custom;     /* a raw packet with a trans_id of the input's choice (@tid) */
	uint64_t tid;
	bool srb;        /* the host takes it as an EXECUTE_SRB (its answer's SRB fields mean something) */
	bool plain;      /* built by the client from gpa/len in the window, no hostile knob */
	bool model;      /* plain, alone in flight, nothing tainted: the data model checks apply */
	uint8_t channel;
	uint8_t path, target, lun, cdb_len, data_in;
	uint8_t cdb[16];
	uint64_t gpa;
	uint32_t len;    /* buffer bytes (plain) */
	struct vsc_stor_result res;
};
static struct fz_rec fz_recs[FZ_MAX_RECS + 1];

/* ---- platform -------------------------------------------------------------------------------------------------- */

/* Disk requests in flight: the disks are what storvsp watches through the server's fd watches. */
static bool fz_disks_busy(void)
{
	for (struct vmbus_watch *w = fz_srv ? fz_srv->fd_watches : NULL; w; w = w->next)
		if (w->kind == VMBUS_WATCH_FD && disk_inflight(w->opaque))
			return true;
	return false;
}

/* The client's waits run the server; while a disk works, sleep in epoll until its completion arrives. */
static void fz_pump(void *opaque)
{
	(void)vmbus_server_poll(fz_srv, fz_disks_busy() ? 1 : 0);
}

/* ---- disk images ------------------------------------------------------------------------------------------------ */

static void fz_fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static void fz_cleanup(void)
{
	for (unsigned i = 0; i < FZ_NLUN; i++) {
		if (fz_fd[i] > 0)
			close(fz_fd[i]);
		unlink(fz_path[i]);
	}
	rmdir(fz_dir);
}

/* Directories of earlier runs whose process is gone (libFuzzer and aborts leave without atexit handlers). */
static void fz_images_sweep(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[FZ_PATH_MAX];
		long pid;
		char *end;

		if (strncmp(e->d_name, "openhv-fuzz-storvsp.", 20))
			continue;
		pid = strtol(e->d_name + 20, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		for (unsigned i = 0; i < FZ_NLUN; i++) {
			snprintf(path, sizeof(path), "%s/%s/lun%u.img", base, e->d_name, i);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		rmdir(path);
	}
	if (d)
		closedir(d);
}

static void fz_images_create(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	fz_images_sweep(base);
	snprintf(fz_dir, sizeof(fz_dir), "%s/openhv-fuzz-storvsp.%ld", base, (long)getpid());
	FZ_CHECK(mkdir(fz_dir, 0700) == 0 || errno == EEXIST);
	for (unsigned i = 0; i < FZ_NLUN; i++) {
		snprintf(fz_path[i], sizeof(fz_path[i]), "%s/lun%u.img", fz_dir, i);
		fz_fd[i] = open(fz_path[i], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		FZ_CHECK(fz_fd[i] > 0);
		FZ_CHECK(ftruncate(fz_fd[i], (off_t)fz_disk_bytes[i]) == 0);
	}
	fz_ro_init = malloc(fz_disk_bytes[FZ_RO_LUN]);
	FZ_CHECK(fz_ro_init);
	fz_fill(fz_ro_init, fz_disk_bytes[FZ_RO_LUN], 77);
	FZ_CHECK(pwrite(fz_fd[FZ_RO_LUN], fz_ro_init, fz_disk_bytes[FZ_RO_LUN], 0) ==
		 (ssize_t)fz_disk_bytes[FZ_RO_LUN]);
	FZ_CHECK(fstat(fz_fd[FZ_RO_LUN], &fz_ro_stat) == 0);
	atexit(fz_cleanup);
}

/* LUNs 0 and 1 as new: zeroes, and a pattern in the first 8 KiB. */
static void fz_images_reset(void)
{
	static uint8_t head[8192];
	static bool filled;

	if (!filled)
		fz_fill(head, sizeof(head), 5);
	filled = true;
	for (unsigned i = 0; i < FZ_NLUN; i++) {
		if (i == FZ_RO_LUN)
			continue;
		FZ_CHECK(ftruncate(fz_fd[i], 0) == 0);
		FZ_CHECK(ftruncate(fz_fd[i], (off_t)fz_disk_bytes[i]) == 0);
		FZ_CHECK(pwrite(fz_fd[i], head, sizeof(head), 0) == (ssize_t)sizeof(head));
	}
}

/* The read-only image was never written: its times every input, its bytes now and then. */
static void fz_ro_check(bool full)
{
	struct stat st;

	FZ_CHECK(fstat(fz_fd[FZ_RO_LUN], &st) == 0);
	FZ_CHECK(st.st_size == fz_ro_stat.st_size);
	FZ_CHECK(st.st_mtim.tv_sec == fz_ro_stat.st_mtim.tv_sec && st.st_mtim.tv_nsec == fz_ro_stat.st_mtim.tv_nsec);
	if (full) {
		FZ_CHECK(pread(fz_fd[FZ_RO_LUN], fz_img, fz_disk_bytes[FZ_RO_LUN], 0) == (ssize_t)fz_disk_bytes[FZ_RO_LUN]);
		FZ_CHECK(memcmp(fz_img, fz_ro_init, fz_disk_bytes[FZ_RO_LUN]) == 0);
	}
}

/* ---- the controller ---------------------------------------------------------------------------------------------- */

static void fz_storvsp_create(void)
{
	struct storvsp_disk_config dc[FZ_NLUN];
	struct storvsp_config c;

	memset(dc, 0, sizeof(dc));
	for (unsigned i = 0; i < FZ_NLUN; i++) {
		dc[i].path = fz_path[i];
		dc[i].block_size = fz_bs[i];
		dc[i].read_only = i == FZ_RO_LUN;
		dc[i].direct = i != FZ_RO_LUN && (fz_config & FZ_CFG_DIRECT);
	}
	memset(&c, 0, sizeof(c));
	c.srv = fz_srv;
	c.instance_id = (struct vmbus_guid)VMBUS_GUID_INIT(0x5c510000, 0x0001, 0x4e57, 0x9a, 0x11, 0, 0, 0, 0, 0, 1);
	c.name = "scsi0";
	c.disks = dc;
	c.disk_count = FZ_NLUN;
	c.max_subchannels = (fz_config & FZ_CFG_SUBCH) ? FZ_MAX_SUBCH : 0;
	c.max_transfer_bytes = (fz_config & FZ_CFG_XFER256K) ? (256u << 10) : 0;
	FZ_CHECK(storvsp_create(&c, &fz_sp) == 0);
}

static uint32_t fz_max_transfer(void)
{
	return (fz_config & FZ_CFG_XFER256K) ? (256u << 10) : STORVSP_DEFAULT_MAX_TRANSFER;
}

/* ---- requests: bookkeeping and result checks ------------------------------------------------------------------- */

/* Is @trans_id in the range of the ids the target hands out (client: n, raw: FZ_RAW_BIT | n)? */
static bool fz_tid_ours(uint64_t trans_id)
{
	return !(trans_id & ~(FZ_RAW_BIT | (FZ_RAW_BIT - 1)));
}

static struct fz_rec *fz_rec_of(uint64_t trans_id)
{
	uint64_t n = trans_id & ~FZ_RAW_BIT;

	if (!fz_tid_ours(trans_id)) {
		for (uint64_t i = 1; i <= fz_nid; i++)
			if (fz_recs[i].custom && fz_recs[i].tid == trans_id && fz_recs[i].state == FZ_REC_PENDING)
				return &fz_recs[i];
		return NULL;
	}
	if (!n || n > fz_nid || fz_recs[n].custom || fz_recs[n].raw != ((trans_id & FZ_RAW_BIT) != 0))
		return NULL;
	return &fz_recs[n];
}

static bool fz_pending(void)
{
	for (uint64_t i = 1; i <= fz_nid; i++)
		if (fz_recs[i].state == FZ_REC_PENDING)
			return true;
	return false;
}

/* The client let go of every request (close, UNLOAD, rescind). */
static void fz_abandon_all(void)
{
	for (uint64_t i = 1; i <= fz_nid; i++)
		if (fz_recs[i].state == FZ_REC_PENDING)
			fz_recs[i].state = FZ_REC_ABANDONED;
}

static bool fz_is_write_op(uint8_t op)
{
	return op == 0x0A || op == 0x2A || op == 0xAA || op == 0x8A || op == 0x41 || op == 0x93 || op == 0x42;
}

/* READ/WRITE(6/10/12/16): LBA and blocks as SBC-3 defines them. False for other opcodes. */
static bool fz_rw_decode(const uint8_t *c, bool *write, uint64_t *lba, uint64_t *count)
{
	switch (c[0]) {
	case 0x08: case 0x0A:
		*lba = (uint32_t)(c[1] & 0x1f) << 16 | (uint32_t)c[2] << 8 | c[3];
		*count = c[4] ? c[4] : 256;
		break;
	case 0x28: case 0x2A:
		*lba = fz_be32(c + 2);
		*count = fz_be16(c + 7);
		break;
	case 0xA8: case 0xAA:
		*lba = fz_be32(c + 2);
		*count = fz_be32(c + 6);
		break;
	case 0x88: case 0x8A:
		*lba = fz_be64(c + 2);
		*count = fz_be32(c + 10);
		break;
	default:
		return false;
	}
	*write = c[0] == 0x0A || c[0] == 0x2A || c[0] == 0xAA || c[0] == 0x8A;
	return true;
}

static uint8_t *fz_gptr(uint64_t gpa, uint64_t len)
{
	uint8_t *p = vid_memory_ptr(fz_mem, gpa, len ? len : 1);

	FZ_CHECK(p);
	return p;
}

/* The image of @lun at [off, off + len) equals @want. */
static void fz_expect_image(unsigned lun, uint64_t off, const uint8_t *want, uint32_t len)
{
	uint8_t *b = fz_img;

	FZ_CHECK(off + len <= fz_disk_bytes[lun] && len <= sizeof(fz_img));
	FZ_CHECK(pread(fz_fd[lun], b, len, (off_t)off) == (ssize_t)len);
	if (memcmp(b, want, len)) {
		for (uint32_t i = 0; i < len; i++) {
			if (b[i] != want[i]) {
				fprintf(stderr, "fuzz_vsp_storvsp: LUN %u byte %llu is 0x%02x, the guest has 0x%02x\n", lun,
					(unsigned long long)(off + i), b[i], want[i]);
				break;
			}
		}
		FZ_CHECK(!"image and guest buffer differ");
	}
}

/* What a plain request to a valid LUN must look like (spec and model checks). */
static void fz_check_plain(struct fz_rec *q)
{
	const struct vsc_stor_result *r = &q->res;
	uint8_t srb = r->srb_status & 0x3F, op = q->cdb[0];
	uint32_t xfer = q->data_in == UNKNOWN_TYPE ? 0 : q->len;
	bool missing = q->path || q->target || q->lun >= FZ_NLUN;
	bool valid = q->cdb_len >= 1 && q->cdb_len <= 16 && q->len <= fz_max_transfer() && q->data_in <= UNKNOWN_TYPE;
	const uint8_t *buf = fz_gptr(q->gpa, q->len);

	if (!valid) {
		FZ_CHECK(srb == SRB_STATUS_INVALID_REQUEST && r->data_transfer_length == 0);
		return;
	}
	FZ_CHECK(srb != SRB_STATUS_INVALID_REQUEST); /* a well-formed SRB with a buffer in RAM is executed */
	if (missing && !(op == 0x12 && q->cdb_len >= 6) && !(op == 0xA0 && q->cdb_len >= 12)) {
		FZ_CHECK(srb == SRB_STATUS_INVALID_LUN);
		FZ_CHECK(r->data_transfer_length == 0);
		return;
	}
	if (missing && op == 0x12) {
		/* always data, never an error (guest-devices.md 1.6) */
		FZ_CHECK(srb == SRB_STATUS_SUCCESS);
		if (q->model && r->data_transfer_length >= 1)
			FZ_CHECK(buf[0] == 0x7F);
		if (q->model && r->data_transfer_length >= 2 && (q->cdb[1] & 1))
			FZ_CHECK(buf[1] == q->cdb[2]);
	}
	if (q->lun == FZ_RO_LUN && !missing && fz_is_write_op(op))
		FZ_CHECK(srb != SRB_STATUS_SUCCESS); /* nothing is written to a read-only LUN */
	if (srb != SRB_STATUS_SUCCESS || !q->model)
		return;
	/* The model: this request was alone in flight, its buffer and the image are the truth. */
	if (op == 0x12 && !(q->cdb[1] & 1) && r->data_transfer_length >= 16 && !missing) {
		FZ_CHECK(buf[0] == 0x00);
		FZ_CHECK(memcmp(buf + 8, "Msft    ", 8) == 0);
	}
	if (op == 0x12)
		FZ_CHECK(r->data_transfer_length <= fz_be16(q->cdb + 3));
	if (op == 0xA0 && r->data_transfer_length >= 4) {
		uint32_t n = (q->path || q->target || q->cdb[2] == 1) ? 0 : FZ_NLUN;

		FZ_CHECK(fz_be32(buf) == 8 * n);
	}
	if (!missing) {
		bool write;
		uint64_t lba, count;

		if (fz_rw_decode(q->cdb, &write, &lba, &count)) {
			uint64_t bytes = count * fz_bs[q->lun];
			uint32_t want = (uint32_t)(bytes < xfer ? bytes : xfer);

			FZ_CHECK(r->data_transfer_length == want);
			FZ_CHECK(lba * fz_bs[q->lun] + bytes <= fz_disk_bytes[q->lun]);
			fz_expect_image(q->lun, lba * fz_bs[q->lun], buf, want);
		}
		if (op == 0x41 || op == 0x93) {
			bool sixteen = op == 0x93;
			uint64_t lba2 = sixteen ? fz_be64(q->cdb + 2) : fz_be32(q->cdb + 2);
			uint64_t count2 = sixteen ? fz_be32(q->cdb + 10) : fz_be16(q->cdb + 7);
			uint32_t bs = fz_bs[q->lun];
			static uint8_t zero[4096];
			const uint8_t *block = (sixteen && (q->cdb[1] & 1)) ? zero : buf;
			uint8_t *img = fz_img;

			FZ_CHECK(count2 > 0 && lba2 + count2 <= fz_disk_bytes[q->lun] / bs);
			FZ_CHECK(block == zero || xfer >= bs);
			FZ_CHECK(pread(fz_fd[q->lun], img, count2 * bs, (off_t)(lba2 * bs)) == (ssize_t)(count2 * bs));
			for (uint64_t b = 0; b < count2; b++)
				FZ_CHECK(memcmp(img + b * bs, block, bs) == 0); /* the block over the whole range */
		}
	}
}

/* One completion the client handed out. */
static void fz_check_result(const struct vsc_stor_result *r)
{
	struct fz_rec *q = fz_rec_of(r->trans_id);
	uint8_t srb = r->srb_status & 0x3F;

	if (fz_trace)
		fprintf(stderr, "  done id %#llx ch %u srb %#x scsi %#x status %#x dtl %u sense %x/%02x/%02x\n",
			(unsigned long long)r->trans_id, r->channel, r->srb_status, r->scsi_status, r->status,
			r->data_transfer_length, vsc_stor_sense_key(r), vsc_stor_asc(r), vsc_stor_ascq(r));
	if (!q || q->state != FZ_REC_PENDING) {
		FZ_CHECK(fz_tainted); /* only an id of the input's choice can be answered twice */
		return;
	}
	q->state = FZ_REC_DONE;
	q->res = *r;
	FZ_CHECK(r->operation == VSTOR_OPERATION_COMPLETE_IO);
	if (fz_tainted || fz_wild)
		return;
	FZ_CHECK(r->channel == q->channel);
	if (!q->srb)
		return;
	/* SRB answers (the client's and raw ones): an error moves no data; SUCCESS is GOOD; sense when it says so */
	FZ_CHECK(r->data_transfer_length <= r->requested);
	if (srb != SRB_STATUS_SUCCESS)
		FZ_CHECK(r->data_transfer_length == 0);
	if (srb == SRB_STATUS_SUCCESS)
		FZ_CHECK(r->scsi_status == 0);
	if (srb == SRB_STATUS_INVALID_REQUEST) {
		/* refused before execution: the SRB is echoed, with the guest's own scsi_status (the client's is 0) */
		FZ_CHECK(q->raw || r->scsi_status == 0);
		return;
	}
	FZ_CHECK(r->scsi_status == 0x00 || r->scsi_status == 0x02 || r->scsi_status == 0x08);
	if (r->scsi_status == 0x02) {
		if (srb == SRB_STATUS_INVALID_LUN) {
			FZ_CHECK(r->sense_info_length == 0);
		} else {
			FZ_CHECK(r->srb_status == (SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID));
			FZ_CHECK(r->sense_valid && (r->sense[0] & 0x7F) == 0x70 && vsc_stor_sense_key(r) != 0);
			FZ_CHECK(r->sense_info_length >= 18 && r->sense_info_length <= STORVSC_SENSE_BUFFER_SIZE);
		}
	}
	if (r->scsi_status == 0x08)
		FZ_CHECK(srb == SRB_STATUS_BUSY);
	if (q->plain)
		fz_check_plain(q);
}

/* Take up to @max completions (0: all) from the client and check them. Returns how many. */
static unsigned fz_take_results(unsigned max)
{
	struct vsc_stor_result res[32];
	unsigned total = 0;

	for (;;) {
		unsigned want = max ? max - total : 32;
		int n;

		if (want > 32)
			want = 32;
		if (!want)
			break;
		n = vsc_stor_poll(&fz_st, res, want);
		FZ_CHECK(n >= 0);
		for (int i = 0; i < n; i++)
			fz_check_result(&res[i]);
		total += (unsigned)n;
		if ((unsigned)n < want)
			break;
	}
	return total;
}

/* ---- checks ------------------------------------------------------------------------------------------------------- */

static void fz_check_canaries(void)
{
	if (fz_canary_named || fz_wild)
		return;
	for (unsigned side = 0; side < 2; side++) {
		const uint8_t *p = fz_gptr(side ? FZ_CANARY_B : FZ_CANARY_A, FZ_CANARY_PAGES * FZ_PAGE);

		if (!memcmp(p, fz_canary_want, sizeof(fz_canary_want)))
			continue;
		for (unsigned i = 0; i < FZ_CANARY_PAGES * FZ_PAGE; i++) {
			if (p[i] != FZ_CANARY_BYTE) {
				fprintf(stderr, "fuzz_vsp_storvsp: canary %s byte %u is 0x%02x\n", side ? "after" : "before",
					i, p[i]);
				FZ_CHECK(!"guest memory outside every buffer written");
			}
		}
	}
}

static void fz_check_client(void)
{
	const struct vsc_stor_errors *e = &fz_st.err;
	struct vmbus_server_stats ss;

	if (!fz_wild) {
		FZ_CHECK(e->short_packets == 0);
		FZ_CHECK(e->long_packets == 0);
		FZ_CHECK(e->not_complete_io == 0);
		FZ_CHECK(e->recv_errors == 0);
		FZ_CHECK(fz_bus.malformed == 0);
		FZ_CHECK(fz_bus.bad_offers == 0);
		vmbus_server_stats(fz_srv, &ss);
		FZ_CHECK(ss.channels_broken == 0);
	}
	if (!fz_wild && !fz_tainted) {
		FZ_CHECK(e->unknown_trans_id == 0);
		FZ_CHECK(e->bad_id0 == 0);
		FZ_CHECK(e->wrong_channel == 0);
		FZ_CHECK(e->stray_init == 0);
		FZ_CHECK(e->overrun == 0);
	}
}

static unsigned fz_client_channels(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VSC_STOR_MAX_CHANNELS; i++)
		n += fz_st.ch_open[i];
	return n;
}

static void fz_check_host(void)
{
	struct storvsp_stats s;

	if (!fz_sp)
		return;
	storvsp_stats(fz_sp, &s);
	FZ_CHECK(s.errors <= s.requests);
	FZ_CHECK(s.busy <= s.errors);
	FZ_CHECK(s.protocol == 0 || s.protocol == VMSTOR_PROTO_VERSION_WIN10 || s.protocol == VMSTOR_PROTO_VERSION_WIN8_1 ||
		 s.protocol == VMSTOR_PROTO_VERSION_WIN8);
	if (!fz_wild)
		FZ_CHECK(s.channels_open == fz_client_channels());
}

/*
 * Run server and client until two idle rounds in a row with no disk request in flight (bounded), taking the
 * completions unless the config says the input takes them. Then: no disk stays busy, and when completions were
 * taken, every request the host must answer has been answered.
 */
static void fz_settle(void)
{
	bool take = !(fz_config & FZ_CFG_MANUAL);
	unsigned idle = 0, i;
	bool busy = false;

	for (i = 0; i < FZ_SETTLE_ROUNDS && idle < 2; i++) {
		int n;

		busy = fz_disks_busy();
		n = vmbus_server_poll(fz_srv, busy ? 1 : 0);
		n += (int)vsc_bus_poll_msgs(&fz_bus);
		if (take)
			n += (int)fz_take_results(0);
		idle = n > 0 || busy ? 0 : idle + 1;
	}
	FZ_CHECK(!busy);                /* a disk request that never completes */
	FZ_CHECK(idle >= 2 || fz_wild); /* server and client never stop (a livelock) */
	if (take && !fz_wild && !fz_tainted) {
		for (uint64_t k = 1; k <= fz_nid; k++) {
			if (fz_recs[k].state == FZ_REC_PENDING) {
				fprintf(stderr, "fuzz_vsp_storvsp: request %#llx (opcode %#x on channel %u) not answered\n",
					(unsigned long long)(k | (fz_recs[k].raw ? FZ_RAW_BIT : 0)), fz_recs[k].cdb[0],
					fz_recs[k].channel);
				FZ_CHECK(!"request hangs");
			}
		}
	}
	fz_check_canaries();
	fz_check_host();
}

/* ---- PFN selectors (raw ranges) -------------------------------------------------------------------------------- */

/*
 * u16 selector -> PFN. Bits 15:13 pick the kind: 0-3 a page of the data window (the rest modulo its pages); 4 a
 * canary page; 5 beyond RAM; 6 far beyond (up to the top of the 64-bit space, where PFN * 4096 overflows); 7 any
 * page of RAM (the rings, SynIC pages ...: the input goes "wild", the checks that assume a sane guest stop).
 */
static uint64_t fz_pfn(uint16_t sel)
{
	uint16_t v = sel & 0x1FFF;

	switch (sel >> 13) {
	case 4:
		fz_canary_named = true;
		return ((v & 2) ? FZ_CANARY_B : FZ_CANARY_A) / FZ_PAGE + (v & 1);
	case 5:
		return FZ_RAM_PAGES + v;
	case 6:
		return (v & 0x1000) ? UINT64_MAX - (v & 0xFFF) : (uint64_t)(v & 0xFFF) << 40 | (uint64_t)v;
	case 7: {
		uint64_t pfn = v % FZ_RAM_PAGES, gpa = pfn * FZ_PAGE;

		/* the SynIC pages and whatever is or may become a ring are the guest's own business from here on */
		if ((gpa >= FZ_PLATFORM_PAGES && gpa < FZ_PLATFORM_PAGES + 3 * FZ_PAGE) || gpa >= FZ_ALLOC_BASE)
			fz_wild = true;
		else if ((gpa >= FZ_CANARY_A && gpa < FZ_WIN_BASE) || (gpa >= FZ_CANARY_B && gpa < FZ_ALLOC_BASE))
			fz_canary_named = true;
		return pfn;
	}
	default:
		return FZ_WIN_BASE / FZ_PAGE + (sel & 0x7FFF) % FZ_WIN_PAGES;
	}
}

/* ---- operations ------------------------------------------------------------------------------------------------------ */

/* Open the primary as storvsc_connect_to_vsp() does; with @small, 32 KiB out / 4 KiB in instead of 128 KiB. */
static void fz_open(bool small, bool handshake)
{
	int rc;

	if (fz_st.ch_open[0] || !fz_opens_left)
		return;
	fz_opens_left--;
	if (!small) {
		rc = vsc_stor_open(&fz_st, 0);
	} else {
		static const struct vmbus_guid scsi = HV_SCSI_GUID;
		const struct vsc_offer *o = NULL;

		for (unsigned i = 0; i < fz_bus.offer_count && !o; i++) {
			const struct vsc_offer *e = &fz_bus.offers[i];

			if (!e->released && !e->rescinded && !e->msg.sub_channel_index &&
			    !memcmp(&e->msg.if_type, &scsi, sizeof(scsi)))
				o = e;
		}
		rc = o ? vsc_channel_open(&fz_bus, &fz_st.ch[0], o->msg.child_relid, 8 * FZ_PAGE, 2 * FZ_PAGE, fz_bus.vp)
		       : -VSC_ENOENT;
		if (rc == 0) {
			/* what vsc_stor_open records about the channel it opened */
			fz_st.instance = o->msg.if_instance;
			fz_st.primary_relid = o->msg.child_relid;
			fz_st.ch_open[0] = true;
			fz_st.channel_count = 1;
			fz_st.subchannels = 0;
			fz_st.protocol = 0;
			fz_st.init_waiting = fz_st.init_done = fz_st.reset_waiting = fz_st.reset_done = false;
			fz_st.inflight = 0;
			fz_st.done_head = fz_st.done_count = 0;
			for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++)
				fz_st.slots[i].state = 0;
		}
	}
	if (fz_trace)
		fprintf(stderr, "  open (small %d) = %d\n", small, rc);
	/* a live offer opens (RAM for rings runs out only after many re-opens) */
	FZ_CHECK(rc == 0 || rc == -VSC_ENOMEM || (fz_wild && rc < 0));
	fz_handshaken = false;
	if (rc == 0 && handshake) {
		fz_st.version_count = 3;
		memcpy(fz_st.versions, vsc_stor_linux_versions, sizeof(vsc_stor_linux_versions));
		rc = vsc_stor_handshake(&fz_st);
		FZ_CHECK(rc == 0 || fz_wild || fz_tainted);
		fz_handshaken = rc == 0;
	}
	fz_settle();
}

static void fz_close(void)
{
	int rc;
	uint8_t *snap;

	if (!fz_st.ch_open[0])
		return;
	rc = vsc_stor_close(&fz_st);
	if (fz_trace)
		fprintf(stderr, "  close = %d\n", rc);
	FZ_CHECK(rc == 0 || fz_wild);
	fz_abandon_all();
	fz_handshaken = false;
	/* the host let go of every request with the channels: nothing writes the data window any more */
	snap = fz_snap;
	memcpy(snap, fz_win, FZ_WIN_BYTES);
	fz_settle();
	FZ_CHECK(fz_wild || memcmp(snap, fz_win, FZ_WIN_BYTES) == 0);
}

/* Register a raw packet's trans_id with the client, as if it had submitted it. False when no slot is free. */
static bool fz_client_register(uint64_t trans_id, unsigned channel, uint32_t requested)
{
	for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++) {
		struct vsc_stor_slot *sl = &fz_st.slots[i];

		if (sl->state == 0) {
			sl->trans_id = trans_id;
			sl->requested = requested;
			sl->channel = (uint16_t)channel;
			sl->state = FZ_SLOT_INFLIGHT;
			fz_st.inflight++;
			fz_st.submitted++;
			return true;
		}
	}
	return false;
}

/* A channel index of the client's, or -1 if that one is not open. */
static int fz_channel(uint8_t sel)
{
	unsigned n = fz_st.channel_count;

	if (!n)
		return -1;
	sel %= n;
	return fz_st.ch_open[sel] ? sel : -1;
}

struct fz_srb {
	uint8_t flags;
	struct vsc_stor_req req;
	uint64_t pfns[256];
	int channel;
};

/* Parse an SRB body into @s. */
static void fz_srb_parse(struct fz_input *in, struct fz_srb *s)
{
	struct vsc_stor_req *r = &s->req;
	uint32_t len, off, start;

	memset(s, 0, sizeof(*s));
	s->flags = fz_u8(in);
	r->lun = fz_u8(in);
	r->cdb_len = fz_u8(in);
	r->data_in = fz_u8(in);
	fz_bytes(in, r->cdb, sizeof(r->cdb));
	len = fz_u32(in) % (FZ_WIN_BYTES + 1);
	off = fz_u32(in);
	/* the buffer lies in the window; bit 31 of off counts from its end (so overruns meet the canary) */
	start = (off & 0x7FFFFFFFu) % (FZ_WIN_BYTES - len + 1);
	if (off & 0x80000000u)
		start = FZ_WIN_BYTES - len - start;
	r->gpa = FZ_WIN_BASE + start;
	r->len = len;
	r->tagged = ((fz_config & FZ_CFG_TAGGED) != 0) != ((s->flags & FZ_SRB_UNTAG) != 0);
	if (s->flags & FZ_SRB_ADDR) {
		r->path_id = fz_u8(in);
		r->target_id = fz_u8(in);
	}
	s->channel = (s->flags & FZ_SRB_CHANNEL) ? fz_channel(fz_u8(in)) : (fz_st.ch_open[0] ? 0 : -1);
	if (s->flags & FZ_SRB_DTL) {
		r->raw_dtl = true;
		r->dtl = fz_u32(in);
	}
	if (s->flags & FZ_SRB_RANGE) {
		r->raw_range = true;
		r->range_offset = fz_u16(in);
		r->range_len = fz_u32(in);
		r->pfn_count = fz_u8(in);
		for (unsigned i = 0; i < r->pfn_count; i++)
			s->pfns[i] = fz_pfn(fz_u16(in));
		r->pfns = s->pfns;
	}
	r->force_inband = (s->flags & FZ_SRB_INBAND) != 0;
}

/* Submit @s once. 0, or the client's error (-VSC_EAGAIN: ring full, ...). */
static int fz_srb_submit(struct fz_srb *s, int channel, bool model)
{
	const struct vsc_stor_req *r = &s->req;
	struct fz_rec *q;
	uint64_t id;
	int rc;

	if (channel < 0 || fz_nid >= FZ_MAX_RECS)
		return -VSC_EINVAL;
	id = fz_nid + 1;
	rc = vsc_stor_submit(&fz_st, (unsigned)channel, id, r);
	if (fz_trace)
		fprintf(stderr, "  srb id %#llx ch %d lun %u/%u/%u cdb %02x/%u dir %u len %u gpa %#llx%s%s%s = %d\n",
			(unsigned long long)id, channel, r->path_id, r->target_id, r->lun, r->cdb[0], r->cdb_len,
			r->data_in, r->len, (unsigned long long)r->gpa, r->raw_dtl ? " dtl" : "",
			r->raw_range ? " range" : "", r->force_inband ? " inband" : "", rc);
	if (rc)
		return rc;
	fz_nid = id;
	q = &fz_recs[id];
	memset(q, 0, sizeof(*q));
	q->state = FZ_REC_PENDING;
	q->srb = true;
	q->plain = !r->raw_dtl && !r->raw_range && !r->force_inband;
	q->model = q->plain && model;
	q->channel = (uint8_t)channel;
	q->path = r->path_id;
	q->target = r->target_id;
	q->lun = r->lun;
	q->cdb_len = r->cdb_len;
	q->data_in = r->data_in;
	memcpy(q->cdb, r->cdb, sizeof(q->cdb));
	q->gpa = r->gpa;
	q->len = r->len;
	return 0;
}

static void fz_op_srb(struct fz_input *in)
{
	static struct fz_srb s;
	static uint8_t before[FZ_GUARD], after[FZ_GUARD];
	uint64_t lo, hi, blen = 0, alen = 0;
	bool model, guard;
	int rc;

	fz_srb_parse(in, &s);
	model = !(s.flags & FZ_SRB_ASYNC) && !(fz_config & FZ_CFG_MANUAL) && !fz_pending() && !fz_tainted && !fz_wild;
	guard = model && !s.req.raw_range; /* the buffer is gpa/len: the host touches nothing else */
	lo = s.req.gpa - FZ_WIN_BASE;
	hi = lo + s.req.len;
	if (guard) {
		blen = lo < FZ_GUARD ? lo : FZ_GUARD;
		alen = FZ_WIN_BYTES - hi < FZ_GUARD ? FZ_WIN_BYTES - hi : FZ_GUARD;
		memcpy(before, fz_win + lo - blen, blen);
		memcpy(after, fz_win + hi, alen);
	}
	rc = fz_srb_submit(&s, s.channel, model);
	if (rc == -VSC_EAGAIN) {
		fz_settle(); /* the ring was full: let the host read, then once more */
		rc = fz_srb_submit(&s, s.channel, false);
		model = guard = false;
	}
	if (rc || (s.flags & FZ_SRB_ASYNC))
		return;
	fz_settle();
	if (guard) {
		FZ_CHECK(fz_recs[fz_nid].state == FZ_REC_DONE);
		FZ_CHECK(memcmp(before, fz_win + lo - blen, blen) == 0); /* nothing around the buffer changed */
		FZ_CHECK(memcmp(after, fz_win + hi, alen) == 0);
	}
}

static void fz_op_burst(struct fz_input *in)
{
	static struct fz_srb s;
	unsigned count = fz_u16(in) % FZ_MAX_BURST + 1;

	fz_srb_parse(in, &s);
	for (unsigned i = 0, retried = 0; i < count;) {
		/* all on the SRB's channel, or round robin over the open ones */
		int ch = (s.flags & FZ_SRB_CHANNEL) || s.channel < 0 ? s.channel : fz_channel((uint8_t)i);
		int rc = fz_srb_submit(&s, ch, false);

		if (rc == -VSC_EAGAIN && !retried) {
			fz_settle();
			retried = 1;
			continue;
		}
		if (rc)
			break;
		retried = 0;
		i++;
	}
	if (!(s.flags & FZ_SRB_ASYNC))
		fz_settle();
}

static void fz_op_raw(struct fz_input *in)
{
	static uint8_t payload[FZ_RAW_MAX];
	static _Alignas(8) uint8_t desc[8 + 8 * (8 + 8 * 255)];
	uint8_t mode = fz_u8(in);
	uint32_t len = 64, desc_len = 0, total, requested = UINT32_MAX;
	uint16_t type, flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	uint64_t tid = 0;
	bool reply, custom = false, track;
	int channel = fz_st.ch_open[0] ? 0 : -1, rc;
	struct vstor_packet vp;

	memset(payload, 0, sizeof(payload));
	fz_bytes(in, payload, 64);
	type = (mode & FZ_RAW_GPA) ? VM_PKT_DATA_USING_GPA_DIRECT : VM_PKT_DATA_INBAND;
	if (mode & FZ_RAW_TID) {
		tid = fz_u64(in);
		/* an id the client cannot tell from its own, a reserved one, or one in flight: unsound from here on */
		custom = !fz_tid_ours(tid) && tid != VMBUS_RQST_INIT && tid != VMBUS_RQST_RESET && !fz_rec_of(tid);
		for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT && custom; i++)
			custom = !(fz_st.slots[i].state && fz_st.slots[i].trans_id == tid);
		if (!custom)
			fz_tainted = true;
	}
	if (mode & FZ_RAW_TYPE) {
		type = fz_u16(in);
		flags = fz_u16(in);
	}
	if (mode & FZ_RAW_LEN)
		len = fz_u16(in) % (FZ_RAW_MAX + 1);
	if (mode & FZ_RAW_CHANNEL)
		channel = fz_channel(fz_u8(in));
	if (mode & FZ_RAW_GPA) {
		uint32_t rangecount = fz_u32(in);
		unsigned n = fz_u8(in) % 8;

		memcpy(desc, &(uint32_t){ 0 }, 4);
		memcpy(desc + 4, &rangecount, 4);
		desc_len = 8;
		for (unsigned i = 0; i < n; i++) {
			uint32_t blen = fz_u32(in), boff = fz_u16(in);
			unsigned npfn = fz_u8(in);

			memcpy(desc + desc_len, &blen, 4);
			memcpy(desc + desc_len + 4, &boff, 4);
			desc_len += 8;
			for (unsigned k = 0; k < npfn; k++) {
				uint64_t pfn = fz_pfn(fz_u16(in));

				memcpy(desc + desc_len, &pfn, 8);
				desc_len += 8;
			}
		}
	}
	memcpy(&vp, payload, sizeof(vp));

	if (mode & FZ_RAW_INIT) {
		/* a control operation as the handshake sends it: the host answers it, whatever it is */
		if (!fz_st.ch_open[0])
			return;
		rc = vsc_stor_init_op(&fz_st, &vp);
		if (fz_trace)
			fprintf(stderr, "  init op %u = %d: op %u status %#x\n", ((struct vstor_packet *)payload)->operation,
				rc, vp.operation, vp.status);
		FZ_CHECK(rc == 0 || fz_wild || fz_tainted);
		if (rc == 0 && !fz_tainted && !fz_wild)
			FZ_CHECK(vp.operation == VSTOR_OPERATION_COMPLETE_IO);
		fz_settle();
		return;
	}
	if (channel < 0 || fz_nid >= FZ_MAX_RECS)
		return;
	/* Must the host answer? What storvsp_packet()/storvsp_chan_drain() promise for this framing. */
	total = 16 + ((desc_len + 7) & ~7u) + ((len + 7) & ~7u);
	if (total > 8192)
		reply = flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED; /* larger than any request: refused */
	else if ((type == VM_PKT_DATA_INBAND || type == VM_PKT_DATA_USING_GPA_DIRECT) && ((len + 7) & ~7u) >= 64)
		reply = true;
	else
		reply = (flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED) && type != VM_PKT_COMP;
	if (!(mode & FZ_RAW_TID))
		tid = FZ_RAW_BIT | (fz_nid + 1);
	track = !(mode & FZ_RAW_TID) || custom;
	if (total <= 8192 && ((len + 7) & ~7u) >= 64 && vp.operation == VSTOR_OPERATION_EXECUTE_SRB &&
	    (type == VM_PKT_DATA_INBAND || type == VM_PKT_DATA_USING_GPA_DIRECT))
		requested = vp.u.vm_srb.data_transfer_length;
	if (track && reply && !fz_client_register(tid, (unsigned)channel, requested))
		return;
	rc = vsc_channel_send(&fz_st.ch[channel], type, flags, tid, desc_len ? desc : NULL, desc_len, payload, len);
	if (fz_trace)
		fprintf(stderr, "  raw id %#llx ch %d type %u flags %#x op %u len %u desc %u: reply %d = %d\n",
			(unsigned long long)tid, channel, type, flags, vp.operation, len, desc_len, reply, rc);
	if (track && reply) {
		if (rc) {
			/* not sent: take the registration back */
			for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++) {
				if (fz_st.slots[i].state == FZ_SLOT_INFLIGHT && fz_st.slots[i].trans_id == tid) {
					fz_st.slots[i].state = 0;
					fz_st.inflight--;
					fz_st.submitted--;
				}
			}
		} else {
			struct fz_rec *q = &fz_recs[++fz_nid];

			memset(q, 0, sizeof(*q));
			q->state = FZ_REC_PENDING;
			q->raw = true;
			q->custom = custom;
			q->tid = tid;
			q->srb = requested != UINT32_MAX;
			q->channel = (uint8_t)channel;
			q->cdb[0] = vp.u.vm_srb.u.cdb[0];
		}
	} else if (track) {
		memset(&fz_recs[++fz_nid], 0, sizeof(fz_recs[0])); /* the id is used up; nothing may answer it */
		fz_recs[fz_nid].custom = custom;
		fz_recs[fz_nid].tid = tid;
	}
	FZ_CHECK(rc == 0 || rc == -VSC_EAGAIN || rc == -VSC_EMSGSIZE || fz_wild);
	if (!(mode & FZ_RAW_ASYNC))
		fz_settle();
}

static void fz_op_write_buf(struct fz_input *in)
{
	uint32_t off = fz_u32(in) % FZ_WIN_BYTES, len = fz_u16(in);

	if (len > FZ_WIN_BYTES - off)
		len = FZ_WIN_BYTES - off;
	fz_bytes(in, fz_win + off, len);
}

static void fz_op_reset(struct fz_input *in)
{
	uint8_t path = fz_u8(in);
	struct vstor_packet reply;
	int rc;

	if (!fz_st.ch_open[0])
		return;
	rc = vsc_stor_reset_bus(&fz_st, path, &reply);
	if (fz_trace)
		fprintf(stderr, "  reset = %d\n", rc);
	if (!fz_wild && !fz_tainted) {
		FZ_CHECK(rc == 0);
		FZ_CHECK(reply.operation == VSTOR_OPERATION_COMPLETE_IO && reply.status == 0);
		/* every request of the primary before the reset was answered first (guest-devices.md 1.4) */
		for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++)
			FZ_CHECK(fz_st.slots[i].state != FZ_SLOT_INFLIGHT || fz_st.slots[i].channel != 0);
	}
	fz_settle();
}

static void fz_op_handshake(struct fz_input *in)
{
	unsigned n = fz_u8(in) % (VSC_STOR_MAX_VERSIONS + 1);
	uint16_t want = 0;
	int rc, expect = -VSC_ECONNREFUSED;

	if (n) {
		fz_st.version_count = n;
		for (unsigned i = 0; i < n; i++)
			fz_st.versions[i] = fz_u16(in);
	} else {
		fz_st.version_count = 3;
		memcpy(fz_st.versions, vsc_stor_linux_versions, sizeof(vsc_stor_linux_versions));
	}
	for (unsigned i = 0; i < fz_st.version_count && !want; i++) {
		uint16_t v = fz_st.versions[i];

		if (v == VMSTOR_PROTO_VERSION_WIN10 || v == VMSTOR_PROTO_VERSION_WIN8_1 || v == VMSTOR_PROTO_VERSION_WIN8)
			want = v;
	}
	if (want)
		expect = 0;
	if (!fz_st.ch_open[0])
		return;
	rc = vsc_stor_handshake(&fz_st);
	if (fz_trace)
		fprintf(stderr, "  handshake = %d (protocol %#x)\n", rc, fz_st.protocol);
	if (!fz_wild && !fz_tainted) {
		FZ_CHECK(rc == expect);
		if (rc == 0) {
			struct storvsp_stats s;

			FZ_CHECK(fz_st.protocol == want);
			storvsp_stats(fz_sp, &s);
			FZ_CHECK(s.protocol == want);
			FZ_CHECK(fz_st.max_transfer == fz_max_transfer());
			FZ_CHECK(fz_st.multi_channel == ((fz_config & FZ_CFG_SUBCH) != 0));
		}
	}
	fz_handshaken = rc == 0;
	fz_settle();
}

static void fz_op_subch(struct fz_input *in)
{
	unsigned count = fz_u8(in) % FZ_MAX_SUBCH + 1;
	int rc;

	if (!fz_st.ch_open[0] || !fz_opens_left)
		return;
	fz_opens_left--;
	rc = vsc_stor_create_subchannels(&fz_st, count, 0);
	if (fz_trace)
		fprintf(stderr, "  sub-channels %u = %d\n", count, rc);
	/* the host refuses (before the handshake, without multi-channel, a second time) or offers them all */
	FZ_CHECK(rc == (int)count || rc == -VSC_EIO || rc == -VSC_ENOMEM || fz_wild || fz_tainted);
	fz_settle();
}

static void fz_op_unload(void)
{
	uint8_t *snap;
	int rc;

	if (!fz_unloads_left)
		return;
	fz_unloads_left--;
	fz_check_client(); /* vsc_stor_init below starts the counters again */
	rc = vsc_bus_unload(&fz_bus);
	if (fz_trace)
		fprintf(stderr, "  unload = %d\n", rc);
	FZ_CHECK(rc == 0 || fz_wild);
	vsc_stor_forget(&fz_st);
	fz_abandon_all();
	/* nothing of the old connection touches the data window any more */
	snap = fz_snap;
	memcpy(snap, fz_win, FZ_WIN_BYTES);
	fz_settle();
	FZ_CHECK(fz_wild || memcmp(snap, fz_win, FZ_WIN_BYTES) == 0);
	/* a new kernel connects again */
	fz_platform_bus_connect();
	vsc_stor_init(&fz_st, &fz_bus);
	fz_st.timeout_ms = FZ_WAIT_MS;
	fz_handshaken = false;
	fz_settle();
}

static void fz_op_recreate(void)
{
	uint8_t *snap;

	if (!fz_recreates_left)
		return;
	fz_recreates_left--;
	fz_check_client();
	storvsp_destroy(fz_sp); /* rescinds: every channel closed, every request waited for */
	fz_sp = NULL;
	snap = fz_snap;
	memcpy(snap, fz_win, FZ_WIN_BYTES);
	/* the client sees the rescinds and lets go of the channels (and of what was in flight on them) */
	(void)vsc_bus_poll_msgs(&fz_bus);
	if (fz_st.ch_open[0])
		(void)vsc_stor_close(&fz_st);
	fz_abandon_all();
	fz_handshaken = false;
	if (fz_trace)
		fprintf(stderr, "  destroyed\n");
	fz_settle();
	/* nothing writes the data window after the controller is gone */
	FZ_CHECK(fz_wild || memcmp(snap, fz_win, FZ_WIN_BYTES) == 0);
	fz_storvsp_create();
	fz_settle();
}

/* ---- one input ---------------------------------------------------------------------------------------------------- */

static void fz_setup(uint8_t config)
{
	static bool once;

	if (!once) {
		once = true;
		fz_trace = getenv("FUZZ_STORVSP_TRACE") != NULL;
		fz_stats = getenv("FUZZ_STORVSP_STATS") != NULL;
		log_set_level(getenv("FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
		fz_platform_create(FZ_RAM, FZ_ALLOC_BASE, fz_pump);
		fz_images_create();
		fz_win = fz_gptr(FZ_WIN_BASE, FZ_WIN_BYTES);
		fz_win_init = malloc(FZ_WIN_BYTES);
		FZ_CHECK(fz_win_init);
		fz_fill(fz_win_init, FZ_WIN_BYTES, 3);
		memset(fz_canary_want, FZ_CANARY_BYTE, sizeof(fz_canary_want));
	}
	fz_platform_reset();
	memset(fz_gptr(FZ_CANARY_A, FZ_CANARY_PAGES * FZ_PAGE), FZ_CANARY_BYTE, FZ_CANARY_PAGES * FZ_PAGE);
	memset(fz_gptr(FZ_CANARY_B, FZ_CANARY_PAGES * FZ_PAGE), FZ_CANARY_BYTE, FZ_CANARY_PAGES * FZ_PAGE);
	memcpy(fz_win, fz_win_init, FZ_WIN_BYTES);
	fz_config = config;
	fz_tainted = fz_wild = fz_canary_named = fz_handshaken = false;
	fz_opens_left = FZ_MAX_OPENS;
	fz_recreates_left = FZ_MAX_RECREATE;
	fz_unloads_left = FZ_MAX_UNLOAD;
	fz_nid = 0;
	fz_images_reset();

	fz_platform_server_create();
	fz_storvsp_create();
	fz_platform_bus_connect();
	vsc_stor_init(&fz_st, &fz_bus);
	fz_st.timeout_ms = FZ_WAIT_MS;
	if (!(config & FZ_CFG_NOOPEN))
		fz_open(config & FZ_CFG_SMALL, config & FZ_CFG_HANDSHAKE);
}

static void fz_teardown(void)
{
	/* whatever the input did, the completions are taken now and every request must have its answer */
	fz_config &= (uint8_t)~FZ_CFG_MANUAL;
	fz_settle();
	fz_check_client();
	if (fz_stats) {
		unsigned done = 0, model = 0, raw = 0;
		struct storvsp_stats s;

		for (uint64_t i = 1; i <= fz_nid; i++) {
			done += fz_recs[i].state == FZ_REC_DONE;
			model += fz_recs[i].state == FZ_REC_DONE && fz_recs[i].model;
			raw += fz_recs[i].raw;
		}
		storvsp_stats(fz_sp, &s);
		fprintf(stderr, "fuzz_vsp_storvsp: ids %llu (raw %u) answered %u model %u; host requests %llu "
			"completions %llu errors %llu bad %llu busy %llu r/w %llu/%llu; tainted %d wild %d canary %d\n",
			(unsigned long long)fz_nid, raw, done, model, (unsigned long long)s.requests,
			(unsigned long long)s.completions, (unsigned long long)s.errors, (unsigned long long)s.bad_packets,
			(unsigned long long)s.busy, (unsigned long long)s.bytes_read, (unsigned long long)s.bytes_written,
			fz_tainted, fz_wild, fz_canary_named);
	}
	storvsp_destroy(fz_sp);
	fz_sp = NULL;
	fz_platform_server_destroy();
	fz_ro_check(++fz_inputs % 256 == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = { data, size };
	static const char *dump;
	static bool dump_read;

	if (!dump_read) {
		dump_read = true;
		dump = getenv("FUZZ_STORVSP_DUMP");
	}
	if (dump) {
		FILE *f = fopen(dump, "wb");

		if (f) {
			fwrite(data, 1, size, f);
			fclose(f);
		}
	}

	fz_setup(fz_u8(&in));
	for (unsigned n = 0; in.left && n < FZ_MAX_OPS; n++) {
		uint8_t op = fz_u8(&in) % FZ_OP_COUNT;

		if (fz_trace)
			fprintf(stderr, "op %u\n", op);
		switch (op) {
		case FZ_OP_SRB: fz_op_srb(&in); break;
		case FZ_OP_RAW: fz_op_raw(&in); break;
		case FZ_OP_WRITE_BUF: fz_op_write_buf(&in); break;
		case FZ_OP_RESET: fz_op_reset(&in); break;
		case FZ_OP_CLOSE: fz_close(); break;
		case FZ_OP_OPEN: {
			uint8_t f = fz_u8(&in);

			fz_open(f & 2, f & 1);
			break;
		}
		case FZ_OP_HANDSHAKE: fz_op_handshake(&in); break;
		case FZ_OP_SUBCH: fz_op_subch(&in); break;
		case FZ_OP_TAKE: fz_take_results(fz_u8(&in)); break;
		case FZ_OP_SETTLE: fz_settle(); break;
		case FZ_OP_BURST: fz_op_burst(&in); break;
		case FZ_OP_UNLOAD: fz_op_unload(); break;
		case FZ_OP_RECREATE: fz_op_recreate(); break;
		case FZ_OP_POLL: (void)vmbus_server_poll(fz_srv, 0); break;
		}
		fz_check_client();
	}
	fz_teardown();
	return 0;
}

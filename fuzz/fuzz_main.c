// SPDX-License-Identifier: MIT
/*
 * fuzz/fuzz_main.c - a plain main() for the fuzz targets where libFuzzer is not available (gcc, the ASan+UBSan
 * build of `make test`). It understands the libFuzzer command line the ctest entries and the Makefile use:
 *
 *   fuzz_X [-runs=N] [-seed=S] [-max_len=L] [-max_total_time=T] [other -flags ignored] [FILE|DIR ...]
 *
 * Every FILE, and every regular file in every DIR (not recursive; read only), is run once through
 * LLVMFuzzerTestOneInput. Then N more inputs (default 0 if files were given, else 1000): each a mutation of a
 * random corpus input (byte flips, inserts, erases, splices, random runs) or, without a corpus, random bytes of
 * random length up to L (default 4096). T seconds (0 = no limit) bound the whole run. Deterministic for a given
 * seed (default 1). Exit status 0; a finding aborts (the sanitizers or the target's own checks).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct corpus {
	uint8_t **data;
	size_t *size;
	size_t n, cap;
};

static uint64_t rng_state = 1;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static int corpus_add_file(struct corpus *c, const char *path, size_t max_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t len;

	if (!f) {
		fprintf(stderr, "fuzz_main: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(max_len ? max_len : 1);
	if (!buf) {
		fclose(f);
		return -1;
	}
	len = fread(buf, 1, max_len, f);
	fclose(f);
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		uint8_t **d = realloc(c->data, cap * sizeof(*d));
		size_t *s = d ? realloc(c->size, cap * sizeof(*s)) : NULL;

		if (!d || !s) {
			free(d ? d : c->data);
			free(buf);
			fprintf(stderr, "fuzz_main: out of memory\n");
			exit(1);
		}
		c->data = d;
		c->size = s;
		c->cap = cap;
	}
	c->data[c->n] = buf;
	c->size[c->n] = len;
	c->n++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void corpus_add_path(struct corpus *c, const char *path, size_t max_len)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "fuzz_main: %s: %s\n", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		corpus_add_file(c, path, max_len);
		return;
	}
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char *full;

		if (e->d_name[0] == '.')
			continue;
		if (asprintf(&full, "%s/%s", path, e->d_name) < 0)
			break;
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));

			if (!nn) {
				free(full);
				break;
			}
			names = nn;
		}
		names[n++] = full;
	}
	closedir(d);
	if (n) /* readdir order is not stable: keep runs reproducible */
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		corpus_add_file(c, names[i], max_len);
		free(names[i]);
	}
	free(names);
}

/* One mutation of @buf (@len bytes, room for @cap) in place; returns the new length. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap, const struct corpus *c)
{
	size_t pos, n;

	switch (rng_below(7)) {
	case 0: /* flip a bit */
		if (len)
			buf[rng_below(len)] ^= (uint8_t)(1u << rng_below(8));
		break;
	case 1: /* set a byte to an interesting value */
		if (len) {
			static const uint8_t v[] = { 0, 1, 2, 7, 8, 0x0F, 0x10, 0x7F, 0x80, 0xF0, 0xF3, 0xFE, 0xFF };

			buf[rng_below(len)] = v[rng_below(sizeof(v))];
		}
		break;
	case 2: /* insert random bytes */
		n = 1 + rng_below(8);
		if (len + n > cap)
			break;
		pos = rng_below(len + 1);
		memmove(buf + pos + n, buf + pos, len - pos);
		for (size_t i = 0; i < n; i++)
			buf[pos + i] = (uint8_t)rng();
		len += n;
		break;
	case 3: /* erase bytes */
		if (!len)
			break;
		pos = rng_below(len);
		n = 1 + rng_below(len - pos < 16 ? len - pos : 16);
		memmove(buf + pos, buf + pos + n, len - pos - n);
		len -= n;
		break;
	case 4: /* overwrite a run with random bytes */
		if (!len)
			break;
		pos = rng_below(len);
		n = 1 + rng_below(len - pos < 8 ? len - pos : 8);
		for (size_t i = 0; i < n; i++)
			buf[pos + i] = (uint8_t)rng();
		break;
	case 5: /* splice in a piece of another corpus input */
		if (c->n) {
			size_t k = rng_below(c->n), from, m;

			if (!c->size[k])
				break;
			from = rng_below(c->size[k]);
			m = 1 + rng_below(c->size[k] - from);
			pos = rng_below(len + 1);
			if (pos + m > cap)
				m = cap - pos;
			memcpy(buf + pos, c->data[k] + from, m);
			if (pos + m > len)
				len = pos + m;
		}
		break;
	default: /* a little-endian 64-bit value at a random spot: the target reads many of those */
		if (len >= 8) {
			uint64_t v = rng_below(2) ? rng() : (uint64_t)1 << rng_below(64);

			pos = rng_below(len - 7);
			memcpy(buf + pos, &v, 8);
		}
		break;
	}
	return len;
}

int main(int argc, char **argv)
{
	struct corpus c = { 0 };
	long long runs = -1;
	size_t max_len = 4096;
	double max_time = 0;
	struct timespec t0, t;
	uint8_t *buf;
	long long done = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "-runs=", 6) == 0)
			runs = atoll(a + 6);
		else if (strncmp(a, "-seed=", 6) == 0)
			rng_state = strtoull(a + 6, NULL, 0) | 1;
		else if (strncmp(a, "-max_len=", 9) == 0)
			max_len = (size_t)atoll(a + 9);
		else if (strncmp(a, "-max_total_time=", 16) == 0)
			max_time = atof(a + 16);
		else if (a[0] == '-')
			; /* other libFuzzer flags: ignored */
		else
			corpus_add_path(&c, a, max_len ? max_len : 1);
	}
	if (max_len == 0)
		max_len = 1;
	if (runs < 0)
		runs = c.n ? 0 : 1000;
	for (size_t i = 0; i < c.n; i++)
		LLVMFuzzerTestOneInput(c.data[i], c.size[i]);
	fprintf(stderr, "fuzz_main: %zu corpus input(s) ran\n", c.n);

	buf = malloc(max_len);
	if (!buf)
		return 1;
	for (; done < runs; done++) {
		size_t len;

		if (c.n && rng_below(8)) {
			size_t k = rng_below(c.n), rounds = 1 + rng_below(4);

			len = c.size[k] < max_len ? c.size[k] : max_len;
			memcpy(buf, c.data[k], len);
			for (size_t r = 0; r < rounds; r++)
				len = mutate(buf, len, max_len, &c);
		} else {
			len = rng_below(max_len + 1);
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)rng();
		}
		LLVMFuzzerTestOneInput(buf, len);
		if (max_time > 0 && (done & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > max_time)
				break;
		}
	}
	fprintf(stderr, "fuzz_main: %lld generated input(s) ran\n", done);
	free(buf);
	for (size_t i = 0; i < c.n; i++)
		free(c.data[i]);
	free(c.data);
	free(c.size);
	return 0;
}

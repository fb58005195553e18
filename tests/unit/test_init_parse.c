// SPDX-License-Identifier: MIT
/*
 * Unit tests for guest/init/parse.c (openhv-init's text parsing): kernel command line parameters with quotes and
 * odd input, the openhv.run list with escapes, command splitting, module names, modules.dep lookup and the
 * dependency load order, bounds (long values, full plans, deep or cyclic dependencies).
 * The guest file is compiled into this host test directly: it is freestanding C without system calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../guest/init/parse.c"

static int get(const char *cl, const char *key, char *out, size_t size)
{
	return init_cmdline_get(cl, strlen(cl), key, out, size);
}

static void test_cmdline_basic(void **state)
{
	const char *cl = "console=ttyS0 panic=-1 openhv.modules=hv_vmbus,hv_utils openhv.poweroff=1 quiet";
	char v[64];

	(void)state;
	assert_int_equal(get(cl, "openhv.modules", v, sizeof(v)), 17);
	assert_string_equal(v, "hv_vmbus,hv_utils");
	assert_int_equal(get(cl, "openhv.poweroff", v, sizeof(v)), 1);
	assert_string_equal(v, "1");
	assert_int_equal(get(cl, "quiet", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_int_equal(get(cl, "openhv.reboot", v, sizeof(v)), -INIT_ENOENT);
	/* a prefix of a word is not the word */
	assert_int_equal(get(cl, "openhv.mod", v, sizeof(v)), -INIT_ENOENT);
	assert_int_equal(get(cl, "console=tty", v, sizeof(v)), -INIT_ENOENT);
	assert_int_equal(get(cl, "", v, sizeof(v)), -INIT_ENOENT);
	assert_int_equal(get("", "a", v, sizeof(v)), -INIT_ENOENT);
	assert_int_equal(get("   \t\n ", "a", v, sizeof(v)), -INIT_ENOENT);
}

static void test_cmdline_quotes_and_last_wins(void **state)
{
	char v[64];

	(void)state;
	assert_int_equal(get("a=1 openhv.run=\"echo:hello world;ls:/\" b=2", "openhv.run", v, sizeof(v)), 21);
	assert_string_equal(v, "echo:hello world;ls:/");
	assert_int_equal(get("\"openhv.run=x y\" z", "openhv.run", v, sizeof(v)), 3);
	assert_string_equal(v, "x y");
	assert_int_equal(get("k=1 k=2\nk=3", "k", v, sizeof(v)), 1);
	assert_string_equal(v, "3");
	/* an unterminated quote runs to the end */
	assert_int_equal(get("k=\"a b c", "k", v, sizeof(v)), 5);
	assert_string_equal(v, "a b c");
	/* the length bound stops at a NUL and at len */
	assert_int_equal(init_cmdline_get("k=abc k=zz", 5, "k", v, sizeof(v)), 3);
	assert_string_equal(v, "abc");
	assert_int_equal(init_cmdline_get("k=ab\0k=zz", 10, "k", v, sizeof(v)), 2);
}

static void test_cmdline_truncation(void **state)
{
	char big[3000], v[16];

	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big, "k=", 2);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(get(big, "k", v, sizeof(v)), -INIT_ENAMETOOLONG);
	assert_int_equal(strlen(v), sizeof(v) - 1);
	assert_int_equal(get("k=v", "k", v, 0), -INIT_ENAMETOOLONG);
	assert_int_equal(get("k=", "k", v, 1), 0);
}

static void test_flag_value(void **state)
{
	(void)state;
	assert_true(init_flag_value(""));
	assert_true(init_flag_value("1"));
	assert_true(init_flag_value("yes"));
	assert_false(init_flag_value("0"));
	assert_false(init_flag_value("no"));
	assert_false(init_flag_value("11"));
}

static void test_runlist(void **state)
{
	const char *l = ";echo:a\\sb\\;c;;ls:/sys\\\\x;write:/p:l1\\nl2\\t;\\";
	char out[64];
	size_t pos = 0, len = strlen(l);

	(void)state;
	assert_int_equal(init_runlist_next(l, len, &pos, out, sizeof(out)), 10);
	assert_string_equal(out, "echo:a b;c");
	assert_int_equal(init_runlist_next(l, len, &pos, out, sizeof(out)), 9);
	assert_string_equal(out, "ls:/sys\\x");
	assert_int_equal(init_runlist_next(l, len, &pos, out, sizeof(out)), 15);
	assert_string_equal(out, "write:/p:l1\nl2\t");
	assert_int_equal(init_runlist_next(l, len, &pos, out, sizeof(out)), 1); /* a lone trailing backslash */
	assert_string_equal(out, "\\");
	assert_int_equal(init_runlist_next(l, len, &pos, out, sizeof(out)), 0);
	assert_int_equal(init_runlist_next(l, len, &pos, out, sizeof(out)), 0);
}

static void test_runlist_truncation(void **state)
{
	char out[5];
	size_t pos = 0;

	(void)state;
	assert_int_equal(init_runlist_next("abcdefgh;xy", 11, &pos, out, sizeof(out)), -INIT_ENAMETOOLONG);
	assert_string_equal(out, "abcd");
	assert_int_equal(init_runlist_next("abcdefgh;xy", 11, &pos, out, sizeof(out)), 2);
	assert_string_equal(out, "xy");
	assert_int_equal(init_runlist_next("abc", 3, &pos, out, 0), -INIT_ENAMETOOLONG);
}

static void test_cmd_split(void **state)
{
	char a[] = "write:/sys/x:1:2", b[] = "sync", c[] = "mount:/dev/sda:/mnt:ext4:ro,noload";
	char *f[4] = { NULL, NULL, NULL, NULL };

	(void)state;
	assert_int_equal(init_cmd_split(a, f, 2), 2);
	assert_string_equal(f[0], "write");
	assert_string_equal(f[1], "/sys/x:1:2");
	assert_int_equal(init_cmd_split(f[1], f, 2), 2);
	assert_string_equal(f[0], "/sys/x");
	assert_string_equal(f[1], "1:2");
	assert_int_equal(init_cmd_split(b, f, 2), 1);
	assert_string_equal(f[0], "sync");
	assert_int_equal(init_cmd_split(c + 6, f, 4), 4);
	assert_string_equal(f[0], "/dev/sda");
	assert_string_equal(f[3], "ro,noload");
	assert_int_equal(init_cmd_split(c, f, 0), 0);
}

static void test_modname(void **state)
{
	char n[16];

	(void)state;
	assert_int_equal(init_modname("kernel/drivers/hv/hv_vmbus.ko", 64, n, sizeof(n)), 8);
	assert_string_equal(n, "hv_vmbus");
	assert_int_equal(init_modname("kernel/x/hyperv-keyboard.ko.xz", 64, n, sizeof(n)), 15);
	assert_string_equal(n, "hyperv_keyboard");
	assert_int_equal(init_modname("hid-hyperv", 64, n, sizeof(n)), 10);
	assert_string_equal(n, "hid_hyperv");
	assert_int_equal(init_modname("a.kofoo.ko", 64, n, sizeof(n)), 7); /* ".ko" only as a suffix part */
	assert_string_equal(n, "a.kofoo");
	assert_int_equal(init_modname("dir/", 64, n, sizeof(n)), -INIT_EINVAL);
	assert_int_equal(init_modname(".ko", 64, n, sizeof(n)), -INIT_EINVAL);
	assert_int_equal(init_modname("", 64, n, sizeof(n)), -INIT_EINVAL);
	assert_int_equal(init_modname("a_very_long_module_name", 64, n, sizeof(n)), -INIT_ENAMETOOLONG);
	assert_int_equal(init_modname("hv_vmbus,hv_utils", 8, n, sizeof(n)), 8); /* length-bounded */
	assert_string_equal(n, "hv_vmbus");
}

/* From the stock Debian 6.1 modules.dep (paths shortened), with one line lacking its dependency's line. */
static const char moddep[] = "kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko\n"
			     "kernel/drivers/scsi/scsi_common.ko:\n"
			     "garbage line without colon\n"
			     "\n"
			     "kernel/drivers/hv/hv_vmbus.ko:\n"
			     "kernel/drivers/hv/hv_utils.ko: kernel/drivers/hv/hv_vmbus.ko\n"
			     "kernel/drivers/scsi/scsi_transport_fc.ko: kernel/drivers/scsi/scsi_mod.ko "
			     "kernel/drivers/scsi/scsi_common.ko\n"
			     "kernel/drivers/scsi/hv_storvsc.ko: kernel/drivers/scsi/scsi_transport_fc.ko "
			     "kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko kernel/drivers/hv/hv_vmbus.ko\n"
			     "kernel/drivers/hid/hid-hyperv.ko: kernel/drivers/hid/hid.ko kernel/drivers/hv/hv_vmbus.ko";

static void test_moddep_find(void **state)
{
	size_t off, len;

	(void)state;
	assert_int_equal(init_moddep_find(moddep, sizeof(moddep) - 1, "hv-utils", &off, &len), 0);
	assert_int_equal(strncmp(moddep + off, "kernel/drivers/hv/hv_utils.ko:", 30), 0);
	assert_int_equal(len, strlen("kernel/drivers/hv/hv_utils.ko: kernel/drivers/hv/hv_vmbus.ko"));
	/* the last line has no newline */
	assert_int_equal(init_moddep_find(moddep, sizeof(moddep) - 1, "hid_hyperv", &off, &len), 0);
	assert_int_equal(off + len, sizeof(moddep) - 1);
	assert_int_equal(init_moddep_find(moddep, sizeof(moddep) - 1, "hid", &off, &len), -INIT_ENOENT);
	assert_int_equal(init_moddep_find(moddep, sizeof(moddep) - 1, "garbage", &off, &len), -INIT_ENOENT);
	assert_int_equal(init_moddep_find(moddep, sizeof(moddep) - 1, "", &off, &len), -INIT_ENOENT);
	assert_int_equal(init_moddep_find("", 0, "x", &off, &len), -INIT_ENOENT);
}

static void assert_plan(const struct init_plan *p, const char *const *names, unsigned int n)
{
	unsigned int i;

	assert_int_equal(p->n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(p->e[i].name, names[i]);
}

static void test_plan_order(void **state)
{
	static const char *const want[] = { "hv_vmbus", "scsi_common", "scsi_mod", "scsi_transport_fc", "hv_storvsc",
					    "hv_utils", "hid", "hid_hyperv" };
	struct init_plan *p = calloc(1, sizeof(*p));
	const size_t len = sizeof(moddep) - 1;

	(void)state;
	assert_non_null(p);
	assert_int_equal(init_plan_add(p, moddep, len, "hv_storvsc"), 0);
	assert_int_equal(init_plan_add(p, moddep, len, "hv-utils"), 0);
	assert_int_equal(init_plan_add(p, moddep, len, "hv_vmbus"), 0); /* already there: no duplicate */
	assert_int_equal(init_plan_add(p, moddep, len, "hid-hyperv"), 0);
	assert_plan(p, want, 8);
	assert_int_equal(strncmp(moddep + p->e[4].path_off, "kernel/drivers/scsi/hv_storvsc.ko", p->e[4].path_len), 0);
	assert_int_equal(p->e[4].path_len, strlen("kernel/drivers/scsi/hv_storvsc.ko"));
	/* hid has no line of its own: added with the path named in hid-hyperv's line */
	assert_int_equal(p->e[6].no_line, 1);
	assert_int_equal(strncmp(moddep + p->e[6].path_off, "kernel/drivers/hid/hid.ko", p->e[6].path_len), 0);
	assert_int_equal(init_plan_add(p, moddep, len, "nosuch"), -INIT_ENOENT);
	assert_int_equal(init_plan_add(p, moddep, len, ""), -INIT_EINVAL);
	assert_int_equal(p->n, 8);
	assert_int_equal(init_plan_index(p, "hid-hyperv"), 7);
	assert_int_equal(init_plan_index(p, "nosuch"), -1);
	free(p);
}

/* A dependency cycle and a chain deeper than the bound end with an error, not a crash. */
static void test_plan_cycle_and_depth(void **state)
{
	const char cyc[] = "a.ko: b.ko\nb.ko: a.ko\n";
	char chain[2048];
	struct init_plan *p = calloc(1, sizeof(*p));
	size_t n = 0;
	int i;

	(void)state;
	assert_non_null(p);
	assert_int_equal(init_plan_add(p, cyc, sizeof(cyc) - 1, "a"), -INIT_ELOOP);
	assert_true(p->n <= INIT_PLAN_MAX);
	memset(p, 0, sizeof(*p));
	/* m0 needs m1 needs m2 ... m19 */
	for (i = 0; i < 19; i++)
		n += (size_t)snprintf(chain + n, sizeof(chain) - n, "m%d.ko: m%d.ko\n", i, i + 1);
	n += (size_t)snprintf(chain + n, sizeof(chain) - n, "m19.ko:\n");
	assert_int_equal(init_plan_add(p, chain, n, "m0"), -INIT_ELOOP);
	memset(p, 0, sizeof(*p));
	assert_int_equal(init_plan_add(p, chain, n, "m12"), 0);
	assert_int_equal(p->n, 8);
	assert_string_equal(p->e[0].name, "m19");
	assert_string_equal(p->e[7].name, "m12");
	free(p);
}

/* More modules than a plan holds: -ENOSPC, the plan stays within bounds. */
static void test_plan_full(void **state)
{
	char *buf = malloc(64 * 1024);
	struct init_plan *p = calloc(1, sizeof(*p));
	size_t n = 0;
	int i;

	(void)state;
	assert_non_null(buf);
	assert_non_null(p);
	n += (size_t)snprintf(buf + n, 64 * 1024 - n, "top.ko:");
	for (i = 0; i < INIT_DEPS_MAX; i++)
		n += (size_t)snprintf(buf + n, 64 * 1024 - n, " d%d.ko", i);
	n += (size_t)snprintf(buf + n, 64 * 1024 - n, "\n");
	/* the plan already holds all but 4 modules; top's dependencies have no lines and fill it */
	for (i = 0; i < INIT_PLAN_MAX - 4; i++)
		snprintf(p->e[p->n++].name, sizeof(p->e[0].name), "x%d", i);
	assert_int_equal(init_plan_add(p, buf, n, "top"), -INIT_ENOSPC);
	assert_int_equal(p->n, INIT_PLAN_MAX);
	free(p);
	free(buf);
}

/* The stock Debian 6.1 root-on-ext4 chain: ext4 and jbd2 name crypto-crc32c only as a soft dependency. */
static const char ext4_dep[] = "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"
			       "kernel/lib/crc16.ko:\n"
			       "kernel/fs/mbcache.ko:\n"
			       "kernel/fs/jbd2/jbd2.ko:\n"
			       "kernel/arch/x86/crypto/crc32c-intel.ko:\n"
			       "kernel/crypto/crc32c_generic.ko:\n"
			       "kernel/lib/crc-t10dif.ko: kernel/crypto/crct10dif_common.ko\n"
			       "kernel/crypto/crct10dif_common.ko:\n"
			       "kernel/crypto/crct10dif_generic.ko: kernel/crypto/crct10dif_common.ko\n"
			       "kernel/lib/loopy.ko:\n"
			       "kernel/lib/other.ko:\n";
static const char ext4_softdep[] = "# Soft dependencies extracted from modules themselves.\n"
				   "softdep jbd2 pre: crypto-crc32c\n"
				   "softdep ext4 pre: crypto-crc32c post: nosuch\n"
				   "softdep crc_t10dif pre: crct10dif\n"
				   "softdep loopy pre: other post: loopy\n"
				   "softdep other pre: loopy\n"
				   "softdep crc16 pre: missing-alias\n"
				   "softdep mbcache post: crc16";
static const char ext4_alias[] = "alias crypto-crc32c-intel crc32c_intel\n"
				 "alias crypto-crc32c crc32c_intel\n"
				 "alias cpu:type:x86,ven*fam*mod*:feature:*0094* crc32c_intel\n"
				 "alias crypto-crc32c-generic crc32c_generic\n"
				 "alias crypto-crc32c crc32c_generic\n"
				 "alias crc32c crc32c_generic\n"
				 "alias crct10dif crct10dif_generic\n"
				 "alias crypto-crc32cX wrong\n";

static void test_plan_softdep(void **state)
{
	static const char *const want[] = { "crc32c_intel", "crc32c_generic", "jbd2", "mbcache", "crc16", "ext4" };
	static const char *const want_t10[] = { "crct10dif_common", "crct10dif_generic", "crc_t10dif" };
	static const char *const want_plain[] = { "jbd2", "mbcache", "crc16", "ext4" };
	static const char *const want_cycle[] = { "other", "loopy" };
	struct init_moddb db = { ext4_dep, ext4_softdep, ext4_alias, sizeof(ext4_dep) - 1, sizeof(ext4_softdep) - 1,
				 sizeof(ext4_alias) - 1 };
	struct init_plan *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	/* pre: crypto-crc32c resolves through every matching alias line (not crypto-crc32cX), before jbd2 (its own
	 * softdep) and the rest; post: is ignored; an unresolvable pre: word (crc16's) is left out */
	assert_int_equal(init_plan_add_db(p, &db, "ext4"), 0);
	assert_plan(p, want, 6);
	/* a pre: word that is a module's alias whose module has dependencies of its own: those come first */
	memset(p, 0, sizeof(*p));
	assert_int_equal(init_plan_add_db(p, &db, "crc-t10dif"), 0);
	assert_plan(p, want_t10, 3);
	/* a soft dependency cycle (loopy pre other, other pre loopy) ends, each module once */
	memset(p, 0, sizeof(*p));
	assert_int_equal(init_plan_add_db(p, &db, "loopy"), 0);
	assert_plan(p, want_cycle, 2);
	/* without modules.softdep/modules.alias: modules.dep alone, as init_plan_add */
	memset(p, 0, sizeof(*p));
	db.softdep = db.alias = NULL;
	db.softdep_len = db.alias_len = 0;
	assert_int_equal(init_plan_add_db(p, &db, "ext4"), 0);
	assert_plan(p, want_plain, 4);
	/* the module named must exist in modules.dep */
	assert_int_equal(init_plan_add_db(p, &db, "nosuch"), -INIT_ENOENT);
	free(p);
}

static void test_strings(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(init_strlcpy(out, sizeof(out), "abcdef", 6), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(init_strlcpy(out, sizeof(out), "ab", 6), 2);
	assert_int_equal(init_strlcpy(out, 0, "ab", 2), 0);
	assert_true(init_startswith("openhv.run", "openhv."));
	assert_false(init_startswith("open", "openhv."));
	assert_int_equal(init_strnlen("abc", 2), 2);
	assert_true(init_streq("", ""));
	assert_false(init_streq("a", "ab"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline_basic),
		cmocka_unit_test(test_cmdline_quotes_and_last_wins),
		cmocka_unit_test(test_cmdline_truncation),
		cmocka_unit_test(test_flag_value),
		cmocka_unit_test(test_runlist),
		cmocka_unit_test(test_runlist_truncation),
		cmocka_unit_test(test_cmd_split),
		cmocka_unit_test(test_modname),
		cmocka_unit_test(test_moddep_find),
		cmocka_unit_test(test_plan_order),
		cmocka_unit_test(test_plan_cycle_and_depth),
		cmocka_unit_test(test_plan_full),
		cmocka_unit_test(test_plan_softdep),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

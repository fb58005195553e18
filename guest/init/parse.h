/* SPDX-License-Identifier: MIT */
/*
 * guest/init/parse.h - the pure text parsing of openhv-init: kernel command line parameters, the openhv.run
 * command list, module names and modules.dep. No system calls and no libc, so the same file builds into the
 * freestanding i386 guest program and into host unit tests (tests/unit/test_init_parse.c).
 *
 * Every input is a (pointer, length) pair that need not be NUL-terminated (a NUL also ends it); every output is
 * a caller buffer with its size in bytes, always NUL-terminated when size > 0. Errors are negative Linux errno
 * values (the INIT_E* below).
 */
#ifndef OPENHV_GUEST_INIT_PARSE_H
#define OPENHV_GUEST_INIT_PARSE_H

#include <stddef.h>

#define INIT_ENOENT 2
#define INIT_EEXIST 17
#define INIT_EINVAL 22
#define INIT_ENOSPC 28
#define INIT_ENAMETOOLONG 36
#define INIT_ELOOP 40

#define INIT_MODNAME_MAX 64 /* bytes, with the NUL (Linux MODULE_NAME_LEN is 56) */
#define INIT_PLAN_MAX 64    /* modules in one load plan */
#define INIT_PLAN_DEPTH 8   /* dependency recursion bound */
#define INIT_DEPS_MAX 48    /* dependencies of one modules.dep line that are followed */

size_t init_strnlen(const char *s, size_t max);
int init_streq(const char *a, const char *b);
/* Nonzero if s starts with prefix. */
int init_startswith(const char *s, const char *prefix);
/* Copy at most size - 1 bytes of (src, len) to out and terminate; returns the bytes copied. */
size_t init_strlcpy(char *out, size_t size, const char *src, size_t len);

/*
 * Find parameter @key (e.g. "openhv.run") in a kernel command line (Linux lib/cmdline.c next_arg rules:
 * words separated by white space outside double quotes). Double quotes are removed from the key and value.
 * The last occurrence wins. A bare word "key" has the empty value.
 * Returns the value's length in bytes (copied to out), -INIT_ENOENT if absent, -INIT_ENAMETOOLONG if the value
 * did not fit (out holds its truncated start).
 */
int init_cmdline_get(const char *cmdline, size_t len, const char *key, char *out, size_t size);

/* A flag value: 1 for "", "1", "y", "yes", "on", "true"; 0 otherwise. */
int init_flag_value(const char *value);

/*
 * Next command of an openhv.run list: the text from *pos up to an unescaped ';', unescaped into out
 * (\n newline, \t tab, \s space, \X -> X for any other X, e.g. \; \\). Empty commands are skipped.
 * Advances *pos past the separator. Returns the command's length (> 0), 0 at the end of the list,
 * -INIT_ENAMETOOLONG if it did not fit (the command is consumed; out holds its start).
 */
int init_runlist_next(const char *list, size_t len, size_t *pos, char *out, size_t size);

/*
 * Split a command "verb:a:b:rest" in place at ':' into at most @max fields (the last field keeps any further
 * colons). Returns the number of fields (>= 1); fields[] point into cmd.
 */
int init_cmd_split(char *cmd, char **fields, int max);

/*
 * Module name of a path or name: the part after the last '/', up to ".ko" (also ".ko.xz" etc.), with '-'
 * mapped to '_' (the kernel treats them alike). Returns its length, -INIT_EINVAL if empty,
 * -INIT_ENAMETOOLONG if longer than size - 1.
 */
int init_modname(const char *path, size_t len, char *out, size_t size);

/*
 * Find the modules.dep line ("kernel/x/name.ko: dep.ko ...") of module @name (normalised with init_modname).
 * Sets *off and *line_len to the line (without its newline) within buf. Returns 0 or -INIT_ENOENT.
 */
int init_moddep_find(const char *buf, size_t len, const char *name, size_t *off, size_t *line_len);

/* One module of a load plan: its name and the path of its file within the modules.dep buffer. */
struct init_plan_entry {
	char name[INIT_MODNAME_MAX];
	size_t path_off, path_len; /* bytes within the modules.dep buffer; the path is relative to its folder */
	int no_line;               /* named as a dependency but has no line of its own */
};

/* Modules in load order (dependencies first), without duplicates. Zero-initialise. */
struct init_plan {
	struct init_plan_entry e[INIT_PLAN_MAX];
	unsigned int n;
};

/* Index of @name (normalised) in the plan, or -1. */
int init_plan_index(const struct init_plan *plan, const char *name);

/*
 * Add module @name and, before it, its dependencies from modules.dep (buf, len) to @plan (each line's
 * dependency list is followed recursively, last first, as modprobe inserts them). A dependency without a line
 * of its own is still added with its path. Modules already in the plan are skipped.
 * Returns 0, -INIT_ENOENT if @name has no line, -INIT_ENOSPC if the plan is full, -INIT_ELOOP if the
 * dependencies nest deeper than INIT_PLAN_DEPTH, -INIT_EINVAL/-INIT_ENAMETOOLONG for a bad name. On an error
 * the modules added so far stay in the plan.
 */
int init_plan_add(struct init_plan *plan, const char *buf, size_t len, const char *name);

/*
 * The module database of one kernel, as modprobe reads it: modules.dep (required), modules.softdep and
 * modules.alias (either may be absent: NULL, 0). Buffers as read from the files, not necessarily terminated.
 */
struct init_moddb {
	const char *dep, *softdep, *alias;
	size_t dep_len, softdep_len, alias_len;
};

/*
 * init_plan_add with soft dependencies, as modprobe orders them: for every module added (the one named and each
 * of its dependencies) the "pre:" modules of its modules.softdep line ("softdep ext4 pre: crypto-crc32c") come
 * first, then its modules.dep dependencies, then the module. A pre: word names a module (modules.dep) or else an
 * alias (every "alias WORD module" line of modules.alias, exact match; e.g. crypto-crc32c -> crc32c_intel and
 * crc32c_generic), all of which are added. A soft dependency that cannot be resolved or added is left out
 * silently (it is optional to modprobe too, and the kernel may have it built in). "post:" words are ignored.
 * Returns as init_plan_add for @name and its hard dependencies.
 */
int init_plan_add_db(struct init_plan *plan, const struct init_moddb *db, const char *name);

#endif

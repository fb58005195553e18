/* SPDX-License-Identifier: MIT */
/*
 * guest/init/parse.c - text parsing of openhv-init (see parse.h). Pure functions: no system calls, no libc.
 */
#include "parse.h"

size_t init_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int init_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

int init_startswith(const char *s, const char *prefix)
{
	while (*prefix) {
		if (*s++ != *prefix++)
			return 0;
	}
	return 1;
}

size_t init_strlcpy(char *out, size_t size, const char *src, size_t len)
{
	size_t n = 0;

	if (!size)
		return 0;
	while (n < len && n + 1 < size && src[n]) {
		out[n] = src[n];
		n++;
	}
	out[n] = 0;
	return n;
}

static int init_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int init_memcmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] - (unsigned char)b[i];
	return 0;
}

int init_cmdline_get(const char *cmdline, size_t len, const char *key, char *out, size_t size)
{
	size_t i = 0;
	int found = -INIT_ENOENT;

	while (i < len && cmdline[i]) {
		size_t start, end, k, j, n;
		int quote = 0;

		while (i < len && cmdline[i] && init_is_space(cmdline[i]))
			i++;
		start = i;
		while (i < len && cmdline[i] && (quote || !init_is_space(cmdline[i]))) {
			if (cmdline[i] == '"')
				quote = !quote;
			i++;
		}
		end = i;
		if (start == end)
			break;
		/* compare the word's name (quotes skipped) with the key */
		for (k = start, j = 0; k < end; k++) {
			if (cmdline[k] == '"')
				continue;
			if (!key[j] || cmdline[k] != key[j])
				break;
			j++;
		}
		while (k < end && cmdline[k] == '"')
			k++;
		if (key[j] || !j)
			continue;
		if (k < end && cmdline[k] != '=')
			continue;
		/* a match: copy the value without its quotes */
		n = 0;
		found = 0;
		if (k < end)
			k++; /* '=' */
		for (; k < end; k++) {
			if (cmdline[k] == '"')
				continue;
			if (n + 1 >= size) {
				found = -INIT_ENAMETOOLONG;
				break;
			}
			out[n++] = cmdline[k];
		}
		if (size)
			out[n] = 0;
		if (!found)
			found = (int)n;
	}
	return found;
}

int init_flag_value(const char *v)
{
	return init_streq(v, "") || init_streq(v, "1") || init_streq(v, "y") || init_streq(v, "yes") ||
	       init_streq(v, "on") || init_streq(v, "true");
}

int init_runlist_next(const char *list, size_t len, size_t *pos, char *out, size_t size)
{
	size_t i = *pos;

	if (!size)
		return -INIT_ENAMETOOLONG;
	for (;;) {
		size_t n = 0;
		int trunc = 0;

		if (i >= len || !list[i]) {
			*pos = i;
			out[0] = 0;
			return 0;
		}
		while (i < len && list[i] && list[i] != ';') {
			char c = list[i++];

			if (c == '\\' && i < len && list[i]) {
				c = list[i++];
				if (c == 'n')
					c = '\n';
				else if (c == 't')
					c = '\t';
				else if (c == 's')
					c = ' ';
			}
			if (n + 1 < size)
				out[n++] = c;
			else
				trunc = 1;
		}
		if (i < len && list[i] == ';')
			i++;
		out[n] = 0;
		if (n || trunc) {
			*pos = i;
			return trunc ? -INIT_ENAMETOOLONG : (int)n;
		}
	}
}

int init_cmd_split(char *cmd, char **fields, int max)
{
	int n = 1;

	if (max < 1)
		return 0;
	fields[0] = cmd;
	while (*cmd && n < max) {
		if (*cmd == ':') {
			*cmd = 0;
			fields[n++] = cmd + 1;
		}
		cmd++;
	}
	return n;
}

int init_modname(const char *path, size_t len, char *out, size_t size)
{
	size_t start = 0, end, i, n;

	len = init_strnlen(path, len);
	for (i = 0; i < len; i++) {
		if (path[i] == '/')
			start = i + 1;
	}
	end = len;
	for (i = start; i + 3 <= len; i++) {
		if (path[i] == '.' && path[i + 1] == 'k' && path[i + 2] == 'o' && (i + 3 == len || path[i + 3] == '.')) {
			end = i;
			break;
		}
	}
	n = end - start;
	if (!n) {
		if (size)
			out[0] = 0;
		return -INIT_EINVAL;
	}
	if (n + 1 > size) {
		if (size)
			out[0] = 0;
		return -INIT_ENAMETOOLONG;
	}
	for (i = 0; i < n; i++)
		out[i] = path[start + i] == '-' ? '_' : path[start + i];
	out[n] = 0;
	return (int)n;
}

/* The next line of buf from *pos: sets *off and *n (without the newline); 0 at the end. */
static int init_line_next(const char *buf, size_t len, size_t *pos, size_t *off, size_t *n)
{
	size_t i = *pos;

	if (i >= len || !buf[i])
		return 0;
	*off = i;
	while (i < len && buf[i] && buf[i] != '\n')
		i++;
	*n = i - *off;
	*pos = (i < len && buf[i] == '\n') ? i + 1 : i;
	return 1;
}

int init_moddep_find(const char *buf, size_t len, const char *name, size_t *off, size_t *line_len)
{
	char want[INIT_MODNAME_MAX], have[INIT_MODNAME_MAX];
	size_t pos = 0, lo, ln;

	if (init_modname(name, INIT_MODNAME_MAX, want, sizeof(want)) < 0)
		return -INIT_ENOENT;
	while (init_line_next(buf, len, &pos, &lo, &ln)) {
		size_t c = 0;

		while (c < ln && buf[lo + c] != ':')
			c++;
		if (c == ln || !c)
			continue;
		if (init_modname(buf + lo, c, have, sizeof(have)) < 0)
			continue;
		if (init_streq(want, have)) {
			*off = lo;
			*line_len = ln;
			return 0;
		}
	}
	return -INIT_ENOENT;
}

int init_plan_index(const struct init_plan *plan, const char *name)
{
	char want[INIT_MODNAME_MAX];
	unsigned int i;

	if (init_modname(name, INIT_MODNAME_MAX, want, sizeof(want)) < 0)
		return -1;
	for (i = 0; i < plan->n && i < INIT_PLAN_MAX; i++) {
		if (init_streq(plan->e[i].name, want))
			return (int)i;
	}
	return -1;
}

static int init_plan_push(struct init_plan *plan, const char *name, size_t path_off, size_t path_len, int no_line)
{
	struct init_plan_entry *e;

	if (init_plan_index(plan, name) >= 0)
		return 0; /* added meanwhile (a dependency cycle) */
	if (plan->n >= INIT_PLAN_MAX)
		return -INIT_ENOSPC;
	e = &plan->e[plan->n++];
	init_strlcpy(e->name, sizeof(e->name), name, INIT_MODNAME_MAX);
	e->path_off = path_off;
	e->path_len = path_len;
	e->no_line = no_line;
	return 0;
}

/* The modules being expanded, innermost first: a soft dependency on one of them is a cycle and is skipped. */
struct init_chain {
	const char *name;
	const struct init_chain *up;
};

static int init_plan_add_depth(struct init_plan *plan, const struct init_moddb *db, const char *name, int depth,
			       const struct init_chain *up);

static int init_chain_has(const struct init_chain *c, const char *name)
{
	for (; c; c = c->up)
		if (init_streq(c->name, name))
			return 1;
	return 0;
}

/* Next white-space separated word of (buf, len) from *i: sets *wo and *wl; 0 at the end. */
static int init_word(const char *buf, size_t len, size_t *i, size_t *wo, size_t *wl)
{
	while (*i < len && init_is_space(buf[*i]))
		(*i)++;
	if (*i >= len)
		return 0;
	*wo = *i;
	while (*i < len && !init_is_space(buf[*i]))
		(*i)++;
	*wl = *i - *wo;
	return 1;
}

/* Does the word (w, wl) equal the NUL-terminated s? */
static int init_word_is(const char *w, size_t wl, const char *s)
{
	size_t n = init_strnlen(s, wl + 1);

	return n == wl && !init_memcmp(w, s, wl);
}

/* Length of the line of (buf, len) that starts at lo, without its newline. */
static size_t init_line_len(const char *buf, size_t len, size_t lo)
{
	size_t ln = 0;

	while (lo + ln < len && buf[lo + ln] != '\n')
		ln++;
	return ln;
}

/* Add the modules an alias (w, wl) names in modules.alias ("alias WORD module", exact match), each with its deps. */
static void init_plan_add_alias(struct init_plan *plan, const struct init_moddb *db, const char *w, size_t wl,
				int depth, const struct init_chain *up)
{
	size_t len = init_strnlen(db->alias, db->alias_len), lo, ln, i, wo, wn;
	char mod[INIT_MODNAME_MAX];

	for (lo = 0; lo < len; lo += ln + 1) {
		const char *line = db->alias + lo;

		ln = init_line_len(db->alias, len, lo);
		i = 0;
		if (!init_word(line, ln, &i, &wo, &wn) || !init_word_is(line + wo, wn, "alias") ||
		    !init_word(line, ln, &i, &wo, &wn) || wn != wl || init_memcmp(line + wo, w, wl) ||
		    !init_word(line, ln, &i, &wo, &wn) || init_modname(line + wo, wn, mod, sizeof(mod)) < 0)
			continue;
		if (init_plan_index(plan, mod) < 0 && !init_chain_has(up, mod))
			(void)init_plan_add_depth(plan, db, mod, depth + 1, up);
	}
}

/* The "pre:" soft dependencies of module @self (normalised), each resolved and added before it. */
static void init_plan_add_pre(struct init_plan *plan, const struct init_moddb *db, const char *self, int depth,
			      const struct init_chain *up)
{
	size_t len = init_strnlen(db->softdep, db->softdep_len), lo, ln, i, wo, wn, dlo, dln;
	char mod[INIT_MODNAME_MAX];
	int pre;

	for (lo = 0; lo < len; lo += ln + 1) {
		const char *line = db->softdep + lo;

		ln = init_line_len(db->softdep, len, lo);
		i = 0;
		if (!init_word(line, ln, &i, &wo, &wn) || !init_word_is(line + wo, wn, "softdep") ||
		    !init_word(line, ln, &i, &wo, &wn) || init_modname(line + wo, wn, mod, sizeof(mod)) < 0 ||
		    !init_streq(mod, self))
			continue;
		for (pre = 0; init_word(line, ln, &i, &wo, &wn);) {
			if (init_word_is(line + wo, wn, "pre:") || init_word_is(line + wo, wn, "post:")) {
				pre = init_word_is(line + wo, wn, "pre:");
			} else if (!pre) {
				continue;
			} else if (init_modname(line + wo, wn, mod, sizeof(mod)) >= 0 &&
				   init_moddep_find(db->dep, db->dep_len, mod, &dlo, &dln) == 0) {
				if (init_plan_index(plan, mod) < 0 && !init_chain_has(up, mod))
					(void)init_plan_add_depth(plan, db, mod, depth + 1, up);
			} else {
				init_plan_add_alias(plan, db, line + wo, wn, depth, up);
			}
		}
	}
}

static int init_plan_add_depth(struct init_plan *plan, const struct init_moddb *db, const char *name, int depth,
			       const struct init_chain *up)
{
	size_t dep_off[INIT_DEPS_MAX], dep_len[INIT_DEPS_MAX];
	char self[INIT_MODNAME_MAX], dep[INIT_MODNAME_MAX];
	struct init_chain me = { self, up };
	const char *buf = db->dep;
	size_t len = db->dep_len;
	size_t lo, ln, c, i;
	int ndeps = 0, r, err = 0;

	r = init_modname(name, INIT_MODNAME_MAX, self, sizeof(self));
	if (r < 0)
		return r;
	if (init_plan_index(plan, self) >= 0)
		return 0;
	if (depth > INIT_PLAN_DEPTH)
		return -INIT_ELOOP;
	r = init_moddep_find(buf, len, self, &lo, &ln);
	if (r < 0)
		return r;
	if (db->softdep_len)
		init_plan_add_pre(plan, db, self, depth, &me);
	if (init_plan_index(plan, self) >= 0)
		return 0; /* a soft dependency cycle added it meanwhile */
	for (c = 0; buf[lo + c] != ':'; c++)
		;
	/* the dependency words after the colon */
	i = c + 1;
	while (i < ln && ndeps < INIT_DEPS_MAX) {
		while (i < ln && init_is_space(buf[lo + i]))
			i++;
		if (i >= ln)
			break;
		dep_off[ndeps] = lo + i;
		while (i < ln && !init_is_space(buf[lo + i]))
			i++;
		dep_len[ndeps] = lo + i - dep_off[ndeps];
		ndeps++;
	}
	while (ndeps-- > 0) {
		if (init_modname(buf + dep_off[ndeps], dep_len[ndeps], dep, sizeof(dep)) < 0 ||
		    init_plan_index(plan, dep) >= 0)
			continue;
		r = init_plan_add_depth(plan, db, dep, depth + 1, &me);
		if (r == -INIT_ENOENT)
			r = init_plan_push(plan, dep, dep_off[ndeps], dep_len[ndeps], 1);
		if (r < 0 && !err)
			err = r;
		if (r == -INIT_ENOSPC)
			return r;
	}
	r = init_plan_push(plan, self, lo, c, 0);
	return r < 0 ? r : err;
}

int init_plan_add(struct init_plan *plan, const char *buf, size_t len, const char *name)
{
	struct init_moddb db = { .dep = buf, .dep_len = len };

	return init_plan_add_depth(plan, &db, name, 0, NULL);
}

int init_plan_add_db(struct init_plan *plan, const struct init_moddb *db, const char *name)
{
	return init_plan_add_depth(plan, db, name, 0, NULL);
}

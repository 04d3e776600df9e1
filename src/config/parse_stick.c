/* "stick-table type ... size ... [expire ...] [nopurge] [store ...]" in a
 * frontend, backend or listen section, read as HAProxy 2.6 does: its words
 * in any order, the first error stops the line, its sentences after
 * "stick-table: ". The table is named after its proxy; "peers" (replication
 * between processes) is not supported yet. The "stick on|match|store-request"
 * rules are not read here yet: they need the sample expressions of
 * src/rules (phase 2), so they stay "not supported yet". */
#include <stdlib.h>
#include <string.h>

#include "config/parse_int.h"
#include "core/strutil.h"
#include "core/units.h"

void cfg_stktable_free(struct cfg_stktable *t)
{
	if (!t)
		return;
	free(t->srvkey);
	free(t);
}

struct cfg_proxy *cfg_find_table(const struct cfg *c, const char *name)
{
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		if (px->table && !strcmp(px->name, name))
			return px;
	return NULL;
}

/* "type ip|ipv6|integer|string [len n]|binary [len n]" from w->w[*i] (past
 * "type"). Returns 0, or -1 leaving *i on the word HAProxy names in its
 * "unknown type" sentence, or -2 with *i on a "len" out of range. */
static int parse_type(struct cfg_words *w, int *i, struct stk_def *d)
{
	const char *t = w->w[*i] ? w->w[*i] : "";

	for (int k = 0; k < STK_KEY_TYPES; k++) {
		if (strcmp(t, stk_key_names[k]))
			continue;
		d->type = (enum stk_key_type)k;
		d->key_len = STK_DEFAULT_LEN;
		(*i)++;
		if ((k == STK_KEY_STR || k == STK_KEY_BIN) && w->w[*i] && !strcmp(w->w[*i], "len")) {
			(*i)++;
			long v = w->w[*i] ? atol(w->w[*i]) : 0;
			if (!v)
				return -1;
			if (v < 0 || v > STK_LEN_MAX)
				return -2; /* HAProxy wraps -1 to 4 GiB, a string's +1 to 0 */
			d->key_len = (unsigned)v;
			(*i)++;
		}
		return 0;
	}
	return -1;
}

/* HAProxy's parse_size_err: digits and a k, m or g; the first character it
 * cannot take, or NULL. */
static const char *size_bad_char(const char *s, unsigned *out)
{
	unsigned long long v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (unsigned)(*s++ - '0');
	switch (*s) {
	case 'k': case 'K': v <<= 10; s++; break;
	case 'm': case 'M': v <<= 20; s++; break;
	case 'g': case 'G': v <<= 30; s++; break;
	}
	*out = v > 0xffffffffULL ? 0xffffffffu : (unsigned)v;
	return *s ? s : NULL;
}

/* The character HAProxy's parse_time_err stops at in a bad duration. */
static char duration_bad_char(const char *s)
{
	static const char *const units[] = { "us", "ms", "s", "m", "h", "d" };

	while (*s >= '0' && *s <= '9')
		s++;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]) && *s; u++)
		if (!strncmp(s, units[u], strlen(units[u])) && s[strlen(units[u])])
			return s[strlen(units[u])];
	return *s;
}

/* "store a,b(c),..." items (the word after "store"). Returns 0 or -1. */
static int parse_store(struct pctx *p, const char *list, struct stk_def *d)
{
	char *copy = xstrdup(list), *item = copy, *end;
	int ret = 0;

	for (; *item && !ret; item = end) {
		char name[64];
		const char *msg;
		int warn, depth = 0;
		/* items are separated by commas outside parentheses */
		for (end = item; *end && (depth || *end != ','); end++)
			depth += *end == '(' ? 1 : *end == ')' ? -1 : 0;
		if (*end)
			*end++ = 0;
		msg = stk_def_store(d, item, name, sizeof(name), &warn);
		if (!msg)
			continue;
		{
			char sentence[256];
			snprintf(sentence, sizeof(sentence), msg, name);
			if (warn) {
				pwarn(p, "stick-table: %s", sentence);
			} else {
				perr(p, "stick-table: %s", sentence);
				ret = -1;
			}
		}
	}
	free(copy);
	if (!ret && (list = stk_def_conflict(d))) {
		perr(p, "stick-table: %s", list);
		ret = -1;
	}
	return ret;
}

/* The words after "stick-table", in any order. Returns 0 or -1 (reported). */
static int parse_words(struct pctx *p, struct cfg_words *w, struct cfg_stktable *t, int *has_type)
{
	struct stk_def *d = &t->def;

	for (int i = 1; i < w->n;) {
		const char *k = w->w[i], *v = w->w[i + 1];
		if (!strcmp(k, "type")) {
			i++;
			int rc = parse_type(w, &i, d);
			if (rc == -2) {
				perr(p, "stick-table: 'len' must be from 1 to %d, not '%s'.", STK_LEN_MAX, w->w[i]);
				return -1;
			}
			if (rc) {
				perr(p, "stick-table: unknown type '%s'.", w->w[i] ? w->w[i] : "");
				return -1;
			}
			*has_type = 1;
			continue;
		}
		if (!strcmp(k, "nopurge")) {
			d->nopurge = 1;
			i++;
			continue;
		}
		if (!strcmp(k, "size") || !strcmp(k, "expire") || !strcmp(k, "store") ||
		    !strcmp(k, "peers") || !strcmp(k, "srvkey")) {
			if (!v && strcmp(k, "srvkey")) {
				perr(p, "stick-table: missing argument after '%s'.", k);
				return -1;
			}
		} else {
			perr(p, "stick-table: unknown argument '%s'.", k);
			return -1;
		}
		i += 2;
		if (!strcmp(k, "size")) {
			const char *bad = size_bad_char(v, &d->size);
			if (bad) {
				perr(p, "stick-table: unexpected character '%c' in argument of 'size'.", *bad);
				return -1;
			}
		} else if (!strcmp(k, "expire")) {
			int64_t ms;
			const char *msg = parse_duration_ms(v, &ms);
			if (msg && strstr(msg, "range")) {
				perr(p, "stick-table: timer overflow in argument <%s> to <expire>, maximum value is 2147483647 ms (~24.8 days).", v);
				return -1;
			}
			if (msg) {
				perr(p, "stick-table: unexpected character '%c' in argument of 'expire'.",
				     duration_bad_char(v));
				return -1;
			}
			d->expire = (uint32_t)ms;
		} else if (!strcmp(k, "store")) {
			if (parse_store(p, v, d))
				return -1;
		} else if (!strcmp(k, "peers")) {
			perr(p, "stick-table: 'peers %s': replicating a table between processes is not supported yet", v);
			return -1;
		} else if (!v || (strcmp(v, "name") && strcmp(v, "addr"))) {
			perr(p, "stick-table : unknown server key type '%s'.", v ? v : "");
			return -1;
		} else {
			free(t->srvkey);
			t->srvkey = xstrdup(v);
		}
	}
	return 0;
}

void kw_stick_table(struct pctx *p, struct cfg_words *w)
{
	struct cfg_proxy *other;
	struct cfg_stktable *t;
	int has_type = 0;

	if (p->px->cap & PX_CAP_DEF) {
		perr(p, "'stick-table' is not supported in 'defaults' section.");
		return;
	}
	if ((other = cfg_find_table(p->c, p->px->name))) {
		perr(p, "stick-table name '%s' conflicts with table declared in %s '%s' at %s:%d.",
		     p->px->name, cfg_proxy_type(other), other->name, other->table->file,
		     other->table->line);
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->file = p->file;
	t->line = p->line;
	if (parse_words(p, w, t, &has_type)) {
		cfg_stktable_free(t);
		return;
	}
	if (!t->def.size)
		perr(p, "stick-table: missing size.");
	else if (!has_type)
		perr(p, "stick-table: missing type.");
	if (!t->def.size || !has_type) {
		cfg_stktable_free(t);
		return;
	}
	p->px->table = t;
}

/* The data part of stick-table entries: allocating an entry with its
 * slots, reading and updating a data type's elements, the filters of
 * "show/clear table" and HAProxy 2.6's "show table" line. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/stktable_int.h"

struct stksess *stk_entry_new(const struct stktable *t)
{
	size_t sz = sizeof(struct stksess) + (size_t)t->nslots * sizeof(union stk_slot);
	struct stksess *ts = calloc(1, sz + t->key_size);

	if (ts)
		ts->key = (unsigned char *)ts + sz;
	return ts;
}

void stk_entry_free(const struct stktable *t, struct stksess *ts)
{
	if (t->slot[STK_DT_SERVER_KEY] >= 0)
		free(ts->data[t->slot[STK_DT_SERVER_KEY]].dict);
	free(ts);
}

int stktable_stores(const struct stktable *t, int dt)
{
	return dt >= 0 && dt < STK_DT_N ? t->def.nbelem[dt] : 0;
}

/* The slot of element idx of dt, or NULL when not stored. */
static union stk_slot *slot_of(const struct stktable *t, const struct stksess *ts, int dt, int idx)
{
	if (dt < 0 || dt >= STK_DT_N || idx < 0 || idx >= t->def.nbelem[dt])
		return NULL;
	return (union stk_slot *)&ts->data[t->slot[dt] + idx];
}

/* The value of a slot as a number (what filters and fetches compare). */
static long long slot_value(const struct stktable *t, int dt, const union stk_slot *s, uint64_t now_ms)
{
	switch (stk_dt_descs[dt].kind) {
	case STK_K_SINT: return (int32_t)s->s;
	case STK_K_UINT: return (uint32_t)s->u;
	case STK_K_ULL: return (long long)s->u;
	case STK_K_RATE: return freq_ctr_read(&s->f, t->def.period[dt], now_ms);
	default: return 0;
	}
}

int stktable_data_get(struct stktable *t, struct stksess *ts, int dt, int idx, uint64_t now_ms,
		      long long *v)
{
	union stk_slot *s = slot_of(t, ts, dt, idx);

	if (!s || stk_dt_descs[dt].kind == STK_K_DICT)
		return -1;
	pthread_mutex_lock(&t->lock);
	*v = slot_value(t, dt, s, now_ms);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int stktable_data_add(struct stktable *t, struct stksess *ts, int dt, int idx, long long inc,
		      uint64_t now_ms)
{
	union stk_slot *s = slot_of(t, ts, dt, idx);

	if (!s || stk_dt_descs[dt].kind == STK_K_DICT)
		return -1;
	pthread_mutex_lock(&t->lock);
	switch (stk_dt_descs[dt].kind) {
	case STK_K_RATE:
		if (inc > 0)
			freq_ctr_add(&s->f, t->def.period[dt], (uint32_t)inc, now_ms);
		break;
	case STK_K_SINT:
		s->s = (int32_t)(s->s + inc);
		break;
	case STK_K_UINT: /* 32-bit counters wrap as HAProxy's; a decrement stops at 0 */
		s->u = inc < 0 && (long long)s->u < -inc ? 0 : (uint32_t)(s->u + (uint64_t)inc);
		break;
	default:
		s->u = inc < 0 && (long long)s->u < -inc ? 0 : s->u + (uint64_t)inc;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int stktable_data_set(struct stktable *t, struct stksess *ts, int dt, int idx, long long v,
		      uint64_t now_ms)
{
	union stk_slot *s = slot_of(t, ts, dt, idx);

	if (!s)
		return -1;
	pthread_mutex_lock(&t->lock);
	switch (stk_dt_descs[dt].kind) {
	case STK_K_RATE: freq_ctr_set(&s->f, (uint32_t)v, now_ms); break;
	case STK_K_SINT: s->s = (int32_t)v; break;
	case STK_K_UINT: s->u = (uint32_t)v; break;
	case STK_K_ULL: s->u = (uint64_t)v; break;
	default: break; /* a dictionary entry takes a name, not a number (as HAProxy) */
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int stktable_set_server_key(struct stktable *t, struct stksess *ts, const char *name)
{
	union stk_slot *s = slot_of(t, ts, STK_DT_SERVER_KEY, 0);
	char *copy = name ? strdup(name) : NULL, *old;

	if (!s || (name && !copy)) {
		free(copy);
		return -1;
	}
	pthread_mutex_lock(&t->lock);
	old = s->dict;
	s->dict = copy;
	pthread_mutex_unlock(&t->lock);
	free(old);
	return 0;
}

/* ---- filters ---------------------------------------------------------------- */

int stk_op_parse(const char *s)
{
	static const char *const ops[] = { "eq", "ne", "le", "ge", "lt", "gt" };

	for (int i = 0; i < 6; i++)
		if (!strcmp(s, ops[i]))
			return i;
	return -1;
}

int stk_entry_matches(const struct stktable *t, const struct stksess *ts, uint64_t now_ms,
		      const struct stk_filter *f, int nf)
{
	for (int i = 0; i < nf; i++) {
		const union stk_slot *s = slot_of(t, ts, f[i].dt, 0);
		long long d = s ? slot_value(t, f[i].dt, s, now_ms) : 0, v = f[i].value;
		int ok;
		switch (f[i].op) {
		case STK_OP_EQ: ok = d == v; break;
		case STK_OP_NE: ok = d != v; break;
		case STK_OP_LE: ok = d <= v; break;
		case STK_OP_GE: ok = d >= v; break;
		case STK_OP_LT: ok = d < v; break;
		default: ok = d > v; break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

/* ---- the "show table" line ------------------------------------------------------ */

struct out {
	char *buf;
	size_t len, pos;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->pos < o->len ? o->buf + o->pos : NULL, o->pos < o->len ? o->len - o->pos : 0,
		      fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

/* A string key as HAProxy's dump_text: printable ASCII as is, blanks,
 * backslash and '=' escaped, the rest as \xHH. */
static void put_text(struct out *o, const unsigned char *s, unsigned n)
{
	for (unsigned i = 0; i < n && s[i]; i++) {
		unsigned char c = s[i];
		const char *esc = c == '\t' ? "t" : c == '\n' ? "n" : c == '\r' ? "r" : c == 27 ? "e"
				: c == '\\' ? "\\" : c == ' ' ? " " : c == '=' ? "=" : NULL;
		if (esc)
			put(o, "\\%s", esc);
		else if (c >= 0x20 && c < 0x7f)
			put(o, "%c", c);
		else
			put(o, "\\x%02X", c);
	}
}

static void put_key(struct out *o, const struct stktable *t, const unsigned char *k)
{
	char a[INET6_ADDRSTRLEN];
	uint32_t u;

	put(o, " key=");
	switch (t->def.type) {
	case STK_KEY_IP: put(o, "%s", inet_ntop(AF_INET, k, a, sizeof(a))); break;
	case STK_KEY_IPV6: put(o, "%s", inet_ntop(AF_INET6, k, a, sizeof(a))); break;
	case STK_KEY_INT: memcpy(&u, k, 4); put(o, "%u", u); break;
	case STK_KEY_STR: put_text(o, k, t->key_size); break;
	default:
		for (unsigned i = 0; i < t->key_size; i++)
			put(o, "%02X", k[i]);
		break;
	}
}

static void put_value(struct out *o, const struct stktable *t, int dt, const union stk_slot *s,
		      uint64_t now_ms)
{
	switch (stk_dt_descs[dt].kind) {
	case STK_K_SINT: put(o, "%d", (int32_t)s->s); break;
	case STK_K_UINT: put(o, "%u", (uint32_t)s->u); break;
	case STK_K_ULL: put(o, "%llu", (unsigned long long)s->u); break;
	case STK_K_RATE: put(o, "%u", freq_ctr_read(&s->f, t->def.period[dt], now_ms)); break;
	case STK_K_DICT: put(o, "%s", s->dict ? s->dict : "-"); break;
	}
}

size_t stktable_format(const struct stktable *t, const struct stksess *ts, uint64_t now_ms,
		       char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	long long exp = ts->expire > now_ms ? (long long)(ts->expire - now_ms) : 0;

	if (len)
		buf[0] = 0;
	put_key(&o, t, stk_key_of(t, ts));
	put(&o, " use=%d exp=%lld", ts->ref, exp);
	for (int dt = 0; dt < STK_DT_N; dt++) {
		const struct stk_dt_desc *d = &stk_dt_descs[dt];
		for (int i = 0; i < t->def.nbelem[dt]; i++) {
			if (d->array) { /* element i of gpc_rate is gpc<i>_rate */
				const char *us = strchr(d->name, '_');
				int pfx = us ? (int)(us - d->name) : (int)strlen(d->name);
				put(&o, " %.*s%d%s", pfx, d->name, i, us ? us : "");
			} else {
				put(&o, " %s", d->name);
			}
			if (d->kind == STK_K_RATE)
				put(&o, "(%u)", t->def.period[dt]);
			put(&o, "=");
			put_value(&o, t, dt, &ts->data[t->slot[dt] + i], now_ms);
		}
	}
	return o.pos;
}

/* Stick counter fetches, as HAProxy 2.6 (doc 7.3.3): sc0_<x>, sc1_<x>,
 * sc2_<x> read the entry the session tracks in that counter (no sample when
 * it tracks none, or when its table does not store the data); sc_<x>(<n>)
 * the same for counter n; src_<x>([<table>]) looks the client's address up
 * in the table (default: the rule's proxy's) without tracking it: 0 when
 * there is no entry, no sample when the entry's table does not store the
 * data. inc_ and clr_ write (src_inc_* creates the entry). */
#include "rules/rules_int.h"

#include <string.h>

enum sck {
	K_CONN_CUR, K_CONN_CNT, K_CONN_RATE, K_SESS_CNT, K_SESS_RATE, K_BYTES_IN_RATE,
	K_BYTES_OUT_RATE, K_KBYTES_IN, K_KBYTES_OUT, K_GPC0_RATE, K_GPC1_RATE, K_GET_GPC0,
	K_GET_GPC1, K_GET_GPT0, K_INC_GPC0, K_INC_GPC1, K_CLR_GPC0, K_CLR_GPC1, K_TRACKED,
};

/* The data type each kind reads. */
static const int sck_dt[] = {
	[K_CONN_CUR] = STK_DT_CONN_CUR, [K_CONN_CNT] = STK_DT_CONN_CNT, [K_CONN_RATE] = STK_DT_CONN_RATE,
	[K_SESS_CNT] = STK_DT_SESS_CNT, [K_SESS_RATE] = STK_DT_SESS_RATE,
	[K_BYTES_IN_RATE] = STK_DT_BYTES_IN_RATE, [K_BYTES_OUT_RATE] = STK_DT_BYTES_OUT_RATE,
	[K_KBYTES_IN] = STK_DT_BYTES_IN_CNT, [K_KBYTES_OUT] = STK_DT_BYTES_OUT_CNT,
	[K_GPC0_RATE] = STK_DT_GPC0_RATE, [K_GPC1_RATE] = STK_DT_GPC1_RATE, [K_GET_GPC0] = STK_DT_GPC0,
	[K_GET_GPC1] = STK_DT_GPC1, [K_GET_GPT0] = STK_DT_GPT0, [K_INC_GPC0] = STK_DT_GPC0,
	[K_INC_GPC1] = STK_DT_GPC1, [K_CLR_GPC0] = STK_DT_GPC0, [K_CLR_GPC1] = STK_DT_GPC1,
	[K_TRACKED] = -1,
};

static int sint(struct sample *s, int64_t v)
{
	s->type = SMP_SINT;
	s->i = v;
	return 1;
}

/* Reads (or writes, for inc_/clr_) kind k of entry ts of t. */
static int entry_value(enum sck k, struct stktable *t, struct stksess *ts, uint64_t now, struct sample *s)
{
	int dt = sck_dt[k];
	long long v = 0;

	switch (k) {
	case K_INC_GPC0:
	case K_INC_GPC1: {
		int rate = k == K_INC_GPC0 ? STK_DT_GPC0_RATE : STK_DT_GPC1_RATE;
		int r1 = stktable_data_add(t, ts, rate, 0, 1, now), r2 = stktable_data_add(t, ts, dt, 0, 1, now);
		if (r1 && r2)
			return 0; /* neither stored */
		if (!r2)
			stktable_data_get(t, ts, dt, 0, now, &v);
		return sint(s, v);
	}
	case K_CLR_GPC0:
	case K_CLR_GPC1:
		/* the value before clearing, as HAProxy (two steps under the
		 * table's lock each: an increment between them is lost) */
		if (stktable_data_get(t, ts, dt, 0, now, &v))
			return 0;
		stktable_data_set(t, ts, dt, 0, 0, now);
		return sint(s, v);
	default:
		if (stktable_data_get(t, ts, dt, 0, now, &v))
			return 0;
		if (k == K_KBYTES_IN || k == K_KBYTES_OUT)
			v >>= 10;
		return sint(s, v);
	}
}

/* sc<n>_<k> and sc_<k>(<n>). */
static int sc_fetch(int n, enum sck k, const struct rule_ctx *c, struct sample *s)
{
	const struct track_ent *e = c->trk && n >= 0 && n < TRACK_SC_MAX ? &c->trk->e[n] : NULL;

	if (k == K_TRACKED) {
		s->type = SMP_BOOL;
		s->i = e && e->ts;
		return 1;
	}
	if (!e || !e->ts)
		return 0;
	return entry_value(k, e->t, e->ts, c->now_ms, s);
}

/* src_<k>([<table>]). */
static int src_fetch(const struct rarg *a, enum sck k, const struct rule_ctx *c, struct sample *s)
{
	struct stktable *t;
	struct stksess *ts;
	struct stk_key key;
	int r;

	if (a[0].tbl < 0 || a[0].tbl >= c->ntables || !c->src)
		return 0;
	t = c->tables[a[0].tbl];
	if (stktable_key_addr(t, c->src, &key))
		return sint(s, 0);
	if (k == K_INC_GPC0 || k == K_INC_GPC1)
		ts = stktable_get(t, &key, c->now_ms);
	else
		ts = stktable_lookup(t, &key, c->now_ms);
	if (!ts)
		return sint(s, 0);
	r = entry_value(k, t, ts, c->now_ms, s);
	if (k == K_INC_GPC0 || k == K_INC_GPC1)
		stktable_touch(t, ts, c->now_ms, 1);
	else
		stktable_release(t, ts);
	return r;
}

#define SC_FNS(K, k) \
	static int f_sc0_##k(const struct rarg *a, const struct rule_ctx *c, struct sample *s) \
	{ (void)a; return sc_fetch(0, K, c, s); } \
	static int f_sc1_##k(const struct rarg *a, const struct rule_ctx *c, struct sample *s) \
	{ (void)a; return sc_fetch(1, K, c, s); } \
	static int f_sc2_##k(const struct rarg *a, const struct rule_ctx *c, struct sample *s) \
	{ (void)a; return sc_fetch(2, K, c, s); } \
	static int f_sc_##k(const struct rarg *a, const struct rule_ctx *c, struct sample *s) \
	{ return sc_fetch((int)a[0].i, K, c, s); } \
	static int f_src_##k(const struct rarg *a, const struct rule_ctx *c, struct sample *s) \
	{ return src_fetch(a, K, c, s); }

SC_FNS(K_CONN_CUR, conn_cur)
SC_FNS(K_CONN_CNT, conn_cnt)
SC_FNS(K_CONN_RATE, conn_rate)
SC_FNS(K_SESS_CNT, sess_cnt)
SC_FNS(K_SESS_RATE, sess_rate)
SC_FNS(K_BYTES_IN_RATE, bytes_in_rate)
SC_FNS(K_BYTES_OUT_RATE, bytes_out_rate)
SC_FNS(K_KBYTES_IN, kbytes_in)
SC_FNS(K_KBYTES_OUT, kbytes_out)
SC_FNS(K_GPC0_RATE, gpc0_rate)
SC_FNS(K_GPC1_RATE, gpc1_rate)
SC_FNS(K_GET_GPC0, get_gpc0)
SC_FNS(K_GET_GPC1, get_gpc1)
SC_FNS(K_GET_GPT0, get_gpt0)
SC_FNS(K_INC_GPC0, inc_gpc0)
SC_FNS(K_INC_GPC1, inc_gpc1)
SC_FNS(K_CLR_GPC0, clr_gpc0)
SC_FNS(K_CLR_GPC1, clr_gpc1)

static int f_sc0_tracked(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{ (void)a; return sc_fetch(0, K_TRACKED, c, s); }
static int f_sc1_tracked(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{ (void)a; return sc_fetch(1, K_TRACKED, c, s); }
static int f_sc2_tracked(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{ (void)a; return sc_fetch(2, K_TRACKED, c, s); }
static int f_sc_tracked(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{ return sc_fetch((int)a[0].i, K_TRACKED, c, s); }

/* Arguments: o = an optional table (refused for now), t = an optional table
 * defaulting to the proxy's, I = the counter number. */
#define SC_DEFS(k) \
	{ "sc0_" #k, "o", SMP_SINT, RF_USE_L4, PM_INT, f_sc0_##k }, \
	{ "sc1_" #k, "o", SMP_SINT, RF_USE_L4, PM_INT, f_sc1_##k }, \
	{ "sc2_" #k, "o", SMP_SINT, RF_USE_L4, PM_INT, f_sc2_##k }, \
	{ "sc_" #k, "Io", SMP_SINT, RF_USE_L4, PM_INT, f_sc_##k }, \
	{ "src_" #k, "t", SMP_SINT, RF_USE_L4, PM_INT, f_src_##k }

static const struct fetch_def sc_fetches[] = {
	SC_DEFS(conn_cur), SC_DEFS(conn_cnt), SC_DEFS(conn_rate), SC_DEFS(sess_cnt), SC_DEFS(sess_rate),
	SC_DEFS(bytes_in_rate), SC_DEFS(bytes_out_rate), SC_DEFS(kbytes_in), SC_DEFS(kbytes_out),
	SC_DEFS(gpc0_rate), SC_DEFS(gpc1_rate), SC_DEFS(get_gpc0), SC_DEFS(get_gpc1), SC_DEFS(get_gpt0),
	SC_DEFS(inc_gpc0), SC_DEFS(inc_gpc1), SC_DEFS(clr_gpc0), SC_DEFS(clr_gpc1),
	{ "sc0_tracked", "o", SMP_BOOL, RF_USE_L4, PM_BOOL, f_sc0_tracked },
	{ "sc1_tracked", "o", SMP_BOOL, RF_USE_L4, PM_BOOL, f_sc1_tracked },
	{ "sc2_tracked", "o", SMP_BOOL, RF_USE_L4, PM_BOOL, f_sc2_tracked },
	{ "sc_tracked", "Io", SMP_BOOL, RF_USE_L4, PM_BOOL, f_sc_tracked },
	{ NULL, NULL, 0, 0, 0, NULL }
};

const struct fetch_def *fetch_sc_find(const char *name, size_t len)
{
	if (len < 3 || (memcmp(name, "sc", 2) && memcmp(name, "src_", len < 4 ? len : 4)))
		return NULL;
	for (const struct fetch_def *f = sc_fetches; f->name; f++)
		if (strlen(f->name) == len && !memcmp(f->name, name, len))
			return f;
	return NULL;
}

/* Stick counter actions of tcp-request rules (track-sc<n>, sc-inc-gpc0/1,
 * sc-set-gpt0) compiled and run, and what a session's tracked entries get
 * when it becomes a session and when it ends (rules/track.h). */
#include "rules/rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"

int rcomp_table(const struct rcomp *rc, const char *name)
{
	int i = 0;

	for (const struct cfg_proxy *px = rc->c->proxies; px; px = px->next)
		if (px->table) {
			if (!strcmp(px->name, name))
				return i;
			i++;
		}
	return -1;
}

static int is_cond_word(const char *w)
{
	return !strcmp(w, "if") || !strcmp(w, "unless");
}

/* "name(<n>)" or "name": the counter number, HAProxy's default 0. */
static int sc_arg(const char *act, size_t namelen)
{
	const char *p = act + namelen;

	return *p == '(' ? atoi(p + 1) : 0;
}

/* A sample expression from one word into a new rexpr. NULL after
 * reporting. */
static struct rexpr *word_expr(struct rcomp *rc, const char *where, const char *act, const char *w)
{
	struct rexpr *e = xcalloc(1, sizeof(*e));
	char err[1024];

	rc->raw_err = 0;
	if (expr_parse(rc, w, strlen(w), e, err, sizeof(err))) {
		cfg_error(rc->c, rc->file, rc->line, "'%s %s' : %s", where, act, err);
		expr_free(e);
		free(e);
		return NULL;
	}
	return e;
}

/* track-sc<n> <key> [table <t>]: the index of the word after it, or -1. */
static int parse_track(struct rcomp *rc, char *const *w, int n, int at, const char *where, struct track_act *a)
{
	const char *act = w[at], *tname = rc->px->name;
	int i = at + 1;

	a->kind = TA_TRACK;
	a->sc = atoi(act + 8);
	if (a->sc >= TRACK_SC_MAX) {
		cfg_error(rc->c, rc->file, rc->line, "'%s %s' : %d track-sc number exceeding %d (MAX_SESS_STKCTR-1) value",
			  where, act, a->sc, TRACK_SC_MAX - 1);
		return -1;
	}
	if (i >= n || is_cond_word(w[i]) || !strcmp(w[i], "table")) {
		cfg_error(rc->c, rc->file, rc->line, "'%s %s' : missing fetch method", where, act);
		return -1;
	}
	a->key = word_expr(rc, where, act, w[i++]);
	if (!a->key)
		return -1;
	if (i < n && !strcmp(w[i], "table")) {
		if (i + 1 >= n) {
			cfg_error(rc->c, rc->file, rc->line, "'%s %s' : missing table name", where, act);
			return -1;
		}
		tname = w[i + 1];
		i += 2;
	}
	if (i < n && !is_cond_word(w[i])) {
		cfg_error(rc->c, rc->file, rc->line, "'%s %s' : expects 'table' or 'if'/'unless' (got '%s')", where, act,
			  w[i]);
		return -1;
	}
	a->tbl = rcomp_table(rc, tname);
	if (a->tbl < 0) { /* HAProxy says it once the whole file is read, without a line */
		cfg_error(rc->c, rc->file, rc->line, "Proxy '%s': unable to find table '%s' referenced by track-sc%d.",
			  rc->px->name, tname, a->sc);
		return -1;
	}
	return i;
}

int track_act_parse(struct rcomp *rc, char *const *w, int n, int at, const char *where, struct track_act *a)
{
	static const struct { const char *name; enum track_kind kind; } sc[] = {
		{ "sc-inc-gpc0", TA_INC_GPC0 }, { "sc-inc-gpc1", TA_INC_GPC1 }, { "sc-set-gpt0", TA_SET_GPT0 },
	};
	const char *act = at < n ? w[at] : "";

	memset(a, 0, sizeof(*a));
	if (!strncmp(act, "track-sc", 8) && act[8] >= '0' && act[8] <= '9' && !act[9])
		return parse_track(rc, w, n, at, where, a);
	for (size_t k = 0; k < sizeof(sc) / sizeof(sc[0]); k++) {
		size_t l = strlen(sc[k].name);
		int i = at + 1;
		if (strncmp(act, sc[k].name, l) || (act[l] && act[l] != '('))
			continue;
		a->kind = sc[k].kind;
		a->sc = sc_arg(act, l);
		if (a->sc < 0 || a->sc >= TRACK_SC_MAX) {
			cfg_error(rc->c, rc->file, rc->line, "invalid stick table track ID. The max allowed ID is %d",
				  TRACK_SC_MAX - 1);
			return -1;
		}
		if (a->kind == TA_SET_GPT0 && i < n && !is_cond_word(w[i])) {
			/* as HAProxy: an integer, else a sample expression */
			char *end;
			a->val = strtoll(w[i], &end, 10);
			if (*end) {
				a->key = word_expr(rc, where, act, w[i]);
				if (!a->key)
					return -1;
			}
			i++;
		} /* without a value, HAProxy reads an empty integer: 0 */
		if (i < n && !is_cond_word(w[i])) {
			cfg_error(rc->c, rc->file, rc->line, "'%s %s' : expects 'if'/'unless' (got '%s')", where, act, w[i]);
			return -1;
		}
		return i;
	}
	return 0;
}

void track_act_free(struct track_act *a)
{
	if (a->key) {
		expr_free(a->key);
		free(a->key);
	}
	a->key = NULL;
}

int track_key_of(const struct stktable *t, struct sample *s, struct stk_key *k)
{
	static const enum smp_type want[STK_KEY_TYPES] = {
		[STK_KEY_IP] = SMP_IPV4, [STK_KEY_IPV6] = SMP_IPV6, [STK_KEY_INT] = SMP_SINT,
		[STK_KEY_STR] = SMP_STR, [STK_KEY_BIN] = SMP_BIN,
	};
	uint32_t v;

	if (smp_cast(s, want[t->def.type]))
		return -1;
	k->p = NULL;
	switch (t->def.type) {
	case STK_KEY_IP:
		memcpy(k->buf, s->ip, 4);
		k->len = 4;
		break;
	case STK_KEY_IPV6:
		memcpy(k->buf, s->ip, 16);
		k->len = 16;
		break;
	case STK_KEY_INT:
		v = (uint32_t)s->i;
		memcpy(k->buf, &v, 4);
		k->len = 4;
		break;
	default:
		k->p = s->p;
		k->len = s->len;
		break;
	}
	return 0;
}

/* track-sc<n>: as HAProxy's stream_track_stkctr + stream_start_counters. */
static enum rule_res run_track(const struct track_act *a, const struct rule_ctx *ctx, struct track_ent *ent)
{
	struct stktable *t;
	struct stksess *ts;
	struct sample s;
	struct stk_key k;
	int r;

	if (ent->ts || a->tbl >= ctx->ntables)
		return RULE_PASS; /* a counter already tracked stays as it is */
	t = ctx->tables[a->tbl];
	memset(&s, 0, offsetof(struct sample, buf));
	r = expr_eval(a->key, ctx, &s);
	if (r < 0)
		return RULE_MISS;
	if (r == 0 || track_key_of(t, &s, &k))
		return RULE_PASS;
	ts = stktable_get(t, &k, ctx->now_ms);
	if (!ts)
		return RULE_PASS; /* table full (nopurge): not tracked */
	ent->t = t;
	ent->ts = ts;
	stktable_data_add(t, ts, STK_DT_CONN_CUR, 0, 1, ctx->now_ms);
	stktable_data_add(t, ts, STK_DT_CONN_CNT, 0, 1, ctx->now_ms);
	stktable_data_add(t, ts, STK_DT_CONN_RATE, 0, 1, ctx->now_ms);
	stktable_touch(t, ts, ctx->now_ms, 0);
	return RULE_PASS;
}

enum rule_res track_act_run(const struct track_act *a, const struct rule_ctx *ctx)
{
	struct track_ent *ent;
	struct sample s;
	long long v = a->val;

	if (!ctx->trk)
		return RULE_PASS;
	ent = &ctx->trk->e[a->sc];
	if (a->kind == TA_TRACK)
		return run_track(a, ctx, ent);
	if (!ent->ts)
		return RULE_PASS; /* acts on a tracked counter only */
	switch (a->kind) {
	case TA_INC_GPC0:
	case TA_INC_GPC1: {
		int g1 = a->kind == TA_INC_GPC1;
		stktable_data_add(ent->t, ent->ts, g1 ? STK_DT_GPC1_RATE : STK_DT_GPC0_RATE, 0, 1, ctx->now_ms);
		stktable_data_add(ent->t, ent->ts, g1 ? STK_DT_GPC1 : STK_DT_GPC0, 0, 1, ctx->now_ms);
		break;
	}
	case TA_SET_GPT0:
		if (a->key) {
			int r;
			memset(&s, 0, offsetof(struct sample, buf));
			r = expr_eval(a->key, ctx, &s);
			if (r < 0)
				return RULE_MISS;
			if (r == 0 || smp_cast(&s, SMP_SINT))
				return RULE_PASS;
			v = s.i;
		}
		stktable_data_set(ent->t, ent->ts, STK_DT_GPT0, 0, v, ctx->now_ms);
		break;
	default:
		break;
	}
	stktable_touch(ent->t, ent->ts, ctx->now_ms, 0);
	return RULE_PASS;
}

void track_session_new(struct track_set *s, uint64_t now_ms)
{
	for (int i = 0; i < TRACK_SC_MAX; i++) {
		struct track_ent *e = &s->e[i];
		if (!e->ts)
			continue;
		stktable_data_add(e->t, e->ts, STK_DT_SESS_CNT, 0, 1, now_ms);
		stktable_data_add(e->t, e->ts, STK_DT_SESS_RATE, 0, 1, now_ms);
	}
}

void track_end(struct track_set *s, uint64_t bytes_in, uint64_t bytes_out, uint64_t now_ms)
{
	for (int i = 0; i < TRACK_SC_MAX; i++) {
		struct track_ent *e = &s->e[i];
		if (!e->ts)
			continue;
		if (bytes_in) {
			stktable_data_add(e->t, e->ts, STK_DT_BYTES_IN_CNT, 0, (long long)bytes_in, now_ms);
			stktable_data_add(e->t, e->ts, STK_DT_BYTES_IN_RATE, 0, (long long)bytes_in, now_ms);
		}
		if (bytes_out) {
			stktable_data_add(e->t, e->ts, STK_DT_BYTES_OUT_CNT, 0, (long long)bytes_out, now_ms);
			stktable_data_add(e->t, e->ts, STK_DT_BYTES_OUT_RATE, 0, (long long)bytes_out, now_ms);
		}
		stktable_data_add(e->t, e->ts, STK_DT_CONN_CUR, 0, -1, now_ms);
		stktable_touch(e->t, e->ts, now_ms, 1);
		e->t = NULL;
		e->ts = NULL;
	}
}

void stick_store_apply(struct stick_state *st, int srv_id, const char *srv_name, uint64_t now_ms)
{
	for (int i = 0; st && i < st->n; i++) {
		struct stick_store *x = &st->st[i];
		struct stk_key k = { .p = x->key, .len = x->len };
		struct stksess *ts = stktable_get(x->t, &k, now_ms);
		if (!ts)
			continue;
		stktable_data_set(x->t, ts, STK_DT_SERVER_ID, 0, srv_id, now_ms);
		if (stktable_stores(x->t, STK_DT_SERVER_KEY))
			stktable_set_server_key(x->t, ts, srv_name);
		stktable_touch(x->t, ts, now_ms, 1);
	}
	if (st)
		st->n = 0;
}

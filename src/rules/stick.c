/* stick on|match|store-request rules of a backend: client persistence
 * through a stick table's server_id, as HAProxy 2.6's
 * process_sticking_rules (match and remember the key at server choice)
 * and process_store_rules (write the server once it is connected:
 * track.c's stick_store_apply). */
#include "rules/rules_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"

int stick_rule_compile(struct rcomp *rc, struct acl **acls, int nacl, char *const *w, int n,
		       struct stick_rule *sr)
{
	const char *tname = rc->px->name, *kind = n > 1 ? w[1] : "";
	struct cfg_proxy *tp;
	int i = 3;

	memset(sr, 0, sizeof(*sr));
	if (!strcmp(kind, "on"))
		sr->flags = STK_ON;
	else if (!strcmp(kind, "match"))
		sr->flags = STK_MATCH;
	else if (!strcmp(kind, "store-request"))
		sr->flags = STK_STORE;
	if (n < 3 || !strcmp(w[2], "table") || !strcmp(w[2], "if") || !strcmp(w[2], "unless")) {
		cfg_error(rc->c, rc->file, rc->line, "'stick' expects a fetch method.");
		return -1;
	}
	sr->key = xcalloc(1, sizeof(*sr->key));
	{
		char err[1024];
		rc->raw_err = 0;
		if (expr_parse(rc, w[2], strlen(w[2]), sr->key, err, sizeof(err))) {
			cfg_error(rc->c, rc->file, rc->line, "'stick %s' : %s", kind, err);
			goto bad;
		}
	}
	if (i < n && !strcmp(w[i], "table")) {
		if (i + 1 >= n) {
			cfg_error(rc->c, rc->file, rc->line, "'stick %s' : missing table name", kind);
			goto bad;
		}
		tname = w[i + 1];
		i += 2;
	}
	if (i < n && strcmp(w[i], "if") && strcmp(w[i], "unless")) {
		cfg_error(rc->c, rc->file, rc->line, "'stick %s' : expects 'table', 'if' or 'unless' (got '%s')", kind,
			  w[i]);
		goto bad;
	}
	if (i < n) {
		sr->cond = rcond_parse(rc, acls, nacl, w + i, n - i, "sticking rule");
		if (!sr->cond)
			goto bad;
	}
	tp = cfg_find_table(rc->c, tname);
	if (!tp) { /* HAProxy says it once the whole file is read, without a line */
		cfg_error(rc->c, rc->file, rc->line, "Proxy '%s': unable to find stick-table '%s'.", rc->px->name, tname);
		goto bad;
	}
	/* as HAProxy: a table a stick rule uses stores the server, by id and name */
	tp->table->def.nbelem[STK_DT_SERVER_ID] = 1;
	tp->table->def.nbelem[STK_DT_SERVER_KEY] = 1;
	sr->tbl = rcomp_table(rc, tname);
	return 0;
bad:
	stick_rule_free(sr);
	return -1;
}

void stick_rule_free(struct stick_rule *sr)
{
	if (sr->key) {
		expr_free(sr->key);
		free(sr->key);
	}
	rcond_free(sr->cond);
	memset(sr, 0, sizeof(*sr));
}

/* The running server of be whose id is id. Backend lock taken here. */
static struct server *server_by_id(struct backend *be, long long id)
{
	struct server *v = NULL;

	backend_lock(be);
	for (int k = 0; k < be->nsrv; k++)
		if (be->srv[k]->id == id) {
			v = be->srv[k];
			break;
		}
	/* HAProxy: a server that is not stopped; draining ones keep their clients */
	if (v && (!v->up || (v->flags & (SRV_F_ANY_MAINT | SRV_F_DELETED))))
		v = NULL;
	backend_unlock(be);
	return v;
}

/* Remembers k for t, unless a store for t is already pending (HAProxy keeps
 * the first store rule of each table). */
static void keep_store(struct stick_state **stp, struct stktable *t, const struct stk_key *k)
{
	struct stick_state *st = *stp;
	struct stick_store *x;
	const void *p = k->p ? k->p : k->buf;

	if (!st)
		st = *stp = xcalloc(1, sizeof(*st));
	if (st->n >= STICK_STORE_MAX)
		return;
	x = &st->st[st->n++];
	x->t = t;
	x->len = k->len < STICK_KEY_MAX ? k->len : STICK_KEY_MAX;
	memcpy(x->key, p, x->len);
}

static int store_pending(const struct stick_state *st, const struct stktable *t)
{
	for (int i = 0; st && i < st->n; i++)
		if (st->st[i].t == t)
			return 1;
	return 0;
}

/* One rule (see rules_stick in rules.h). */
static enum rule_res stick_one(const struct stick_rule *sr, const struct rule_ctx *ctx, struct backend *be,
			       struct server **srv, struct stick_state **st)
{
	struct stktable *t;
	struct sample s;
	struct stk_key k;
	enum rule_res res;
	int r;

	if (sr->tbl < 0 || sr->tbl >= ctx->ntables)
		return RULE_FAIL;
	t = ctx->tables[sr->tbl];
	if ((sr->flags & STK_STORE) && store_pending(*st, t))
		return RULE_FAIL;
	res = sr->cond ? rcond_eval(sr->cond, ctx) : RULE_PASS;
	if (res != RULE_PASS)
		return res;
	memset(&s, 0, offsetof(struct sample, buf));
	r = expr_eval(sr->key, ctx, &s);
	if (r < 0)
		return RULE_MISS;
	if (r == 0 || track_key_of(t, &s, &k))
		return RULE_FAIL;
	if ((sr->flags & STK_MATCH) && !*srv) {
		struct stksess *ts = stktable_lookup(t, &k, ctx->now_ms);
		long long id;
		if (ts) {
			if (!stktable_data_get(t, ts, STK_DT_SERVER_ID, 0, ctx->now_ms, &id) && id)
				*srv = server_by_id(be, id);
			stktable_touch(t, ts, ctx->now_ms, 1);
		}
	}
	if (sr->flags & STK_STORE)
		keep_store(st, t, &k);
	return RULE_FAIL;
}

enum rule_res stick_rules_eval(const struct stick_rule *sr, int n, const struct rule_ctx *ctx, struct backend *be,
			       struct server **srv, struct stick_state **st)
{
	*srv = NULL;
	if (*st)
		(*st)->n = 0; /* evaluated again (content inspection): start over */
	for (int i = 0; i < n; i++)
		if (stick_one(&sr[i], ctx, be, srv, st) == RULE_MISS)
			return RULE_MISS;
	return *srv ? RULE_PASS : RULE_FAIL;
}

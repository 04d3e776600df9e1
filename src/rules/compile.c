/* The rules of every proxy compiled from their lines (cfg_proxy.rlines),
 * and their evaluation: tcp-request connection and content, use_backend
 * (static or %[expr] names), use-server. */
#include "rules/rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"
#include "core/strutil.h"
#include "rules/logformat.h"

/* The actions of tcp-request connection and content rules. */
enum tcp_act { TA_ACCEPT, TA_REJECT, TA_EXPECT_PROXY };

/* What an action tells the evaluation loop. */
enum act_ret { ACT_CONT, ACT_ACCEPT, ACT_REJECT, ACT_MISS };

struct conn_rule {
	enum tcp_act act;
	struct rule_cond *cond;    /* NULL: always */
	struct track_act *track;   /* a counter action (track.c), NULL: act says what to do */
	const char *file;          /* its line (the cfg's text, which the generation keeps as
	                              long as its rules): a content reject's verdict */
	int line;
	int counters;              /* its condition reads stick counters (sc*_, src_*) */
};

/* A piece of a use_backend name: literal text, or a sample expression. */
struct name_part {
	char *lit;
	struct rexpr *e;
};

struct sw_rule {
	struct rule_cond *cond;
	int be;                    /* static: index into ctx->bes; -1: dynamic */
	struct name_part *parts;
	int nparts;
};

struct srv_rule {
	struct rule_cond *cond;
	int srv;                   /* its position among the backend's servers */
	char *name;
};

struct px_rules {
	unsigned flags;            /* RULES_F_* */
	struct acl **acls;
	int nacl;
	struct conn_rule *conn;
	int nconn;
	struct conn_rule *cnt;     /* tcp-request content */
	int ncnt;
	struct sw_rule *sw;
	int nsw;
	struct srv_rule *srv;
	int nsrv;
	struct stick_rule *stk;    /* stick on|match|store-request (stick.c) */
	int nstk;
};

struct rules_set {
	struct px_rules **px;
	int npx;
	struct logfmt **lfs;       /* the frontends' log-format strings (logformat.c) */
	int nlf;
	struct rcomp rc;           /* its maps and predefined ACLs */
};

#define GROW(arr, n) do { \
	(arr) = realloc((arr), (size_t)((n) + 1) * sizeof(*(arr))); \
	if (!(arr)) abort(); \
	memset(&(arr)[n], 0, sizeof(*(arr))); \
} while (0)

unsigned rules_flags(const struct px_rules *r)
{
	return r ? r->flags : 0;
}

static void px_rules_free(struct px_rules *r)
{
	for (int i = 0; i < r->nacl; i++)
		acl_free(r->acls[i]);
	for (int i = 0; i < r->nconn; i++) {
		rcond_free(r->conn[i].cond);
		if (r->conn[i].track) {
			track_act_free(r->conn[i].track);
			free(r->conn[i].track);
		}
	}
	for (int i = 0; i < r->nstk; i++)
		stick_rule_free(&r->stk[i]);
	free(r->stk);
	for (int i = 0; i < r->ncnt; i++) {
		rcond_free(r->cnt[i].cond);
		if (r->cnt[i].track) {
			track_act_free(r->cnt[i].track);
			free(r->cnt[i].track);
		}
	}
	for (int i = 0; i < r->nsw; i++) {
		rcond_free(r->sw[i].cond);
		for (int k = 0; k < r->sw[i].nparts; k++) {
			free(r->sw[i].parts[k].lit);
			if (r->sw[i].parts[k].e) {
				expr_free(r->sw[i].parts[k].e);
				free(r->sw[i].parts[k].e);
			}
		}
		free(r->sw[i].parts);
	}
	for (int i = 0; i < r->nsrv; i++) {
		rcond_free(r->srv[i].cond);
		free(r->srv[i].name);
	}
	free(r->acls);
	free(r->conn);
	free(r->cnt);
	free(r->sw);
	free(r->srv);
	free(r);
}

static void set_free(void *p)
{
	struct rules_set *s = p;

	for (int i = 0; i < s->npx; i++)
		px_rules_free(s->px[i]);
	for (int i = 0; i < s->nlf; i++)
		lf_free(s->lfs[i]);
	free(s->lfs);
	for (int i = 0; i < s->rc.nmaps; i++) {
		pat_free(s->rc.maps[i]);
		free(s->rc.maps[i]);
		free(s->rc.map_keys[i]);
	}
	for (int i = 0; i < s->rc.nbuiltin; i++)
		acl_free(s->rc.builtin[i]);
	free(s->rc.builtin);
	free(s->rc.maps);
	free(s->rc.map_keys);
	free(s->px);
	free(s);
}

/* The condition from w[at] on (NULL: none, always true). *bad set after
 * an error (reported). */
static struct rule_cond *cond_at(struct rcomp *rc, struct px_rules *r, const struct cfg_rline *l, int at,
				 const char *what, int *bad)
{
	struct rule_cond *c;

	if (at >= l->n)
		return NULL;
	c = rcond_parse(rc, r->acls, r->nacl, l->w + at, l->n - at, what);
	if (!c)
		*bad = 1;
	return c;
}

/* RULES_F_PGPARAM and RULES_F_TLSHELLO of what a rule reads (use: the
 * RF_* bits of its fetches, a condition's or an expression's). */
static unsigned reads(unsigned use)
{
	return (use & RF_PG_PARAMS ? RULES_F_PGPARAM : 0) | (use & RF_TLS_HELLO ? RULES_F_TLSHELLO : 0);
}

static unsigned cond_reads(const struct rule_cond *c)
{
	return c ? reads(c->use) : 0;
}

static unsigned expr_reads(const struct rexpr *e)
{
	return e && e->f ? reads(e->f->use) : 0;
}

/* The condition reads a stick counter: one of its ACLs uses an sc*_ or
 * src_* fetch (fetch_sc.c). */
static int cond_counters(const struct rule_cond *c)
{
	for (int i = 0; c && i < c->ns; i++)
		for (int k = 0; k < c->s[i].n; k++) {
			const struct acl *a = c->s[i].t[k].acl;
			for (int x = 0; x < a->nx; x++) {
				const struct fetch_def *f = a->x[x].e.f;
				if (f && fetch_sc_find(f->name, strlen(f->name)) == f)
					return 1;
			}
		}
	return 0;
}

/* HAProxy's warnings for content fetches in a tcp-request connection rule. */
static void warn_content(struct rcomp *rc, const struct rule_cond *c)
{
	const char *type = cfg_proxy_type(rc->px);

	for (int i = 0; c && i < c->ns; i++)
		for (int k = 0; k < c->s[i].n; k++) {
			const struct acl *a = c->s[i].t[k].acl;
			if (!(a->use & RF_USE_CONTENT))
				continue;
			if (!a->name)
				cfg_warn(rc->c, rc->file, rc->line,
					 "anonymous acl will never match in 'tcp-request connection' because it uses keyword '%s' which is incompatible with '%s tcp-request connection rule'",
					 a->x[0].e.f->name, type);
			else if (!(a->use & RF_USE_L4))
				cfg_warn(rc->c, rc->file, rc->line,
					 "acl '%s' will never match in 'tcp-request connection' because it only involves keywords that are incompatible with '%s tcp-request connection rule'",
					 a->name, type);
		}
}

static int be_index(const struct cfg *c, const char *name)
{
	int i = 0;

	for (const struct cfg_proxy *px = c->proxies; px; px = px->next)
		if (px->cap & PX_CAP_BE) {
			if (!strcmp(px->name, name))
				return i;
			i++;
		}
	return -1;
}

/* "text%[expr]text...": the parts of a dynamic backend name. */
static int parse_name(struct rcomp *rc, struct sw_rule *sw, const char *t, char *err, size_t errlen)
{
	while (*t) {
		const char *pc = strchr(t, '%');
		struct name_part *np;
		if (pc != t) {
			size_t l = pc ? (size_t)(pc - t) : strlen(t);
			GROW(sw->parts, sw->nparts);
			np = &sw->parts[sw->nparts++];
			np->lit = strndup(t, l);
			t += l;
			continue;
		}
		if (t[1] != '[') {
			snprintf(err, errlen, "log-format variable '%.8s' is an HAProxy keyword that ferry does not support yet", t);
			return -1;
		}
		{
			const char *end = strchr(t + 2, ']');
			if (!end) {
				snprintf(err, errlen, "missing ']' in sample expression <%s>", t + 2);
				return -1;
			}
			GROW(sw->parts, sw->nparts);
			np = &sw->parts[sw->nparts++];
			np->e = xcalloc(1, sizeof(*np->e));
			rc->raw_err = 0;
			if (expr_parse(rc, t + 2, (size_t)(end - t - 2), np->e, err, errlen)) {
				char *tmp = strdup(err);
				snprintf(err, errlen, "failed to parse sample expression <%.200s> : %.700s.", t + 2,
					 tmp ? tmp : "");
				free(tmp);
				return -1;
			}
			t = end + 1;
		}
	}
	return 0;
}

/* tcp-request connection track-sc<n>|sc-inc-gpc0|sc-inc-gpc1|sc-set-gpt0 */
/* A counter action of a tcp-request rule (track.c): into the connection
 * rules, or the content rules (track-sc only there: content rules run again
 * from the first on each arrival of bytes, and only track-sc is idempotent,
 * a counter already tracked being left as it is). */
static void compile_track_act(struct rcomp *rc, struct px_rules *r, const struct cfg_rline *l, int content)
{
	const char *where = content ? "tcp-request content" : "tcp-request connection";
	struct conn_rule cr = { TA_ACCEPT, NULL, xcalloc(1, sizeof(struct track_act)), l->file, l->line, 0 };
	int bad = 0, at = track_act_parse(rc, l->w, l->n, 2, where, cr.track);

	if (at > 0)
		cr.cond = cond_at(rc, r, l, at, content ? "'tcp-request content' rule" : "'tcp-request connection' rule",
				  &bad);
	if (at <= 0 || bad) {
		track_act_free(cr.track);
		free(cr.track);
		return;
	}
	if (content) {
		GROW(r->cnt, r->ncnt);
		r->cnt[r->ncnt++] = cr;
		r->flags |= RULES_F_INSPECT | RULES_F_DST | RULES_F_TRACK | cond_reads(cr.cond) |
			    expr_reads(cr.track->key);
		return;
	}
	warn_content(rc, cr.cond);
	GROW(r->conn, r->nconn);
	r->conn[r->nconn++] = cr;
	r->flags |= RULES_F_CONN | RULES_F_DST | RULES_F_TRACK;
}

/* stick on|match|store-request */
static void compile_stick(struct rcomp *rc, struct px_rules *r, const struct cfg_rline *l)
{
	struct stick_rule sr;

	if (stick_rule_compile(rc, r->acls, r->nacl, l->w, l->n, &sr))
		return;
	if (sr.cond && (sr.cond->use & RF_USE_CONTENT))
		r->flags |= RULES_F_CONTENT;
	GROW(r->stk, r->nstk);
	r->stk[r->nstk++] = sr;
	r->flags |= RULES_F_STICK | RULES_F_DST | cond_reads(sr.cond) | expr_reads(sr.key);
}

static void compile_line(struct rcomp *rc, struct px_rules *r, const struct cfg_rline *l)
{
	char err[1200];
	int bad = 0;

	rc->file = l->file;
	rc->line = l->line;
	switch (l->kind) {
	case RL_ACL:
		acl_add_line(rc, &r->acls, &r->nacl, l->w[1], l->w + 2, l->n - 2);
		break;
	case RL_TCP_CONN: {
		int px = !strcmp(l->w[2], "expect-proxy"); /* "expect-proxy layer4" */
		if (!px && strcmp(l->w[2], "accept") && strcmp(l->w[2], "reject")) {
			compile_track_act(rc, r, l, 0);
			break;
		}
		struct conn_rule cr = { px ? TA_EXPECT_PROXY : !strcmp(l->w[2], "reject") ? TA_REJECT : TA_ACCEPT,
					cond_at(rc, r, l, px ? 4 : 3, "'tcp-request connection' rule", &bad), NULL,
					l->file, l->line, 0 };
		if (bad)
			break;
		warn_content(rc, cr.cond);
		GROW(r->conn, r->nconn);
		r->conn[r->nconn++] = cr;
		r->flags |= RULES_F_CONN | RULES_F_DST;
		break;
	}
	case RL_TCP_CONTENT: {
		if (strcmp(l->w[2], "accept") && strcmp(l->w[2], "reject")) {
			compile_track_act(rc, r, l, 1);
			break;
		}
		struct conn_rule cr = { !strcmp(l->w[2], "reject") ? TA_REJECT : TA_ACCEPT,
					cond_at(rc, r, l, 3, "'tcp-request content' rule", &bad), NULL, l->file,
					l->line, 0 };
		if (bad)
			break;
		cr.counters = cond_counters(cr.cond);
		GROW(r->cnt, r->ncnt);
		r->cnt[r->ncnt++] = cr;
		r->flags |= RULES_F_INSPECT | RULES_F_DST | cond_reads(cr.cond);
		break;
	}
	case RL_USE_BACKEND: {
		struct sw_rule sw = { cond_at(rc, r, l, 2, "switching rule", &bad), -1, NULL, 0 };
		if (bad)
			break;
		if (strstr(l->w[1], "%[") || strchr(l->w[1], '%')) {
			if (parse_name(rc, &sw, l->w[1], err, sizeof(err))) {
				cfg_error(rc->c, l->file, l->line, "failed to parse use_backend rule '%s' : %s", l->w[1], err);
				struct px_rules tmp = { 0 };
				tmp.sw = xcalloc(1, sizeof(sw));
				tmp.sw[0] = sw;
				tmp.nsw = 1;
				px_rules_free(memcpy(xcalloc(1, sizeof(tmp)), &tmp, sizeof(tmp)));
				break;
			}
		} else {
			sw.be = be_index(rc->c, l->w[1]);
			if (sw.be < 0) {
				cfg_error(rc->c, l->file, l->line, "Proxy '%s': unable to find required use_backend: '%s'.",
					  rc->px->name, l->w[1]);
				rcond_free(sw.cond);
				break;
			}
		}
		if (sw.cond && (sw.cond->use & RF_USE_CONTENT))
			r->flags |= RULES_F_CONTENT;
		r->flags |= cond_reads(sw.cond);
		for (int k = 0; k < sw.nparts; k++)
			r->flags |= expr_reads(sw.parts[k].e);
		GROW(r->sw, r->nsw);
		r->sw[r->nsw++] = sw;
		r->flags |= RULES_F_SWITCH | RULES_F_DST;
		break;
	}
	case RL_STICK:
		compile_stick(rc, r, l);
		break;
	case RL_USE_SERVER: {
		struct srv_rule sr = { cond_at(rc, r, l, 2, "'use-server' rule", &bad), -1, NULL };
		int k = 0;
		if (bad)
			break;
		for (const struct cfg_server *s = rc->px->servers; s; s = s->next, k++)
			if (!strcmp(s->name, l->w[1]))
				sr.srv = k;
		if (sr.srv < 0) {
			cfg_error(rc->c, l->file, l->line,
				  "%s '%s' : unable to find server '%s' referenced in a 'use-server' rule.",
				  cfg_proxy_type(rc->px), rc->px->name, l->w[1]);
			rcond_free(sr.cond);
			break;
		}
		sr.name = xstrdup(l->w[1]);
		if (sr.cond && (sr.cond->use & RF_USE_CONTENT))
			r->flags |= RULES_F_CONTENT;
		r->flags |= cond_reads(sr.cond);
		GROW(r->srv, r->nsrv);
		r->srv[r->nsrv++] = sr;
		r->flags |= RULES_F_SERVER | RULES_F_DST;
		break;
	}
	}
}

int rules_compile(struct cfg *c)
{
	struct rules_set *set = xcalloc(1, sizeof(*set));
	int nerr = c->nerr;

	set->rc.c = c;
	for (struct cfg_proxy *px = c->proxies; px; px = px->next) {
		struct px_rules *r;
		set->rc.px = px;
		px->clogfmt = NULL;
		if (px->logformat && (px->cap & PX_CAP_FE) && px->cap != PX_CAP_DEF) {
			set->rc.file = px->lf_file;
			set->rc.line = px->lf_line;
			GROW(set->lfs, set->nlf);
			set->lfs[set->nlf] = lf_compile(&set->rc, px->logformat);
			px->clogfmt = set->lfs[set->nlf++];
		}
		if (!px->rlines.n)
			continue;
		r = xcalloc(1, sizeof(*r));
		set->rc.px = px;
		for (int i = 0; i < px->rlines.n; i++)
			compile_line(&set->rc, r, &px->rlines.v[i]);
		GROW(set->px, set->npx);
		set->px[set->npx++] = r;
		px->crules = r;
	}
	if (c->rules && c->rules_free)
		c->rules_free(c->rules);
	c->rules = set;
	c->rules_free = set_free;
	return c->nerr - nerr;
}

/* ---- evaluation ------------------------------------------------------------ */

int rules_conn_accept(const struct px_rules *r, const struct rule_ctx *ctx, unsigned *acts)
{
	struct rule_ctx l4;

	if (ctx->pg || ctx->pg_flags) { /* nothing is read at accept: pg.* give no sample */
		l4 = *ctx;
		l4.pg = NULL;
		l4.pg_flags = 0;
		ctx = &l4;
	}
	for (int i = 0; r && i < r->nconn; i++) {
		const struct conn_rule *cr = &r->conn[i];
		if (cr->cond && rcond_eval(cr->cond, ctx) != RULE_PASS)
			continue;
		if (cr->track) {
			track_act_run(cr->track, ctx); /* at accept: never RULE_MISS */
			continue;
		}
		if (cr->act == TA_EXPECT_PROXY) {
			if (acts)
				*acts |= RULE_ACT_EXPECT_PROXY;
			continue;
		}
		return cr->act == TA_ACCEPT;
	}
	return 1;
}

enum rule_res rules_stick(const struct px_rules *r, const struct rule_ctx *ctx, struct backend *be,
			  struct server **srv, struct stick_state **st)
{
	*srv = NULL;
	if (!r || !r->nstk)
		return RULE_FAIL;
	return stick_rules_eval(r->stk, r->nstk, ctx, be, srv, st);
}

/* The one place content rules' actions run (see rules.h). */
static enum act_ret content_action(const struct conn_rule *cr, const struct rule_ctx *ctx)
{
	if (cr->track) /* track-sc: its key may need more bytes */
		return track_act_run(cr->track, ctx) == RULE_MISS ? ACT_MISS : ACT_CONT;
	switch (cr->act) {
	case TA_ACCEPT:
		return ACT_ACCEPT;
	case TA_REJECT:
		return ACT_REJECT;
	default:
		return ACT_CONT;
	}
}

enum rule_res rules_content(const struct px_rules *r, const struct rule_ctx *ctx)
{
	for (int i = 0; r && i < r->ncnt; i++) {
		const struct conn_rule *cr = &r->cnt[i];
		enum act_ret a;
		if (cr->cond) {
			enum rule_res res = rcond_eval(cr->cond, ctx);
			if (res == RULE_MISS)
				return RULE_MISS;
			if (res != RULE_PASS)
				continue;
		}
		a = content_action(cr, ctx);
		if (a == ACT_MISS)
			return RULE_MISS;
		if (a == ACT_REJECT && ctx->verdict) {
			ctx->verdict->file = cr->file;
			ctx->verdict->line = cr->line;
			ctx->verdict->counters = cr->counters;
		}
		if (a != ACT_CONT)
			return a == ACT_ACCEPT ? RULE_PASS : RULE_FAIL;
	}
	return RULE_PASS;
}

/* The backend a dynamic name designates, -1 when none. */
static int dynamic_backend(const struct sw_rule *sw, const struct rule_ctx *ctx)
{
	char name[256];
	size_t n = 0;
	struct sample s;

	for (int i = 0; i < sw->nparts; i++) {
		const uint8_t *p;
		size_t l;
		if (sw->parts[i].lit) {
			p = (const uint8_t *)sw->parts[i].lit;
			l = strlen(sw->parts[i].lit);
		} else {
			s.idx = 0;
			if (expr_eval(sw->parts[i].e, ctx, &s) < 1 || smp_cast(&s, SMP_STR))
				continue; /* as HAProxy's log-format: nothing for a missing sample */
			p = s.p;
			l = s.len;
		}
		if (n + l >= sizeof(name))
			return -1;
		memcpy(name + n, p, l);
		n += l;
	}
	name[n] = 0;
	for (int i = 0; i < ctx->nbe; i++)
		if (!strcmp(ctx->bes[i]->name, name))
			return i;
	return -1;
}

enum rule_res rules_pick_backend(const struct px_rules *r, const struct rule_ctx *ctx, int *be_idx)
{
	for (int i = 0; r && i < r->nsw; i++) {
		const struct sw_rule *sw = &r->sw[i];
		enum rule_res res = sw->cond ? rcond_eval(sw->cond, ctx) : RULE_PASS;
		if (res == RULE_MISS)
			return RULE_MISS;
		if (res != RULE_PASS)
			continue;
		*be_idx = sw->be >= 0 ? sw->be : dynamic_backend(sw, ctx);
		/* as HAProxy: a dynamic name that is no backend ends the rules, the
		 * default backend is used */
		return *be_idx >= 0 ? RULE_PASS : RULE_FAIL;
	}
	return RULE_FAIL;
}

int rules_backend_targets(const struct px_rules *r, unsigned char *mark, int nbe)
{
	for (int i = 0; r && i < r->nsw; i++) {
		if (r->sw[i].be < 0)
			return -1;
		if (r->sw[i].be < nbe)
			mark[r->sw[i].be] = 1;
	}
	return 0;
}

enum rule_res rules_pick_server(const struct px_rules *r, const struct rule_ctx *ctx, struct backend *be,
				struct server **srv)
{
	for (int i = 0; r && i < r->nsrv; i++) {
		const struct srv_rule *sr = &r->srv[i];
		struct server *v = NULL;
		enum rule_res res = sr->cond ? rcond_eval(sr->cond, ctx) : RULE_PASS;
		int up;
		if (res == RULE_MISS)
			return RULE_MISS;
		if (res != RULE_PASS)
			continue;
		backend_lock(be);
		if (sr->srv < be->nsrv && !strcmp(be->srv[sr->srv]->name, sr->name))
			v = be->srv[sr->srv];
		for (int k = 0; !v && k < be->nsrv; k++)
			if (!strcmp(be->srv[k]->name, sr->name))
				v = be->srv[k];
		up = v && v->up && !(v->flags & (SRV_F_ANY_MAINT | SRV_F_DELETED));
		backend_unlock(be);
		if (up) { /* as HAProxy: a server that is not running skips the rule */
			*srv = v;
			return RULE_PASS;
		}
	}
	return RULE_FAIL;
}

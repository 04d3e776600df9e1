/* ACLs and conditions, as HAProxy 2.6's section 7: "acl <name> <fetch>
 * [flags] [operator] <value> ...", several lines of one name OR'ed, and
 * "if|unless [!]acl1 acl2 || { anonymous } ..." with AND binding tighter
 * than OR, evaluated in HAProxy's three-valued logic. */
#include "rules/rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"

/* The match method an expression gets without -m: its fetch's (HAProxy's
 * table), or after converters, the one of the output type. */
static enum pat_m default_match(const struct rexpr *e)
{
	if (!e->nconv)
		return e->f->match;
	switch (e->out) {
	case SMP_BOOL: return PM_BOOL;
	case SMP_SINT: return PM_INT;
	case SMP_IPV4:
	case SMP_IPV6: return PM_IP;
	case SMP_BIN: return PM_BIN;
	default: return PM_STR;
	}
}

static int acl_parse_expr(struct rcomp *rc, struct acl_expr *x, char *const *w, int n, char *err,
			  size_t errlen)
{
	const char *files[64];
	int nfiles = 0, icase = 0, mapfile = 0, i = 1, m = -1, npat = 0;
	const char *op = NULL;

	if (expr_parse(rc, w[0], strlen(w[0]), &x->e, err, errlen)) {
		size_t l = strlen(err);
		if (!rc->raw_err)
			snprintf(err + l, errlen - l, " in ACL expression '%s'.", w[0]);
		return -1;
	}
	for (; i < n && w[i][0] == '-' && w[i][1]; i++) {
		const char *f = w[i];
		if (!strcmp(f, "--")) {
			i++;
			break;
		} else if (!strcmp(f, "-i")) {
			icase = 1;
		} else if (!strcmp(f, "-n")) {
			/* HAProxy: forbid DNS resolution; nothing resolves here */
		} else if (!strcmp(f, "-M")) {
			mapfile = 1;
		} else if (!strcmp(f, "-f") || !strcmp(f, "-m") || !strcmp(f, "-u")) {
			if (i + 1 >= n) {
				snprintf(err, errlen, "'%s' expects an argument.", f);
				return -1;
			}
			i++;
			if (f[1] == 'f' && nfiles < 64) {
				files[nfiles++] = w[i];
			} else if (f[1] == 'm') {
				for (m = 0; m < PM_N && strcmp(pat_m_names[m], w[i]); m++)
					;
				if (m == PM_N) {
					snprintf(err, errlen, "unknown matching method '%s' when parsing ACL expression.", w[i]);
					return -1;
				}
			}
		} else if (f[1] >= '0' && f[1] <= '9') {
			break; /* a negative number */
		} else {
			snprintf(err, errlen, "'%s' is not a valid pattern flag.", f);
			return -1;
		}
	}
	x->pats = xcalloc(1, sizeof(*x->pats));
	pat_init(x->pats, m >= 0 ? (enum pat_m)m : default_match(&x->e), icase);
	x->pats->dotted_ver = !strcmp(x->e.f->name, "req.ssl_ver") || !strcmp(x->e.f->name, "req_ssl_ver");
	for (; i < n; i++) {
		if ((x->pats->m == PM_INT || x->pats->m == PM_LEN) &&
		    (!strcmp(w[i], "eq") || !strcmp(w[i], "ge") || !strcmp(w[i], "gt") ||
		     !strcmp(w[i], "le") || !strcmp(w[i], "lt")) && !op) {
			op = w[i];
			continue;
		}
		if (pat_add(x->pats, w[i], op, NULL, err, errlen))
			return -1;
		op = NULL;
		npat++;
	}
	for (int f = 0; f < nfiles; f++) {
		if (pat_load_file(x->pats, files[f], mapfile, err, errlen))
			return -1;
		npat++;
	}
	if (!npat && x->pats->m != PM_FOUND && x->pats->m != PM_BOOL &&
	    (i == 1 || strcmp(w[i - 1], "--"))) {
		cfg_warn(rc->c, rc->file, rc->line,
			 "parsing acl keyword '%s' : no pattern to match against were provided, so this ACL will never match. "
			 "If this is what you intended, please add '--' to get rid of this warning. "
			 "If you intended to match only for existence, please use '-m found'. "
			 "If you wanted to force an int to match as a bool, please use '-m bool'.",
			 x->e.f->name);
	}
	x->never = !npat && x->pats->m != PM_FOUND && x->pats->m != PM_BOOL;
	return 0;
}

static struct acl *acl_new(const char *name, struct rcomp *rc)
{
	struct acl *a = xcalloc(1, sizeof(*a));

	a->name = name ? xstrdup(name) : NULL;
	a->file = rc->file;
	a->line = rc->line;
	return a;
}

/* Adds one expression (words) to a. Returns 0, or -1 with err. */
static int acl_add_expr(struct rcomp *rc, struct acl *a, char *const *w, int n, char *err, size_t errlen)
{
	struct acl_expr *x;

	if (n < 1) {
		snprintf(err, errlen, "missing fetch method.");
		return -1;
	}
	a->x = realloc(a->x, (size_t)(a->nx + 1) * sizeof(*a->x));
	if (!a->x)
		abort();
	x = &a->x[a->nx++];
	memset(x, 0, sizeof(*x));
	rc->raw_err = 0;
	if (acl_parse_expr(rc, x, w, n, err, errlen))
		return -1;
	a->use |= x->e.f->use;
	return 0;
}

int acl_add_line(struct rcomp *rc, struct acl ***acls, int *nacl, const char *name, char *const *w, int n)
{
	struct acl *a = NULL;
	char err[1024];

	for (int i = 0; i < *nacl; i++)
		if (!strcmp((*acls)[i]->name, name))
			a = (*acls)[i];
	if (!a) {
		a = acl_new(name, rc);
		*acls = realloc(*acls, (size_t)(*nacl + 1) * sizeof(**acls));
		if (!*acls)
			abort();
		(*acls)[(*nacl)++] = a;
	}
	if (acl_add_expr(rc, a, w, n, err, sizeof(err))) {
		if (rc->raw_err)
			cfg_error(rc->c, rc->file, rc->line, "%s", err);
		else
			cfg_error(rc->c, rc->file, rc->line, "error detected while parsing ACL '%s' : %s", name, err);
		a->nx--; /* the failed expression is not kept */
		expr_free(&a->x[a->nx].e);
		if (a->x[a->nx].pats) {
			pat_free(a->x[a->nx].pats);
			free(a->x[a->nx].pats);
		}
		return -1;
	}
	return 0;
}

/* HAProxy's predefined ACLs (section 7.4) that mean something for TCP. */
static const struct { const char *name; const char *w[4]; } builtins[] = {
	{ "TRUE", { "always_true" } },
	{ "FALSE", { "always_false" } },
	{ "LOCALHOST", { "src", "127.0.0.1/8", "::1" } },
	{ "REQ_CONTENT", { "req.len", "gt", "0" } },
};
static const char *const http_builtins[] = {
	"HTTP", "HTTP_1.0", "HTTP_1.1", "HTTP_CONTENT", "HTTP_URL_ABS", "HTTP_URL_SLASH",
	"HTTP_URL_STAR", "METH_CONNECT", "METH_DELETE", "METH_GET", "METH_HEAD", "METH_OPTIONS",
	"METH_POST", "METH_PUT", "METH_TRACE", "RDP_COOKIE", "WAIT_END", NULL
};

static struct acl *find_builtin(struct rcomp *rc, const char *name)
{
	char err[256];

	for (int i = 0; i < rc->nbuiltin; i++)
		if (!strcmp(rc->builtin[i]->name, name))
			return rc->builtin[i];
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		struct acl *a;
		int n = 0;
		if (strcmp(builtins[i].name, name))
			continue;
		while (n < 4 && builtins[i].w[n])
			n++;
		a = acl_new(name, rc);
		a->builtin = 1;
		if (acl_add_expr(rc, a, (char *const *)builtins[i].w, n, err, sizeof(err)))
			abort(); /* our own table is wrong */
		rc->builtin = realloc(rc->builtin, (size_t)(rc->nbuiltin + 1) * sizeof(*rc->builtin));
		if (!rc->builtin)
			abort();
		rc->builtin[rc->nbuiltin++] = a;
		return a;
	}
	return NULL;
}

static int add_term(struct rule_cond *c, struct acl *a, int neg, int anon)
{
	struct cond_suite *s = &c->s[c->ns - 1];

	s->t = realloc(s->t, (size_t)(s->n + 1) * sizeof(*s->t));
	if (!s->t)
		abort();
	s->t[s->n].acl = a;
	s->t[s->n].neg = neg;
	s->t[s->n].anon = anon;
	s->n++;
	c->use |= a->use;
	return 0;
}

static void new_suite(struct rule_cond *c)
{
	c->s = realloc(c->s, (size_t)(c->ns + 1) * sizeof(*c->s));
	if (!c->s)
		abort();
	memset(&c->s[c->ns++], 0, sizeof(c->s[0]));
}

struct rule_cond *rcond_parse(struct rcomp *rc, struct acl **acls, int nacl, char *const *w, int n,
			     const char *what)
{
	struct rule_cond *c = xcalloc(1, sizeof(*c));
	char err[1024];
	int neg = 0;

	c->unless = !strcmp(w[0], "unless");
	new_suite(c);
	for (int i = 1; i < n; i++) {
		const char *word = w[i];
		struct acl *a = NULL;
		if (!strcmp(word, "!")) {
			neg = !neg;
			continue;
		}
		if (!strcmp(word, "||") || !strcmp(word, "or")) {
			new_suite(c);
			neg = 0;
			continue;
		}
		while (*word == '!') { /* "!acl", and "!{" as HAProxy takes it */
			neg = !neg;
			word++;
		}
		if (!*word)
			continue;
		if (!strcmp(word, "{")) {
			int j = i + 1;
			while (j < n && strcmp(w[j], "}"))
				j++;
			if (j == n) {
				cfg_error(rc->c, rc->file, rc->line,
					  "error detected while parsing %s : missing closing '}' in condition.", what);
				goto fail;
			}
			a = acl_new(NULL, rc);
			if (acl_add_expr(rc, a, w + i + 1, j - i - 1, err, sizeof(err))) {
				if (rc->raw_err)
					cfg_error(rc->c, rc->file, rc->line, "%s", err);
				else
					cfg_error(rc->c, rc->file, rc->line,
						  "error detected while parsing %s : error detected while parsing ACL : %s",
						  what, err);
				acl_free(a);
				goto fail;
			}
			add_term(c, a, neg, 1);
			neg = 0;
			i = j;
			continue;
		}
		for (int k = 0; k < nacl && !a; k++)
			if (!strcmp(acls[k]->name, word))
				a = acls[k];
		if (!a)
			a = find_builtin(rc, word);
		if (!a) {
			int http = 0;
			for (int k = 0; http_builtins[k]; k++)
				http |= !strcmp(http_builtins[k], word);
			if (http)
				cfg_error(rc->c, rc->file, rc->line,
					  "predefined ACL '%s' is an HAProxy keyword that ferry does not support yet", word);
			else
				cfg_error(rc->c, rc->file, rc->line,
					  "error detected while parsing %s : no such ACL : '%s'.", what, word);
			goto fail;
		}
		add_term(c, a, neg, 0);
		neg = 0;
	}
	return c;
fail:
	rcond_free(c);
	return NULL;
}

/* One value of x's fetch against its patterns. */
static enum rule_res value_match(const struct acl_expr *x, struct sample *s)
{
	enum pat_m m = x->pats->m;
	uint32_t idx;
	int r;

	switch (m) {
	case PM_FOUND:
		return RULE_PASS;
	case PM_BOOL:
	case PM_INT:
		r = smp_cast(s, m == PM_BOOL ? SMP_BOOL : SMP_SINT);
		break;
	case PM_IP:
		r = (s->type == SMP_IPV4 || s->type == SMP_IPV6) ? 0
		    : smp_cast(s, SMP_IPV4) && smp_cast(s, SMP_IPV6);
		break;
	case PM_BIN:
		r = smp_cast(s, SMP_BIN);
		break;
	default:
		r = smp_cast(s, SMP_STR);
		break;
	}
	if (r)
		return RULE_FAIL;
	return pat_match(x->pats, s, &idx, NULL) ? RULE_PASS : RULE_FAIL;
}

/* As HAProxy's acl_exec_cond for one expression: each value of a
 * multi-valued fetch in turn until one matches; a sample that may still
 * change and does not match is a MISS. */
static enum rule_res expr_match(const struct acl_expr *x, const struct rule_ctx *ctx)
{
	struct sample s;

	for (int i = 0;; i++) {
		enum rule_res res;
		int r;
		s.type = SMP_ANY;
		s.idx = i;
		s.not_last = 0;
		r = expr_eval(&x->e, ctx, &s);
		if (r < 0)
			return RULE_MISS;
		if (r == 0 || x->never)
			return RULE_FAIL;
		res = value_match(x, &s);
		if (res == RULE_PASS)
			return RULE_PASS;
		if (s.not_last)
			continue;
		return r == 2 ? RULE_MISS : RULE_FAIL;
	}
}

static enum rule_res acl_eval(const struct acl *a, const struct rule_ctx *ctx)
{
	unsigned r = RULE_FAIL;

	for (int i = 0; i < a->nx && r != RULE_PASS; i++)
		r |= expr_match(&a->x[i], ctx);
	return (enum rule_res)r;
}

enum rule_res rcond_eval(const struct rule_cond *c, const struct rule_ctx *ctx)
{
	unsigned res = RULE_FAIL;

	for (int i = 0; i < c->ns && res != RULE_PASS; i++) {
		unsigned sr = RULE_PASS;
		for (int k = 0; k < c->s[i].n && sr != RULE_FAIL; k++) {
			unsigned r = acl_eval(c->s[i].t[k].acl, ctx);
			if (c->s[i].t[k].neg)
				r = 3u >> r; /* PASS <-> FAIL, MISS stays */
			sr &= r;
		}
		res |= sr;
	}
	if (c->unless)
		res = 3u >> res;
	return (enum rule_res)res;
}

void acl_free(struct acl *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->nx; i++) {
		expr_free(&a->x[i].e);
		if (a->x[i].pats) {
			pat_free(a->x[i].pats);
			free(a->x[i].pats);
		}
	}
	free(a->x);
	free(a->name);
	free(a);
}

void rcond_free(struct rule_cond *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->ns; i++) {
		for (int k = 0; k < c->s[i].n; k++)
			if (c->s[i].t[k].anon)
				acl_free(c->s[i].t[k].acl);
		free(c->s[i].t);
	}
	free(c->s);
	free(c);
}

/* Sample expressions: "fetch(args),converter(args),...", compiled once
 * (names resolved, maps read) and evaluated per connection. */
#include "rules/rules_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"

/* Splits "name(a,b)" into name and argument texts (NUL-terminated copies
 * in buf). Returns the number of arguments, or -1 (unbalanced). */
static int split_call(const char *t, size_t len, char *buf, size_t blen, char **name, char **args,
		      int max)
{
	const char *par = memchr(t, '(', len);
	int n = 0;

	if (len >= blen)
		return -1;
	memcpy(buf, t, len);
	buf[len] = 0;
	*name = buf;
	if (!par)
		return 0;
	if (buf[len - 1] != ')')
		return -1;
	buf[len - 1] = 0;
	buf[par - t] = 0;
	{
		char *p = buf + (par - t) + 1;
		if (!*p)
			return 0;
		for (;;) {
			char *c = strchr(p, ',');
			if (n == max)
				return -1;
			args[n++] = p;
			if (!c)
				break;
			*c = 0;
			p = c + 1;
		}
	}
	return n;
}

static int be_index(struct rcomp *rc, const char *name, struct cfg_proxy **out)
{
	int i = 0;

	for (struct cfg_proxy *px = rc->c->proxies; px; px = px->next) {
		if (!(px->cap & PX_CAP_BE))
			continue;
		if (!strcmp(px->name, name)) {
			*out = px;
			return i;
		}
		i++;
	}
	return -1;
}

/* A stick table argument (arg i of f) named name. 0, or -1 with HAProxy's
 * sentence. */
static int table_arg(struct rcomp *rc, const struct fetch_def *f, const char *name, int i, struct rarg *a,
		     char *err, size_t errlen)
{
	a->tbl = rcomp_table(rc, name);
	if (a->tbl >= 0)
		return 0;
	rc->raw_err = 1;
	snprintf(err, errlen, "unable to find table '%s' referenced in arg %d of ACL keyword '%s' in proxy '%s'.", name,
		 i + 1, f->name, rc->px->name);
	return -1;
}

static int fetch_args(struct rcomp *rc, const struct fetch_def *f, char **args, int n, struct rexpr *e,
		      char *err, size_t errlen)
{
	int want = (int)strlen(f->args);

	if (n > want) {
		snprintf(err, errlen, "fetch method '%s' : end of arguments expected", f->name);
		return -1;
	}
	for (int i = 0; i < want; i++) {
		char spec = f->args[i];
		struct rarg *a = &e->a[i];
		a->be = a->srv = a->tbl = -1;
		if (i >= n) {
			if (spec == 't') { /* src_*: the proxy's own table, as HAProxy */
				if (table_arg(rc, f, rc->px->name, i, a, err, errlen))
					return -1;
				continue;
			}
			if (spec >= 'a' && spec <= 'z')
				continue;
			if ((spec == 'B') && (rc->px->cap & PX_CAP_BE)) { /* its own backend, as HAProxy */
				struct cfg_proxy *p;
				a->be = be_index(rc, rc->px->name, &p);
				continue;
			}
			snprintf(err, errlen, "fetch method '%s' : missing arguments (got %d/%d)", f->name, n,
				 want);
			return -1;
		}
		a->s = xstrdup(args[i]);
		if (spec == 'I' || spec == 'i') {
			char *end;
			errno = 0;
			a->i = strtoll(args[i], &end, 10);
			if (end == args[i] || *end || errno) {
				snprintf(err, errlen, "fetch method '%s' : failed to parse '%s' as type 'integer' at position %d",
					 f->name, args[i], i + 1);
				return -1;
			}
			if (i < 2 && a->i < 0) {
				snprintf(err, errlen, "fetch method '%s' : invalid arg %d", f->name, i + 1);
				return -1;
			}
		} else if (spec == 't' || spec == 'T' || spec == 'o') {
			if (table_arg(rc, f, args[i], i, a, err, errlen))
				return -1;
			if (spec == 'o') { /* sc<n>_*(<table>): the tracked key looked up elsewhere */
				snprintf(err, errlen, "fetch method '%s' : a table argument is not supported yet", f->name);
				return -1;
			}
		} else if (spec == 'B' || spec == 'S') {
			char *slash = spec == 'S' ? strchr(args[i], '/') : NULL;
			struct cfg_proxy *bp = NULL;
			if (spec == 'S' && !slash) {
				snprintf(err, errlen, "fetch method '%s' : expects <backend>/<server>", f->name);
				return -1;
			}
			if (slash)
				*slash = 0;
			a->be = be_index(rc, args[i], &bp);
			if (a->be < 0) {
				rc->raw_err = 1;
				snprintf(err, errlen, "unable to find backend '%s' referenced in arg %d of ACL keyword '%s' in proxy '%s'.",
					 args[i], i + 1, f->name, rc->px->name);
				return -1;
			}
			if (slash) {
				int k = 0;
				for (struct cfg_server *s = bp->servers; s; s = s->next, k++)
					if (!strcmp(s->name, slash + 1))
						a->srv = k;
				if (a->srv < 0) {
					rc->raw_err = 1;
					snprintf(err, errlen, "unable to find server '%s' in proxy '%s', referenced in arg %d of ACL keyword '%s' in proxy '%s'.",
						 slash + 1, args[i], i + 1, f->name, rc->px->name);
					return -1;
				}
			}
		}
	}
	e->nargs = n;
	return 0;
}

/* "map", "map_str", "map_beg_int", ...: the match method and output type. */
static int map_name(const char *name, enum pat_m *m, enum smp_type *out)
{
	static const char *const ms[] = { "str", "beg", "sub", "dom", "end", "reg", "ip", "int", NULL };
	static const enum pat_m mv[] = { PM_STR, PM_BEG, PM_SUB, PM_DOM, PM_END, PM_REG, PM_IP, PM_INT };
	const char *p;

	if (strncmp(name, "map", 3))
		return -1;
	*m = PM_STR;
	*out = SMP_STR;
	p = name + 3;
	if (!*p)
		return 0;
	if (*p++ != '_')
		return -1;
	for (int i = 0; ms[i]; i++) {
		size_t l = strlen(ms[i]);
		if (strncmp(p, ms[i], l) || (p[l] && p[l] != '_'))
			continue;
		*m = mv[i];
		p += l;
		if (!*p)
			return 0;
		p++;
		if (!strcmp(p, "str"))
			*out = SMP_STR;
		else if (!strcmp(p, "int"))
			*out = SMP_SINT;
		else if (!strcmp(p, "ip"))
			*out = SMP_IPV4;
		else
			return -1;
		return 0;
	}
	return -1;
}

/* Converts a map value text to the converter's output type. */
static int map_value(enum smp_type out, const char *v, int64_t *i, uint8_t ip[17])
{
	int fam, plen;
	char *end;

	if (out == SMP_SINT) {
		errno = 0;
		*i = strtoll(v, &end, 10);
		return end == v || *end || errno ? -1 : 0;
	}
	if (out == SMP_IPV4) {
		if (ip_parse_net(v, &fam, ip + 1, &plen) || strchr(v, '/'))
			return -1;
		ip[0] = (uint8_t)fam;
	}
	return 0;
}

static int parse_map(struct rcomp *rc, const char *name, char **args, int n, struct rconv *cv, char *err,
		     size_t errlen)
{
	enum pat_m m;
	struct pat_set *ps;
	char e[400];

	if (map_name(name, &m, &cv->out))
		return 1; /* not a map converter */
	if (n < 1 || n > 2) {
		snprintf(err, errlen, "invalid args in converter '%s' : expects <file>[,<default>]", name);
		return -1;
	}
	ps = rcomp_map(rc, args[0], m, 0, e, sizeof(e));
	if (!ps) {
		snprintf(err, errlen, "invalid args in converter '%s' : %s", name, e);
		return -1;
	}
	if (cv->out != SMP_STR && !ps->ivals && !ps->ipvals) { /* typed values, once per map */
		if (cv->out == SMP_SINT)
			ps->ivals = xcalloc(ps->npat + 1, sizeof(*ps->ivals));
		else
			ps->ipvals = xcalloc(ps->npat + 1, sizeof(*ps->ipvals));
		for (uint32_t k = 0; k < ps->npat; k++)
			if (map_value(cv->out, ps->vals[k], ps->ivals ? &ps->ivals[k] : NULL,
				      ps->ipvals ? ps->ipvals[k] : NULL)) {
				snprintf(err, errlen, "invalid args in converter '%s' : unable to parse value '%s' in file <%s>",
					 name, ps->vals[k], args[0]);
				return -1;
			}
	} else if (cv->out != SMP_STR && !(cv->out == SMP_SINT ? (void *)ps->ivals : (void *)ps->ipvals)) {
		snprintf(err, errlen, "invalid args in converter '%s' : map <%s> used with two value types",
			 name, args[0]);
		return -1;
	}
	cv->map = ps;
	cv->in = m == PM_IP ? SMP_IPV4 : m == PM_INT ? SMP_SINT : SMP_STR;
	if (m == PM_IP)
		cv->in = SMP_ANY; /* looked up as it is: ipv4 or ipv6 */
	if (n == 2) {
		cv->a[1].s = xstrdup(args[1]);
		cv->dflt = cv->a[1].s;
		if (map_value(cv->out, cv->dflt, &cv->dflt_i, cv->dflt_ip)) {
			snprintf(err, errlen, "invalid args in converter '%s' : bad default value '%s'", name, args[1]);
			return -1;
		}
	}
	return 0;
}

static int parse_conv(struct rcomp *rc, const char *t, size_t len, struct rconv *cv, char *err,
		      size_t errlen)
{
	char buf[1024], *name, *args[RARG_MAX];
	int n = split_call(t, len, buf, sizeof(buf), &name, args, RARG_MAX), r;

	if (n < 0) {
		snprintf(err, errlen, "syntax error in converter '%.*s'", (int)len, t);
		return -1;
	}
	r = parse_map(rc, name, args, n, cv, err, errlen);
	if (r <= 0)
		return r;
	cv->d = conv_find(name, strlen(name));
	if (!cv->d) {
		if (str_suggest(name, haproxy_converters) && !strcmp(str_suggest(name, haproxy_converters), name))
			snprintf(err, errlen, "converter '%s' is an HAProxy keyword that ferry does not support yet", name);
		else
			snprintf(err, errlen, "unknown converter '%s'", name);
		return -1;
	}
	cv->in = cv->d->in;
	cv->out = cv->d->out;
	cv->nargs = n;
	if (!strcmp(name, "ipmask")) {
		for (int i = 0; i < n; i++) {
			int fam, plen;
			uint8_t a[16];
			char tmp[64];
			snprintf(tmp, sizeof(tmp), "%s%s", i ? "::/" : "0.0.0.0/", args[i]);
			if (ip_parse_net(tmp, &fam, a, &plen) || (i == 0) != (fam == 4)) {
				snprintf(err, errlen, "invalid arg %d in converter 'ipmask' : failed to parse '%s' as type '%s' at position %d",
					 i + 1, args[i], i ? "IPv6 mask" : "IPv4 mask", i + 1);
				return -1;
			}
			for (int b = 0; b < (fam == 4 ? 4 : 16); b++) {
				int bits = plen - 8 * b;
				uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
				if (i == 0)
					cv->a[0].m4[b] = m;
				else
					cv->a[1].m6[b] = m;
			}
			cv->a[i].has_m6 = i == 1;
		}
		if (n < 1) {
			snprintf(err, errlen, "missing args for converter 'ipmask'");
			return -1;
		}
	} else if (n) {
		snprintf(err, errlen, "converter '%s' : end of arguments expected", name);
		return -1;
	}
	return 0;
}

/* The end of the step starting at t: the next ',' outside parentheses. */
static size_t step_len(const char *t, size_t len)
{
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		if (t[i] == '(')
			depth++;
		else if (t[i] == ')')
			depth--;
		else if (t[i] == ',' && depth == 0)
			return i;
	}
	return len;
}

int expr_parse(struct rcomp *rc, const char *text, size_t len, struct rexpr *e, char *err, size_t errlen)
{
	size_t l = step_len(text, len);
	char buf[1024], *name, *args[RARG_MAX];
	int n;

	memset(e, 0, sizeof(*e));
	n = split_call(text, l, buf, sizeof(buf), &name, args, RARG_MAX);
	if (n < 0) {
		snprintf(err, errlen, "syntax error in fetch method '%.*s'", (int)l, text);
		return -1;
	}
	e->f = fetch_find(name, strlen(name));
	if (!e->f) {
		const char *best = str_suggest(name, haproxy_fetches);
		if (best && !strcmp(best, name))
			snprintf(err, errlen, "fetch method '%s' is an HAProxy keyword that ferry does not support yet", name);
		else if ((best = str_suggest(name, fetch_names)))
			snprintf(err, errlen, "unknown fetch method '%s' (did you mean '%s'?)", name, best);
		else
			snprintf(err, errlen, "unknown fetch method '%s'", name);
		return -1;
	}
	if (fetch_args(rc, e->f, args, n, e, err, errlen))
		return -1;
	e->out = e->f->out;
	while (l < len) {
		const char *t = text + l + 1;
		size_t cl = step_len(t, len - l - 1);
		struct rconv *cv;
		e->conv = realloc(e->conv, (size_t)(e->nconv + 1) * sizeof(*e->conv));
		if (!e->conv)
			abort();
		cv = &e->conv[e->nconv++];
		memset(cv, 0, sizeof(*cv));
		if (parse_conv(rc, t, cl, cv, err, errlen))
			return -1;
		e->out = cv->out;
		l += cl + 1;
	}
	return 0;
}

int expr_eval(const struct rexpr *e, const struct rule_ctx *ctx, struct sample *s)
{
	int r = e->f->fn(e->a, ctx, s);

	if (r <= 0)
		return r;
	for (int i = 0; i < e->nconv; i++)
		if (!conv_apply(&e->conv[i], s))
			return r == 2 ? -1 : 0; /* HAProxy: no sample, but it may change */
	return r;
}

void expr_free(struct rexpr *e)
{
	for (int i = 0; i < RARG_MAX; i++)
		free(e->a[i].s);
	for (int c = 0; c < e->nconv; c++)
		for (int i = 0; i < RARG_MAX; i++)
			free(e->conv[c].a[i].s);
	free(e->conv);
	memset(e, 0, sizeof(*e));
}

struct pat_set *rcomp_map(struct rcomp *rc, const char *path, enum pat_m m, int icase, char *err,
			  size_t errlen)
{
	char key[4200];
	struct pat_set *ps;

	snprintf(key, sizeof(key), "%d %d %s", (int)m, icase, path);
	for (int i = 0; i < rc->nmaps; i++)
		if (!strcmp(rc->map_keys[i], key))
			return rc->maps[i];
	ps = xcalloc(1, sizeof(*ps));
	pat_init(ps, m, icase);
	if (pat_load_file(ps, path, 1, err, errlen)) {
		pat_free(ps);
		free(ps);
		return NULL;
	}
	rc->maps = realloc(rc->maps, (size_t)(rc->nmaps + 1) * sizeof(*rc->maps));
	rc->map_keys = realloc(rc->map_keys, (size_t)(rc->nmaps + 1) * sizeof(*rc->map_keys));
	if (!rc->maps || !rc->map_keys)
		abort();
	rc->maps[rc->nmaps] = ps;
	rc->map_keys[rc->nmaps++] = xstrdup(key);
	return ps;
}

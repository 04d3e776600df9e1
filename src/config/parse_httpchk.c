/* "option httpchk" and the "http-check" keywords, as HAProxy 2.6's
 * tcpcheck.c reads them: the rules are a list of their own (hrules), apart
 * from the tcp-check rules; "option httpchk" makes an implicit send rule
 * that merges with the first "http-check send"; a proxy's first http-check
 * line (or option httpchk) starts its own list instead of the one of its
 * defaults section; rules must come in connect / send / expect order once
 * the check is an HTTP one. What the check does with them is in
 * src/health/check_http.c. */
#include "config/parse_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/regex.h"
#include "core/strutil.h"

/* ---- the data of an http rule --------------------------------------------- */

void tcr_http_free(struct tcr_http *h)
{
	if (!h)
		return;
	free(h->meth);
	free(h->uri);
	free(h->ver);
	free(h->body);
	for (int i = 0; i < 2 * h->nhdrs; i++)
		free(h->hdrs[i]);
	free(h->hdrs);
	free(h->codes);
	free(h->hname);
	free(h->hvalue);
	rx_free(h->hname_re);
	rx_free(h->hvalue_re);
	free(h);
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct tcr_http *tcr_http_dup(const struct tcr_http *h)
{
	struct tcr_http *d;

	if (!h)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	*d = *h;
	d->meth = dup0(h->meth);
	d->uri = dup0(h->uri);
	d->ver = dup0(h->ver);
	d->body = dup0(h->body);
	d->hdrs = h->nhdrs ? xcalloc((size_t)h->nhdrs * 2, sizeof(char *)) : NULL;
	for (int i = 0; i < 2 * h->nhdrs; i++)
		d->hdrs[i] = xstrdup(h->hdrs[i]);
	if (h->ncodes) {
		d->codes = xcalloc((size_t)h->ncodes, sizeof(*d->codes));
		memcpy(d->codes, h->codes, (size_t)h->ncodes * sizeof(*d->codes));
	}
	d->hname = dup0(h->hname);
	d->hvalue = dup0(h->hvalue);
	if ((h->hname_re && !(d->hname_re = rx_dup(h->hname_re))) ||
	    (h->hvalue_re && !(d->hvalue_re = rx_dup(h->hvalue_re))))
		abort();
	return d;
}

static void add_hdr(struct tcr_http *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
	h->hdrs = realloc(h->hdrs, (size_t)(h->nhdrs + 1) * 2 * sizeof(char *));
	if (!h->hdrs)
		abort();
	h->hdrs[2 * h->nhdrs] = xcalloc(1, nlen + 1);
	memcpy(h->hdrs[2 * h->nhdrs], name, nlen);
	h->hdrs[2 * h->nhdrs + 1] = xcalloc(1, vlen + 1);
	memcpy(h->hdrs[2 * h->nhdrs + 1], value, vlen);
	h->nhdrs++;
}

/* ---- where a new rule goes (HAProxy's tcpcheck_add_http_rule) ------------- */

/* The rules of this proxy's own list: a proxy's first http-check line drops
 * what it inherited from its defaults section, as HAProxy's per-proxy
 * ruleset does. */
static struct tcr_list *own_rules(struct pctx *p)
{
	if (!p->px->hrules_own) {
		tcr_list_free(&p->px->hrules);
		p->px->hrules_own = 1;
	}
	return &p->px->hrules;
}

static int next_rule(const struct tcr_list *l, int from)
{
	for (int i = from; i < l->n; i++)
		if (l->v[i].kind != TCR_COMMENT)
			return i;
	return -1;
}

static int last_rule(const struct tcr_list *l)
{
	for (int i = l->n - 1; i >= 0; i--)
		if (l->v[i].kind != TCR_COMMENT)
			return i;
	return -1;
}

static int is_opt_send(const struct tcr_list *l, int i)
{
	return i >= 0 && l->v[i].kind == TCR_SEND && l->v[i].http && l->v[i].http->from_opt;
}

static void insert_at(struct tcr_list *l, int pos, const struct tcr *r)
{
	l->v = realloc(l->v, (size_t)(l->n + 1) * sizeof(*l->v));
	if (!l->v)
		abort();
	memmove(&l->v[pos + 1], &l->v[pos], (size_t)(l->n - pos) * sizeof(*l->v));
	l->v[pos] = *r;
	l->n++;
}

static struct tcr take_at(struct tcr_list *l, int pos)
{
	struct tcr r = l->v[pos];

	memmove(&l->v[pos], &l->v[pos + 1], (size_t)(l->n - pos - 1) * sizeof(*l->v));
	l->n--;
	return r;
}

static void free_rule(struct tcr *r)
{
	struct tcr_list one = { .v = xcalloc(1, sizeof(*r)), .n = 1 };

	one.v[0] = *r;
	tcr_list_free(&one);
}

/* HAProxy's tcpcheck_overwrite_send_http_rule: what nw says replaces what
 * old says (headers only when nw has some), and nw is freed. */
static void overwrite_send(struct tcr *old, struct tcr *nw)
{
	struct tcr_http *o = old->http, *n = nw->http;
	char **fields[] = { &o->meth, &o->uri, &o->ver, &o->body };
	char **from[] = { &n->meth, &n->uri, &n->ver, &n->body };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (*from[i]) {
			free(*fields[i]);
			*fields[i] = *from[i];
			*from[i] = NULL;
		}
	if (n->nhdrs) {
		for (int i = 0; i < 2 * o->nhdrs; i++)
			free(o->hdrs[i]);
		free(o->hdrs);
		o->hdrs = n->hdrs;
		o->nhdrs = n->nhdrs;
		n->hdrs = NULL;
		n->nhdrs = 0;
	}
	free_rule(nw);
}

/* The step HAProxy names in its order errors: the rule's index + 1, where
 * the implicit send of "option httpchk" takes no index of its own. */
static int step_of_new(const struct tcr_list *l)
{
	int n = l->n;

	for (int i = 0; i < l->n; i++)
		if (is_opt_send(l, i))
			n--;
	return n + 1;
}

/* Puts rule r (built apart) in the proxy's list. While the check is an HTTP
 * one, HAProxy's order rules apply; otherwise the rule waits, unused. */
static void place_rule(struct pctx *p, struct tcr *r, const char *what)
{
	struct tcr_list *l = own_rules(p);
	int last = last_rule(l), first;

	if (p->px->check_type != CHK_HTTP) {
		p->px->httpchk |= HTTPCHK_F_UNUSED;
		insert_at(l, l->n, r);
		return;
	}
	if (r->kind != TCR_COMMENT && last >= 0 && !is_opt_send(l, last)) {
		enum tcr_kind lk = l->v[last].kind;
		const char *miss = NULL;
		if (lk != TCR_CONNECT && r->kind == TCR_SEND)
			miss = "connect";
		else if (lk != TCR_SEND && lk != TCR_EXPECT && r->kind == TCR_EXPECT)
			miss = "send";
		else if (lk != TCR_EXPECT && r->kind == TCR_CONNECT)
			miss = "expect";
		if (miss) {
			perr(p, "'http-check %s': unable to add http-check %s rule at step %d (missing %s rule)",
			     what, what, step_of_new(l), miss);
			free_rule(r);
			return;
		}
	}
	first = next_rule(l, 0);
	if (r->kind == TCR_SEND && is_opt_send(l, first)) {
		struct tcr merged = take_at(l, first);
		overwrite_send(&merged, r);
		merged.http->from_opt = 0; /* (HAProxy drops the send's comment here too) */
		insert_at(l, l->n, &merged);
		return;
	}
	insert_at(l, l->n, r);
}

/* The request of "option httpchk" (HAProxy's tcpcheck_add_http_rule with
 * TCPCHK_SND_HTTP_FROM_OPT): before the first rule (after the first
 * connect once the section is read), replacing an earlier implicit one, or
 * merged into the first explicit send. */
static void place_opt_send(struct pctx *p, struct tcr *r)
{
	struct tcr_list *l = own_rules(p);
	int i = next_rule(l, 0);

	if (i >= 0 && l->v[i].kind == TCR_CONNECT)
		i = next_rule(l, i + 1);
	if (i < 0 || l->v[i].kind != TCR_SEND) {
		insert_at(l, 0, r);
	} else if (l->v[i].http && l->v[i].http->from_opt) {
		struct tcr old = take_at(l, i);
		free_rule(&old);
		insert_at(l, 0, r);
	} else {
		overwrite_send(&l->v[i], r);
	}
}

/* ---- option httpchk ------------------------------------------------------- */

/* HAProxy's old trick: headers and a body hidden after the version,
 * "HTTP/1.1\r\nHost:\ www\r\n\r\nbody". Splits ver in place. Returns 1 when
 * it held any (deprecated: a warning), 0 when not, -1 on a bad header. */
static int hidden_headers(struct pctx *p, struct tcr_http *h)
{
	char *hdrs = strstr(h->ver, "\r\n"), *body = strstr(h->ver, "\r\n\r\n"), *line;

	if (hdrs == body)
		hdrs = NULL;
	if (hdrs) {
		*hdrs = 0;
		hdrs += 2;
	}
	if (body) {
		*body = 0;
		body += 4;
		h->body = xstrdup(body);
	}
	for (line = hdrs; line && *line;) {
		char *end = strstr(line, "\r\n"), *colon = strchr(line, ':'), *v;
		size_t vl;
		if (end)
			*end = 0;
		if (!colon || colon == line) {
			perr(p, "'option httpchk': unable to parse the request header '%s'", line);
			return -1;
		}
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (vl = strlen(v); vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'); vl--)
			;
		add_hdr(h, line, (size_t)(colon - line), v, vl);
		line = end ? end + 2 : NULL;
	}
	return hdrs || body;
}

void opt_httpchk(struct pctx *p, struct cfg_words *w)
{
	struct tcr r = { .kind = TCR_SEND, .file = p->file, .line = p->line, .min_recv = -1 };
	struct tcr_http *h;
	int hidden;

	if (w->n > 5) {
		perr(p, "'option httpchk' cannot handle unexpected argument '%s'", w->w[5]);
		return;
	}
	h = r.http = xcalloc(1, sizeof(*h));
	h->from_opt = 1;
	if (w->n == 3) {
		h->uri = xstrdup(w->w[2]); /* the one-argument form is a URI */
	} else if (w->n >= 4) {
		h->meth = xstrdup(w->w[2]);
		h->uri = xstrdup(w->w[3]);
	}
	if (w->n == 5)
		h->ver = xstrdup(w->w[4]);
	hidden = h->ver ? hidden_headers(p, h) : 0;
	if (hidden < 0) {
		free_rule(&r);
		return;
	}
	if (hidden)
		pwarn(p, "'option httpchk' : hiding headers or body at the end of the version string is deprecated. "
			 "Please, consider to use 'http-check send' directive instead.");
	p->px->check_type = CHK_HTTP;
	p->px->httpchk &= ~HTTPCHK_F_UNUSED;
	place_opt_send(p, &r);
}

/* ---- http-check send / expect / connect / comment ------------------------ */

static int no_log_format(struct pctx *p, const char *what, const char *v)
{
	if (!strchr(v, '%'))
		return 0;
	perr(p, "'http-check %s': '%s' is an HAProxy log-format string, which ferry does not support yet", what, v);
	return 1;
}

static int parse_send(struct pctx *p, struct cfg_words *w, struct tcr *r)
{
	struct tcr_http *h = r->http = xcalloc(1, sizeof(*h));
	const char *host = NULL;

	for (int i = 2; i < w->n; i++) {
		const char *k = w->w[i], *v = w->w[i + 1];
		char **slot = !strcmp(k, "meth") ? &h->meth : !strcmp(k, "uri") ? &h->uri
			      : !strcmp(k, "ver") ? &h->ver : !strcmp(k, "body") ? &h->body
			      : !strcmp(k, "comment") ? &r->comment : NULL;
		if (!strcmp(k, "uri-lf") || !strcmp(k, "body-lf")) {
			perr(p, "'http-check send %s' needs HAProxy's log-format strings, which ferry does not support yet", k);
			return -1;
		}
		if (slot) {
			if (!v || !*v) {
				perr(p, "'http-check send': '%s' expects a string as argument", k);
				return -1;
			}
			free(*slot);
			*slot = xstrdup(v);
			i++;
			continue;
		}
		if (strcmp(k, "hdr")) {
			perr(p, "'http-check send': expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '%s' as argument", k);
			return -1;
		}
		if (!v || !*v || !w->w[i + 2] || !*w->w[i + 2]) {
			perr(p, "'http-check send': 'hdr' expects <name> and <value> as arguments");
			return -1;
		}
		if (no_log_format(p, "send", w->w[i + 2]))
			return -1;
		if (!strcasecmp(v, "host")) {
			if (host) {
				perr(p, "'http-check send': '%s' header already defined (previous value is '%s')", v, host);
				return -1;
			}
			host = w->w[i + 2];
		}
		/* HAProxy writes these itself, from the body */
		if (strcasecmp(v, "content-length") && strcasecmp(v, "transfer-encoding"))
			add_hdr(h, v, strlen(v), w->w[i + 2], strlen(w->w[i + 2]));
		i += 2;
	}
	return 0;
}

/* "200,201,300-310" into ranges, as HAProxy reads them. */
static int parse_codes(struct pctx *p, const char *pat, struct tcr_http *h)
{
	const char *s = pat;

	for (;;) {
		unsigned lo = 0, hi;
		while (*s >= '0' && *s <= '9')
			lo = lo * 10 + (unsigned)(*s++ - '0');
		hi = lo;
		if (*s == '-') {
			s++;
			for (hi = 0; *s >= '0' && *s <= '9';)
				hi = hi * 10 + (unsigned)(*s++ - '0');
		}
		if (lo > hi || hi > 9999999) {
			perr(p, "'http-check expect': invalid range of status codes '%s'", pat);
			return -1;
		}
		h->codes = realloc(h->codes, (size_t)(h->ncodes + 1) * sizeof(*h->codes));
		if (!h->codes)
			abort();
		h->codes[h->ncodes][0] = (int)lo;
		h->codes[h->ncodes][1] = (int)hi;
		h->ncodes++;
		if (!*s)
			return 0;
		if (*s != ',') {
			perr(p, "'http-check expect': invalid character '%c' in the list of status codes", *s);
			return -1;
		}
		s++;
	}
}

/* "-m str|beg|end|sub|reg" at w->w[*i], if there. */
static int hdr_method(struct pctx *p, struct cfg_words *w, int *i, const char *kw, enum httpchk_m *m)
{
	static const char *const names[] = { "str", "beg", "end", "sub", "reg" };
	const char *v;

	*m = HM_STR;
	if (!w->w[*i] || strcmp(w->w[*i], "-m"))
		return 0;
	v = w->w[*i + 1];
	for (int k = 0; v && k < 5; k++)
		if (!strcmp(v, names[k])) {
			*m = (enum httpchk_m)(HM_STR + k);
			*i += 2;
			return 0;
		}
	perr(p, "'http-check expect %s': '-m' only supports 'str', 'beg', 'end', 'sub' or 'reg' (got '%s')", kw, v ? v : "");
	return -1;
}

/* [-m M] PATTERN at w->w[*j] for a header's name or value: the method,
 * the pattern, its regex when M is reg. *j ends on the pattern. */
static int hdr_pattern(struct pctx *p, struct cfg_words *w, int *j, const char *kw, const char *missing,
		       enum httpchk_m *m, char **pat, struct rx **re)
{
	char e[200];

	if (hdr_method(p, w, j, kw, m))
		return -1;
	if (!w->w[*j]) {
		perr(p, "'http-check expect': '%s' %s", kw, missing);
		return -1;
	}
	*pat = xstrdup(w->w[*j]);
	if (*m == HM_REG && !(*re = rx_compile(*pat, 0, e, sizeof(e)))) {
		perr(p, "'http-check expect %s': invalid regular expression '%s': %s", kw, *pat, e);
		return -1;
	}
	return 0;
}

/* hdr|fhdr name [-m M] NAME [value [-m M] VALUE], from w->w[*i] (the
 * keyword); *i ends on the last word used. */
static int parse_hdr(struct pctx *p, struct cfg_words *w, int *i, struct tcr_http *h)
{
	const char *kw = w->w[*i];
	int j = *i + 1;

	h->full = kw[0] == 'f';
	if (w->w[j] && !strcmp(w->w[j], "name-lf")) {
		perr(p, "'http-check expect %s %s' needs HAProxy's log-format strings, which ferry does not support yet", kw, w->w[j]);
		return -1;
	}
	if (!w->w[j] || strcmp(w->w[j], "name") || !w->w[j + 1]) {
		perr(p, "'http-check expect': '%s' expects at the name keyword as first argument followed by a pattern", kw);
		return -1;
	}
	j++;
	if (hdr_pattern(p, w, &j, kw, "expects a name pattern", &h->hname_m, &h->hname, &h->hname_re))
		return -1;
	h->hvalue_m = HM_NONE;
	if (w->w[j + 1] && !strcmp(w->w[j + 1], "value-lf")) {
		perr(p, "'http-check expect %s value-lf' needs HAProxy's log-format strings, which ferry does not support yet", kw);
		return -1;
	}
	if (w->w[j + 1] && !strcmp(w->w[j + 1], "value")) {
		j += 2;
		if (hdr_pattern(p, w, &j, kw, "expect a pattern with the value keyword", &h->hvalue_m, &h->hvalue,
				&h->hvalue_re))
			return -1;
	}
	*i = j;
	return 0;
}

static int parse_expect(struct pctx *p, struct cfg_words *w, struct tcr *r)
{
	struct tcr_http *h = r->http = xcalloc(1, sizeof(*h));
	int matched = 0;
	char e[200];

	if (!w->w[2]) {
		perr(p, "'http-check expect': expects at least a matching pattern as arguments");
		return -1;
	}
	for (int i = 2; i < w->n; i++) {
		const char *k;
		int o = tcr_expect_option(p, r, w, &i);
		if (o < 0)
			return -1;
		if (o)
			continue;
		k = w->w[i];
		if (k[0] == '!' && k[1]) {
			r->negate = 1;
			k++;
		}
		if (!strcmp(k, "status-code") || !strcmp(k, "string-lf")) {
			perr(p, "'http-check expect %s' needs HAProxy's sample expressions or log-format strings, which ferry does not support yet", k);
			return -1;
		}
		if (strcmp(k, "status") && strcmp(k, "rstatus") && strcmp(k, "string") && strcmp(k, "rstring") &&
		    strcmp(k, "hdr") && strcmp(k, "fhdr")) {
			perr(p, "'http-check expect': only supports min-recv, [!]string, [!]rstring, [!]string-lf, [!]status, "
				"[!]rstatus, [!]hdr, [!]fhdr or comment but got '%s' as argument", k);
			return -1;
		}
		if (matched++) {
			perr(p, "'http-check expect': only one pattern expected");
			return -1;
		}
		if (k[1] == 'h' || k[0] == 'h') { /* hdr, fhdr */
			r->match = TCRM_HDR;
			if (parse_hdr(p, w, &i, h))
				return -1;
			continue;
		}
		if (!w->w[i + 1]) {
			perr(p, "'http-check expect': '%s' expects a <pattern> as argument", k);
			return -1;
		}
		r->match = !strcmp(k, "status") ? TCRM_STATUS : !strcmp(k, "rstatus") ? TCRM_RSTATUS
			   : !strcmp(k, "string") ? TCRM_STRING : TCRM_RSTRING;
		i++;
		if (r->match == TCRM_STATUS) {
			if (parse_codes(p, w->w[i], h))
				return -1;
			continue;
		}
		r->data = (unsigned char *)xstrdup(w->w[i]);
		r->len = strlen(w->w[i]);
		if ((r->match == TCRM_RSTATUS || r->match == TCRM_RSTRING) &&
		    !(r->re = rx_compile(w->w[i], 0, e, sizeof(e)))) {
			perr(p, "'http-check expect %s': invalid regular expression '%s': %s", k, w->w[i], e);
			return -1;
		}
	}
	if (!matched) {
		perr(p, "'http-check expect': pattern not found");
		return -1;
	}
	if ((r->on_error && no_log_format(p, "expect", r->on_error)) ||
	    (r->on_success && no_log_format(p, "expect", r->on_success)))
		return -1;
	return 0;
}

static void flag_only(struct pctx *p, struct cfg_words *w, unsigned flag)
{
	if (w->w[2]) {
		perr(p, "'http-check %s' cannot handle unexpected argument '%s'", w->w[1], w->w[2]);
		return;
	}
	p->px->httpchk |= flag;
}

void kw_http_check(struct pctx *p, struct cfg_words *w)
{
	const char *a = w->w[1];
	struct tcr_list tmp = { 0 };
	struct tcr *r;
	int bad = 0;

	if (!a) {
		perr(p, "'http-check' expects disable-on-404, send-state, comment, connect, send or expect");
		return;
	}
	if (!strcmp(a, "disable-on-404")) {
		flag_only(p, w, HTTPCHK_F_404);
		return;
	}
	if (!strcmp(a, "send-state")) {
		flag_only(p, w, HTTPCHK_F_SENDSTATE);
		return;
	}
	if (!strcmp(a, "set-var") || !strncmp(a, "set-var(", 8) || !strncmp(a, "set-var-fmt(", 12) ||
	    !strncmp(a, "unset-var(", 10)) {
		perr(p, "'http-check %s' needs HAProxy's variables and sample expressions, which ferry does not support yet", a);
		return;
	}
	if (!strcmp(a, "connect")) {
		/* as HAProxy: a connect must start the list (comments and the
		 * implicit send of option httpchk aside) once there is one */
		struct tcr_list *l = own_rules(p);
		for (int i = 0; i < l->n; i++) {
			if (l->v[i].kind == TCR_CONNECT)
				break;
			if (l->v[i].kind != TCR_COMMENT && !is_opt_send(l, i)) {
				perr(p, "'http-check connect': first step MUST also be a 'connect', optionally preceded by a "
					"'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset");
				return;
			}
		}
		bad = !tcr_parse_connect(p, w, &tmp, "http-check");
	} else if (!strcmp(a, "send")) {
		bad = parse_send(p, w, tcr_add(p, &tmp, TCR_SEND));
	} else if (!strcmp(a, "expect")) {
		bad = parse_expect(p, w, tcr_add(p, &tmp, TCR_EXPECT));
	} else if (!strcmp(a, "comment")) {
		if (!w->w[2]) {
			perr(p, "'http-check comment': expects a string as argument");
			return;
		}
		tcr_add(p, &tmp, TCR_COMMENT)->comment = xstrdup(w->w[2]);
	} else {
		perr(p, "'http-check' only supports 'disable-on-404', 'send-state', 'comment', 'connect', 'send', 'expect' but got '%s'", a);
		return;
	}
	if (bad) {
		tcr_list_free(&tmp);
		return;
	}
	r = &tmp.v[0];
	place_rule(p, r, a);
	free(tmp.v);
}

/* ---- once the section is read (HAProxy's check_proxy_tcpcheck) ----------- */

static const char *px_type(const struct cfg_proxy *px)
{
	return (px->cap & PX_CAP_FE) ? "proxy" : "backend";
}

void httpchk_validate(struct cfg *c, struct cfg_proxy *px)
{
	struct tcr_list *l = &px->hrules;
	int first, next, last;

	if ((px->httpchk & HTTPCHK_F_UNUSED) && px->check_type != CHK_HTTP)
		cfg_warn(c, px->file, px->line, "%s '%s' uses http-check rules without 'option httpchk', so the rules are ignored.",
			 px_type(px), px->name);
	if (px->check_type == CHK_TCPCHECK || px->check_type == CHK_PGSQL) {
		static const struct { unsigned f; const char *name; } fl[] = {
			{ HTTPCHK_F_404, "disable-on-404" }, { HTTPCHK_F_SENDSTATE, "send-state" } };
		for (size_t i = 0; i < 2; i++)
			if (px->httpchk & fl[i].f) {
				cfg_warn(c, px->file, px->line, "'%s' will be ignored for %s '%s' (requires 'option httpchk').",
					 fl[i].name, px_type(px), px->name);
				px->httpchk &= ~fl[i].f;
			}
	}
	if (px->check_type != CHK_HTTP)
		return;
	/* the implicit request goes after the first connect */
	first = next_rule(l, 0);
	next = first >= 0 ? next_rule(l, first + 1) : -1;
	if (is_opt_send(l, first) && next >= 0 && l->v[next].kind == TCR_CONNECT) {
		struct tcr s = take_at(l, first);
		insert_at(l, next, &s);
	}
	/* an implicit "expect status 200-399" after a last send */
	last = last_rule(l);
	if (last >= 0 && l->v[last].kind == TCR_SEND) {
		struct tcr e = { .kind = TCR_EXPECT, .file = px->file, .line = px->line, .min_recv = -1,
				 .match = TCRM_STATUS };
		e.http = xcalloc(1, sizeof(*e.http));
		e.http->codes = xcalloc(1, sizeof(*e.http->codes));
		e.http->codes[0][0] = 200;
		e.http->codes[0][1] = 399;
		e.http->ncodes = 1;
		insert_at(l, l->n, &e);
	}
	for (int i = 0; i < l->n; i++)
		if (l->v[i].kind == TCR_SEND)
			return;
	/* HAProxy does the same, silently: a proxy's own http-check lines
	 * replace its defaults' (option httpchk's request included) */
	cfg_warn(c, px->file, px->line,
		 "%s '%s': its http-check rules send no request (they replace those of the defaults section, "
		 "'option httpchk' included): the checks will time out; add 'option httpchk' or 'http-check send' here",
		 px_type(px), px->name);
}

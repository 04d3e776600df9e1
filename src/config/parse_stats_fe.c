/* The stats frontend: the one place where ferry accepts "mode http", for a
 * frontend (or a listen without servers) whose only job is HAProxy's
 * statistics page and Prometheus exporter:
 *
 *   frontend stats
 *       mode http
 *       bind 127.0.0.1:8404
 *       http-request use-service prometheus-exporter if { path /metrics }
 *       stats enable
 *       stats uri /
 *       stats refresh 5s
 *       stats admin if { src 127.0.0.1 }
 *
 * Lines are read as they come (a "stats" line may precede "mode http");
 * what is valid only in such a frontend ("option httplog", "timeout
 * http-request", the use-service line) is kept aside with the sentence
 * ferry gives it elsewhere, and validation decides once the section is
 * complete. "stats" lines in a TCP proxy get HAProxy's warning and are
 * ignored, as HAProxy ignores them. */
#include "config/parse_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"
#include "core/units.h"

#define DEFAULT_URI "/haproxy?stats"       /* HAProxy's STATS_DEFAULT_URI */
#define DEFAULT_REALM "HAProxy Statistics" /* HAProxy's STATS_DEFAULT_REALM */

/* ---- the model's helpers ------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct cfg_stats *cfg_stats_copy(const struct cfg_stats *st)
{
	struct cfg_stats *c;

	if (!st)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	*c = *st;
	c->uri = dup_or_null(st->uri);
	c->realm = dup_or_null(st->realm);
	c->node = dup_or_null(st->node);
	c->desc = dup_or_null(st->desc);
	c->auth = st->nauth ? xcalloc((size_t)st->nauth, sizeof(*c->auth)) : NULL;
	for (int i = 0; i < st->nauth; i++)
		c->auth[i] = xstrdup(st->auth[i]);
	c->admin = st->nadmin ? xcalloc((size_t)st->nadmin, sizeof(*c->admin)) : NULL;
	for (int i = 0; i < st->nadmin; i++) {
		c->admin[i] = st->admin[i];
		c->admin[i].nets = NULL;
		if (st->admin[i].nnets) {
			size_t n = (size_t)st->admin[i].nnets * sizeof(struct cfg_net);
			c->admin[i].nets = xcalloc(1, n);
			memcpy(c->admin[i].nets, st->admin[i].nets, n);
		}
	}
	return c;
}

void cfg_stats_free(struct cfg_stats *st)
{
	if (!st)
		return;
	free(st->uri);
	free(st->realm);
	free(st->node);
	free(st->desc);
	for (int i = 0; i < st->nauth; i++)
		free(st->auth[i]);
	free(st->auth);
	for (int i = 0; i < st->nadmin; i++)
		free(st->admin[i].nets);
	free(st->admin);
	free(st);
}

const char *cfg_stats_realm(const struct cfg_stats *st)
{
	return st && st->realm ? st->realm : DEFAULT_REALM;
}

int cfg_net_match(const struct cfg_net *n, int family, const unsigned char *a)
{
	int bytes = n->prefix / 8, bits = n->prefix % 8;

	if (n->family != family)
		return 0;
	if (memcmp(n->addr, a, (size_t)bytes))
		return 0;
	if (bits) {
		unsigned char mask = (unsigned char)(0xff << (8 - bits));
		if ((n->addr[bytes] & mask) != (a[bytes] & mask))
			return 0;
	}
	return 1;
}

int cfg_stats_admin_allows(const struct cfg_stats *st, const struct sockaddr *sa)
{
	unsigned char a[16];
	int family = sa->sa_family;

	if (family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(in6)) { /* a v4 client on a dual-stack socket */
			family = AF_INET;
			memcpy(a, &in6->s6_addr[12], 4);
		} else {
			memcpy(a, in6, 16);
		}
	} else {
		return 0;
	}
	for (int i = 0; st && i < st->nadmin; i++) {
		const struct cfg_stats_admin *r = &st->admin[i];
		int hit = r->always;
		for (int k = 0; k < r->nnets && !hit; k++)
			hit = cfg_net_match(&r->nets[k], family, a);
		if (hit != r->unless)
			return 1;
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------------- */

/* "ADDR" or "ADDR/BITS" or "IPv4/NETMASK". Returns 0 or -1. */
int cfg_net_parse(const char *s, struct cfg_net *n)
{
	char buf[128];
	char *slash;
	long bits;
	char *end;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		n->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		n->prefix = 128;
	} else {
		return -1;
	}
	if (!slash)
		return 0;
	if (n->family == AF_INET && strchr(slash, '.')) { /* a dotted netmask */
		unsigned char m[4];
		uint32_t v;
		if (inet_pton(AF_INET, slash, m) != 1)
			return -1;
		v = ((uint32_t)m[0] << 24) | ((uint32_t)m[1] << 16) | ((uint32_t)m[2] << 8) | m[3];
		for (bits = 0; bits < 32 && (v & (0x80000000u >> bits)); bits++)
			;
		if (bits < 32 && (v << bits))
			return -1; /* not contiguous */
		n->prefix = (int)bits;
		return 0;
	}
	bits = strtol(slash, &end, 10);
	if (!*slash || *end || bits < 0 || bits > n->prefix)
		return -1;
	n->prefix = (int)bits;
	return 0;
}

static void add_net(struct cfg_stats_admin *r, const struct cfg_net *n)
{
	r->nets = realloc(r->nets, (size_t)(r->nnets + 1) * sizeof(*r->nets));
	if (!r->nets)
		abort();
	r->nets[r->nnets++] = *n;
}

/* The condition after "stats admin if|unless": the literal forms operators
 * write, until ACLs are supported. Returns 0 or -1 (reported). */
static int admin_cond(struct pctx *p, struct cfg_words *w, int from, struct cfg_stats_admin *r)
{
	const char *c = w->w[from];
	struct cfg_net n;

	if (c && !w->w[from + 1] && (!strcmp(c, "TRUE") || !strcmp(c, "FALSE"))) {
		r->always = !strcmp(c, "TRUE");
		return 0;
	}
	if (c && !w->w[from + 1] && !strcmp(c, "LOCALHOST")) {
		cfg_net_parse("127.0.0.1/8", &n);
		add_net(r, &n);
		cfg_net_parse("::1", &n);
		add_net(r, &n);
		return 0;
	}
	if (c && !strcmp(c, "{") && w->w[from + 1] && !strcmp(w->w[from + 1], "src")) {
		int i = from + 2;
		for (; w->w[i] && strcmp(w->w[i], "}"); i++) {
			if (cfg_net_parse(w->w[i], &n)) {
				perr(p, "'stats admin': invalid address '%s' in '{ src ... }' (expects IPv4 or IPv6 addresses, with an optional /mask)",
				     w->w[i]);
				return -1;
			}
			add_net(r, &n);
		}
		if (w->w[i] && !w->w[i + 1] && r->nnets)
			return 0;
	}
	perr(p, "'stats admin %s': this condition is not supported yet (ferry reads '{ src ADDR[/MASK] ... }', 'LOCALHOST', 'TRUE' and 'FALSE' until ACLs come)",
	     w->w[from - 1]);
	return -1;
}

static void kw_stats_admin(struct pctx *p, struct cfg_words *w, struct cfg_stats *st)
{
	struct cfg_stats_admin r = { 0 };

	if (p->px->cap == PX_CAP_DEF) {
		perr(p, "'stats admin' is not allowed in a defaults section");
		return;
	}
	if (!w->w[2] || (strcmp(w->w[2], "if") && strcmp(w->w[2], "unless"))) {
		perr(p, "'stats admin' requires either 'if' or 'unless' followed by a condition");
		return;
	}
	r.unless = !strcmp(w->w[2], "unless");
	if (admin_cond(p, w, 3, &r)) {
		free(r.nets);
		return;
	}
	st->admin = realloc(st->admin, (size_t)(st->nadmin + 1) * sizeof(*st->admin));
	if (!st->admin)
		abort();
	st->admin[st->nadmin++] = r;
}

/* "stats refresh": seconds unless a unit is given, at least 1s (HAProxy's
 * parse_time_err with TIME_UNIT_S). */
static void kw_stats_refresh(struct pctx *p, struct cfg_words *w, struct cfg_stats *st)
{
	const char *a = w->w[2];
	const char *e;
	int64_t ms;
	char buf[64];

	if (!a) {
		perr(p, "'stats refresh' expects a delay (seconds unless a unit is given)");
		return;
	}
	if (strlen(a) < sizeof(buf) - 2 && a[0] && strspn(a, "0123456789") == strlen(a)) {
		snprintf(buf, sizeof(buf), "%ss", a);
		a = buf;
	}
	e = parse_duration_ms(a, &ms);
	if (e) {
		perr(p, "'stats refresh': invalid delay '%s': %s", w->w[2], e);
		return;
	}
	if (ms > 0 && ms < 1000) {
		perr(p, "'stats refresh %s': the shortest refresh is 1s", w->w[2]);
		return;
	}
	st->refresh_ms = ms;
}

static void set_str(struct pctx *p, struct cfg_words *w, char **slot, const char *what)
{
	if (!w->w[2]) {
		perr(p, "'stats %s' expects %s", w->w[1], what);
		return;
	}
	free(*slot);
	*slot = xstrdup(w->w[2]);
}

/* "stats show-desc [text ...]": the words joined by spaces. */
static void kw_stats_desc(struct pctx *p, struct cfg_words *w, struct cfg_stats *st)
{
	size_t len = 0;

	(void)p;
	st->flags |= STATS_F_DESC;
	free(st->desc);
	st->desc = NULL;
	if (!w->w[2])
		return; /* the global description (ferry has none to show) */
	for (int i = 2; w->w[i]; i++)
		len += strlen(w->w[i]) + 1;
	st->desc = xcalloc(1, len);
	for (int i = 2; w->w[i]; i++) {
		if (i > 2)
			strcat(st->desc, " ");
		strcat(st->desc, w->w[i]);
	}
}

void kw_stats(struct pctx *p, struct cfg_words *w)
{
	struct cfg_proxy *px = p->px;
	struct cfg_stats *st;
	const char *k = w->w[1];

	if (!px->stats_own) { /* the proxy's own lines replace what defaults gave */
		cfg_stats_free(px->stats);
		px->stats = xcalloc(1, sizeof(*px->stats));
		px->stats->file = p->file;
		px->stats->line = p->line;
		px->stats_own = 1;
	}
	st = px->stats;
	if (!k) {
		perr(p, "missing keyword in 'stats', expects 'admin', 'uri', 'realm', 'auth', 'enable', 'hide-version', 'show-node', 'show-desc' or 'show-legends'");
	} else if (!strcmp(k, "enable")) {
		/* the page exists as soon as a stats line does */
	} else if (!strcmp(k, "admin")) {
		kw_stats_admin(p, w, st);
	} else if (!strcmp(k, "uri")) {
		set_str(p, w, &st->uri, "a URI prefix");
	} else if (!strcmp(k, "realm")) {
		set_str(p, w, &st->realm, "a realm name");
	} else if (!strcmp(k, "refresh")) {
		kw_stats_refresh(p, w, st);
	} else if (!strcmp(k, "auth")) {
		if (!w->w[2]) {
			perr(p, "'stats auth' expects a user:password account");
			return;
		}
		st->auth = realloc(st->auth, (size_t)(st->nauth + 1) * sizeof(*st->auth));
		if (!st->auth)
			abort();
		st->auth[st->nauth++] = xstrdup(w->w[2]);
	} else if (!strcmp(k, "hide-version")) {
		st->flags |= STATS_F_HIDEVER;
	} else if (!strcmp(k, "show-legends")) {
		st->flags |= STATS_F_LEGENDS;
	} else if (!strcmp(k, "show-node")) {
		st->flags |= STATS_F_NODE;
		free(st->node);
		st->node = dup_or_null(w->w[2]);
	} else if (!strcmp(k, "show-desc")) {
		kw_stats_desc(p, w, st);
	} else if (!strcmp(k, "http-request") && px->cap == PX_CAP_DEF) {
		perr(p, "'stats' not allowed in 'defaults' section.");
	} else if (!strcmp(k, "scope") || !strcmp(k, "http-request") || !strcmp(k, "show-modules")) {
		/* a TCP proxy ignores every stats line; a stats frontend cannot */
		stats_fe_defer(p, "'stats %s' in %s is an HAProxy keyword that ferry does not support yet", k,
			       px_kind(px));
	} else {
		perr(p, "unknown stats parameter '%s', expects 'admin', 'uri', 'realm', 'auth', 'enable', 'hide-version', 'show-node', 'show-desc' or 'show-legends'", k);
	}
}

/* Keeps msg for validation: reported if the proxy is in "mode http" (a
 * stats frontend cannot do it; a TCP proxy ignores the line). */
void stats_fe_defer(struct pctx *p, const char *fmt, ...)
{
	struct cfg_proxy *px = p->px;
	struct cfg_http_line *l;
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	px->http_lines = realloc(px->http_lines, (size_t)(px->nhttp_lines + 1) * sizeof(*px->http_lines));
	if (!px->http_lines)
		abort();
	l = &px->http_lines[px->nhttp_lines++];
	l->file = p->file;
	l->line = p->line;
	l->msg = xstrdup(buf);
}

/* "http-request": in a stats frontend, only HAProxy's exporter idiom; in a
 * TCP proxy, any rule HAProxy would take, ignored with its warning
 * (parse_http.c). */
void kw_http_request(struct pctx *p, struct cfg_words *w)
{
	static const char *const idiom[] = { "http-request", "use-service", "prometheus-exporter", "if",
					     "{", "path", "/metrics", "}", NULL };
	int i = 0;

	for (; idiom[i] && w->w[i] && !strcmp(idiom[i], w->w[i]); i++)
		;
	if (!idiom[i] && !w->w[i] && (p->px->cap & PX_CAP_FE) && p->px->cap != PX_CAP_DEF)
		p->px->prometheus = 1;
	else
		stats_fe_defer(p, "'http-request' in %s is HTTP-only: ferry balances TCP connections and never parses HTTP",
			       px_where(p));
	kw_http_rules(p, w);
}

/* What a stats frontend may hold besides the lines above. */
void stats_fe_note_keyword(struct pctx *p, struct cfg_words *w)
{
	static const char *const allowed[] = { "mode", "bind", "stats", "http-request", "log", "no",
					       "maxconn", "backlog", "timeout", "description", "id",
					       "enabled", NULL };
	static const char *const options[] = { "httplog", "dontlognull", "dontlog-normal", NULL };
	const char *k = w->w[0];
	int ok = 0;

	if (p->px->other_kw[0] || p->px->cap == PX_CAP_DEF)
		return;
	if (!strcmp(k, "option") || (!strcmp(k, "no") && w->w[1] && !strcmp(w->w[1], "option"))) {
		const char *o = !strcmp(k, "no") ? w->w[2] : w->w[1];
		for (int i = 0; o && options[i]; i++)
			ok |= !strcmp(o, options[i]);
	} else {
		for (int i = 0; allowed[i]; i++)
			ok |= !strcmp(k, allowed[i]);
	}
	if (!ok) {
		snprintf(p->px->other_kw, sizeof(p->px->other_kw), "%s%s%s", k, w->w[1] ? " " : "",
			 w->w[1] && strcmp(k, "bind") ? w->w[1] : "");
		p->px->other_line = p->line;
	}
}

/* ---- validation ----------------------------------------------------------------- */

static void report_deferred(struct cfg *c, const struct cfg_proxy *px)
{
	for (int i = 0; i < px->nhttp_lines; i++)
		cfg_error(c, px->http_lines[i].file, px->http_lines[i].line, "%s", px->http_lines[i].msg);
}

/* Whether px is a valid stats frontend; reports why not when it says "mode http". */
static int check_stats_fe(struct cfg *c, struct cfg_proxy *px)
{
	const char *kind = px_kind(px);

	if (!(px->cap & PX_CAP_FE) || px->default_backend || px->nservers || (!px->stats && !px->prometheus)) {
		cfg_error(c, px->mode_http_file, px->mode_http_line,
			  "'mode http' in %s '%s': ferry balances TCP connections only; use 'mode tcp'", kind, px->name);
		report_deferred(c, px);
		return 0;
	}
	if (px->other_kw[0]) {
		cfg_error(c, px->file, px->other_line,
			  "'%s' in %s '%s': a 'mode http' %s only serves statistics in ferry (stats, bind, http-request use-service prometheus-exporter, log, maxconn, timeouts)",
			  px->other_kw, kind, px->name, kind);
		return 0;
	}
	if (!px->binds) {
		cfg_error(c, px->file, px->line, "%s '%s' has no 'bind' line", kind, px->name);
		return 0;
	}
	report_deferred(c, px);
	return 1;
}

int cfg_validate_stats(struct cfg *c)
{
	struct cfg_proxy **pp = &c->proxies, **tail = &c->stats_fes;

	while (*tail)
		tail = &(*tail)->next;
	while (*pp) {
		struct cfg_proxy *px = *pp;
		if (px->mode_http_line) {
			if (check_stats_fe(c, px)) { /* it leaves the TCP proxies */
				*pp = px->next;
				px->next = NULL;
				*tail = px;
				tail = &px->next;
				continue;
			}
		} else {
			cfg_warn_http_leftovers(c, px); /* HAProxy's warnings, "stats" among them */
		}
		pp = &px->next;
	}
	return c->nerr;
}

const char *cfg_stats_uri(const struct cfg_stats *st)
{
	return st && st->uri ? st->uri : DEFAULT_URI;
}

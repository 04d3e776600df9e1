/* "bind", "server" and "default-server" lines. */
#include "config/parse_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/haproxy_kw.h"
#include "core/strutil.h"

const char *const server_keywords[] = {
	"weight", "maxconn", "maxqueue", "check", "no-check", "inter", "fastinter",
	"downinter", "rise", "fall", "port", "addr", "backup", "no-backup",
	"disabled", "enabled", "id", "init-addr", "agent-check", "no-agent-check",
	"agent-port", "agent-inter", "agent-send", "on-marked-down", "on-marked-up",
	"send-proxy", "send-proxy-v2", "no-send-proxy", "no-send-proxy-v2", "proxy-v2-options",
	"check-send-proxy", "no-check-send-proxy", "non-stick", "stick", "resolvers",
	"resolve-prefer", "resolve-net", "resolve-opts", "observe", "error-limit",
	"on-error", "slowstart", NULL
};

/* proxy-v2-options: HAProxy 2.6's words. ferry terminates no TLS, so the
 * SSL ones give what HAProxy sends for a connection that is not TLS: an
 * SSL TLV saying so, without sub-TLVs. */
static const struct { const char *word; unsigned flags; } pp2_words[] = {
	{ "ssl", SRV_PP_SSL }, { "cert-cn", SRV_PP_SSL }, { "cert-key", SRV_PP_SSL },
	{ "cert-sig", SRV_PP_SSL }, { "ssl-cipher", SRV_PP_SSL }, { "authority", SRV_PP_AUTHORITY },
	{ "crc32c", SRV_PP_CRC32C }, { "unique-id", SRV_PP_UNIQUE_ID },
};

/* "proxy-v2-options a,b,c": adds their flags to *opts, or reports the first
 * unknown word in HAProxy's sentence. Returns 0 or -1. */
static int pp2_options(struct pctx *p, const char *list, unsigned *opts)
{
	const char *w = list ? list : "";

	for (;;) {
		size_t n = strcspn(w, ",");
		size_t k = 0, nw = sizeof(pp2_words) / sizeof(*pp2_words);
		while (k < nw && !(strlen(pp2_words[k].word) == n && !strncmp(pp2_words[k].word, w, n)))
			k++;
		if (k == nw) {
			perr(p, "'%.*s' : proxy v2 option not implemented", (int)n, w);
			return -1;
		}
		*opts |= pp2_words[k].flags;
		if (!w[n])
			return 0;
		w += n + 1;
	}
}

/* Server options of later HAProxy versions (2.6's are in haproxy_kw.c). */
static const char *const server_later[] = { "init-state", NULL };

static int in(const char *w, const char *const *l)
{
	for (; *l; l++)
		if (!strcmp(*l, w))
			return 1;
	return 0;
}

static int opt_int(struct pctx *p, struct cfg_words *w, int *i, long min, long max, int *out)
{
	long v;
	const char *kw = w->w[*i];

	(*i)++;
	if (arg_int(p, kw, w->w[*i], min, max, &v))
		return -1;
	*out = (int)v;
	return 0;
}

static int opt_dur(struct pctx *p, struct cfg_words *w, int *i, int64_t *out)
{
	const char *kw = w->w[*i];
	int64_t v;

	(*i)++;
	if (arg_duration(p, kw, w->w[*i], &v))
		return -1;
	if (v == 0) {
		perr(p, "'%s' must be greater than 0", kw);
		return -1;
	}
	*out = v;
	return 0;
}

/* The value of the option at w->w[*i]: moves *i onto it and returns it, or
 * reports "'option' expects <what>" and returns NULL when the line ends
 * there. */
static const char *opt_value(struct pctx *p, struct cfg_words *w, int *i, const char *what)
{
	if (!w->w[*i + 1]) {
		perr(p, "'%s' expects %s", w->w[*i], what);
		return NULL;
	}
	return w->w[++*i];
}

static int passive_opt(struct pctx *p, struct cfg_words *w, int *i, struct cfg_srv_opts *o);

int parse_source(struct pctx *p, struct cfg_words *w, int *i, struct addr_spec *out)
{
	char err[300];
	const char *a = w->w[*i + 1];

	if (!a) {
		perr(p, "'source' expects <addr>[:<port>] as argument.");
		return -1;
	}
	{
		/* port 0 is "any port", as no port */
		char buf[300];
		size_t l = strlen(a);
		snprintf(buf, sizeof(buf), "%s", a);
		if (l > 2 && l < sizeof(buf) && !strcmp(buf + l - 2, ":0") && buf[l - 3] != ':')
			buf[l - 2] = 0;
		if (addr_parse(buf, ADDR_F_PORT_OPTIONAL | ADDR_F_RANGE | ADDR_F_RESOLVE, out, err, sizeof(err))) {
			perr(p, "'source %s': %s", a, err);
			return -1;
		}
	}
	if (out->port_hi != out->port_lo) {
		perr(p, "'source %s': a port range is an HAProxy feature that ferry does not support yet", a);
		return -1;
	}
	*i += 1;
	if (w->w[*i + 1] && (!strcmp(w->w[*i + 1], "usesrc") || !strcmp(w->w[*i + 1], "interface"))) {
		/* usesrc needs IP_TRANSPARENT (connecting from the client's
		 * address); interface, SO_BINDTODEVICE */
		perr(p, "'source ... %s' is an HAProxy keyword that ferry does not support yet", w->w[*i + 1]);
		return -1;
	}
	return 0;
}

void parse_srv_opts(struct pctx *p, struct cfg_words *w, int from,
		    struct cfg_srv_opts *o, int is_default, struct cfg_server *srv)
{
	for (int i = from; i < w->n; i++) {
		const char *k = w->w[i];
		int r;

		if (!strcmp(k, "weight")) {
			if (opt_int(p, w, &i, 0, 256, &o->weight))
				return;
		} else if (!strcmp(k, "maxconn")) {
			if (opt_int(p, w, &i, 0, 10000000, &o->maxconn))
				return;
		} else if (!strcmp(k, "maxqueue")) {
			if (opt_int(p, w, &i, 0, 10000000, &o->maxqueue))
				return;
		} else if (!strcmp(k, "check")) {
			o->check = 1;
		} else if (!strcmp(k, "no-check")) {
			o->check = 0;
		} else if (!strcmp(k, "inter")) {
			if (opt_dur(p, w, &i, &o->inter))
				return;
		} else if (!strcmp(k, "fastinter")) {
			if (opt_dur(p, w, &i, &o->fastinter))
				return;
		} else if (!strcmp(k, "downinter")) {
			if (opt_dur(p, w, &i, &o->downinter))
				return;
		} else if (!strcmp(k, "rise")) {
			if (opt_int(p, w, &i, 1, 1000, &o->rise))
				return;
		} else if (!strcmp(k, "fall")) {
			if (opt_int(p, w, &i, 1, 1000, &o->fall))
				return;
		} else if (!strcmp(k, "port")) {
			if (opt_int(p, w, &i, 1, 65535, &o->check_port))
				return;
		} else if (!strcmp(k, "addr")) {
			const char *v = opt_value(p, w, &i, "an address");
			if (!v)
				return;
			free(o->check_addr);
			o->check_addr = xstrdup(v);
		} else if (!strcmp(k, "backup")) {
			o->backup = 1;
		} else if (!strcmp(k, "no-backup")) {
			o->backup = 0;
		} else if (!strcmp(k, "disabled")) {
			o->disabled = 1;
		} else if (!strcmp(k, "enabled")) {
			o->disabled = 0;
		} else if (!strcmp(k, "agent-check")) {
			o->agent_check = 1;
		} else if (!strcmp(k, "no-agent-check")) {
			o->agent_check = 0;
		} else if (!strcmp(k, "agent-port")) {
			if (opt_int(p, w, &i, 1, 65535, &o->agent_port))
				return;
		} else if (!strcmp(k, "agent-inter")) {
			if (opt_dur(p, w, &i, &o->agent_inter))
				return;
		} else if (!strcmp(k, "agent-send")) {
			const char *v = opt_value(p, w, &i, "a string");
			if (!v)
				return;
			free(o->agent_send);
			o->agent_send = xstrdup(v);
		} else if (!strcmp(k, "on-marked-down")) {
			if (!w->w[i + 1] || strcmp(w->w[i + 1], "shutdown-sessions")) {
				perr(p, "'on-marked-down' expects 'shutdown-sessions'");
				return;
			}
			o->shutdown_on_down = 1;
			i++;
		} else if (!strcmp(k, "on-marked-up")) {
			if (!w->w[i + 1] || strcmp(w->w[i + 1], "shutdown-backup-sessions")) {
				perr(p, "'on-marked-up' expects 'shutdown-backup-sessions'");
				return;
			}
			o->shutdown_backup_on_up = 1;
			i++;
		} else if (!strcmp(k, "id")) {
			/* accepted: ferry numbers servers in order */
			if (!opt_value(p, w, &i, "a value"))
				return;
		} else if ((r = parse_srv_dns_opt(p, w, &i, o, srv ? srv->name : "")) != 0) {
			if (r < 0) /* resolvers, resolve-*, init-addr: parse_resolvers.c */
				return;
		} else if (!strcmp(k, "source")) {
			if (parse_source(p, w, &i, &o->source))
				return;
			o->has_source = 1;
		} else if (!strcmp(k, "cookie") || !strcmp(k, "redir")) {
			/* HTTP-only: a TCP backend warns about the cookie and
			 * refuses the redirection, as HAProxy (parse_http.c) */
			if (!opt_value(p, w, &i, !strcmp(k, "cookie") ? "a value" : "a prefix"))
				return;
			if (!strcmp(k, "cookie"))
				o->http_cookie = 1;
			else
				o->http_redir = 1;
		} else if (!strcmp(k, "send-proxy") || !strcmp(k, "send-proxy-v2")) {
			o->pp_opts |= k[10] ? SRV_PP_V2 : SRV_PP_V1;
		} else if (!strcmp(k, "no-send-proxy") || !strcmp(k, "no-send-proxy-v2")) {
			o->pp_opts &= ~(k[13] ? SRV_PP_V2 : SRV_PP_V1);
		} else if (!strcmp(k, "proxy-v2-options")) {
			if (pp2_options(p, w->w[i + 1], &o->pp_opts))
				return;
			i += w->w[i + 1] != NULL;
		} else if (!strcmp(k, "non-stick") || !strcmp(k, "stick")) {
			o->non_stick = k[0] == 'n';
		} else if (!strcmp(k, "check-send-proxy")) {
			o->check_send_proxy = 1;
		} else if (!strcmp(k, "no-check-send-proxy")) {
			o->check_send_proxy = 0;
		} else if (!strcmp(k, "observe") || !strcmp(k, "error-limit") || !strcmp(k, "on-error") ||
			   !strcmp(k, "slowstart")) {
			if (passive_opt(p, w, &i, o))
				return;
		} else if (in(k, server_later) || haproxy_kw_find(HKW_SERVER, &w->w[i])) {
			perr(p, "server option '%s' is an HAProxy keyword that ferry does not support yet", k);
			return;
		} else {
			const char *best = str_suggest(k, server_keywords);
			const char *what = is_default ? "default-server" : "server";
			char name[300] = "";
			if (srv)
				snprintf(name, sizeof(name), " '%s'", srv->name);
			if (best)
				perr(p, "unknown option '%s' on %s%s (did you mean '%s'?)", k, what, name, best);
			else
				perr(p, "unknown option '%s' on %s%s", k, what, name);
			return;
		}
	}
}

static void server_check_opts(struct pctx *p, struct cfg_server *s);

/* observe, error-limit, on-error (passive health) and slowstart at
 * w->w[*i], with HAProxy 2.6's sentences. Returns 0 or -1. */
static int passive_opt(struct pctx *p, struct cfg_words *w, int *i, struct cfg_srv_opts *o)
{
	static const char *const modes[] = { "fastinter", "fail-check", "sudden-death", "mark-down" };
	const char *k = w->w[*i], *v = w->w[*i + 1] ? w->w[*i + 1] : "";

	(*i) += w->w[*i + 1] != NULL;
	if (!strcmp(k, "slowstart"))
		return *v ? arg_duration(p, k, v, &o->slowstart)
			  : (perr(p, "'slowstart' expects a time"), -1);
	if (!strcmp(k, "error-limit")) {
		if (!*v) {
			perr(p, "'error-limit' expects an integer argument.");
			return -1;
		}
		o->error_limit = atoi(v);
		if (o->error_limit <= 0) {
			perr(p, "error-limit has to be > 0.");
			return -1;
		}
		return 0;
	}
	if (!strcmp(k, "on-error")) {
		for (int m = 0; m < 4; m++)
			if (!strcmp(v, modes[m])) {
				o->on_error = SRV_ONERR_FASTINTER + m;
				return 0;
			}
		perr(p, "'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '%s'", v);
		return -1;
	}
	if (!*v) {
		perr(p, "'observe' expects <mode> as argument.");
		return -1;
	}
	if (!strcmp(v, "none") || !strcmp(v, "layer4")) {
		o->observe = v[0] == 'l';
	} else if (!strcmp(v, "layer7")) {
		/* HAProxy alerts and goes on without observing: no HTTP here */
		pwarn(p, "'layer7' can only be used in http proxies.");
	} else {
		perr(p, "'observe' expects one of 'none', 'layer4', 'layer7' but got '%s'", v);
		return -1;
	}
	return 0;
}

void parse_server_line(struct pctx *p, struct cfg_words *w)
{
	struct cfg_proxy *px = p->px;
	struct cfg_server *s, **tail;
	char err[300];
	int id = 1;

	if (w->n < 3) {
		perr(p, "'server' expects a name and an address");
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(w->w[1]);
	s->file = p->file;
	s->line = p->line;
	s->addr_text = xstrdup(w->w[2]);
	s->o = px->dflt_srv;
	s->o.check_addr = px->dflt_srv.check_addr ? xstrdup(px->dflt_srv.check_addr) : NULL;
	s->o.agent_send = px->dflt_srv.agent_send ? xstrdup(px->dflt_srv.agent_send) : NULL;
	for (tail = &px->servers; *tail; tail = &(*tail)->next, id++)
		if (!strcmp((*tail)->name, s->name))
			perr(p, "server '%s' is already declared in %s '%s' at line %d",
			     s->name, px_kind(px), px->name, (*tail)->line);
	s->id = id;
	*tail = s;
	px->nservers++;
	{
		int nerr = p->c->nerr;
		const char *a = w->w[2];
		const char *colon = strrchr(a, ':');

		/* the options first: init-addr says how to find the address.
		 * When they are wrong, init-addr may be unread: no address error. */
		parse_srv_opts(p, w, 3, &s->o, 0, s);
		if (p->c->nerr != nerr) /* for its port only */
			addr_parse(a, ADDR_F_PORT_OPTIONAL | ADDR_F_RESOLVE, &s->addr, err, sizeof(err));
		else if (colon && (colon[1] == '+' || colon[1] == '-'))
			perr(p, "server '%s': port offsets ('%s') are not supported yet", s->name, a);
		else if (parse_server_addr(p, s, err, sizeof(err)) < 0) /* init-addr: parse_resolvers.c */
			perr(p, "server '%s': %s", s->name, err);
		else if (s->addr.wildcard)
			perr(p, "server '%s': address '%s' (connecting to the client's original destination, HAProxy's transparent mode) is an HAProxy feature that ferry does not support yet",
			     s->name, a);
	}
	server_check_opts(p, s);
}

/* What a server's options need besides themselves: its check address
 * resolved, a port to check, an agent port. */
static void server_check_opts(struct pctx *p, struct cfg_server *s)
{
	char err[300];

	if (s->o.check_addr) {
		if (addr_parse(s->o.check_addr, ADDR_F_PORT_OPTIONAL | ADDR_F_RESOLVE,
			       &s->check_addr, err, sizeof(err)))
			perr(p, "server '%s': check address: %s", s->name, err);
		else
			s->has_check_addr = 1;
	}
	if (s->o.check && !s->addr.port_lo && !s->o.check_port && s->addr.ss.ss_family != AF_UNIX &&
	    !(s->fqdn && s->fqdn[0] == '_'))
		perr(p, "server '%s' has no port: health checks need 'port' or a port in the address", s->name);
	if (s->o.agent_check && !s->o.agent_port)
		perr(p, "server '%s': 'agent-check' needs 'agent-port'", s->name);
}

/* The options a dynamic server refuses, as HAProxy 2.6 (its servers added
 * at run time do not resolve), and those taking a value (to tell a keyword
 * from a value). */
static const char *const dynamic_refused[] = { "no-check", "no-agent-check", "init-addr", "no-check-send-proxy",
					       "resolvers", "resolve-prefer", "resolve-net", "resolve-opts", NULL };
static const char *const with_value[] = {
	"weight", "maxconn", "maxqueue", "inter", "fastinter", "downinter", "rise", "fall", "port",
	"addr", "agent-port", "agent-inter", "agent-send", "on-marked-down", "on-marked-up", "id",
	"init-addr", "proxy-v2-options", "observe", "error-limit", "on-error", "slowstart", NULL
};

struct cfg_server *cfg_parse_dynamic_server(char *const *words, int n, char *err, size_t errlen)
{
	struct cfg c;
	struct cfg_proxy px;
	struct cfg_words w;
	struct pctx p;
	struct cfg_server *s;
	char *msg = NULL;
	size_t msglen = 0;

	if (n < 2 || n > CFG_MAX_WORDS - 2) {
		snprintf(err, errlen, "'server' expects <name> and <addr>[:<port>] as arguments.");
		return NULL;
	}
	for (int i = 2; i < n; i++) {
		if (in(words[i], dynamic_refused)) {
			snprintf(err, errlen, "'%s' option is not accepted for dynamic server", words[i]);
			return NULL;
		}
		i += in(words[i], with_value);
	}
	memset(&w, 0, sizeof(w));
	w.w[0] = "server";
	for (int i = 0; i < n; i++)
		w.w[i + 1] = words[i];
	w.n = n + 1;
	cfg_init(&c, open_memstream(&msg, &msglen));
	proxy_defaults_builtin(&px); /* as HAProxy: no default-server for dynamic servers */
	p = (struct pctx){ .c = &c, .sec = SEC_PROXY, .px = &px };
	s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(words[0]);
	s->addr_text = xstrdup(words[1]);
	s->o = px.dflt_srv;
	if (addr_parse(words[1], ADDR_F_PORT_OPTIONAL | ADDR_F_RESOLVE | ADDR_F_UNIX, &s->addr, err, errlen) == 0 &&
	    !s->addr.wildcard) {
		parse_srv_opts(&p, &w, 3, &s->o, 0, s);
		if (!c.nerr)
			server_check_opts(&p, s);
	} else if (s->addr.wildcard) {
		snprintf(err, errlen, "address '%s' is a wildcard; a server needs a real address", words[1]);
		c.nerr++;
	} else {
		c.nerr++; /* err holds addr_parse's sentence */
	}
	if (c.diag)
		fclose(c.diag);
	if (c.nerr && msg && *msg)
		snprintf(err, errlen, "%.*s", (int)strcspn(msg, "\n"), msg); /* the first error */
	free(msg);
	if (c.nerr) {
		free(s->name);
		free(s->addr_text);
		free(s->o.check_addr);
		free(s->o.agent_send);
		free(s);
		return NULL;
	}
	if (!s->o.fastinter)
		s->o.fastinter = s->o.inter;
	if (!s->o.downinter)
		s->o.downinter = s->o.inter;
	return s;
}

/* The bind among b and those after it that names fd@fd, or NULL. */
static const struct cfg_bind *bind_with_fd(const struct cfg_bind *b, int fd)
{
	for (; b; b = b->next)
		for (int i = 0; i < b->naddr; i++)
			if (b->addrs[i].kind == ADDR_K_FD && b->addrs[i].fd == fd)
				return b;
	return NULL;
}

/* Whether the address a of the bind nb being read is refused here:
 * sockpair@N (not supported yet), or an fd@N another bind names already
 * (the socket would be closed twice). Says why. */
static int bind_fd_taken(struct pctx *p, struct cfg_bind *nb, const struct addr_spec *a,
			 const char *text)
{
	const struct cfg_bind *dup = NULL;

	if (a->kind == ADDR_K_SOCKPAIR) {
		perr(p, "bind '%s': receiving connections over a socket pair (sockpair@) is not supported yet", text);
		return 1;
	}
	if (a->kind != ADDR_K_FD)
		return 0;
	nb->next = NULL;
	dup = bind_with_fd(nb, a->fd);
	for (const struct cfg_proxy *px = p->c->proxies; px && !dup; px = px->next)
		dup = bind_with_fd(px->binds, a->fd);
	if (dup)
		perr(p, "bind '%s': file descriptor %d is already used by the bind at %s:%d",
		     text, a->fd, dup->file, dup->line);
	return dup != NULL;
}

void parse_bind_line(struct pctx *p, struct cfg_words *w)
{
	struct cfg_bind *b, **tail;
	char err[300], *list, *save = NULL;

	if (w->n < 2) {
		perr(p, "'bind' expects an address and a port");
		return;
	}
	b = xcalloc(1, sizeof(*b));
	b->file = p->file;
	b->line = p->line;
	b->text = xstrdup(w->w[1]);
	bind_unix_defaults(p, b); /* unix-bind's; the line's own options win */
	list = xstrdup(w->w[1]);
	for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		struct addr_spec spec;
		if (addr_parse(a, ADDR_F_RANGE | ADDR_F_RESOLVE | ADDR_F_FD | ADDR_F_UNIX, &spec, err, sizeof(err)) ||
		    bind_unix_prefix(p, &spec, a, err, sizeof(err))) {
			perr(p, "bind '%s': %s", a, err);
			continue;
		}
		if (bind_fd_taken(p, b, &spec, a))
			continue;
		b->addrs = realloc(b->addrs, (size_t)(b->naddr + 1) * sizeof(*b->addrs));
		if (!b->addrs)
			abort();
		b->addrs[b->naddr++] = spec;
	}
	free(list);
	for (int i = 2; i < w->n; i++) {
		const char *k = w->w[i];
		long v;
		int ux = parse_bind_unix_option(p, w, &i, b);
		if (ux < 0)
			break;
		if (ux) {
			/* as the stats socket: said, where HAProxy is silent */
			if (b->naddr && b->addrs[0].kind != ADDR_K_UNIX)
				pwarn(p, "bind '%s': '%s' applies to unix sockets only and is ignored", b->text, k);
		} else if (!strcmp(k, "backlog")) {
			if (!arg_int(p, "backlog", w->w[++i], 1, 1000000, &v))
				b->backlog = (int)v;
		} else if (!strcmp(k, "v4v6")) {
			b->v4v6 = 1;
		} else if (!strcmp(k, "v6only")) {
			b->v6only = 1;
		} else if (!strcmp(k, "accept-proxy")) {
			b->accept_proxy = 1;
		} else if (!strcmp(k, "name") || !strcmp(k, "id") || !strcmp(k, "process") ||
			   !strcmp(k, "thread") || !strcmp(k, "nice")) {
			if (!opt_value(p, w, &i, "a value")) /* accepted */
				break;
		} else if (!strcmp(k, "tfo") || !strcmp(k, "defer-accept")) {
			/* accepted, no effect yet */
		} else if (!strcmp(k, "ssl") || !strcmp(k, "crt") || !strcmp(k, "alpn")) {
			perr(p, "bind option '%s' is not supported: ferry relays TLS untouched and terminates none", k);
			break;
		} else if (haproxy_kw_find(HKW_BIND, &w->w[i])) {
			perr(p, "bind option '%s' is an HAProxy keyword that ferry does not support yet", k);
			break;
		} else {
			static const char *const bk[] = { "backlog", "v4v6", "v6only", "name", "accept-proxy", NULL };
			const char *best = str_suggest(k, bk);
			if (best)
				perr(p, "unknown bind option '%s' (did you mean '%s'?)", k, best);
			else
				perr(p, "unknown bind option '%s'", k);
			break;
		}
	}
	if (b->v4v6 && b->v6only)
		perr(p, "bind '%s': 'v4v6' and 'v6only' exclude each other", b->text);
	for (tail = &p->px->binds; *tail; tail = &(*tail)->next)
		;
	*tail = b;
}

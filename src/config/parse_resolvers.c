/* "resolvers" sections, the DNS options of servers (resolvers,
 * resolve-prefer, resolve-net, resolve-opts, init-addr), "server-template",
 * and how a server's address is found at start-up (init-addr). HAProxy
 * 2.6's sentences where it has them (src/resolvers.c, src/server.c). */
#include "config/parse_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/haproxy_kw.h"
#include "config/server_state.h"
#include "core/strutil.h"

static const char *const resolvers_keywords[] = {
	"nameserver", "parse-resolv-conf", "resolve_retries", "timeout", "hold",
	"accepted_payload_size", NULL
};

struct cfg_resolvers *cfg_find_resolvers(const struct cfg *c, const char *name)
{
	for (struct cfg_resolvers *r = c->resolvers; r; r = r->next)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

void cfg_resolvers_free(struct cfg *c)
{
	while (c->resolvers) {
		struct cfg_resolvers *r = c->resolvers;
		c->resolvers = r->next;
		for (int i = 0; i < r->nns; i++)
			free(r->ns[i].name);
		free(r->ns);
		free(r->name);
		free(r);
	}
}

void parse_resolvers_start(struct pctx *p, struct cfg_words *w)
{
	struct cfg_resolvers *r, **tail;

	p->sec = SEC_RESOLVERS;
	p->px = NULL;
	p->rs = NULL;
	if (w->n < 2 || !*w->w[1]) {
		perr(p, "missing name for resolvers section.");
		return;
	}
	for (const char *q = w->w[1]; *q; q++)
		if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.' || *q == ':')) {
			perr(p, "character '%c' is not permitted in '%s' name '%s'.", *q, w->w[0], w->w[1]);
			return;
		}
	for (tail = &p->c->resolvers; *tail; tail = &(*tail)->next)
		if (!strcmp((*tail)->name, w->w[1])) {
			perr(p, "resolvers '%s' has same name as another resolvers (declared at %s:%d).",
			     w->w[1], (*tail)->file, (*tail)->line);
			return;
		}
	r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(w->w[1]);
	r->file = p->file;
	r->line = p->line;
	r->retries = RSLV_DEF_RETRIES;
	r->to_resolve = r->to_retry = RSLV_DEF_TIMEOUT;
	r->hold_nx = r->hold_other = r->hold_refused = r->hold_timeout = RSLV_DEF_HOLD;
	r->hold_valid = RSLV_DEF_HOLD_VALID;
	r->payload = RSLV_DEF_PAYLOAD;
	*tail = r;
	p->rs = r;
}

/* Returns the nameserver added, or NULL when its name is taken. */
static struct cfg_nameserver *add_nameserver(struct pctx *p, struct cfg_resolvers *r, const char *name,
					     const struct addr_spec *a)
{
	struct cfg_nameserver *ns;

	for (int i = 0; i < r->nns; i++)
		if (!strcmp(r->ns[i].name, name)) {
			perr(p, "nameserver '%s' has same name as another nameserver (declared at %s:%d).",
			     name, r->ns[i].file, r->ns[i].line);
			return NULL;
		}
	r->ns = realloc(r->ns, (size_t)(r->nns + 1) * sizeof(*r->ns));
	if (!r->ns)
		abort();
	ns = &r->ns[r->nns++];
	memset(ns, 0, sizeof(*ns));
	ns->name = xstrdup(name);
	ns->file = p->file;
	ns->line = p->line;
	ns->ss = a->ss;
	ns->len = a->len;
	return ns;
}

/* The words after a nameserver's address. HAProxy reads those of a TCP
 * nameserver as "server" parameters (of which "maxconn" is the one its
 * manual names for DNS) and ignores those of a UDP one. Returns 0 or -1. */
static int nameserver_params(struct pctx *p, struct cfg_resolvers *r, struct cfg_words *w, int tcp,
			     long *maxconn)
{
	for (int i = 3; i < w->n; i++) {
		char *const *word = &w->w[i];
		if (!tcp) {
			pwarn(p, "'nameserver %s' : '%s' and what follows it are ignored on a nameserver over UDP (as HAProxy does)",
			      w->w[1], w->w[i]);
			return 0;
		}
		if (!strcmp(w->w[i], "maxconn")) {
			if (!w->w[i + 1] || !*w->w[i + 1]) {
				perr(p, "'server %s/%s' : 'maxconn' expects an integer argument.", r->name, w->w[1]);
				return -1;
			}
			if (arg_int(p, "maxconn", w->w[++i], 0, 0x7fffffff, maxconn))
				return -1;
		} else if (haproxy_kw_find(HKW_SERVER, word)) {
			perr(p, "'nameserver %s' : server parameter '%s' on a nameserver over TCP is an HAProxy feature that ferry does not support yet (only 'maxconn')",
			     w->w[1], w->w[i]);
			return -1;
		} else {
			perr(p, "'server %s/%s' : unknown keyword '%s'.", r->name, w->w[1], w->w[i]);
			return -1;
		}
	}
	return 0;
}

static void kw_nameserver(struct pctx *p, struct cfg_resolvers *r, struct cfg_words *w)
{
	static const struct { const char *pfx; int tcp, family; } pfx[] = {
		{ "udp@", 0, 0 }, { "udp4@", 0, AF_INET }, { "udp6@", 0, AF_INET6 },
		{ "tcp@", 1, 0 }, { "tcp4@", 1, AF_INET }, { "tcp6@", 1, AF_INET6 },
	};
	struct cfg_nameserver *ns;
	struct addr_spec a;
	char err[300];
	const char *addr = w->w[2];
	int tcp = 0, family = 0;
	long maxconn = 0;

	if (w->n < 3 || !*addr) {
		perr(p, "'%s' expects <name> and <addr>[:<port>] as arguments.", w->w[0]);
		return;
	}
	for (size_t i = 0; i < sizeof(pfx) / sizeof(*pfx); i++)
		if (!strncmp(addr, pfx[i].pfx, strlen(pfx[i].pfx))) {
			addr += strlen(pfx[i].pfx);
			tcp = pfx[i].tcp;
			family = pfx[i].family;
			break;
		}
	if (addr_parse(addr, ADDR_F_RESOLVE, &a, err, sizeof(err))) {
		if (strstr(err, "port"))
			perr(p, "'nameserver %s' : missing port specification in '%s'", w->w[1], w->w[2]);
		else
			perr(p, "'nameserver %s' : %s", w->w[1], err);
		return;
	}
	if (family && a.ss.ss_family != family) {
		perr(p, "'nameserver %s' : '%s' is not an IPv%c address", w->w[1], w->w[2],
		     family == AF_INET ? '4' : '6');
		return;
	}
	if (nameserver_params(p, r, w, tcp, &maxconn))
		return;
	ns = add_nameserver(p, r, w->w[1], &a);
	if (ns) {
		ns->tcp = tcp;
		ns->maxconn = maxconn;
	}
}

/* parse-resolv-conf: the "nameserver" lines of /etc/resolv.conf, named
 * as HAProxy names them (resolvconf/nameserverN), port 53. */
static void kw_parse_resolv_conf(struct pctx *p, struct cfg_resolvers *r)
{
	FILE *f = fopen("/etc/resolv.conf", "r");
	char line[512];
	int n = 0;

	if (!f) {
		perr(p, "failed to open /etc/resolv.conf.");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char ip[256], name[64];
		struct addr_spec a;
		char err[300];
		if (sscanf(line, " nameserver %255s", ip) != 1)
			continue;
		memset(&a, 0, sizeof(a));
		if (addr_parse(ip, ADDR_F_PORT_OPTIONAL, &a, err, sizeof(err)) || a.wildcard) {
			pwarn(p, "parsing [/etc/resolv.conf:%d] : address '%s' is invalid, ignoring", n + 1, ip);
			continue;
		}
		addr_set_port((struct sockaddr *)&a.ss, 53);
		snprintf(name, sizeof(name), "resolvconf/nameserver%d", ++n);
		add_nameserver(p, r, name, &a);
	}
	fclose(f);
}

static void kw_hold(struct pctx *p, struct cfg_resolvers *r, struct cfg_words *w)
{
	static const char *const ev[] = { "nx", "other", "refused", "timeout", "valid", "obsolete" };
	int64_t *slot[] = { &r->hold_nx, &r->hold_other, &r->hold_refused, &r->hold_timeout,
			    &r->hold_valid, &r->hold_obsolete };
	int64_t v;

	if (w->n < 3) {
		perr(p, "'%s' expects an <event> and a <time> as arguments.", w->w[0]);
		return;
	}
	for (size_t i = 0; i < sizeof(ev) / sizeof(*ev); i++)
		if (!strcmp(w->w[1], ev[i])) {
			if (!arg_duration(p, "hold", w->w[2], &v))
				*slot[i] = v;
			return;
		}
	perr(p, "'%s' unknown <event>: '%s', expects either 'nx', 'timeout', 'valid', 'obsolete' or 'other'.",
	     w->w[0], w->w[1]);
}

void parse_resolvers_line(struct pctx *p, struct cfg_words *w)
{
	struct cfg_resolvers *r = p->rs;
	const char *k = w->w[0];
	long v;

	if (!r)
		return; /* the section line was wrong: said already */
	if (!strcmp(k, "nameserver")) {
		kw_nameserver(p, r, w);
	} else if (!strcmp(k, "parse-resolv-conf")) {
		kw_parse_resolv_conf(p, r);
	} else if (!strcmp(k, "resolve_retries")) {
		if (!w->w[1])
			perr(p, "'%s' expects <nb> as argument.", k);
		else if (!arg_int(p, k, w->w[1], 0, 1000, &v))
			r->retries = (int)v;
	} else if (!strcmp(k, "timeout")) {
		int64_t t;
		if (w->n < 3 && w->w[1] && (!strcmp(w->w[1], "retry") || !strcmp(w->w[1], "resolve")))
			perr(p, "'%s %s' expects <time> as argument.", k, w->w[1]);
		else if (!w->w[1] || (strcmp(w->w[1], "retry") && strcmp(w->w[1], "resolve")))
			perr(p, "'%s' expects 'retry' or 'resolve' and <time> as arguments got '%s'.", k,
			     w->w[1] ? w->w[1] : "");
		else if (!arg_duration(p, "timeout", w->w[2], &t) && t > 0)
			*(w->w[1][1] == 'e' && w->w[1][2] == 't' ? &r->to_retry : &r->to_resolve) = t;
	} else if (!strcmp(k, "hold")) {
		kw_hold(p, r, w);
	} else if (!strcmp(k, "accepted_payload_size")) {
		if (!w->w[1]) {
			perr(p, "'%s' expects <nb> as argument.", k);
		} else {
			v = atol(w->w[1]);
			if (v < 12 || v > 65535)
				perr(p, "'%s' must be between 12 and 65535 inclusive (was %s).", k, w->w[1]);
			else
				r->payload = (int)v;
		}
	} else {
		const char *best = str_suggest(k, resolvers_keywords);
		if (best)
			perr(p, "unknown keyword '%s' in 'resolvers' section (did you mean '%s'?)", k, best);
		else
			perr(p, "unknown keyword '%s' in 'resolvers' section", k);
	}
}

/* ---- server options ---------------------------------------------------------- */

static int init_addr_list(struct pctx *p, const char *sname, const char *list, struct cfg_srv_dns *d)
{
	char buf[256], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	memset(d->init, 0, sizeof(d->init));
	for (char *m = strtok_r(buf, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		enum init_addr ia;
		struct sockaddr_in *in = (struct sockaddr_in *)&d->init_ip;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&d->init_ip;
		if (!strcmp(m, "last")) {
			ia = IA_LAST;
		} else if (!strcmp(m, "libc")) {
			ia = IA_LIBC;
		} else if (!strcmp(m, "none")) {
			ia = IA_NONE;
		} else if (inet_pton(AF_INET, m, &in->sin_addr) == 1) {
			in->sin_family = AF_INET;
			ia = IA_IP;
		} else if (inet_pton(AF_INET6, m, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			ia = IA_IP;
		} else {
			perr(p, "'server %s' : 'init-addr' : unknown init-addr method '%s', supported methods are 'libc', 'last', 'none'.",
			     sname, m);
			return -1;
		}
		if (n < INIT_ADDR_MAX - 1)
			d->init[n++] = ia;
	}
	return 0;
}

int parse_srv_dns_opt(struct pctx *p, struct cfg_words *w, int *i, struct cfg_srv_opts *o,
		      const char *sname)
{
	const char *k = w->w[*i], *v = w->w[*i + 1];
	struct cfg_srv_dns *d = &o->dns;

	if (strcmp(k, "resolvers") && strcmp(k, "resolve-prefer") && strcmp(k, "resolve-net") &&
	    strcmp(k, "resolve-opts") && strcmp(k, "init-addr"))
		return 0;
	(*i)++;
	if (!v || !*v) {
		perr(p, "'%s' expects a value", k);
		return -1;
	}
	if (!strcmp(k, "resolvers")) {
		if (strlen(v) >= sizeof(d->resolvers)) {
			perr(p, "'server %s' : resolvers name '%s' is too long.", sname, v);
			return -1;
		}
		snprintf(d->resolvers, sizeof(d->resolvers), "%s", v);
	} else if (!strcmp(k, "resolve-prefer")) {
		if (strcmp(v, "ipv4") && strcmp(v, "ipv6")) {
			perr(p, "'server %s' : 'resolve-prefer' expects either ipv4 or ipv6 as argument.", sname);
			return -1;
		}
		d->prefer = v[3] == '4' ? AF_INET : AF_INET6;
	} else if (!strcmp(k, "resolve-net")) {
		char buf[512], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", v);
		d->nnet = 0;
		for (char *n = strtok_r(buf, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
			if (d->nnet == RSLV_MAX_NETS) {
				perr(p, "'server %s' : 'resolve-net' : ferry keeps at most %d networks.", sname, RSLV_MAX_NETS);
				return -1;
			}
			if (cfg_net_parse(n, &d->net[d->nnet])) {
				perr(p, "'server %s' : 'resolve-net' invalid network '%s'.", sname, n);
				return -1;
			}
			d->nnet++;
		}
	} else if (!strcmp(k, "resolve-opts")) {
		char buf[256], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", v);
		for (char *n = strtok_r(buf, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
			if (!strcmp(n, "allow-dup-ip"))
				d->opts |= RSLV_O_ALLOW_DUP_IP;
			else if (!strcmp(n, "prevent-dup-ip"))
				d->opts &= ~RSLV_O_ALLOW_DUP_IP;
			else if (!strcmp(n, "ignore-weight"))
				d->opts |= RSLV_O_IGNORE_WEIGHT;
			else {
				perr(p, "'server %s' : '%s' : unknown resolve-opts option '%s', supported methods are 'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'.",
				     sname, k, n);
				return -1;
			}
		}
	} else if (init_addr_list(p, sname, v, d)) {
		return -1;
	}
	return 1;
}

/* ---- a server's address at start-up ---------------------------------------- */

/* The host part of "host[:port]" (an "ipv4@"/"ipv6@" prefix dropped) and
 * its port (0: none). Returns 0, or -1 when the port is no number. */
static int split_host(const char *a, char *host, size_t len, int *port)
{
	const char *colon;
	char *end;
	long v;

	if (!strncmp(a, "ipv4@", 5) || !strncmp(a, "ipv6@", 5))
		a += 5;
	colon = strrchr(a, ':');
	*port = 0;
	if (!colon) {
		snprintf(host, len, "%s", a);
		return 0;
	}
	v = strtol(colon + 1, &end, 10);
	if (colon[1] && (*end || v < 1 || v > 65535))
		return -1;
	*port = colon[1] ? (int)v : 0;
	snprintf(host, len, "%.*s", (int)(colon - a), a);
	return 0;
}

static int has_last(const enum init_addr *m)
{
	for (; *m; m++)
		if (*m == IA_LAST)
			return 1;
	return 0;
}

/* The methods are tried in their order here; "last" (the server state
 * file's address) is decided once the whole configuration is read
 * (apply_last below), as HAProxy reads the file before it resolves. */
int parse_server_addr(struct pctx *p, struct cfg_server *s, char *err, size_t errlen)
{
	static const enum init_addr dflt[] = { IA_LAST, IA_LIBC, 0 };
	const struct cfg_srv_dns *d = &s->o.dns;
	const enum init_addr *m = d->init[0] ? d->init : dflt;
	char host[DNS_HOST_LEN], perr_buf[300], libc_err[300] = "";
	int port, seen_last = 0;

	/* an IP address (or an error that no resolution changes) */
	if (!addr_parse(s->addr_text, ADDR_F_PORT_OPTIONAL | ADDR_F_UNIX, &s->addr, perr_buf, sizeof(perr_buf)))
		return 0;
	if (split_host(s->addr_text, host, sizeof(host), &port) || !*host || strchr(host, '@')) {
		snprintf(err, errlen, "%s", perr_buf);
		return -1;
	}
	memset(&s->addr, 0, sizeof(s->addr));
	s->addr.port_lo = s->addr.port_hi = port;
	if (d->resolvers[0]) {
		s->fqdn = xstrdup(host);
		for (char *q = s->fqdn; *q; q++)
			*q = (char)((*q >= 'A' && *q <= 'Z') ? *q - 'A' + 'a' : *q);
		if (host[0] == '_') { /* a SRV label: the records will say */
			s->no_addr = 1;
			s->last.use = has_last(m);
			return 0;
		}
	}
	for (; *m; m++) {
		switch (*m) {
		case IA_LAST:
			seen_last = 1;
			break;
		case IA_LIBC:
			if (!addr_parse(s->addr_text, ADDR_F_PORT_OPTIONAL | ADDR_F_RESOLVE, &s->addr,
					libc_err, sizeof(libc_err))) {
				s->last.use = seen_last;
				return 0;
			}
			break;
		case IA_NONE:
			s->no_addr = 1;
			s->last.use = seen_last;
			return 0;
		case IA_IP:
			if (*libc_err)
				pwarn(p, "'server %s' : could not resolve address '%s', falling back to configured address.",
				      s->name, host);
			s->addr.ss = d->init_ip;
			s->addr.len = d->init_ip.ss_family == AF_INET ? sizeof(struct sockaddr_in)
								      : sizeof(struct sockaddr_in6);
			addr_set_port((struct sockaddr *)&s->addr.ss, port);
			s->last.use = seen_last;
			return 0;
		}
	}
	if (!d->resolvers[0]) { /* getaddrinfo's reason, else ours */
		if (*libc_err)
			snprintf(err, errlen, "%s", libc_err);
		else
			snprintf(err, errlen, "could not resolve address '%s'", host);
	}
	if (d->resolvers[0]) /* HAProxy starts it in maintenance */
		snprintf(s->last.err, sizeof(s->last.err), "'server %s' : could not resolve address '%s', disabling server.",
			 s->name, host);
	else
		snprintf(s->last.err, sizeof(s->last.err), "server '%s': %s", s->name, err);
	if (seen_last) { /* the state file may still give it an address */
		s->no_addr = s->last.use = s->last.failed = 1;
		s->last.warn = d->resolvers[0] != 0;
		return 0;
	}
	if (d->resolvers[0]) {
		pwarn(p, "%s", s->last.err);
		s->no_addr = 1;
		return 0;
	}
	return -1;
}

static struct cfg_server *cfg_server_named(struct cfg *c, const char *be, const char *name)
{
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		if ((px->cap & PX_CAP_BE) && !strcmp(px->name, be))
			for (struct cfg_server *s = px->servers; s; s = s->next)
				if (!strcmp(s->name, name))
					return s;
	return NULL;
}

/* A state file line: a server whose init-addr says "last" first takes
 * the saved address (with its configured port); a server-template slot
 * resolving the same SRV label takes its saved record (target, port),
 * and its address when "last" applies, as HAProxy's srv_state_srv_update
 * and srv_apply_lastaddr. */
static void last_line(void *arg, const char *path, int lineno, char **f, int n)
{
	struct cfg_server *s;
	struct sockaddr_storage ss;
	int slot, port;

	(void)path;
	(void)lineno;
	if (n <= SST_SRVRECORD || !(s = cfg_server_named(arg, f[SST_BE_NAME], f[SST_SRV_NAME])))
		return;
	slot = s->fqdn && s->fqdn[0] == '_';
	if (!s->last.use && !slot)
		return;
	port = atoi(f[SST_PORT]);
	if (slot) {
		if (strcmp(f[SST_SRVRECORD], s->fqdn) || !strcmp(f[SST_FQDN], "-") || port < 1 || port > 65535 ||
		    strlen(f[SST_FQDN]) >= sizeof(s->last.target))
			return; /* HAProxy: "SRV record mismatch", not applied */
		for (int i = 0; f[SST_FQDN][i]; i++)
			s->last.target[i] = (char)tolower((unsigned char)f[SST_FQDN][i]);
		s->last.target[strlen(f[SST_FQDN])] = 0;
		s->last.port = port;
		if (!s->last.use)
			return;
	} else {
		port = s->addr.port_lo; /* the configuration's (HAProxy 2.6 takes the saved one) */
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, f[SST_ADDR], &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, f[SST_ADDR], &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return; /* "-": none saved */
	addr_set_port((struct sockaddr *)&ss, port);
	s->addr.ss = ss;
	s->addr.port_lo = s->addr.port_hi = port; /* a slot's: the record's */
	s->addr.len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	s->no_addr = 0;
	s->last.failed = 0;
}

/* init-addr last, once every section is read: the state files' saved
 * addresses; then what could not be resolved is said. */
static void apply_last(struct cfg *c)
{
	int any = 0;

	for (struct cfg_proxy *px = c->proxies; px && !any; px = px->next)
		for (struct cfg_server *s = px->servers; s && !any; s = s->next)
			any = s->last.use || (s->fqdn && s->fqdn[0] == '_');
	if (any)
		cfg_state_each(c, 0, last_line, c); /* the runtime warns about the file */
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		for (struct cfg_server *s = px->servers; s; s = s->next) {
			if (!s->last.failed)
				continue;
			if (s->last.warn)
				cfg_warn(c, s->file, s->line, "%s", s->last.err);
			else
				cfg_error(c, s->file, s->line, "%s", s->last.err);
		}
}

/* ---- server-template ----------------------------------------------------------- */

void kw_server_template(struct pctx *p, struct cfg_words *w)
{
	struct cfg_words *sw;
	long lo, hi;
	char *end;
	const char *r;

	if (w->n < 4 || !*w->w[3]) {
		perr(p, "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments.");
		return;
	}
	r = w->w[2];
	lo = strtol(r, &end, 10);
	if (*end == '-' && end != r) {
		hi = strtol(end + 1, &end, 10);
	} else {
		hi = lo;
		lo = 1;
	}
	if (*end || end == r || lo < 1 || hi < lo || hi - lo >= 10000) {
		perr(p, "Wrong server-template number or range arg '%s'.", r);
		return;
	}
	sw = xcalloc(1, sizeof(*sw));
	*sw = *w;
	for (long i = lo; i <= hi; i++) {
		char name[300];
		struct cfg_server *s;
		snprintf(name, sizeof(name), "%s%ld", w->w[1], i);
		sw->w[1] = name;
		sw->w[2] = w->w[3];
		for (int k = 3; k + 1 < w->n; k++)
			sw->w[k] = w->w[k + 1];
		sw->w[w->n - 1] = NULL;
		sw->n = w->n - 1;
		parse_server_line(p, sw);
		for (s = p->px->servers; s && s->next; s = s->next)
			;
		if (s)
			s->tmpl = 1;
	}
	free(sw);
}

void cfg_validate_resolvers(struct cfg *c)
{
	apply_last(c);
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		for (struct cfg_server *s = px->servers; s; s = s->next)
			if (s->o.dns.resolvers[0] && !cfg_find_resolvers(c, s->o.dns.resolvers))
				cfg_error(c, s->file, s->line, "%s '%s', server '%s': unable to find required resolvers '%s'",
					  px_kind(px), px->name, s->name, s->o.dns.resolvers);
}

/* Keywords of defaults, frontend, backend and listen sections. */
#include "config/parse_int.h"

#include <stdlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/haproxy_kw.h"
#include "core/strutil.h"

void parse_bind_line(struct pctx *p, struct cfg_words *w); /* parse_server.c */
void parse_server_line(struct pctx *p, struct cfg_words *w);

static const struct cfg_srv_opts srv_opts_builtin = {
	.weight = 1, .maxconn = 0, .maxqueue = 0, .check = 0,
	.inter = 2000, .fastinter = 0, .downinter = 0, .rise = 2, .fall = 3,
	.check_port = 0, .check_addr = NULL, .backup = 0, .disabled = 0,
	.error_limit = 10, .on_error = SRV_ONERR_FAIL_CHECK, /* HAProxy's DEF_HANA_* */
};

void proxy_defaults_builtin(struct cfg_proxy *px)
{
	memset(px, 0, sizeof(*px));
	px->algo = LB_ROUNDROBIN;
	px->random_draws = 2;
	px->retries = 3;
	px->redispatch_interval = -1;
	px->dflt_srv = srv_opts_builtin;
}

void proxy_init_from(struct cfg_proxy *px, const struct cfg_proxy *def)
{
	*px = *def;
	px->next = NULL;
	px->name = NULL;
	px->binds = NULL;
	px->servers = NULL;
	px->nservers = 0;
	px->be = NULL;
	px->rlines.v = NULL;       /* rules are never inherited (not allowed in defaults) */
	px->rlines.n = 0;
	px->crules = NULL;
	px->options_set = 0;
	px->default_backend_line = 0; /* an inherited one points at the proxy */
	px->default_backend = def->default_backend ? xstrdup(def->default_backend) : NULL;
	px->logformat = def->logformat ? xstrdup(def->logformat) : NULL;
	px->clogfmt = NULL;
	px->state_file_name = def->state_file_name ? xstrdup(def->state_file_name) : NULL;
	px->dflt_srv.check_addr = def->dflt_srv.check_addr ? xstrdup(def->dflt_srv.check_addr) : NULL;
	px->dflt_srv.agent_send = def->dflt_srv.agent_send ? xstrdup(def->dflt_srv.agent_send) : NULL;
	tcr_list_copy(&px->rules, &def->rules);
	tcr_list_copy(&px->hrules, &def->hrules); /* until a line here starts its own (HAProxy) */
	px->hrules_own = 0;
	px->httpchk &= ~HTTPCHK_F_UNUSED;
	px->stats = cfg_stats_copy(def->stats);
	px->stats_own = 0;
	px->http_lines = NULL;
	px->nhttp_lines = 0;
	px->other_kw[0] = 0;
	/* "mode http" passes on: a proxy that keeps it is a stats frontend or
	 * refused (parse_stats_fe.c) */
	px->mode_http_line = def->mode_http_line;
	px->mode_http_file = def->mode_http_file;
	http_ignored_copy(px, def);
	px->prometheus = 0;
	pgcheck_copy(&px->pg, &def->pg);
	px->logs.v = NULL;
	if (def->logs.n) {
		px->logs.v = xcalloc((size_t)def->logs.n, sizeof(*px->logs.v));
		memcpy(px->logs.v, def->logs.v, (size_t)def->logs.n * sizeof(*px->logs.v));
	}
}

static const char *where(struct pctx *p)
{
	static char buf[300];
	if (p->px->cap == PX_CAP_DEF && !p->px->name[0])
		return "section 'defaults'";
	snprintf(buf, sizeof(buf), "%s '%s'", px_kind(p->px), p->px->name);
	return buf;
}

const char *px_where(struct pctx *p)
{
	return where(p);
}

static void kw_mode(struct pctx *p, struct cfg_words *w)
{
	if (!w->w[1]) {
		perr(p, "'mode' expects 'tcp'");
	} else if (!strcmp(w->w[1], "http") && (p->px->cap & (PX_CAP_FE | PX_CAP_DEF))) {
		/* a stats frontend, or an error (parse_stats_fe.c); in defaults,
		 * for the proxies that do not say "mode tcp" */
		p->px->mode_http_line = p->line;
		p->px->mode_http_file = p->file;
	} else if (!strcmp(w->w[1], "http")) {
		perr(p, "'mode http' in %s: ferry balances TCP connections only; use 'mode tcp'", where(p));
		p->px->mode_http_line = 0;
	} else if (!strcmp(w->w[1], "tcp")) {
		p->px->mode_http_line = 0;
	} else
		perr(p, "unsupported mode '%s' in %s (ferry supports 'mode tcp')", w->w[1], where(p));
}

static void kw_default_backend(struct pctx *p, struct cfg_words *w)
{
	if (!w->w[1]) {
		perr(p, "'default_backend' expects a backend name");
		return;
	}
	free(p->px->default_backend);
	p->px->default_backend = xstrdup(w->w[1]);
	p->px->default_backend_line = p->line;
}

static void kw_maxconn(struct pctx *p, struct cfg_words *w)
{
	long v;
	if (!arg_int(p, "maxconn", w->w[1], 0, 10000000, &v))
		p->px->maxconn = (int)v;
}

static void kw_backlog(struct pctx *p, struct cfg_words *w)
{
	long v;
	if (!arg_int(p, "backlog", w->w[1], 1, 1000000, &v))
		p->px->backlog = (int)v;
}

/* "rate-limit sessions N" (HAProxy's proxy_parse_rate_limit: strtoul in
 * any base, its sentences). */
static void kw_rate_limit(struct pctx *p, struct cfg_words *w)
{
	const char *a = w->w[1] ? w->w[1] : "", *v = w->w[2];
	char *end;
	unsigned long n;

	if (strcmp(a, "sessions")) {
		perr(p, "'%s' only supports 'sessions' (got '%s')", w->w[0], a);
		return;
	}
	if (!v || !*v) {
		perr(p, "'%s %s' expects expects an integer value (in sessions/second)", w->w[0], a);
		return;
	}
	n = strtoul(v, &end, 0);
	if (*end) {
		perr(p, "'%s %s' : unexpected character '%c' in integer value '%s'", w->w[0], a, *end, v);
		return;
	}
	if (!(p->px->cap & (PX_CAP_FE | PX_CAP_DEF))) {
		pwarn(p, "%s %s will be ignored because %s has no frontend capability", w->w[0], a, where(p));
		return;
	}
	p->px->rate_limit_sess = (unsigned)n;
}

/* "log-format STRING": compiled with the rules (rules/logformat.c), once
 * the whole file is read. As HAProxy, it and "option tcplog" share one
 * slot: the last one written wins. */
static void kw_log_format(struct pctx *p, struct cfg_words *w)
{
	struct cfg_proxy *px = p->px;

	if (!w->w[1] || !*w->w[1]) {
		perr(p, "%s expects an argument.", w->w[0]);
		return;
	}
	if (w->n > 2) {
		perr(p, "%s expects only one argument, don't forget to escape spaces!", w->w[0]);
		return;
	}
	if (px->cap == PX_CAP_DEF && (px->logformat || (px->options & PXO_TCPLOG)))
		pwarn(p, "'log-format' overrides previous '%s' in 'defaults' section.",
		      px->logformat ? "log-format" : "option tcplog");
	free(px->logformat);
	px->logformat = xstrdup(w->w[1]);
	px->lf_file = p->file;
	px->lf_line = p->line;
	if (!(px->cap & (PX_CAP_FE | PX_CAP_DEF))) {
		pwarn(p, "%s : 'log-format' directive is ignored in backends.", where(p));
		return;
	}
	px->options &= ~PXO_TCPLOG;
}

static void kw_retries(struct pctx *p, struct cfg_words *w)
{
	long v;
	if (!arg_int(p, "retries", w->w[1], 0, 100, &v))
		p->px->retries = (int)v;
}

static void kw_balance(struct pctx *p, struct cfg_words *w)
{
	static const char *const algos[] = { "roundrobin", "static-rr", "leastconn",
					     "first", "source", "random", NULL };
	static const char *const http_algos[] = { "rdp-cookie", "hash", NULL };
	const char *a = w->w[1];
	struct cfg_proxy *px = p->px;

	if (!a) {
		perr(p, "'balance' expects an algorithm (roundrobin, static-rr, leastconn, first, source, random)");
		return;
	}
	for (int i = 0; algos[i]; i++)
		if (!strcmp(a, algos[i])) {
			px->algo = (enum lb_algo)i;
			px->random_draws = 2;
			http_forget_l7_hash(px);
			return;
		}
	if (!strncmp(a, "random(", 7)) {
		char *end;
		long n = strtol(a + 7, &end, 10);
		if (end == a + 7 || strcmp(end, ")") || n < 1 || n > 100) {
			perr(p, "'balance %s': expects random(N) with N from 1 to 100", a);
			return;
		}
		px->algo = LB_RANDOM;
		px->random_draws = (int)n;
		http_forget_l7_hash(px);
		return;
	}
	if (http_balance(p, w)) /* uri, url_param, hdr(): round robin, as HAProxy */
		return;
	for (int i = 0; http_algos[i]; i++)
		if (!strncmp(a, http_algos[i], strlen(http_algos[i]))) {
			perr(p, "'balance %s' is an HAProxy keyword that ferry does not support yet", a);
			return;
		}
	{
		const char *best = str_suggest(a, algos);
		if (best)
			perr(p, "unknown balance algorithm '%s' (did you mean '%s'?)", a, best);
		else
			perr(p, "unknown balance algorithm '%s' (expected roundrobin, static-rr, leastconn, first, source or random)", a);
	}
}

static void kw_hash_type(struct pctx *p, struct cfg_words *w)
{
	const char *t = w->w[1];

	if (!t) {
		perr(p, "'hash-type' expects 'map-based' or 'consistent'");
		return;
	}
	if (!strcmp(t, "map-based"))
		p->px->hash_type = HASH_MAP;
	else if (!strcmp(t, "consistent"))
		p->px->hash_type = HASH_CONSISTENT;
	else {
		perr(p, "unknown hash-type '%s' (expected map-based or consistent)", t);
		return;
	}
	/* The hash function and modifier words ("sdbm", "avalanche") are
	 * accepted; ferry always hashes with its own function (see README). */
	for (int i = 2; i < w->n; i++)
		if (strcmp(w->w[i], "sdbm") && strcmp(w->w[i], "djb2") &&
		    strcmp(w->w[i], "wt6") && strcmp(w->w[i], "crc32") &&
		    strcmp(w->w[i], "none") && strcmp(w->w[i], "avalanche")) {
			perr(p, "unknown hash function or modifier '%s'", w->w[i]);
			return;
		}
}

static void kw_default_server(struct pctx *p, struct cfg_words *w)
{
	parse_srv_opts(p, w, 1, &p->px->dflt_srv, 1, NULL);
}

static void kw_log(struct pctx *p, struct cfg_words *w)
{
	parse_log_line(p, w, &p->px->logs, &p->px->log_global, 1);
}

static void kw_load_state(struct pctx *p, struct cfg_words *w)
{
	const char *v = w->w[1];

	if (v && !strcmp(v, "global"))
		p->px->load_state = SSF_GLOBAL;
	else if (v && !strcmp(v, "local"))
		p->px->load_state = SSF_LOCAL;
	else if (v && !strcmp(v, "none"))
		p->px->load_state = SSF_NONE;
	else
		perr(p, "'load-server-state-from-file' expects 'global', 'local' or 'none'");
}

static void kw_state_file_name(struct pctx *p, struct cfg_words *w)
{
	free(p->px->state_file_name);
	p->px->state_file_name = NULL;
	/* no argument or use-backend-name: the backend's own name */
	if (w->w[1] && strcmp(w->w[1], "use-backend-name"))
		p->px->state_file_name = xstrdup(w->w[1]);
}

/* "source ADDR[:PORT]": where the backend's connections come from, for the
 * servers without a "source" of their own. */
static void kw_source(struct pctx *p, struct cfg_words *w)
{
	int i = 0;

	if (parse_source(p, w, &i, &p->px->source))
		return;
	p->px->has_source = 1;
	if (w->w[i + 1])
		perr(p, "unexpected word '%s' after 'source %s'", w->w[i + 1], w->w[i]);
}

static void kw_bind_process(struct pctx *p, struct cfg_words *w)
{
	(void)w;
	pwarn(p, "'bind-process' has no effect, is deprecated, and will be removed in version 2.7.");
}

static void kw_accepted(struct pctx *p, struct cfg_words *w)
{
	(void)p;
	(void)w;
}

/* ---- timeout ---------------------------------------------------------------- */

static void kw_timeout(struct pctx *p, struct cfg_words *w)
{
	static const struct { const char *name; int cap; size_t off; } t[] = {
		{ "connect", PX_CAP_BE, offsetof(struct cfg_timeouts, connect) },
		{ "client", PX_CAP_FE, offsetof(struct cfg_timeouts, client) },
		{ "server", PX_CAP_BE, offsetof(struct cfg_timeouts, server) },
		{ "tunnel", PX_CAP_BE, offsetof(struct cfg_timeouts, tunnel) },
		{ "client-fin", PX_CAP_FE, offsetof(struct cfg_timeouts, client_fin) },
		{ "server-fin", PX_CAP_BE, offsetof(struct cfg_timeouts, server_fin) },
		{ "check", PX_CAP_BE, offsetof(struct cfg_timeouts, check) },
		{ "queue", PX_CAP_BE, offsetof(struct cfg_timeouts, queue) },
	};
	const char *names[16];
	const char *what = w->w[1];
	char kw[64];

	if (!what) {
		perr(p, "'timeout' expects connect, client, server, tunnel, client-fin, server-fin, check or queue");
		return;
	}
	if (!strcmp(what, "http-request") || !strcmp(what, "http-keep-alive") || !strcmp(what, "tarpit")) {
		/* HTTP-only: a TCP proxy ignores them in silence, as HAProxy's;
		 * a stats frontend bounds its requests with http-request */
		int64_t ms;
		snprintf(kw, sizeof(kw), "timeout %s", what);
		if (!arg_duration(p, kw, w->w[2], &ms) && !strcmp(what, "http-request"))
			p->px->to.http_request = ms;
		return;
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		names[i] = t[i].name;
		names[i + 1] = NULL;
		if (strcmp(what, t[i].name))
			continue;
		snprintf(kw, sizeof(kw), "timeout %s", what);
		if (!(p->px->cap & (t[i].cap | PX_CAP_DEF))) {
			pwarn(p, "'%s' will be ignored because %s has no %s capability", kw,
			      where(p), t[i].cap == PX_CAP_FE ? "frontend" : "backend");
			return;
		}
		arg_duration(p, kw, w->w[2], (int64_t *)((char *)&p->px->to + t[i].off));
		if (w->n > 3)
			perr(p, "'%s' takes one value", kw);
		return;
	}
	{
		const char *best = str_suggest(what, names);
		if (best)
			perr(p, "unknown timeout '%s' (did you mean '%s'?)", what, best);
		else
			perr(p, "unknown timeout '%s'", what);
	}
}

/* ---- option ------------------------------------------------------------------ */

static const struct { const char *name; int cap; unsigned flag; } options[] = {
	{ "log-health-checks", PX_CAP_BE, PXO_LOGHCHK },
	{ "redispatch", PX_CAP_BE, PXO_REDISPATCH },
	{ "allbackups", PX_CAP_BE, PXO_ALLBACKUPS },
	{ "tcplog", PX_CAP_FE, PXO_TCPLOG },
	{ "dontlognull", PX_CAP_FE, PXO_DONTLOGNULL },
	{ "tcpka", PX_CAP_FE | PX_CAP_BE, PXO_CLITCPKA | PXO_SRVTCPKA },
	{ "clitcpka", PX_CAP_FE, PXO_CLITCPKA },
	{ "srvtcpka", PX_CAP_BE, PXO_SRVTCPKA },
	{ "pgsql", PX_CAP_FE, PXO_PGSQL }, /* ferry's own: HAProxy has no such option */
};

/* ferry always splices bulk transfers automatically: these change nothing */
static const char *const splice_options[] = { "splice-auto", "splice-request", "splice-response", NULL };
static const char *const ignored_options[] = {
	"abortonclose",
	"nolinger", "independent-streams", "log-separate-errors", "logasap",
	"socket-stats", "tcp-smart-accept", "tcp-smart-connect", "dontlog-normal",
	"contstats", "persist", NULL
};
/* the capability each of them needs (HAProxy's cfg_opts) */
static const int ignored_caps[] = {
	PX_CAP_BE,
	PX_CAP_FE | PX_CAP_BE, PX_CAP_FE | PX_CAP_BE, PX_CAP_FE, PX_CAP_FE,
	PX_CAP_FE, PX_CAP_FE, PX_CAP_BE, PX_CAP_FE,
	PX_CAP_FE, PX_CAP_BE,
};
/* "option transparent" would connect to the client's original destination */
static const char *const later_options[] = { "external-check", "spop-check", "transparent", NULL };
static const char *const check_options[] = {
	"tcp-check", "pgsql-check", "redis-check", "mysql-check", "ssl-hello-chk",
	"smtpchk", "ldap-check", "httpchk", NULL
};

static int in(const char *w, const char *const *l)
{
	for (; *l; l++)
		if (!strcmp(*l, w))
			return 1;
	return 0;
}

static void kw_option(struct pctx *p, struct cfg_words *w, int negate)
{
	const char *o = w->w[1];
	const char *names[64];
	int n = 0;

	if (!o) {
		perr(p, "'option' expects an option name");
		return;
	}
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		names[n++] = options[i].name;
		if (strcmp(o, options[i].name))
			continue;
		if (!(p->px->cap & (options[i].cap | PX_CAP_DEF))) {
			if (options[i].flag == PXO_TCPLOG)
				pwarn(p, "%s : 'option %s' directive is ignored in backends.", where(p), o);
			else
				pwarn(p, "'%s' ignored because %s has no %s capability.", o,
				      where(p), options[i].cap == PX_CAP_FE ? "frontend" : "backend");
			return;
		}
		if (options[i].flag == PXO_TCPLOG && !negate) {
			http_forget_httplog(p->px);
			free(p->px->logformat); /* one slot for both (HAProxy) */
			p->px->logformat = NULL;
		}
		if (negate)
			p->px->options &= ~options[i].flag;
		else
			p->px->options |= options[i].flag;
		p->px->options_set |= options[i].flag;
		if (options[i].flag == PXO_REDISPATCH && w->w[2] && !negate) {
			long v;
			if (!arg_int(p, "option redispatch", w->w[2], -100, 100, &v)) {
				if (v == 0)
					p->px->options &= ~PXO_REDISPATCH;
				else
					p->px->redispatch_interval = (int)v;
			}
		}
		return;
	}
	if (in(o, check_options)) {
		if (!(p->px->cap & (PX_CAP_BE | PX_CAP_DEF))) {
			pwarn(p, "'%s' ignored because %s has no backend capability.", o, where(p));
			return;
		}
		if (negate)
			p->px->check_type = CHK_CONNECT;
		else
			parse_check_option(p, w);
		return;
	}
	if (http_option(p, w, negate))
		return;
	if (in(o, later_options)) {
		perr(p, "'option %s' is an HAProxy keyword that ferry does not support yet", o);
		return;
	}
	if (in(o, splice_options))
		return;
	for (int i = 0; ignored_options[i]; i++) {
		if (strcmp(o, ignored_options[i]))
			continue;
		if (!(p->px->cap & (ignored_caps[i] | PX_CAP_DEF)))
			pwarn(p, "'%s' ignored because %s has no %s capability.", o, where(p),
			      ignored_caps[i] == PX_CAP_FE ? "frontend" : "backend");
		else
			pwarn(p, "'option %s' is not supported yet and is ignored", o);
		return;
	}
	{
		char *words[3] = { "option", (char *)o, NULL };
		if (haproxy_kw_find(HKW_PROXY, words)) {
			perr(p, "'option %s' is an HAProxy keyword that ferry does not support yet", o);
			return;
		}
	}
	for (int i = 0; ignored_options[i] && n < 50; i++)
		names[n++] = ignored_options[i];
	for (int i = 0; check_options[i] && n < 58; i++)
		names[n++] = check_options[i];
	for (int i = 0; splice_options[i] && n < 62; i++)
		names[n++] = splice_options[i];
	names[n] = NULL;
	{
		const char *best = str_suggest(o, names);
		if (best)
			perr(p, "unknown option '%s' (did you mean '%s'?)", o, best);
		else
			perr(p, "unknown option '%s'", o);
	}
}

static void kw_option_pos(struct pctx *p, struct cfg_words *w)
{
	kw_option(p, w, 0);
}

static void kw_no(struct pctx *p, struct cfg_words *w)
{
	struct cfg_words sub = *w;

	if (w->n < 2) {
		perr(p, "'no' expects 'option' or 'log'");
		return;
	}
	/* shift the words by one: "no option X" → "option X" */
	sub.n = w->n - 1;
	for (int i = 0; i <= sub.n; i++)
		sub.w[i] = w->w[i + 1];
	if (!strcmp(sub.w[0], "option"))
		kw_option(p, &sub, 1);
	else if (!strcmp(sub.w[0], "log")) {
		p->px->log_global = 0;
		p->px->logs.n = 0;
	} else
		perr(p, "'no %s' is not supported (only 'no option' and 'no log')", sub.w[0]);
}

/* "wait-for-server DURATION" (ferry's own, HAProxy has no such word): how
 * long a client that finds no usable server waits in the backend's queue
 * for one to come UP. 0 turns it off (a backend overriding its defaults). */
static void kw_wait_for_server(struct pctx *p, struct cfg_words *w)
{
	if (arg_duration(p, "wait-for-server", w->w[1], &p->px->wait_for_server))
		return;
	if (w->n > 2)
		perr(p, "'wait-for-server' expects one duration (unexpected word '%s')", w->w[2]);
}

static void kw_bind(struct pctx *p, struct cfg_words *w)
{
	parse_bind_line(p, w);
}

static void kw_server(struct pctx *p, struct cfg_words *w)
{
	parse_server_line(p, w);
}

const struct kw proxy_keywords[] = {
	{ "mode", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_mode },
	{ "bind", PX_CAP_FE, kw_bind },
	{ "default_backend", PX_CAP_FE | PX_CAP_DEF, kw_default_backend },
	{ "maxconn", PX_CAP_FE | PX_CAP_DEF, kw_maxconn },
	{ "backlog", PX_CAP_FE | PX_CAP_DEF, kw_backlog },
	{ "rate-limit", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_rate_limit },
	{ "log-format", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_log_format },
	{ "balance", PX_CAP_BE | PX_CAP_DEF, kw_balance },
	{ "hash-type", PX_CAP_BE | PX_CAP_DEF, kw_hash_type },
	{ "server", PX_CAP_BE, kw_server },
	{ "default-server", PX_CAP_BE | PX_CAP_DEF, kw_default_server },
	{ "server-template", PX_CAP_BE, kw_server_template },
	{ "retries", PX_CAP_BE | PX_CAP_DEF, kw_retries },
	{ "option", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_option_pos },
	{ "no", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_no },
	{ "log", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_log },
	{ "timeout", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_timeout },
	{ "tcp-check", PX_CAP_BE | PX_CAP_DEF, kw_tcp_check },
	{ "http-check", PX_CAP_BE | PX_CAP_DEF, kw_http_check },
	{ "role-change-grace", PX_CAP_BE | PX_CAP_DEF, kw_role_change_grace },
	{ "wait-for-server", PX_CAP_BE | PX_CAP_DEF, kw_wait_for_server },
	{ "load-server-state-from-file", PX_CAP_BE | PX_CAP_DEF, kw_load_state },
	{ "server-state-file-name", PX_CAP_BE | PX_CAP_DEF, kw_state_file_name },
	{ "description", PX_CAP_FE | PX_CAP_BE, kw_accepted_value },
	{ "id", PX_CAP_FE | PX_CAP_BE, kw_accepted_value },
	{ "enabled", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_accepted },
	{ "fullconn", PX_CAP_BE | PX_CAP_DEF, kw_accepted_value },
	{ "stats", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_stats },
	{ "http-request", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_http_request },
	{ "bind-process", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_bind_process },
	{ "source", PX_CAP_BE | PX_CAP_DEF, kw_source },
	{ "acl", PX_CAP_FE | PX_CAP_BE, kw_acl },
	{ "use_backend", PX_CAP_FE, kw_use_backend },
	{ "use-server", PX_CAP_BE, kw_use_server },
	{ "tcp-request", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_tcp_request },
	{ "stick-table", PX_CAP_FE | PX_CAP_BE | PX_CAP_DEF, kw_stick_table },
	{ "stick", PX_CAP_BE, kw_stick },
	{ NULL, 0, NULL }
};

void parse_proxy_line(struct pctx *p, struct cfg_words *w)
{
	const char *k = w->w[0];

	stats_fe_note_keyword(p, w);
	for (const struct kw *kw = proxy_keywords; kw->name; kw++) {
		if (strcmp(kw->name, k))
			continue;
		if (!(p->px->cap & kw->cap)) {
			if (p->px->cap == PX_CAP_DEF)
				perr(p, "'%s' is not allowed in a defaults section", k);
			else if (!strcmp(k, "server") || !strcmp(k, "bind") || !strcmp(k, "server-template"))
				perr(p, "'%s' is not allowed in %s (it needs a %s)", k, where(p),
				     !strcmp(k, "bind") ? "frontend or listen section" : "backend or listen section");
			else if (!strcmp(k, "default-server"))
				perr(p, "'%s' not allowed because %s has no backend capability.", k, where(p));
			else if (!strcmp(k, "fullconn"))
				pwarn(p, "'%s' ignored because %s has no backend capability. Maybe you want 'maxconn' instead ?",
				      k, where(p));
			else
				pwarn(p, "'%s' ignored because %s has no %s capability.", k, where(p),
				      (kw->cap & PX_CAP_FE) ? "frontend" : "backend");
			if (!strcmp(k, "balance") && w->w[1])
				http_balance(p, w); /* HAProxy keeps an HTTP algorithm: it warns again */
			return;
		}
		kw->fn(p, w);
		return;
	}
	if (!strcmp(k, "disabled")) {
		perr(p, "'disabled' in %s is an HAProxy keyword that ferry does not support yet", where(p));
		return;
	}
	if (http_proxy_line(p, w))
		return;
	if (kw_reject_known(p, w->w, where(p)))
		return;
	kw_unknown(p, k, where(p), NULL);
}

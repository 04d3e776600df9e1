/* HTTP-only lines in TCP proxies. HAProxy 2.6 accepts them in a "mode tcp"
 * proxy (and in the defaults section it inherits from) and ignores them,
 * most with a warning written when the configuration is checked: real
 * configurations keep "option httplog", "option forwardfor", "errorfile" in
 * their defaults while most of their proxies are TCP. ferry does the same:
 * each line is checked as HAProxy checks it (a line HAProxy refuses is an
 * error), remembered with where it was written, and validation gives
 * HAProxy 2.6.12's warning once per proxy that has it, in HAProxy's order
 * (proxy_cfg_ensure_no_http() then check_config_validity()). Lines HAProxy
 * ignores in silence ("option http-server-close", "timeout http-request",
 * "errorfile", "compression", ...) are ignored in silence.
 *
 * The sentences are HAProxy's, byte for byte after ferry's "path:line:
 * warning: " (HAProxy's own "parsing [path:line] : " is left out), and
 * the line is the one that wrote the ignored setting, maybe in a defaults
 * section. A real HTTP proxy ("mode http" other than a stats frontend) is
 * still refused (parse_stats_fe.c). */
#include "config/parse_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/haproxy_kw.h"
#include "core/strutil.h"

/* ---- remembering an ignored line -------------------------------------------- */

static void note(struct pctx *p, enum ign_kind kind, int cap, const char *opt, int order)
{
	struct cfg_proxy *px = p->px;
	struct cfg_ignored *e = NULL;

	/* a setting written again replaces the earlier one (its line moves);
	 * rules only count once per proxy: the first one is reported */
	for (int i = 0; i < px->nignored; i++)
		if (px->ignored[i].kind == kind && (!opt || !strcmp(px->ignored[i].opt, opt)))
			e = &px->ignored[i];
	if (e && kind >= IGN_HTTP_REQ && kind <= IGN_REDIRECT && e->own)
		return;
	if (!e) {
		px->ignored = realloc(px->ignored, (size_t)(px->nignored + 1) * sizeof(*px->ignored));
		if (!px->ignored)
			abort();
		e = &px->ignored[px->nignored++];
	}
	*e = (struct cfg_ignored){ .kind = kind, .cap = cap, .own = 1, .order = order,
				   .opt = opt, .file = p->file, .line = p->line };
}

/* Forgets an ignored setting: "no option forwardfor", "option tcplog"
 * after "option httplog", "balance roundrobin" after "balance uri". */
static void forget(struct cfg_proxy *px, enum ign_kind kind, const char *opt)
{
	for (int i = 0; i < px->nignored; i++)
		if (px->ignored[i].kind == kind && (!opt || !strcmp(px->ignored[i].opt, opt))) {
			px->ignored[i] = px->ignored[--px->nignored];
			i--;
		}
}

void http_ignored_copy(struct cfg_proxy *px, const struct cfg_proxy *def)
{
	px->ignored = NULL;
	px->nignored = def->nignored;
	if (!def->nignored)
		return;
	px->ignored = xcalloc((size_t)def->nignored, sizeof(*px->ignored));
	memcpy(px->ignored, def->ignored, (size_t)def->nignored * sizeof(*px->ignored));
	for (int i = 0; i < px->nignored; i++)
		px->ignored[i].own = 0;
}

void http_forget_httplog(struct cfg_proxy *px)
{
	forget(px, IGN_HTTPLOG, NULL);
}

void http_forget_l7_hash(struct cfg_proxy *px)
{
	forget(px, IGN_L7_HASH, NULL);
}

/* ---- HAProxy's words for capabilities ------------------------------------------ */

const char *cfg_proxy_type(const struct cfg_proxy *px)
{
	switch (px->cap) {
	case PX_CAP_FE: return "frontend";
	case PX_CAP_BE: return "backend";
	case PX_CAP_DEF: return "defaults";
	default: return "proxy";
	}
}

/* HAProxy's warning for a keyword the section cannot use (it is ignored).
 * Returns 1 when the section lacks cap (and the warning was given). */
static int lacks(struct pctx *p, const char *kw, int cap)
{
	struct cfg_proxy *px = p->px;

	if (px->cap == PX_CAP_DEF || (px->cap & cap))
		return 0;
	pwarn(p, "'%s' ignored because %s '%s' has no %s capability.", kw, px_kind(px), px->name,
	      cap == PX_CAP_FE ? "frontend" : "backend");
	return 1;
}

/* HAProxy's errors for a keyword a section may not hold. */
static int not_in_defaults(struct pctx *p, const char *what)
{
	if (p->px->cap != PX_CAP_DEF)
		return 0;
	perr(p, "'%s' not allowed in 'defaults' section.", what);
	return 1;
}

static int not_in_anonymous_defaults(struct pctx *p, const char *what)
{
	if (p->px->cap != PX_CAP_DEF || p->px->name[0])
		return 0;
	perr(p, "'%s' not allowed in anonymous 'defaults' section.", what);
	return 1;
}

static int too_many(struct pctx *p, struct cfg_words *w, int max_args)
{
	if (w->n <= max_args + 1)
		return 0;
	perr(p, "'%s %s' cannot handle unexpected argument '%s'.", w->w[0], w->w[1], w->w[max_args + 1]);
	return 1;
}

/* ---- options -------------------------------------------------------------------- */

/* The HTTP-only options HAProxy 2.6 ignores in a TCP proxy, in the order it
 * warns about them (forwardfor and originalto first, then its cfg_opts and
 * cfg_opts2 tables); warn = 0: ignored in silence. */
static const struct { const char *name; int cap; int warn; } http_opts[] = {
	{ "forwardfor", PX_CAP_FE | PX_CAP_BE, 1 },
	{ "originalto", PX_CAP_FE | PX_CAP_BE, 1 },
	{ "checkcache", PX_CAP_BE, 1 },
	{ "http-buffer-request", PX_CAP_FE | PX_CAP_BE, 1 },
	{ "http-ignore-probes", PX_CAP_FE, 1 },
	{ "idle-close-on-response", PX_CAP_FE, 1 },
	{ "prefer-last-server", PX_CAP_BE, 1 },
	{ "accept-invalid-http-request", PX_CAP_FE, 1 },
	{ "accept-invalid-http-response", PX_CAP_BE, 1 },
	{ "http-use-proxy-header", PX_CAP_FE, 1 },
	{ "http-pretend-keepalive", PX_CAP_BE, 1 },
	{ "http-no-delay", PX_CAP_FE | PX_CAP_BE, 1 },
	{ "disable-h2-upgrade", PX_CAP_FE, 1 },
	{ "h1-case-adjust-bogus-client", PX_CAP_FE, 0 },
	{ "h1-case-adjust-bogus-server", PX_CAP_BE, 0 },
	{ "http-keep-alive", PX_CAP_FE | PX_CAP_BE, 0 },
	{ "http-server-close", PX_CAP_FE | PX_CAP_BE, 0 },
	{ "httpclose", PX_CAP_FE | PX_CAP_BE, 0 },
	{ "http-restrict-req-hdr-names", PX_CAP_FE | PX_CAP_BE, 0 },
};

/* "option forwardfor [except NET] [header NAME] [if-none]" and
 * "option originalto [except NET] [header NAME]". */
static int fwd_args(struct pctx *p, struct cfg_words *w)
{
	int fwd = !strcmp(w->w[1], "forwardfor");

	for (int i = 2; i < w->n; i++) {
		if (!strcmp(w->w[i], "except") || !strcmp(w->w[i], "header")) {
			if (!w->w[i + 1]) {
				perr(p, "'option %s %s' expects %s as argument.", w->w[1], w->w[i],
				     !strcmp(w->w[i], "header") ? "<header_name>" : "<address>[/mask]");
				return -1;
			}
			i++;
		} else if (fwd && !strcmp(w->w[i], "if-none")) {
			continue;
		} else {
			perr(p, fwd ? "'option forwardfor' only supports optional values: 'except', 'header' and 'if-none'."
				    : "'option originalto' only supports optional values: 'except' and 'header'.");
			return -1;
		}
	}
	return 0;
}

static int httplog_option(struct pctx *p, struct cfg_words *w, int negate)
{
	const char *o = w->w[1];
	struct cfg_proxy *px = p->px;

	if (negate) {
		forget(px, IGN_HTTPLOG, NULL);
		return 1;
	}
	if (!strcmp(o, "httplog") && w->w[2] && (strcmp(w->w[2], "clf") || w->w[3])) {
		perr(p, "keyword 'httplog' only supports option 'clf'.");
		return 1;
	}
	if (!strcmp(o, "httpslog") && too_many(p, w, 1))
		return 1;
	if (px->cap == PX_CAP_BE)
		pwarn(p, "backend '%s' : 'option %s' directive is ignored in backends.", px->name, o);
	note(p, IGN_HTTPLOG, PX_CAP_FE, !strcmp(o, "httplog") ? "httplog" : "httpslog", 0);
	return 1;
}

int http_option(struct pctx *p, struct cfg_words *w, int negate)
{
	const char *o = w->w[1];
	size_t i;

	if (!strcmp(o, "httplog") || !strcmp(o, "httpslog"))
		return httplog_option(p, w, negate);
	if (!strcmp(o, "http-tunnel")) {
		perr(p, "option 'http-tunnel' is not supported any more since HAProxy 2.1, please just remove it, it shouldn't be needed.");
		return 1;
	}
	for (i = 0; i < sizeof(http_opts) / sizeof(http_opts[0]); i++)
		if (!strcmp(o, http_opts[i].name))
			break;
	if (i == sizeof(http_opts) / sizeof(http_opts[0]))
		return 0;
	if (!strcmp(o, "forwardfor") || !strcmp(o, "originalto")) {
		if (negate) {
			perr(p, "negation/default is not supported for option '%s'.", o);
			return 1;
		}
		if (fwd_args(p, w))
			return 1;
	} else if (!strcmp(o, "http-restrict-req-hdr-names")) {
		if (!w->w[2] || (strcmp(w->w[2], "preserve") && strcmp(w->w[2], "delete") &&
				 strcmp(w->w[2], "reject"))) {
			perr(p, "'option %s' expects 'preserve', 'delete' or 'reject'.", o);
			return 1;
		}
		if (too_many(p, w, 2))
			return 1;
	} else if (too_many(p, w, 1)) {
		return 1;
	}
	if (lacks(p, o, http_opts[i].cap))
		return 1;
	if (negate)
		forget(p->px, IGN_OPTION, http_opts[i].name);
	else if (http_opts[i].warn)
		note(p, IGN_OPTION, http_opts[i].cap, http_opts[i].name, (int)i);
	return 1;
}

/* ---- balance uri|url_param|hdr() -------------------------------------------------- */

int http_balance(struct pctx *p, struct cfg_words *w)
{
	const char *a = w->w[1];

	if (!strcmp(a, "url_param") && !w->w[2]) {
		perr(p, "'balance url_param' requires an URL parameter name.");
		return 1;
	}
	if (!strncmp(a, "hdr", 3) && (a[3] != '(' || strlen(a) < 6 || a[strlen(a) - 1] != ')')) {
		perr(p, "'balance hdr(name)' requires an http header field name.");
		return 1;
	}
	if (strcmp(a, "uri") && strcmp(a, "url_param") && strncmp(a, "hdr(", 4))
		return 0;
	p->px->algo = LB_ROUNDROBIN; /* HAProxy's fallback */
	note(p, IGN_L7_HASH, PX_CAP_BE, NULL, 0);
	return 1;
}

/* ---- proxy keywords ------------------------------------------------------------------ */

/* An HTTP status errorfile and errorloc accept (HAProxy's http_err_codes). */
static int err_code_ok(const char *s)
{
	static const char *const codes[] = { "200", "400", "401", "403", "404", "405", "407", "408",
					     "410", "413", "425", "429", "500", "501", "502", "503",
					     "504", NULL };
	for (int i = 0; codes[i]; i++)
		if (!strcmp(s, codes[i]))
			return 1;
	return 0;
}

static void kw_errorfile(struct pctx *p, struct cfg_words *w)
{
	const char *k = w->w[0];
	int file = !strcmp(k, "errorfile");

	if (w->n < 3) {
		perr(p, "%s : expects <status_code> and <%s> as arguments.", k, file ? "file" : "url");
	} else if (!err_code_ok(w->w[1])) {
		perr(p, "%s : status code '%s' not handled.", k, w->w[1]);
	} else if (file && access(w->w[2], R_OK) == -1) {
		perr(p, "%s : error opening file '%s'.", k, w->w[2]);
	}
}

static void kw_capture(struct pctx *p, struct cfg_words *w)
{
	const char *what = w->w[1];
	int cookie = what && !strcmp(what, "cookie");

	if (what && (cookie || !strcmp(what, "request") || !strcmp(what, "response"))) {
		char kw[32];
		snprintf(kw, sizeof(kw), "capture %s", what);
		if (not_in_defaults(p, kw))
			return;
	}
	lacks(p, "capture", PX_CAP_FE);
	if (cookie) {
		if (!w->w[2] || !w->w[3] || strcmp(w->w[3], "len") || !w->w[4]) {
			perr(p, "'capture' expects 'cookie' <cookie_name> 'len' <len>.");
			return;
		}
		note(p, IGN_CAPTURE, PX_CAP_FE, NULL, 0);
	} else if (what && (!strcmp(what, "request") || !strcmp(what, "response"))) {
		if (!w->w[2] || strcmp(w->w[2], "header") || !w->w[3] || !w->w[4] ||
		    strcmp(w->w[4], "len") || !w->w[5])
			perr(p, "'capture %s header' expects <header_name> 'len' <len>.", what);
	} else {
		perr(p, "'capture' expects 'cookie', 'request header' or 'response header'.");
	}
}

/* http-request / http-response / http-after-response: the action must be
 * one HAProxy 2.6 documents; the rest (conditions, log-format strings) is
 * not read, as HAProxy ignores the whole rule in a TCP proxy. */
static void kw_http_rule(struct pctx *p, struct cfg_words *w, enum hkw_kind kind, enum ign_kind ign)
{
	char action[64];
	char *words[2] = { action, NULL };

	if (not_in_anonymous_defaults(p, w->w[0]))
		return;
	if (!w->w[1]) {
		perr(p, "'%s' expects an action", w->w[0]);
		return;
	}
	snprintf(action, sizeof(action), "%.*s", (int)strcspn(w->w[1], "("), w->w[1]);
	if (!haproxy_kw_find(kind, words) &&
	    !(kind == HKW_HTTP_REQ && (!strncmp(action, "track-sc", 8) || !strcmp(action, "cache-use")))) {
		perr(p, "'%s' does not know the action '%s' (HAProxy 2.6's actions are in its configuration manual, 4.2)",
		     w->w[0], w->w[1]);
		return;
	}
	note(p, ign, PX_CAP_FE | PX_CAP_BE, NULL, 0);
}

void kw_http_rules(struct pctx *p, struct cfg_words *w)
{
	if (!strcmp(w->w[0], "http-request"))
		kw_http_rule(p, w, HKW_HTTP_REQ, IGN_HTTP_REQ);
	else if (!strcmp(w->w[0], "http-response"))
		kw_http_rule(p, w, HKW_HTTP_RES, IGN_HTTP_RES);
	else
		kw_http_rule(p, w, HKW_HTTP_AFTER, IGN_HTTP_AFTER);
}

static void kw_redirect(struct pctx *p, struct cfg_words *w)
{
	const char *t = w->w[1];

	if (not_in_defaults(p, "redirect"))
		return;
	if (!t || (strcmp(t, "location") && strcmp(t, "prefix") && strcmp(t, "scheme")) || !w->w[2]) {
		perr(p, "error detected in %s '%s' while parsing redirect rule : expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '%s').",
		     cfg_proxy_type(p->px), p->px->name, t ? t : "");
		return;
	}
	note(p, IGN_REDIRECT, PX_CAP_FE | PX_CAP_BE, NULL, 0);
}

static void kw_cookie(struct pctx *p, struct cfg_words *w)
{
	lacks(p, "cookie", PX_CAP_BE);
	if (!w->w[1]) {
		perr(p, "'cookie' expects <cookie_name> as argument.");
		return;
	}
	note(p, IGN_COOKIE, PX_CAP_BE, NULL, 0);
}

static void kw_monitor_uri(struct pctx *p, struct cfg_words *w)
{
	lacks(p, "monitor-uri", PX_CAP_FE);
	if (!w->w[1]) {
		perr(p, "'monitor-uri' expects an URI.");
		return;
	}
	note(p, IGN_MONITOR_URI, PX_CAP_FE, NULL, 0);
}

static void kw_monitor(struct pctx *p, struct cfg_words *w)
{
	if (not_in_defaults(p, "monitor") || lacks(p, "monitor", PX_CAP_FE))
		return;
	if (!w->w[1] || strcmp(w->w[1], "fail") || !w->w[2] ||
	    (strcmp(w->w[2], "if") && strcmp(w->w[2], "unless")))
		perr(p, "'monitor' expects 'fail' and then 'if' or 'unless' followed by a condition.");
}

/* Keywords HAProxy ignores in silence in a TCP proxy, with the arguments it
 * insists on; a capability it needs (0: any). */
static void kw_silent(struct pctx *p, struct cfg_words *w)
{
	static const struct { const char *kw; int nargs; int cap; const char *msg; } t[] = {
		{ "http-error", 2, 0, "http-error : expects 'status <code>' followed by the response." },
		{ "unique-id-format", 1, 0, "unique-id-format expects an argument." },
		{ "unique-id-header", 1, 0, "unique-id-header expects an argument." },
		{ "http-send-name-header", 1, PX_CAP_BE, "'http-send-name-header' requires a header string." },
		{ "max-keep-alive-queue", 1, 0, "'max-keep-alive-queue' expects expects an integer value (or -1 to disable)" },
		{ "error-log-format", 1, 0, "'error-log-format' expects a log format string." },
		{ "http-reuse", 1, PX_CAP_BE, "'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'." },
	};
	const char *k = w->w[0];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(k, t[i].kw))
			continue;
		if (!strcmp(k, "error-log-format") && p->px->cap == PX_CAP_BE)
			pwarn(p, "backend '%s' : 'error-log-format' directive is ignored in backends.", p->px->name);
		else if (!strcmp(k, "max-keep-alive-queue") && p->px->cap == PX_CAP_FE)
			pwarn(p, "max-keep-alive-queue will be ignored because frontend '%s' has no backend capability",
			      p->px->name);
		else if (t[i].cap)
			lacks(p, k, t[i].cap);
		if (w->n <= t[i].nargs)
			perr(p, "%s", t[i].msg);
		else if (!strcmp(k, "http-reuse") && strcmp(w->w[1], "never") && strcmp(w->w[1], "safe") &&
			 strcmp(w->w[1], "aggressive") && strcmp(w->w[1], "always"))
			perr(p, "%s", t[i].msg);
		else if (!strcmp(k, "http-error") && strcmp(w->w[1], "status"))
			perr(p, "%s", t[i].msg);
		else if (!strcmp(k, "http-error") && !err_code_ok(w->w[2]))
			perr(p, "http-error : Unexpected status code '%s'", w->w[2]);
		return;
	}
}

static void kw_compression(struct pctx *p, struct cfg_words *w)
{
	static const char *const algos[] = { "identity", "gzip", "deflate", "raw-deflate", NULL };
	const char *s = w->w[1];

	if (!s || (strcmp(s, "algo") && strcmp(s, "type") && strcmp(s, "offload"))) {
		perr(p, "'compression' expects 'algo', 'type' or 'offload'");
		return;
	}
	if (!strcmp(s, "offload")) {
		if (p->px->cap == PX_CAP_DEF)
			pwarn(p, "'compression' : 'offload' ignored in 'defaults' section.");
		return;
	}
	if (!w->w[2]) {
		perr(p, "'compression' expects <%s>.", !strcmp(s, "algo") ? "algorithm" : "type");
		return;
	}
	for (int i = 2; !strcmp(s, "algo") && i < w->n; i++) {
		int ok = 0;
		for (int j = 0; algos[j]; j++)
			ok |= !strcmp(w->w[i], algos[j]);
		if (!ok) {
			perr(p, "'compression' : '%s' is not a supported algorithm.", w->w[i]);
			return;
		}
	}
}

static void kw_declare(struct pctx *p, struct cfg_words *w)
{
	if (p->px->cap == PX_CAP_DEF) {
		perr(p, "'declare' not available in default section");
		return;
	}
	if (!(p->px->cap & PX_CAP_FE)) {
		perr(p, "'declare' only available in frontend or listen section");
		return;
	}
	if (!w->w[1] || strcmp(w->w[1], "capture") || !w->w[2] ||
	    (strcmp(w->w[2], "request") && strcmp(w->w[2], "response")) ||
	    !w->w[3] || strcmp(w->w[3], "len") || !w->w[4])
		perr(p, "'declare capture' expects 'request' or 'response' then 'len' <length>.");
}

/* "filter compression" is HTTP-only and ignored in a TCP proxy; other
 * filters (trace, spoe, cache, ...) are not supported yet. */
static void kw_filter(struct pctx *p, struct cfg_words *w)
{
	if (p->px->cap == PX_CAP_DEF) {
		perr(p, "filter is not allowed in a 'default' section.");
		return;
	}
	if (!w->w[1] || strcmp(w->w[1], "compression"))
		perr(p, "'filter %s' in %s is an HAProxy keyword that ferry does not support yet",
		     w->w[1] ? w->w[1] : "", px_where(p));
}

/* Keywords HAProxy 2.1 removed: its own sentences. */
static int removed(struct pctx *p, struct cfg_words *w)
{
	const char *k = w->w[0];
	static const struct { const char *kw; const char *use; } t[] = {
		{ "reqadd", "http-request add-header" }, { "rspadd", "http-response add-header" },
		{ "reqdel", "http-request del-header" }, { "rspdel", "http-response del-header" },
		{ "reqrep", "http-request replace-header" }, { "rsprep", "http-response replace-header" },
		{ "reqallow", "http-request allow" }, { "reqdeny", "http-request deny" },
		{ "reqtarpit", "http-request tarpit" }, { "rspdeny", "http-response deny" },
		{ "reqpass", "http-request allow" },
	};

	if (!strcmp(k, "monitor-net")) {
		perr(p, "'monitor-net' doesn't exist anymore. Please use 'http-request return status 200 if { src %s }' instead.",
		     w->w[1] ? w->w[1] : "");
		return 1;
	}
	if (!strcmp(k, "block")) {
		perr(p, "The 'block' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax.");
		return 1;
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].kw);
		if (!strncmp(k, t[i].kw, n) && (!k[n] || !strcmp(k + n, "i"))) {
			perr(p, "The '%s' directive is not supported anymore since HAProxy 2.1. Use '%s' instead.", k, t[i].use);
			return 1;
		}
	}
	return 0;
}

int http_proxy_line(struct pctx *p, struct cfg_words *w)
{
	const char *k = w->w[0];

	if (!strcmp(k, "errorfile") || !strncmp(k, "errorloc", 8))
		kw_errorfile(p, w);
	else if (!strcmp(k, "capture"))
		kw_capture(p, w);
	else if (!strcmp(k, "http-response") || !strcmp(k, "http-after-response"))
		kw_http_rules(p, w);
	else if (!strcmp(k, "redirect"))
		kw_redirect(p, w);
	else if (!strcmp(k, "cookie"))
		kw_cookie(p, w);
	else if (!strcmp(k, "monitor-uri"))
		kw_monitor_uri(p, w);
	else if (!strcmp(k, "monitor"))
		kw_monitor(p, w);
	else if (!strcmp(k, "compression"))
		kw_compression(p, w);
	else if (!strcmp(k, "declare"))
		kw_declare(p, w);
	else if (!strcmp(k, "filter"))
		kw_filter(p, w);
	else if (!strcmp(k, "http-error") || !strcmp(k, "unique-id-format") ||
		 !strcmp(k, "unique-id-header") || !strcmp(k, "http-send-name-header") ||
		 !strcmp(k, "max-keep-alive-queue") || !strcmp(k, "error-log-format") ||
		 !strcmp(k, "http-reuse"))
		kw_silent(p, w);
	else
		return removed(p, w);
	return 1;
}

/* ---- validation ------------------------------------------------------------------------ */

static const struct cfg_ignored *find(const struct cfg_proxy *px, enum ign_kind kind)
{
	for (int i = 0; i < px->nignored; i++) {
		const struct cfg_ignored *e = &px->ignored[i];
		if (e->kind == kind && (e->own || (px->cap & e->cap)))
			return e;
	}
	return NULL;
}

/* Whether a TCP proxy has somewhere to send the log lines its format
 * describes (HAProxy: "log format ignored ... since it has no log address"). */
static int has_log_address(const struct cfg *c, const struct cfg_proxy *px)
{
	return px->logs.n > 0 || (px->log_global && c->g.logs.n > 0);
}

void cfg_warn_http_leftovers(struct cfg *c, struct cfg_proxy *px)
{
	static const char *const first[] = {
		[IGN_COOKIE] = "cookie will be ignored for %s '%s' (needs 'mode http').",
		[IGN_MONITOR_URI] = "monitor-uri will be ignored for %s '%s' (needs 'mode http').",
		[IGN_L7_HASH] = "Layer 7 hash not possible for %s '%s' (needs 'mode http'). Falling back to round robin.",
	};
	static const char *const rules[] = {
		[IGN_HTTP_REQ] = "http-request", [IGN_HTTP_RES] = "http-response",
		[IGN_HTTP_AFTER] = "http-after-response", [IGN_REDIRECT] = "redirect",
	};
	const char *type = cfg_proxy_type(px);
	const struct cfg_ignored *e;

	for (int k = IGN_COOKIE; k <= IGN_L7_HASH; k++)
		if ((e = find(px, (enum ign_kind)k)))
			cfg_warn(c, e->file, e->line, first[k], type, px->name);
	if ((e = find(px, IGN_HTTPLOG))) {
		cfg_warn(c, e->file, e->line,
			 "'option %s' not usable with %s '%s' (needs 'mode http'). Falling back to 'option tcplog'.",
			 e->opt, type, px->name);
		px->options |= PXO_TCPLOG;
	}
	if ((px->cap & PX_CAP_FE) && ((px->options & PXO_TCPLOG) || px->logformat) && !has_log_address(c, px))
		cfg_warn(c, px->file, px->line, "log format ignored for %s '%s' since it has no log address.",
			 type, px->name);
	if (px->stats)
		cfg_warn(c, px->file, px->stats_own ? px->stats->line : px->line,
			 "'stats' statement ignored for %s '%s' as it requires HTTP mode.", type, px->name);
	if ((e = find(px, IGN_CAPTURE)))
		cfg_warn(c, e->file, e->line, "'capture' statement ignored for %s '%s' as it requires HTTP mode.",
			 type, px->name);
	for (int k = IGN_HTTP_REQ; k <= IGN_REDIRECT; k++)
		if ((e = find(px, (enum ign_kind)k)))
			cfg_warn(c, e->file, e->line, "'%s' rules ignored for %s '%s' as they require HTTP mode.",
				 rules[k], type, px->name);
	for (size_t o = 0; o < sizeof(http_opts) / sizeof(http_opts[0]); o++)
		for (int i = 0; i < px->nignored; i++) {
			e = &px->ignored[i];
			if (e->kind == IGN_OPTION && e->order == (int)o && (px->cap & e->cap))
				cfg_warn(c, e->file, e->line, "'option %s' ignored for %s '%s' as it requires HTTP mode.",
					 e->opt, type, px->name);
		}
	for (struct cfg_server *s = px->servers; s; s = s->next) {
		if (s->o.http_redir)
			cfg_error(c, s->file, s->line, "%s '%s' : server cannot have cookie or redirect prefix in non-HTTP mode.",
				  type, px->name);
		if (s->o.http_cookie)
			cfg_warn(c, s->file, s->line, "%s '%s' : ignoring cookie for server '%s' as HTTP mode is disabled.",
				 type, px->name, s->name);
	}
}

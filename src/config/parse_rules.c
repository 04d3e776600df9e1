/* acl, use_backend, use-server and tcp-request lines: checked for what a
 * line alone can tell, then kept as words in the proxy (cfg_proxy.rlines)
 * for rules_compile() (src/rules), which needs the whole configuration
 * (backend and server names, files). */
#include "config/parse_int.h"

#include <stdlib.h>
#include <string.h>

#include "config/haproxy_kw.h"
#include "core/strutil.h"
#include "core/units.h"

static void keep(struct pctx *p, struct cfg_words *w, enum cfg_rline_kind kind)
{
	struct cfg_rlines *l = &p->px->rlines;
	struct cfg_rline *r;

	l->v = realloc(l->v, (size_t)(l->n + 1) * sizeof(*l->v));
	if (!l->v)
		abort();
	r = &l->v[l->n++];
	r->kind = kind;
	r->file = p->file;
	r->line = p->line;
	r->n = w->n;
	r->w = xcalloc((size_t)w->n + 1, sizeof(*r->w));
	for (int i = 0; i < w->n; i++)
		r->w[i] = xstrdup(w->w[i]);
}

/* What follows a rule's action: nothing, or "if|unless <cond>". */
static int cond_words_ok(struct pctx *p, struct cfg_words *w, int at, const char *rule)
{
	if (at >= w->n || !strcmp(w->w[at], "if") || !strcmp(w->w[at], "unless"))
		return 1;
	perr(p, "unexpected keyword '%s' after %s, only 'if' and 'unless' are allowed.", w->w[at], rule);
	return 0;
}

void kw_acl(struct pctx *p, struct cfg_words *w)
{
	const char *name = w->w[1];

	if (!name) {
		perr(p, "'acl' expects an ACL name");
		return;
	}
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '_' || *c == '.' || *c == ':')) {
			perr(p, "ACL name '%s' contains invalid character '%c'.", name, *c);
			return;
		}
	if (!w->w[2]) {
		perr(p, "missing fetch method in ACL '%s'.", name);
		return;
	}
	keep(p, w, RL_ACL);
}

void kw_use_backend(struct pctx *p, struct cfg_words *w)
{
	if (!w->w[1] || !strcmp(w->w[1], "if") || !strcmp(w->w[1], "unless")) {
		perr(p, "'use_backend' expects a backend name.");
		return;
	}
	if (cond_words_ok(p, w, 2, "switching rule"))
		keep(p, w, RL_USE_BACKEND);
}

void kw_use_server(struct pctx *p, struct cfg_words *w)
{
	if (!w->w[1] || !strcmp(w->w[1], "if") || !strcmp(w->w[1], "unless")) {
		perr(p, "'use-server' expects a server name.");
		return;
	}
	if (cond_words_ok(p, w, 2, "'use-server' rule"))
		keep(p, w, RL_USE_SERVER);
}

/* The actions HAProxy has in tcp-request connection/content rules that
 * ferry does not run yet (a clear "not supported yet" error). T adds
 * track-sc* and sc-* here as it implements them. */
static const char *const tcp_actions_unsupported[] = {
	"capture", "expect-netscaler-cip", "track-sc0", "track-sc1", "track-sc2",
	"sc-inc-gpc", "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt", "sc-set-gpt0", "set-var-fmt",
	"set-var", "unset-var", "set-dst", "set-dst-port", "set-mark", "set-src", "set-src-port",
	"set-tos", "silent-drop", "ot-group", "set-log-level", "set-nice", "switch-mode",
	"use-service", "send-spoe-group", "do-resolve", "set-priority-class",
	"set-priority-offset", "expect-proxy", NULL
};

static int action_is(const char *act, const char *name)
{
	size_t l = strlen(name);

	return !strncmp(act, name, l) && (!act[l] || act[l] == '(');
}

/* accept|reject [if|unless cond]: 1 when kept. */
static int accept_reject(struct pctx *p, struct cfg_words *w, const char *what, enum cfg_rline_kind kind)
{
	const char *act = w->w[2];

	if (w->w[3] && strcmp(w->w[3], "if") && strcmp(w->w[3], "unless")) {
		perr(p, "'tcp-request %s %s' only accepts 'if' or 'unless', in %s (got '%s')", what, act,
		     px_where(p), w->w[3]);
		return 1;
	}
	keep(p, w, kind);
	return 1;
}

/* tcp-request inspect-delay <time>: as HAProxy, in a frontend, backend or
 * named defaults section; the first one counts, an inherited one too. */
static void inspect_delay(struct pctx *p, struct cfg_words *w)
{
	int64_t v;

	if (p->px->cap == PX_CAP_DEF && (!p->px->name || !*p->px->name)) {
		perr(p, "tcp-request inspect-delay is not allowed in anonymous 'defaults' sections");
		return;
	}
	if (!w->w[2] || parse_duration_ms(w->w[2], &v)) {
		perr(p, "'tcp-request inspect-delay' expects a positive delay in milliseconds, in %s", px_where(p));
		return;
	}
	if (p->px->inspect_delay) { /* as HAProxy: also one inherited from defaults */
		pwarn(p, "ignoring tcp-request inspect-delay (was already defined) in %s", px_where(p));
		return;
	}
	p->px->inspect_delay = v;
}

static int has_rline(const struct cfg_proxy *px, enum cfg_rline_kind kind)
{
	for (int i = 0; i < px->rlines.n; i++)
		if (px->rlines.v[i].kind == kind)
			return 1;
	return 0;
}

void kw_tcp_request(struct pctx *p, struct cfg_words *w)
{
	const char *what = w->w[1], *act = w->w[2];
	int content;

	if (what && !strcmp(what, "inspect-delay")) {
		inspect_delay(p, w);
		return;
	}
	if (!what || (strcmp(what, "connection") && strcmp(what, "content"))) {
		/* session: not yet */
		if (!kw_reject_known(p, w->w, px_where(p)))
			perr(p, "'tcp-request' expects 'connection', 'session', 'content' or 'inspect-delay' in %s",
			     px_where(p));
		return;
	}
	content = !strcmp(what, "content");
	if (p->px->cap == PX_CAP_DEF) {
		perr(p, "tcp-request %s is not allowed in anonymous 'defaults' sections", what);
		return;
	}
	if (!content && !(p->px->cap & PX_CAP_FE)) {
		perr(p, "tcp-request connection is not allowed because %s %s is not a frontend",
		     cfg_proxy_type(p->px), p->px->name);
		return;
	}
	if (content && !(p->px->cap & PX_CAP_FE)) {
		/* HAProxy runs a backend's content rules after the switch, with
		 * the backend's inspect-delay: not in ferry yet */
		if (!kw_reject_known(p, w->w, px_where(p)))
			perr(p, "'tcp-request content' in %s is an HAProxy keyword that ferry does not support yet",
			     px_where(p));
		return;
	}
	if (!content && has_rline(p->px, RL_TCP_CONTENT))
		pwarn(p, "a 'tcp-request' rule placed after a 'tcp-request content' rule will still be processed before.");
	if (act && (!strcmp(act, "accept") || !strcmp(act, "reject"))) {
		accept_reject(p, w, what, content ? RL_TCP_CONTENT : RL_TCP_CONN);
		return;
	}
	if (act && !content && (!strncmp(act, "track-sc", 8) || !strncmp(act, "sc-inc-gpc0", 11) ||
				!strncmp(act, "sc-inc-gpc1", 11) || !strncmp(act, "sc-set-gpt0", 11))) {
		/* stick counters: checked with the tables (src/rules/track.c) */
		keep(p, w, RL_TCP_CONN);
		return;
	}
	if (act && content && !strncmp(act, "track-sc", 8)) {
		/* only track-sc in content rules: they run again on each arrival
		 * of bytes, and it alone does nothing the second time */
		keep(p, w, RL_TCP_CONTENT);
		return;
	}
	if (act && !content && !strcmp(act, "expect-proxy")) {
		if (!w->w[3] || strcmp(w->w[3], "layer4")) {
			perr(p, "'tcp-request connection expect-proxy' only supports 'layer4' in %s (got '%s')",
			     px_where(p), w->w[3] ? w->w[3] : "");
			return;
		}
		if (cond_words_ok(p, w, 4, "'tcp-request connection expect-proxy layer4'"))
			keep(p, w, RL_TCP_CONN);
		return;
	}
	for (int i = 0; act && tcp_actions_unsupported[i]; i++)
		if (action_is(act, tcp_actions_unsupported[i])) {
			perr(p, "'tcp-request %s %s' is an HAProxy keyword that ferry does not support yet", what, act);
			return;
		}
	if (content)
		perr(p, "'tcp-request content' expects 'accept', 'reject', 'capture', 'expect-proxy', 'expect-netscaler-cip', "
		     "'track-sc0' ... 'track-sc2', 'ot-group', 'set-log-level', 'set-nice', 'switch-mode', 'use-service', "
		     "'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', 'sc-set-gpt0(*)', "
		     "'send-spoe-group', 'do-resolve(*)', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-src', "
		     "'set-src-port', 'set-dst', 'set-dst-port', 'set-mark', 'set-tos', 'silent-drop', "
		     "'set-priority-class', 'set-priority-offset' in %s (got '%s').", px_where(p), act ? act : "");
	else
		perr(p, "'tcp-request connection' expects 'accept', 'reject', 'capture', 'expect-proxy', 'expect-netscaler-cip', "
		     "'track-sc0' ... 'track-sc2', 'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', "
		     "'sc-set-gpt0(*)', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-dst', 'set-dst-port', "
		     "'set-mark', 'set-src', 'set-src-port', 'set-tos', 'silent-drop' in %s (got '%s').",
		     px_where(p), act ? act : "");
}

/* "stick on|match|store-request <expr> [table <t>] [if|unless <cond>]" in a
 * backend; the rest is checked with the tables (src/rules/stick.c). */
void kw_stick(struct pctx *p, struct cfg_words *w)
{
	const char *k = w->w[1] ? w->w[1] : "";

	if (!strcmp(k, "store-response")) {
		perr(p, "'stick store-response' is an HAProxy keyword that ferry does not support yet");
		return;
	}
	if (strcmp(k, "on") && strcmp(k, "match") && strcmp(k, "store-request")) {
		perr(p, "'stick' expects 'on', 'match', or 'store'.");
		return;
	}
	if (!w->w[2] || !strcmp(w->w[2], "table") || !strcmp(w->w[2], "if") || !strcmp(w->w[2], "unless")) {
		perr(p, "'stick' expects a fetch method.");
		return;
	}
	keep(p, w, RL_STICK);
}

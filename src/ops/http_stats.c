/* What a stats frontend answers, as HAProxy's stats applet and Prometheus
 * exporter do:
 * - "/metrics" with the use-service line: the exporter (before, and
 *   without, the stats page's authentication, as HAProxy's http-request
 *   rules run first);
 * - GET, HEAD or POST on a URI starting with "stats uri" (the whole URI
 *   with its query when the prefix starts with '/'): the stats page, after
 *   "stats auth" (401 with the realm); ";csv", ";json", ";typed", ";up",
 *   ";no-maint" anywhere after the prefix as HAProxy reads them, and
 *   ferry's ";data" (the dashboard's JSON); any other GET is ferry's
 *   dashboard page;
 * - POST: HAProxy's admin form (b=<backend>&s=<server>...&action=<a>) plus
 *   ferry's action=weight&w=<n>, each server's action run as the runtime
 *   API command that does it, at admin level, when "stats admin" lets the
 *   client; then 303 to "<uri>;st=DONE|PART|ERRP|NONE|DENY" as HAProxy, or
 *   for the dashboard (Accept: application/json) a JSON result (403 when
 *   denied);
 * - anything else: HAProxy's 503 (a stats frontend has no backend). */
#include "ops/http_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cli.h"
#include "ops/metrics.h"

#define MAX_ACTIONS 64   /* servers in one POST */

static const char page_503[] =
	"<html><body><h1>503 Service Unavailable</h1>\n"
	"No server is available to handle this request.\n</body></html>\n";
static const char page_401[] =
	"<html><body><h1>401 Unauthorized</h1>\n"
	"You need a valid user and password to access this content.\n</body></html>\n";

/* ---- authentication --------------------------------------------------------------- */

static int b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+') return 62;
	if (ch == '/') return 63;
	return -1;
}

/* Decodes base64 src[0..len) into out (NUL-terminated). Returns its length or -1. */
static int b64_decode(const char *src, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len && src[i] != '='; i++) {
		int v = b64_val((unsigned char)src[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= cap)
				return -1;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[n] = 0;
	return (int)n;
}

/* Whether "Authorization: Basic ..." names one of the "stats auth" accounts. */
static int auth_ok(const struct cfg_stats *st, const struct http_req *req)
{
	char cred[512];
	const char *v = req->auth;
	size_t len = req->authlen;
	int n, ok = 0;

	if (!st->nauth)
		return 1;
	if (!v || len < 6 || strncasecmp(v, "Basic ", 6))
		return 0;
	v += 6;
	len -= 6;
	while (len && *v == ' ')
		v++, len--;
	n = b64_decode(v, len, cred, sizeof(cred));
	if (n < 0)
		return 0;
	for (int i = 0; i < st->nauth; i++) {
		const char *a = st->auth[i];
		size_t al = strlen(a);
		unsigned diff = (size_t)n != al;
		/* compare every byte: the time taken does not tell how much matched */
		for (size_t k = 0; k < al; k++)
			diff |= (unsigned char)a[k] ^ (unsigned char)(k < (size_t)n ? cred[k] : 0);
		ok |= !diff;
	}
	return ok;
}

/* ---- reading outputs ----------------------------------------------------------------- */

struct grab {
	struct sbuf *o;
};

static void grab_done(void *arg, const struct sbuf *out)
{
	struct grab *g = arg;

	if (out->len)
		sbuf_add(g->o, out->p, out->len);
	if (out->oom)
		g->o->oom = 1;
}

/* ";csv", ";json", ";typed": what "show stat" prints on a socket, run as
 * the socket runs it (operator level shows addresses and algorithms, as
 * "stats show-legends" asks). */
static void show_stat(struct runtime *rt, struct sbuf *o, const struct cfg_stats *st, const char *fmt,
		      const char *opts)
{
	char line[128];
	struct grab g = { o };

	snprintf(line, sizeof(line), "show stat%s%s", fmt, opts);
	cli_job_start(rt, line, (st->flags & STATS_F_LEGENDS) ? CLI_LEVEL_OPER : CLI_LEVEL_USER, grab_done, &g);
}

/* The first occurrence of word in the URI after the prefix. */
static int has_opt(const char *rest, const char *word)
{
	return strstr(rest, word) != NULL;
}

/* ---- POST: the admin form ------------------------------------------------------------- */

struct post {
	struct http_conn *c;
	struct runtime *rt;
	int json;
	char loc[HTTP_URI_MAX + 32];
	char *cmds[MAX_ACTIONS];
	int ncmds, next, total, altered;
	struct cli_job *job;
	struct sbuf msgs;           /* the commands' complaints, for the dashboard */
	int starting;               /* inside cli_job_start: post_run goes on itself */
};

static int hexval(int ch)
{
	return isdigit(ch) ? ch - '0' : isxdigit(ch) ? (tolower(ch) - 'a' + 10) : -1;
}

/* application/x-www-form-urlencoded value, decoded in place. Returns -1 if malformed. */
static int url_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '+') {
			*w++ = ' ';
		} else if (*s == '%') {
			int h = hexval((unsigned char)s[1]), l = h < 0 ? -1 : hexval((unsigned char)s[2]);
			if (l < 0)
				return -1;
			*w++ = (char)(h * 16 + l);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
	return 0;
}

/* A proxy or server name as the runtime API reads it: no blank, ';' or '\'. */
static int name_ok(const char *s)
{
	if (!*s || strlen(s) > 100)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 32 || *s == ';' || *s == '\\' || *s == '/' || *s == 127)
			return 0;
	return 1;
}

/* The runtime API command doing HAProxy's stats page action for b/s. */
static int action_cmd(const char *a, const char *b, const char *s, const char *w, char *out, size_t len)
{
	static const struct { const char *action, *fmt; } map[] = {
		{ "ready", "set server %s/%s state ready" },
		{ "drain", "set server %s/%s state drain" },
		{ "maint", "set server %s/%s state maint" },
		{ "dhlth", "disable health %s/%s" },
		{ "ehlth", "enable health %s/%s" },
		{ "hrunn", "set server %s/%s health up" },
		{ "hnolb", "set server %s/%s health stopping" },
		{ "hdown", "set server %s/%s health down" },
		{ "dagent", "disable agent %s/%s" },
		{ "eagent", "enable agent %s/%s" },
		{ "arunn", "set server %s/%s agent up" },
		{ "adown", "set server %s/%s agent down" },
		{ "shutdown", "shutdown sessions server %s/%s" },
		{ "disable", "disable server %s/%s" },
		{ "enable", "enable server %s/%s" },
		{ "stop", "set server %s/%s state drain" },
		{ "start", "set server %s/%s state ready" },
	};

	if (!strcmp(a, "weight")) { /* ferry's: the dashboard's weight field */
		char *end;
		long v = w ? strtol(w, &end, 10) : -1;
		if (!w || !*w || *end || v < 0 || v > 256)
			return -1;
		snprintf(out, len, "set server %s/%s weight %ld", b, s, v);
		return 0;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(a, map[i].action)) {
			snprintf(out, len, map[i].fmt, b, s);
			return 0;
		}
	return -1;
}

/* Reads the form into p->cmds. Returns NULL, or HAProxy's status code
 * (ERRP: bad parameters, NONE: no server named). */
static const char *post_parse(struct post *p, const char *body, size_t len)
{
	char *form = strndup(body, len), *save = NULL;
	char *b = NULL, *a = NULL, *w = NULL, *srv[MAX_ACTIONS];
	int ns = 0;
	const char *st = NULL;

	if (!form)
		return "ERRP";
	for (char *kv = strtok_r(form, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *v = strchr(kv, '=');
		if (v)
			*v++ = 0;
		else
			v = kv + strlen(kv);
		if (url_decode(kv) || url_decode(v)) {
			st = "ERRP";
			goto out;
		}
		if (!strcmp(kv, "b") && !b)
			b = v;
		else if (!strcmp(kv, "action") && !a)
			a = v;
		else if (!strcmp(kv, "w"))
			w = v;
		else if (!strcmp(kv, "s") && ns < MAX_ACTIONS)
			srv[ns++] = v;
	}
	if (!b || !a || !name_ok(b)) {
		st = ns || a || b ? "ERRP" : "NONE";
		goto out;
	}
	if (!ns) {
		st = "NONE";
		goto out;
	}
	for (int i = 0; i < ns; i++) {
		char cmd[512];
		if (!name_ok(srv[i]) || action_cmd(a, b, srv[i], w, cmd, sizeof(cmd))) {
			st = "ERRP";
			goto out;
		}
		p->cmds[p->ncmds++] = strdup(cmd);
	}
out:
	free(form);
	return st;
}

static void post_free(struct post *p)
{
	for (int i = 0; i < p->ncmds; i++)
		free(p->cmds[i]);
	sbuf_free(&p->msgs);
	free(p);
}

/* Writes the result, HAProxy's way (303) or the dashboard's (JSON). */
static void post_reply(struct http_conn *c, struct post *p, const char *status, const struct http_req *req)
{
	char extra[HTTP_URI_MAX + 64];

	if (p->json) {
		struct sbuf o = SBUF_INIT;
		sbuf_printf(&o, "{\"status\":\"%s\",\"messages\":", status);
		sbuf_json_str(&o, p->msgs.len ? p->msgs.p : "");
		sbuf_puts(&o, "}\n");
		http_reply(c, req, !strcmp(status, "DENY") ? 403 : 200, "application/json", NULL, o.p, o.len);
		sbuf_free(&o);
		return;
	}
	snprintf(extra, sizeof(extra), "location: %s;st=%s\r\n", p->loc, status);
	http_reply(c, req, 303, "text/plain", extra, NULL, 0);
}

static void post_done(void *arg, const struct sbuf *out);

static const char *post_status(const struct post *p)
{
	return !p->total ? "NONE" : !p->altered ? "ERRP" : p->altered == p->total ? "DONE" : "PART";
}

/* Runs the commands left until one goes on later (then 0); 1 when all ran. */
static int post_run(struct post *p)
{
	while (p->next < p->ncmds) {
		int i = p->next++;
		p->starting = 1;
		p->job = cli_job_start(p->rt, p->cmds[i], CLI_LEVEL_ADMIN, post_done, p);
		p->starting = 0;
		if (p->job)
			return 0;
	}
	return 1;
}

static void post_done(void *arg, const struct sbuf *out)
{
	struct post *p = arg;
	struct http_conn *c = p->c;

	p->job = NULL;
	p->total++;
	if (out->len) /* the commands say nothing when they succeed */
		sbuf_add(&p->msgs, out->p, out->len);
	else if (!out->oom)
		p->altered++;
	if (p->starting || !post_run(p))
		return; /* post_run goes on, or a command runs later */
	post_reply(c, p, post_status(p), NULL);
	post_free(p);
	http_async_done(c);
}

void http_stats_cancel(struct http_conn *c, void *async)
{
	struct post *p = async;

	(void)c;
	if (p && p->job)
		cli_job_cancel(p->job); /* its done will not come */
	if (p)
		post_free(p);
}

static int handle_post(struct runtime *rt, struct http_conn *c, const struct cfg_proxy *px,
		       const struct http_req *req, int admin)
{
	struct post *p = calloc(1, sizeof(*p));
	const char *st;

	if (!p) {
		http_reply(c, req, 500, "text/plain", NULL, "out of memory\n", 14);
		return HTTP_DONE;
	}
	p->c = c;
	p->rt = rt;
	p->json = req->want_json;
	snprintf(p->loc, sizeof(p->loc), "%s", cfg_stats_uri(px->stats));
	st = admin ? post_parse(p, req->body, req->bodylen) : "DENY";
	if (!st && !post_run(p)) {
		http_async_set(c, p); /* post_done replies */
		return HTTP_ASYNC;
	}
	post_reply(c, p, st ? st : post_status(p), req);
	post_free(p);
	return HTTP_DONE;
}

/* ---- routing ------------------------------------------------------------------------------ */

/* The path of a URI (without its query), as HAProxy's "path" fetch. */
static int path_is(const char *uri, const char *path)
{
	size_t n = strlen(path);

	return !strncmp(uri, path, n) && (uri[n] == 0 || uri[n] == '?');
}

int http_stats_handle(struct runtime *rt, struct http_conn *c, const struct cfg_proxy *px,
		      const struct http_req *req)
{
	const struct cfg_stats *st = px->stats;
	const char *uri = st ? cfg_stats_uri(st) : NULL;
	const char *m = req->method;
	struct sbuf o = SBUF_INIT;
	int admin;

	if (px->prometheus && path_is(req->uri, "/metrics")) {
		metrics_render(rt, &o);
		http_reply(c, req, 200, "text/plain; version=0.0.4", NULL, o.p, o.len);
		sbuf_free(&o);
		return HTTP_DONE;
	}
	if (!st || (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "POST")) ||
	    strncmp(req->uri, uri, strlen(uri))) {
		http_reply(c, req, 503, "text/html", NULL, page_503, sizeof(page_503) - 1);
		return HTTP_DONE;
	}
	if (!auth_ok(st, req)) {
		char extra[600];
		snprintf(extra, sizeof(extra), "www-authenticate: Basic realm=\"%s\"\r\n", cfg_stats_realm(st));
		http_reply(c, req, 401, "text/html", extra, page_401, sizeof(page_401) - 1);
		return HTTP_DONE;
	}
	admin = cfg_stats_admin_allows(st, req->peer);
	if (!strcmp(m, "POST"))
		return handle_post(rt, c, px, req, admin);
	{
		const char *rest = req->uri + strlen(uri);
		const char *opts = has_opt(rest, ";up") ? " up" : has_opt(rest, ";no-maint") ? " no-maint" : "";
		char refresh[64] = "";
		if (st->refresh_ms && !has_opt(rest, ";norefresh"))
			snprintf(refresh, sizeof(refresh), "refresh: %lld\r\n", (long long)(st->refresh_ms / 1000));
		if (has_opt(rest, ";data")) {
			http_data_render(&o, rt, px, admin);
			http_reply(c, req, 200, "application/json", NULL, o.p, o.len);
		} else if (has_opt(rest, ";json")) {
			show_stat(rt, &o, st, " json", opts);
			http_reply(c, req, 200, "application/json", refresh, o.p, o.len);
		} else if (has_opt(rest, ";typed")) {
			show_stat(rt, &o, st, " typed", opts);
			http_reply(c, req, 200, "text/plain", refresh, o.p, o.len);
		} else if (has_opt(rest, ";csv")) {
			show_stat(rt, &o, st, "", opts);
			http_reply(c, req, 200, "text/plain", refresh, o.p, o.len);
		} else { /* the dashboard updates itself: no refresh header */
			http_reply(c, req, 200, "text/html; charset=utf-8", NULL, dashboard_html, dashboard_html_len);
		}
	}
	sbuf_free(&o);
	return HTTP_DONE;
}

/* The keywords of the global section (global_keywords, read by
 * parse_global_line in parse.c): limits, threads, paths, log lines, and
 * the HAProxy settings ferry ignores, with or without a warning. The
 * privilege keywords are in parse_global_privs.c, "stats" in
 * parse_stats.c, "unix-bind" in parse_unix.c. */
#include "config/parse_int.h"

#include <stdlib.h>

#include "core/strutil.h"

static void g_maxconn(struct pctx *p, struct cfg_words *w)
{
	long v;
	if (!arg_int(p, "maxconn", w->w[1], 1, 10000000, &v))
		p->c->g.maxconn = (int)v;
}

/* maxconnrate / maxsessrate: HAProxy reads the number with atol(), so a
 * word that is no number is 0 (no limit) and a negative one no limit
 * either: ferry reads them the same way, and says nothing, as HAProxy. */
static void g_rate(struct pctx *p, struct cfg_words *w, unsigned *out)
{
	long v;

	if (!w->w[1] || !*w->w[1]) {
		perr(p, "'%s' expects an integer argument.", w->w[0]);
		return;
	}
	if (w->n > 2) {
		perr(p, "'%s' cannot handle unexpected argument '%s'.", w->w[0], w->w[2]);
		return;
	}
	v = atol(w->w[1]);
	*out = v < 0 || v > 0x7fffffffL ? 0 : (unsigned)v;
}

static void g_maxconnrate(struct pctx *p, struct cfg_words *w)
{
	g_rate(p, w, &p->c->g.maxconnrate);
}

static void g_maxsessrate(struct pctx *p, struct cfg_words *w)
{
	g_rate(p, w, &p->c->g.maxsessrate);
}

static void g_maxpipes(struct pctx *p, struct cfg_words *w)
{
	long v;
	if (!arg_int(p, "maxpipes", w->w[1], 0, 10000000, &v))
		p->c->g.maxpipes = (int)v;
}

static void g_nbthread(struct pctx *p, struct cfg_words *w)
{
	long v;
	if (!arg_int(p, "nbthread", w->w[1], 1, 4096, &v))
		p->c->g.nbthread = (int)v;
}

static void g_hard_stop_after(struct pctx *p, struct cfg_words *w)
{
	arg_duration(p, "hard-stop-after", w->w[1], &p->c->g.hard_stop_after);
}

static void g_spread_checks(struct pctx *p, struct cfg_words *w)
{
	long v;
	if (!arg_int(p, "spread-checks", w->w[1], 0, 50, &v))
		p->c->g.spread_checks = (int)v;
}

static void g_log(struct pctx *p, struct cfg_words *w)
{
	int dummy;
	parse_log_line(p, w, &p->c->g.logs, &dummy, 0);
}

static void g_quiet(struct pctx *p, struct cfg_words *w)
{
	(void)w;
	p->c->g.quiet = 1;
}

/* Any warning fails the configuration (cfg_validate). */
static void g_zero_warning(struct pctx *p, struct cfg_words *w)
{
	(void)w;
	p->c->g.zero_warning = 1;
}

static void g_busy_polling(struct pctx *p, struct cfg_words *w)
{
	(void)w;
	p->c->g.busy_polling = 1;
}


static void g_path(struct pctx *p, struct cfg_words *w, char **slot)
{
	if (!w->w[1]) {
		perr(p, "'%s' expects a path", w->w[0]);
		return;
	}
	free(*slot);
	*slot = xstrdup(w->w[1]);
}

static void g_pidfile(struct pctx *p, struct cfg_words *w)
{
	g_path(p, w, &p->c->g.pidfile);
}

static void g_state_file(struct pctx *p, struct cfg_words *w)
{
	g_path(p, w, &p->c->g.state_file);
}

static void g_state_base(struct pctx *p, struct cfg_words *w)
{
	g_path(p, w, &p->c->g.state_base);
}

static void g_foreground(struct pctx *p, struct cfg_words *w)
{
	pwarn(p, "'%s' is ignored: ferry always runs in the foreground (use your service manager)", w->w[0]);
}

static void g_ignored(struct pctx *p, struct cfg_words *w)
{
	pwarn(p, "'%s' is not supported yet and is ignored", w->w[0]);
}

static void g_silent(struct pctx *p, struct cfg_words *w)
{
	(void)p;
	(void)w;
}

static void g_nbproc(struct pctx *p, struct cfg_words *w)
{
	(void)w;
	perr(p, "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.");
}

const struct kw global_keywords[] = {
	{ "maxconn", 0, g_maxconn },
	{ "maxpipes", 0, g_maxpipes },
	{ "maxconnrate", 0, g_maxconnrate },
	{ "maxsessrate", 0, g_maxsessrate },
	{ "nbthread", 0, g_nbthread },
	{ "hard-stop-after", 0, g_hard_stop_after },
	{ "spread-checks", 0, g_spread_checks },
	{ "busy-polling", 0, g_busy_polling },
	{ "max-spread-checks", 0, g_ignored },
	{ "log", 0, g_log },
	{ "quiet", 0, g_quiet },
	{ "zero-warning", 0, g_zero_warning },
	{ "pidfile", 0, g_pidfile },
	{ "server-state-file", 0, g_state_file },
	{ "server-state-base", 0, g_state_base },
	{ "daemon", 0, g_foreground },
	{ "master-worker", 0, g_foreground },
	{ "stats", 0, kw_global_stats },
	{ "ca-base", 0, g_ignored },
	{ "crt-base", 0, g_ignored },
	{ "ssl-default-bind-ciphers", 0, g_ignored },
	{ "ssl-default-bind-ciphersuites", 0, g_ignored },
	{ "ssl-default-bind-options", 0, g_ignored },
	{ "ssl-default-server-ciphers", 0, g_ignored },
	{ "ssl-default-server-ciphersuites", 0, g_ignored },
	{ "ssl-default-server-options", 0, g_ignored },
	{ "ssl-dh-param-file", 0, g_ignored },
	{ "log-send-hostname", 0, g_ignored },
	{ "log-tag", 0, g_ignored },
	{ "cpu-map", 0, g_ignored },       /* threads are not pinned to CPUs */
	{ "thread-groups", 0, g_ignored },
	{ "ulimit-n", 0, kw_accepted_value },
	{ "description", 0, kw_accepted_value },
	{ "node", 0, kw_accepted_value },
	{ "nbproc", 0, g_nbproc },
	/* process settings ferry has no use for (its own warning) */
	{ "grace", 0, g_ignored },
	{ "close-spread-time", 0, g_ignored },
	{ "strict-limits", 0, g_ignored },
	{ "fd-hard-limit", 0, g_ignored },
	{ "set-dumpable", 0, g_ignored },
	{ "mworker-max-reloads", 0, g_ignored },
	{ "numa-cpu-mapping", 0, g_ignored },
	{ "thread-group", 0, g_ignored },
	{ "noepoll", 0, g_ignored },
	{ "nopoll", 0, g_ignored },
	{ "nokqueue", 0, g_ignored },
	{ "noevports", 0, g_ignored },
	{ "nosplice", 0, g_ignored },
	{ "noreuseport", 0, g_ignored },
	{ "nogetaddrinfo", 0, g_ignored },
	{ "no-memory-trimming", 0, g_ignored },
	{ "profiling.tasks", 0, g_ignored },
	{ "profiling.memory", 0, g_ignored },
	{ "localpeer", 0, g_ignored },
	{ "unix-bind", 0, kw_unix_bind },
	{ "external-check", 0, g_ignored },
	{ "pp2-never-send-local", 0, g_ignored },
	{ "ssl-default-bind-curves", 0, g_ignored },
	{ "ssl-server-verify", 0, g_ignored },
	{ "ssl-skip-self-issued-ca", 0, g_ignored },
	{ "ssl-engine", 0, g_ignored },
	{ "ssl-mode-async", 0, g_ignored },
	{ "ssl-load-extra-files", 0, g_ignored },
	{ "ssl-load-extra-del-ext", 0, g_ignored },
	{ "ssl-propquery", 0, g_ignored },
	{ "ssl-provider", 0, g_ignored },
	{ "ssl-provider-path", 0, g_ignored },
	{ "issuers-chain-path", 0, g_ignored },
	/* settings of HTTP, TLS termination, compression and QUIC, which a
	 * TCP-only process never uses: HAProxy ignores them there in silence */
	{ "h1-case-adjust", 0, kw_accepted_value },
	{ "h1-case-adjust-file", 0, kw_accepted_value },
	{ "h1-accept-payload-with-any-method", 0, g_silent },
	{ "h2-workaround-bogus-websocket-clients", 0, g_silent },
	{ "httpclient.resolvers.id", 0, kw_accepted_value },
	{ "httpclient.resolvers.prefer", 0, kw_accepted_value },
	{ "httpclient.ssl.ca-file", 0, kw_accepted_value },
	{ "httpclient.ssl.verify", 0, g_silent },
	{ "maxsslconn", 0, kw_accepted_value },
	{ "maxsslrate", 0, kw_accepted_value },
	{ "maxcomprate", 0, kw_accepted_value },
	{ "maxcompcpuusage", 0, kw_accepted_value },
	{ "maxzlibmem", 0, kw_accepted_value },
	{ "cluster-secret", 0, kw_accepted_value },
	{ NULL, 0, NULL }
};

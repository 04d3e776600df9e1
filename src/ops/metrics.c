/* The Prometheus scrape (see metrics.h). Every value comes from the stats
 * model (stats.h), so the socket's CSV, the dashboard and the metrics can
 * never disagree. Names follow HAProxy's promex: the field's "alt name"
 * under haproxy_<process|frontend|backend|server>_, counters for HAProxy's
 * counter fields, times in seconds, states as one series per state label.
 * A field HAProxy leaves empty for an object (a server without a check has
 * no check_status) has no series for it, as in promex. */
#include "ops/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/stats.h"
#include "runtime/runtime.h"

#define M_FE (1 << STAT_OBJ_FE)
#define M_BE (1 << STAT_OBJ_BE)
#define M_SRV (1 << STAT_OBJ_SRV)

enum prom_kind {
	PK_PLAIN,
	PK_SECONDS,      /* the value is in ms: written in seconds */
	PK_STATE,        /* "status": one series per state, 1 for the current */
	PK_CHECK,        /* check/agent status: one series per check status */
	PK_AGG_STATE,    /* a backend's servers counted per state */
	PK_AGG_CHECK,    /* a backend's servers counted per check status */
};

struct prom_field {
	int field;
	const char *name;      /* promex's name (HAProxy's alt_name) */
	unsigned objs;         /* M_*: where promex writes it */
	enum prom_kind kind;
	const char *srv_name;  /* promex's name for servers, when it differs */
};

/* promex's proxy metrics, in HAProxy's field order (HTTP-only ones left
 * out: ferry's proxies are TCP, for which promex writes none). */
static const struct prom_field fields[] = {
	{ ST_QCUR, "current_queue", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_QMAX, "max_queue", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_SCUR, "current_sessions", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_SMAX, "max_sessions", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_SLIM, "limit_sessions", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_STOT, "sessions_total", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_BIN, "bytes_in_total", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_BOUT, "bytes_out_total", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_DREQ, "requests_denied_total", M_FE | M_BE, PK_PLAIN, NULL },
	{ ST_DRESP, "responses_denied_total", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_EREQ, "request_errors_total", M_FE, PK_PLAIN, NULL },
	{ ST_ECON, "connection_errors_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_ERESP, "response_errors_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_WRETR, "retry_warnings_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_WREDIS, "redispatch_warnings_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_STATUS, "status", M_FE | M_BE | M_SRV, PK_STATE, NULL },
	{ ST_WEIGHT, "weight", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_ACT, "active_servers", M_BE | M_SRV, PK_PLAIN, "active" },
	{ ST_BCK, "backup_servers", M_BE | M_SRV, PK_PLAIN, "backup" },
	{ ST_CHKFAIL, "check_failures_total", M_SRV, PK_PLAIN, NULL },
	{ ST_CHKDOWN, "check_up_down_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_LASTCHG, "check_last_change_seconds", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_DOWNTIME, "downtime_seconds_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_QLIMIT, "queue_limit", M_SRV, PK_PLAIN, NULL },
	{ ST_LBTOT, "loadbalanced_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_RATE, "current_session_rate", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_RATE_LIM, "limit_session_rate", M_FE, PK_PLAIN, NULL },
	{ ST_RATE_MAX, "max_session_rate", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_CHECK_STATUS, "check_status", M_SRV, PK_CHECK, NULL },
	{ ST_CHECK_CODE, "check_code", M_SRV, PK_PLAIN, NULL },
	{ ST_CHECK_DURATION, "check_duration_seconds", M_SRV, PK_SECONDS, NULL },
	{ ST_CLI_ABRT, "client_aborts_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_SRV_ABRT, "server_aborts_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_LASTSESS, "last_session_seconds", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_QTIME, "queue_time_average_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_CTIME, "connect_time_average_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_RTIME, "response_time_average_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_TTIME, "total_time_average_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_AGENT_STATUS, "agent_status", M_SRV, PK_CHECK, NULL },
	{ ST_AGENT_CODE, "agent_code", M_SRV, PK_PLAIN, NULL },
	{ ST_AGENT_DURATION, "agent_duration_seconds", M_SRV, PK_SECONDS, NULL },
	{ ST_CONN_RATE_MAX, "connections_rate_max", M_FE, PK_PLAIN, NULL },
	{ ST_CONN_TOT, "connections_total", M_FE, PK_PLAIN, NULL },
	{ ST_DCON, "denied_connections_total", M_FE, PK_PLAIN, NULL },
	{ ST_DSES, "denied_sessions_total", M_FE, PK_PLAIN, NULL },
	{ ST_WREW, "failed_header_rewriting_total", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_CONNECT, "connection_attempts_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_REUSE, "connection_reuses_total", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_SRV_ICUR, "idle_connections_current", M_SRV, PK_PLAIN, NULL },
	{ ST_SRC_ILIM, "idle_connections_limit", M_SRV, PK_PLAIN, NULL },
	{ ST_QTIME_MAX, "max_queue_time_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_CTIME_MAX, "max_connect_time_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_RTIME_MAX, "max_response_time_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_TTIME_MAX, "max_total_time_seconds", M_BE | M_SRV, PK_SECONDS, NULL },
	{ ST_EINT, "internal_errors_total", M_FE | M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_IDLE_CONN_CUR, "unsafe_idle_connections_current", M_SRV, PK_PLAIN, NULL },
	{ ST_SAFE_CONN_CUR, "safe_idle_connections_current", M_SRV, PK_PLAIN, NULL },
	{ ST_USED_CONN_CUR, "used_connections_current", M_SRV, PK_PLAIN, NULL },
	{ ST_NEED_CONN_EST, "need_connections_current", M_SRV, PK_PLAIN, NULL },
	{ ST_UWEIGHT, "uweight", M_BE | M_SRV, PK_PLAIN, NULL },
	{ ST_AGG_SERVER_STATUS, "agg_server_status", M_BE, PK_AGG_STATE, NULL },
	{ ST_AGG_CHECK_STATUS, "agg_check_status", M_BE, PK_AGG_CHECK, NULL },
};

/* promex's names for the process's fields (HAProxy's info alt names). */
static const struct { int field; const char *name; int counter; } process[] = {
	{ INF_NBTHREAD, "nbthread", 0 }, { INF_NBPROC, "nbproc", 0 },
	{ INF_PROCESS_NUM, "relative_process_id", 0 }, { INF_UPTIME_SEC, "uptime_seconds", 0 },
	{ INF_START_TIME_SEC, "start_time_seconds", 0 }, { INF_MEMMAX_BYTES, "max_memory_bytes", 0 },
	{ INF_POOL_ALLOC_BYTES, "pool_allocated_bytes", 0 }, { INF_POOL_USED_BYTES, "pool_used_bytes", 0 },
	{ INF_POOL_FAILED, "pool_failures_total", 1 }, { INF_ULIMIT_N, "max_fds", 0 },
	{ INF_MAXSOCK, "max_sockets", 0 }, { INF_MAXCONN, "max_connections", 0 },
	{ INF_HARD_MAXCONN, "hard_max_connections", 0 }, { INF_CURR_CONNS, "current_connections", 0 },
	{ INF_CUM_CONNS, "connections_total", 1 }, { INF_CUM_REQ, "requests_total", 1 },
	{ INF_MAX_SSL_CONNS, "max_ssl_connections", 0 }, { INF_CURR_SSL_CONNS, "current_ssl_connections", 0 },
	{ INF_CUM_SSL_CONNS, "ssl_connections_total", 1 }, { INF_MAXPIPES, "max_pipes", 0 },
	{ INF_PIPES_USED, "pipes_used_total", 1 }, { INF_PIPES_FREE, "pipes_free_total", 1 },
	{ INF_CONN_RATE, "current_connection_rate", 0 }, { INF_CONN_RATE_LIMIT, "limit_connection_rate", 0 },
	{ INF_MAX_CONN_RATE, "max_connection_rate", 0 }, { INF_SESS_RATE, "current_session_rate", 0 },
	{ INF_SESS_RATE_LIMIT, "limit_session_rate", 0 }, { INF_MAX_SESS_RATE, "max_session_rate", 0 },
	{ INF_SSL_RATE, "current_ssl_rate", 0 }, { INF_SSL_RATE_LIMIT, "limit_ssl_rate", 0 },
	{ INF_MAX_SSL_RATE, "max_ssl_rate", 0 }, { INF_SSL_FRONTEND_KEY_RATE, "current_frontend_ssl_key_rate", 0 },
	{ INF_SSL_FRONTEND_MAX_KEY_RATE, "max_frontend_ssl_key_rate", 0 },
	{ INF_SSL_FRONTEND_SESSION_REUSE_PCT, "frontend_ssl_reuse", 0 },
	{ INF_SSL_BACKEND_KEY_RATE, "current_backend_ssl_key_rate", 0 },
	{ INF_SSL_BACKEND_MAX_KEY_RATE, "max_backend_ssl_key_rate", 0 },
	{ INF_SSL_CACHE_LOOKUPS, "ssl_cache_lookups_total", 1 }, { INF_SSL_CACHE_MISSES, "ssl_cache_misses_total", 1 },
	{ INF_COMPRESS_BPS_IN, "http_comp_bytes_in_total", 1 }, { INF_COMPRESS_BPS_OUT, "http_comp_bytes_out_total", 1 },
	{ INF_COMPRESS_BPS_RATE_LIM, "limit_http_comp", 0 }, { INF_TASKS, "current_tasks", 0 },
	{ INF_RUN_QUEUE, "current_run_queue", 0 }, { INF_IDLE_PCT, "idle_time_percent", 0 },
	{ INF_NODE, "node", 0 }, { INF_STOPPING, "stopping", 0 }, { INF_JOBS, "jobs", 0 },
	{ INF_UNSTOPPABLE_JOBS, "unstoppable_jobs", 0 }, { INF_LISTENERS, "listeners", 0 },
	{ INF_ACTIVE_PEERS, "active_peers", 0 }, { INF_CONNECTED_PEERS, "connected_peers", 0 },
	{ INF_DROPPED_LOGS, "dropped_logs_total", 1 }, { INF_BUSY_POLLING, "busy_polling_enabled", 0 },
	{ INF_FAILED_RESOLUTIONS, "failed_resolutions", 0 }, { INF_TOTAL_BYTES_OUT, "bytes_out_total", 1 },
	{ INF_TOTAL_SPLICDED_BYTES_OUT, "spliced_bytes_out_total", 1 }, { INF_BYTES_OUT_RATE, "bytes_out_rate", 0 },
	{ INF_CUM_RECV_LOGS, "recv_logs_total", 1 }, { INF_BUILD_INFO, "build_info", 0 },
};

/* promex's states of a server, and the check statuses it labels. */
static const char *const srv_states[] = { "DOWN", "UP", "MAINT", "DRAIN", "NOLB" };
static const char *const check_states[] = { "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK",
					    "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS",
					    "PROCERR", "PROCTOUT", "PROCOK" };
#define NSTATES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- writing ------------------------------------------------------------------------- */

/* A help text or label value, escaped for the text format (\, newline,
 * and in label values the quote). */
static void esc(struct sbuf *o, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			sbuf_puts(o, "\\\\");
		else if (*s == '\n')
			sbuf_puts(o, "\\n");
		else if (quote && *s == '"')
			sbuf_puts(o, "\\\"");
		else
			sbuf_add(o, s, 1);
	}
}

static void header(struct sbuf *o, const char *prefix, const char *name, const char *help, int counter)
{
	sbuf_printf(o, "# HELP %s%s ", prefix, name);
	esc(o, help, 0);
	sbuf_printf(o, "\n# TYPE %s%s %s\n", prefix, name, counter ? "counter" : "gauge");
}

/* A number as the text format wants it (no trailing zeros). */
static void number(struct sbuf *o, double v)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%.6f", v);

	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = 0;
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = 0;
	sbuf_puts(o, buf);
}

/* One series: prefix+name{labels} value. labels: pairs, NULL-ended. */
static void series(struct sbuf *o, const char *prefix, const char *name, const char *const *labels, double v)
{
	sbuf_printf(o, "%s%s", prefix, name);
	for (int i = 0; labels && labels[i]; i += 2) {
		sbuf_printf(o, "%s%s=\"", i ? "," : "{", labels[i]);
		esc(o, labels[i + 1], 1);
		sbuf_puts(o, "\"");
	}
	if (labels && labels[0])
		sbuf_puts(o, "}");
	sbuf_puts(o, " ");
	number(o, v);
	sbuf_puts(o, "\n");
}

/* ---- the process ------------------------------------------------------------------------ */

static void render_process(const struct runtime *rt, struct sbuf *o)
{
	static const char *const prefix = "haproxy_process_";
	struct info_line l;

	stat_fill_info(&l, rt);
	for (size_t i = 0; i < sizeof(process) / sizeof(process[0]); i++) {
		const struct stat_value *v = &l.v[process[i].field];
		const char *lab[3] = { NULL, NULL, NULL };
		double x = stat_value_num(v);
		if (v->type == STT_EMPTY)
			continue;
		if (process[i].field == INF_NODE || process[i].field == INF_BUILD_INFO) {
			lab[0] = process[i].field == INF_NODE ? "node" : "version";
			lab[1] = v->u.str;
			x = 1; /* promex: the value is a label */
		}
		header(o, prefix, process[i].name, info_fields[process[i].field].desc, process[i].counter);
		series(o, prefix, process[i].name, lab, x);
	}
}

/* ---- proxies and servers ------------------------------------------------------------------ */

struct lines {
	struct stat_line *v;
	int n, cap;
};

static int collect(void *arg, const struct stat_line *l)
{
	struct lines *ls = arg;

	if (ls->n == ls->cap) {
		int cap = ls->cap ? 2 * ls->cap : 16;
		struct stat_line *v = realloc(ls->v, (size_t)cap * sizeof(*v));
		if (!v)
			return 1;
		ls->v = v;
		ls->cap = cap;
	}
	/* keep the strings: they point into the line's own buffer */
	ls->v[ls->n] = *l;
	for (int f = 0; f < STAT_NFIELDS; f++)
		if (l->v[f].type == STT_STR && l->v[f].u.str >= l->buf && l->v[f].u.str < l->buf + sizeof(l->buf))
			ls->v[ls->n].v[f].u.str = ls->v[ls->n].buf + (l->v[f].u.str - l->buf);
	ls->n++;
	return 0;
}

/* promex's state of a line: frontends and backends UP or DOWN, servers
 * UP, DOWN, MAINT, DRAIN or NOLB. */
static const char *state_of(const struct stat_line *l)
{
	const char *st = l->v[ST_STATUS].u.str;

	if (l->obj == STAT_OBJ_FE)
		return strcmp(st, "STOP") ? "UP" : "DOWN";
	if (l->obj == STAT_OBJ_BE)
		return strncmp(st, "UP", 2) ? "DOWN" : "UP";
	if (!strcmp(st, "MAINT"))
		return "MAINT";
	if (!strncmp(st, "DRAIN", 5))
		return "DRAIN";
	if (!strncmp(st, "NOLB", 4))
		return "NOLB";
	return !strncmp(st, "UP", 2) || !strcmp(st, "no check") ? "UP" : "DOWN";
}

/* The status of a check field ("* L4OK" while one runs). */
static const char *check_state_of(const struct stat_value *v)
{
	const char *st = v->u.str;

	return strncmp(st, "* ", 2) ? st : st + 2;
}

/* The labels of a line: proxy (and server), then an extra pair. */
static void labels_of(const struct stat_line *l, const char **lab, const char *k, const char *v)
{
	int i = 0;

	lab[i++] = "proxy";
	lab[i++] = l->v[ST_PXNAME].u.str;
	if (l->obj == STAT_OBJ_SRV) {
		lab[i++] = "server";
		lab[i++] = l->v[ST_SVNAME].u.str;
	}
	lab[i++] = k;
	lab[i++] = v;
	lab[i] = NULL;
}

/* A backend's servers in each state (agg_server_status, agg_check_status). */
static void aggregate(struct sbuf *o, const char *prefix, const char *name, const struct lines *ls,
		      int be, int check)
{
	const char *const *states = check ? check_states : srv_states;
	int nst = check ? NSTATES(check_states) : NSTATES(srv_states);

	for (int s = 0; s < nst; s++) {
		const char *lab[7];
		int n = 0;
		for (int i = 0; i < ls->n; i++) {
			const struct stat_line *x = &ls->v[i];
			if (x->obj != STAT_OBJ_SRV || strcmp(x->v[ST_PXNAME].u.str, ls->v[be].v[ST_PXNAME].u.str))
				continue;
			if (check ? x->v[ST_CHECK_STATUS].type == STT_STR &&
					    !strcmp(check_state_of(&x->v[ST_CHECK_STATUS]), states[s])
				  : !strcmp(state_of(x), states[s]))
				n++;
		}
		labels_of(&ls->v[be], lab, "state", states[s]);
		series(o, prefix, name, lab, n);
	}
}

/* One field for every line of one kind. */
static void render_field(struct sbuf *o, const struct prom_field *pf, const struct lines *ls, enum stat_obj obj)
{
	static const char *const prefixes[] = { "haproxy_frontend_", "haproxy_backend_", "haproxy_server_" };
	const char *prefix = prefixes[obj], *name = obj == STAT_OBJ_SRV && pf->srv_name ? pf->srv_name : pf->name;
	int started = 0;

	for (int i = 0; i < ls->n; i++) {
		const struct stat_line *l = &ls->v[i];
		const struct stat_value *v = &l->v[pf->field];
		const char *lab[7];
		if (l->obj != obj || v->type == STT_EMPTY)
			continue;
		if (!started++)
			header(o, prefix, name, stat_fields[pf->field].desc, v->nature == SN_COUNTER);
		switch (pf->kind) {
		case PK_STATE:
		case PK_CHECK: {
			const char *cur = pf->kind == PK_STATE ? state_of(l) : check_state_of(v);
			const char *const *st = pf->kind == PK_STATE ? srv_states : check_states;
			int nst = pf->kind == PK_STATE ? (obj == STAT_OBJ_SRV ? NSTATES(srv_states) : 2)
						       : NSTATES(check_states);
			for (int s = 0; s < nst; s++) {
				labels_of(l, lab, "state", st[s]);
				series(o, prefix, name, lab, !strcmp(cur, st[s]));
			}
			break;
		}
		case PK_AGG_STATE:
		case PK_AGG_CHECK:
			aggregate(o, prefix, name, ls, i, pf->kind == PK_AGG_CHECK);
			break;
		default:
			labels_of(l, lab, NULL, NULL);
			series(o, prefix, name, lab, stat_value_num(v) / (pf->kind == PK_SECONDS ? 1000.0 : 1.0));
		}
	}
}

/* ---- ferry's own ------------------------------------------------------------------------ */

static void render_ferry(const struct runtime *rt, struct sbuf *o)
{
	const struct generation *g = rt->gen;
	static const struct { const char *name, *help; int counter; } pgm[] = {
		{ "pg_primary", "1 when the server answered its last role check as a primary, 0 as a replica", 0 },
		{ "pg_timeline", "Timeline of a primary, from its last role check", 0 },
		{ "pg_replication_lag_bytes", "WAL a replica has received but not replayed yet", 0 },
		{ "pg_replication_lag_seconds", "Time since a lagging replica replayed its last transaction", 0 },
	};

	for (size_t m = 0; m < sizeof(pgm) / sizeof(pgm[0]); m++) {
		int started = 0;
		for (int b = 0; b < g->nbe; b++)
			for (int i = 0; i < g->bes[b]->lb.nsrv; i++) {
				const struct server *s = g->bes[b]->lb.srv[i];
				const char *lab[] = { "proxy", g->bes[b]->lb.name, "server", s->name, NULL };
				struct pg_info pg;
				double v[4];
				if (!s->check || pgcheck_info(s->check, &pg) || !pg.answered)
					continue;
				if (m == 1 && pg.in_recovery)
					continue;
				v[0] = !pg.in_recovery;
				v[1] = pg.timeline;
				v[2] = (double)pg.lag_bytes;
				v[3] = pg.lag_seconds;
				if (!started++)
					header(o, "ferry_", pgm[m].name, pgm[m].help, 0);
				series(o, "ferry_", pgm[m].name, lab, v[m]);
			}
	}
	/* the health checks' durations, as a histogram per server */
	for (int b = 0, started = 0; b < g->nbe; b++)
		for (int i = 0; i < g->bes[b]->lb.nsrv; i++) {
			const struct server *s = g->bes[b]->lb.srv[i];
			const struct check *c = s->check;
			uint64_t cum = 0;
			char le[32];
			const char *lab[] = { "proxy", g->bes[b]->lb.name, "server", s->name, "le", le, NULL };
			if (!c)
				continue;
			if (!started++) {
				sbuf_puts(o, "# HELP ferry_check_duration_seconds Duration of the health checks\n"
					     "# TYPE ferry_check_duration_seconds histogram\n");
			}
			for (int k = 0; k <= CHECK_HIST_N; k++) {
				cum += c->hist[k];
				if (k < CHECK_HIST_N)
					snprintf(le, sizeof(le), "%g", check_hist_ms[k] / 1000.0);
				else
					snprintf(le, sizeof(le), "+Inf");
				series(o, "ferry_", "check_duration_seconds_bucket", lab, (double)cum);
			}
			lab[4] = NULL;
			series(o, "ferry_", "check_duration_seconds_sum", lab, (double)c->hist_sum_ms / 1000.0);
			series(o, "ferry_", "check_duration_seconds_count", lab, (double)cum);
		}
}

void metrics_render(const struct runtime *rt, struct sbuf *o)
{
	struct stat_filter all = STAT_FILTER_ALL;
	struct lines ls = { NULL, 0, 0 };

	render_process(rt, o);
	stat_walk(rt, &all, STAT_F_LEGENDS, collect, &ls);
	for (int obj = STAT_OBJ_FE; obj <= STAT_OBJ_SRV; obj++)
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (fields[i].objs & (1u << obj))
				render_field(o, &fields[i], &ls, (enum stat_obj)obj);
	render_ferry(rt, o);
	free(ls.v);
}

/* The Prometheus exporter's text (format 0.0.4), written from the stats
 * model as HAProxy 2.6's prometheus-exporter service writes it, so that
 * dashboards and alerts made for HAProxy work unchanged: the same metric
 * names (haproxy_process_*, haproxy_frontend_*, haproxy_backend_*,
 * haproxy_server_*), labels (proxy, server, state, version), types and
 * help lines, in its order; times in seconds; an empty field is NaN; the
 * HTTP-only metrics are left out, as HAProxy leaves them out of TCP
 * proxies. Then ferry's own, under ferry_: the PostgreSQL role, timeline
 * and lag of servers with a role-aware check, and a histogram of check
 * durations. Pure reading (stats.h): nothing here touches the data path. */
#include "ops/metrics.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include "ops/stats.h"

enum { MT_GAUGE, MT_COUNTER };
#define F_FE 0x1
#define F_BE 0x2
#define F_SRV 0x4
#define F_SECONDS 0x8    /* the field is in milliseconds: written in seconds */
#define F_STATE 0x10     /* written as one sample per state label */

struct metric {
	int field;
	const char *name;
	int type;
	unsigned flags;
	const char *help;    /* NULL: the field's description */
};

/* HAProxy 2.6's exporter table, the fields a TCP proxy fills. */
static const struct metric st_metrics[] = {
	{ ST_QCUR, "current_queue", MT_GAUGE, F_BE | F_SRV, NULL },
	{ ST_QMAX, "max_queue", MT_GAUGE, F_BE | F_SRV, NULL },
	{ ST_SCUR, "current_sessions", MT_GAUGE, F_FE | F_BE | F_SRV, NULL },
	{ ST_SMAX, "max_sessions", MT_GAUGE, F_FE | F_BE | F_SRV, NULL },
	{ ST_SLIM, "limit_sessions", MT_GAUGE, F_FE | F_BE | F_SRV, NULL },
	{ ST_STOT, "sessions_total", MT_COUNTER, F_FE | F_BE | F_SRV, NULL },
	{ ST_BIN, "bytes_in_total", MT_COUNTER, F_FE | F_BE | F_SRV, NULL },
	{ ST_BOUT, "bytes_out_total", MT_COUNTER, F_FE | F_BE | F_SRV, NULL },
	{ ST_DREQ, "requests_denied_total", MT_COUNTER, F_FE | F_BE, NULL },
	{ ST_DRESP, "responses_denied_total", MT_COUNTER, F_FE | F_BE | F_SRV, NULL },
	{ ST_EREQ, "request_errors_total", MT_COUNTER, F_FE, NULL },
	{ ST_ECON, "connection_errors_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_ERESP, "response_errors_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_WRETR, "retry_warnings_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_WREDIS, "redispatch_warnings_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_STATUS, "status", MT_GAUGE, F_FE | F_BE | F_SRV | F_STATE,
	  "Current status of the service, per state label value." },
	{ ST_WEIGHT, "weight", MT_GAUGE, F_BE | F_SRV, NULL },
	{ ST_ACT, "active_servers", MT_GAUGE, F_BE, NULL },
	{ ST_BCK, "backup_servers", MT_GAUGE, F_BE, NULL },
	{ ST_CHKFAIL, "check_failures_total", MT_COUNTER, F_SRV, NULL },
	{ ST_CHKDOWN, "check_up_down_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_LASTCHG, "check_last_change_seconds", MT_GAUGE, F_BE | F_SRV, NULL },
	{ ST_DOWNTIME, "downtime_seconds_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_QLIMIT, "queue_limit", MT_GAUGE, F_SRV, NULL },
	{ ST_THROTTLE, "current_throttle", MT_GAUGE, F_SRV, NULL },
	{ ST_LBTOT, "loadbalanced_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_RATE_LIM, "limit_session_rate", MT_GAUGE, F_FE, NULL },
	{ ST_RATE_MAX, "max_session_rate", MT_GAUGE, F_FE | F_BE | F_SRV, NULL },
	{ ST_CHECK_STATUS, "check_status", MT_GAUGE, F_SRV | F_STATE,
	  "Status of last health check, per state label value." },
	{ ST_CHECK_CODE, "check_code", MT_GAUGE, F_SRV, "layer5-7 code, if available of the last health check." },
	{ ST_CHECK_DURATION, "check_duration_seconds", MT_GAUGE, F_SRV | F_SECONDS,
	  "Total duration of the latest server health check, in seconds." },
	{ ST_CLI_ABRT, "client_aborts_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_SRV_ABRT, "server_aborts_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_LASTSESS, "last_session_seconds", MT_GAUGE, F_BE | F_SRV, NULL },
	{ ST_QTIME, "queue_time_average_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Avg. queue time for last 1024 successful connections." },
	{ ST_CTIME, "connect_time_average_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Avg. connect time for last 1024 successful connections." },
	{ ST_RTIME, "response_time_average_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Avg. response time for last 1024 successful connections." },
	{ ST_TTIME, "total_time_average_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Avg. total time for last 1024 successful connections." },
	{ ST_CONN_RATE_MAX, "connections_rate_max", MT_GAUGE, F_FE, NULL },
	{ ST_CONN_TOT, "connections_total", MT_COUNTER, F_FE, NULL },
	{ ST_DCON, "denied_connections_total", MT_COUNTER, F_FE, NULL },
	{ ST_DSES, "denied_sessions_total", MT_COUNTER, F_FE, NULL },
	{ ST_WREW, "failed_header_rewriting_total", MT_COUNTER, F_FE | F_BE | F_SRV, NULL },
	{ ST_CONNECT, "connection_attempts_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_REUSE, "connection_reuses_total", MT_COUNTER, F_BE | F_SRV, NULL },
	{ ST_SRV_ICUR, "idle_connections_current", MT_GAUGE, F_SRV, NULL },
	{ ST_SRC_ILIM, "idle_connections_limit", MT_GAUGE, F_SRV, NULL },
	{ ST_QTIME_MAX, "max_queue_time_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Maximum observed time spent in the queue" },
	{ ST_CTIME_MAX, "max_connect_time_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Maximum observed time spent waiting for a connection to complete" },
	{ ST_RTIME_MAX, "max_response_time_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Maximum observed time spent waiting for a server response" },
	{ ST_TTIME_MAX, "max_total_time_seconds", MT_GAUGE, F_BE | F_SRV | F_SECONDS,
	  "Maximum observed total request+response time (request+queue+connect+response+processing)" },
	{ ST_EINT, "internal_errors_total", MT_COUNTER, F_FE | F_BE | F_SRV, NULL },
	{ ST_IDLE_CONN_CUR, "unsafe_idle_connections_current", MT_GAUGE, F_SRV, NULL },
	{ ST_SAFE_CONN_CUR, "safe_idle_connections_current", MT_GAUGE, F_SRV, NULL },
	{ ST_USED_CONN_CUR, "used_connections_current", MT_GAUGE, F_SRV, NULL },
	{ ST_NEED_CONN_EST, "need_connections_current", MT_GAUGE, F_SRV, NULL },
	{ ST_UWEIGHT, "uweight", MT_GAUGE, F_BE | F_SRV, NULL },
	{ ST_AGG_SERVER_STATUS, "agg_server_status", MT_GAUGE, F_BE | F_STATE,
	  "Backend's aggregated gauge of servers' status" },
	{ ST_AGG_SERVER_CHECK_STATUS, "agg_server_check_status", MT_GAUGE, F_BE | F_STATE,
	  "Backend's aggregated gauge of servers' state check status" },
	{ ST_AGG_CHECK_STATUS, "agg_check_status", MT_GAUGE, F_BE | F_STATE,
	  "Backend's aggregated gauge of servers' state check status" },
};

/* The process metrics, in "show info" order. */
static const struct { int field; const char *name; int type; } inf_metrics[] = {
	{ INF_NBTHREAD, "nbthread", MT_GAUGE }, { INF_NBPROC, "nbproc", MT_GAUGE },
	{ INF_PROCESS_NUM, "relative_process_id", MT_GAUGE }, { INF_UPTIME_SEC, "uptime_seconds", MT_GAUGE },
	{ INF_POOL_FAILED, "pool_failures_total", MT_COUNTER }, { INF_ULIMIT_N, "max_fds", MT_GAUGE },
	{ INF_MAXSOCK, "max_sockets", MT_GAUGE }, { INF_MAXCONN, "max_connections", MT_GAUGE },
	{ INF_HARD_MAXCONN, "hard_max_connections", MT_GAUGE },
	{ INF_CURR_CONNS, "current_connections", MT_GAUGE }, { INF_CUM_CONNS, "connections_total", MT_COUNTER },
	{ INF_CUM_REQ, "requests_total", MT_COUNTER }, { INF_MAX_SSL_CONNS, "max_ssl_connections", MT_GAUGE },
	{ INF_CURR_SSL_CONNS, "current_ssl_connections", MT_GAUGE },
	{ INF_CUM_SSL_CONNS, "ssl_connections_total", MT_COUNTER }, { INF_MAXPIPES, "max_pipes", MT_GAUGE },
	{ INF_PIPES_USED, "pipes_used_total", MT_COUNTER }, { INF_PIPES_FREE, "pipes_free_total", MT_COUNTER },
	{ INF_CONN_RATE, "current_connection_rate", MT_GAUGE },
	{ INF_CONN_RATE_LIMIT, "limit_connection_rate", MT_GAUGE },
	{ INF_MAX_CONN_RATE, "max_connection_rate", MT_GAUGE },
	{ INF_SESS_RATE, "current_session_rate", MT_GAUGE },
	{ INF_SESS_RATE_LIMIT, "limit_session_rate", MT_GAUGE },
	{ INF_MAX_SESS_RATE, "max_session_rate", MT_GAUGE }, { INF_SSL_RATE, "current_ssl_rate", MT_GAUGE },
	{ INF_SSL_RATE_LIMIT, "limit_ssl_rate", MT_GAUGE }, { INF_MAX_SSL_RATE, "max_ssl_rate", MT_GAUGE },
	{ INF_SSL_FRONTEND_KEY_RATE, "current_frontend_ssl_key_rate", MT_GAUGE },
	{ INF_SSL_FRONTEND_MAX_KEY_RATE, "max_frontend_ssl_key_rate", MT_GAUGE },
	{ INF_SSL_FRONTEND_SESSION_REUSE_PCT, "frontend_ssl_reuse", MT_GAUGE },
	{ INF_SSL_BACKEND_KEY_RATE, "current_backend_ssl_key_rate", MT_GAUGE },
	{ INF_SSL_BACKEND_MAX_KEY_RATE, "max_backend_ssl_key_rate", MT_GAUGE },
	{ INF_SSL_CACHE_LOOKUPS, "ssl_cache_lookups_total", MT_COUNTER },
	{ INF_SSL_CACHE_MISSES, "ssl_cache_misses_total", MT_COUNTER },
	{ INF_COMPRESS_BPS_IN, "http_comp_bytes_in_total", MT_COUNTER },
	{ INF_COMPRESS_BPS_OUT, "http_comp_bytes_out_total", MT_COUNTER },
	{ INF_COMPRESS_BPS_RATE_LIM, "limit_http_comp", MT_GAUGE },
	{ INF_ZLIB_MEM_USAGE, "current_zlib_memory", MT_GAUGE },
	{ INF_MAX_ZLIB_MEM_USAGE, "max_zlib_memory", MT_GAUGE }, { INF_TASKS, "current_tasks", MT_GAUGE },
	{ INF_RUN_QUEUE, "current_run_queue", MT_GAUGE }, { INF_IDLE_PCT, "idle_time_percent", MT_GAUGE },
	{ INF_STOPPING, "stopping", MT_GAUGE }, { INF_JOBS, "jobs", MT_GAUGE },
	{ INF_UNSTOPPABLE_JOBS, "unstoppable_jobs", MT_GAUGE }, { INF_LISTENERS, "listeners", MT_GAUGE },
	{ INF_ACTIVE_PEERS, "active_peers", MT_GAUGE }, { INF_CONNECTED_PEERS, "connected_peers", MT_GAUGE },
	{ INF_DROPPED_LOGS, "dropped_logs_total", MT_COUNTER },
	{ INF_BUSY_POLLING, "busy_polling_enabled", MT_GAUGE },
	/* HAProxy types it counter, which promtool's lint refuses without
	 * "_total"; ferry resolves nothing at run time (always 0): a gauge
	 * keeps the name dashboards use and passes "promtool check metrics" */
	{ INF_FAILED_RESOLUTIONS, "failed_resolutions", MT_GAUGE },
	{ INF_TOTAL_BYTES_OUT, "bytes_out_total", MT_COUNTER },
	{ INF_TOTAL_SPLICDED_BYTES_OUT, "spliced_bytes_out_total", MT_COUNTER },
	{ INF_BYTES_OUT_RATE, "bytes_out_rate", MT_GAUGE }, { INF_CUM_RECV_LOGS, "recv_logs_total", MT_COUNTER },
	{ INF_BUILD_INFO, "build_info", MT_GAUGE }, { INF_MEMMAX_BYTES, "max_memory_bytes", MT_GAUGE },
	{ INF_POOL_ALLOC_BYTES, "pool_allocated_bytes", MT_GAUGE },
	{ INF_POOL_USED_BYTES, "pool_used_bytes", MT_GAUGE },
	{ INF_START_TIME_SEC, "start_time_seconds", MT_GAUGE },
};

static const char *const srv_states[] = { "DOWN", "UP", "MAINT", "DRAIN", "NOLB", NULL };
static const char *const chk_states[] = { "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT",
					  "L6RSP", "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR",
					  "PROCTOUT", "PROCOK", NULL };
#define AGG_CHK_NSTATES 13 /* the aggregate leaves out the external checks' PROC* */

static void header(struct sbuf *o, const char *prefix, const char *name, int type, const char *help)
{
	sbuf_printf(o, "# HELP %s%s %s\n# TYPE %s%s %s\n", prefix, name, help, prefix, name,
		    type == MT_COUNTER ? "counter" : "gauge");
}

/* A label value with Prometheus' escapes. */
static void label(struct sbuf *o, const char *k, const char *v)
{
	sbuf_printf(o, "%s=\"", k);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_printf(o, "\\%c", *v);
		else if (*v == '\n')
			sbuf_puts(o, "\\n");
		else
			sbuf_add(o, v, 1);
	}
	sbuf_puts(o, "\"");
}

static void labels(struct sbuf *o, const struct stat_line *l)
{
	sbuf_puts(o, "{");
	label(o, "proxy", l->v[ST_PXNAME].u.str);
	if (l->obj == STAT_OBJ_SRV) {
		sbuf_puts(o, ",");
		label(o, "server", l->v[ST_SVNAME].u.str);
	}
}

static void value(struct sbuf *o, const struct stat_value *v, int seconds)
{
	if (v->type == STT_EMPTY || v->type == STT_STR)
		sbuf_puts(o, " NaN\n");
	else if (seconds)
		sbuf_printf(o, " %f\n", stat_value_num(v) / 1000.0);
	else if (v->type == STT_S32)
		sbuf_printf(o, " %d\n", v->u.s32);
	else
		sbuf_printf(o, " %llu\n", (unsigned long long)stat_value_num(v));
}

/* The state a server's status string stands for. */
static const char *srv_state(const char *st)
{
	if (!strncmp(st, "MAINT", 5))
		return "MAINT";
	if (!strncmp(st, "DRAIN", 5))
		return "DRAIN";
	if (!strncmp(st, "NOLB", 4))
		return "NOLB";
	if (!strncmp(st, "DOWN", 4))
		return "DOWN";
	return "UP"; /* "UP", "UP 1/3", "no check" */
}

/* The check status of a "check_status" field ("L4OK", "* L4OK" while a check runs). */
static const char *chk_state(const char *st)
{
	return !strncmp(st, "* ", 2) ? st + 2 : st;
}

struct lines {
	struct stat_line *v;
	int n, cap;
};

static int collect(void *arg, const struct stat_line *l)
{
	struct lines *ls = arg;

	if (ls->n == ls->cap) {
		int cap = ls->cap ? ls->cap * 2 : 16;
		struct stat_line *v = realloc(ls->v, (size_t)cap * sizeof(*v));
		if (!v)
			return 1;
		ls->v = v;
		ls->cap = cap;
	}
	ls->v[ls->n] = *l;
	/* strings point into the line's own buffer: follow the copy */
	for (int f = 0; f < STAT_NFIELDS; f++) {
		const char *s = l->v[f].u.str;
		if (l->v[f].type == STT_STR && s >= l->buf && s < l->buf + sizeof(l->buf))
			ls->v[ls->n].v[f].u.str = ls->v[ls->n].buf + (s - l->buf);
	}
	ls->n++;
	return 0;
}

/* The servers of backend line b in ls (they come just before it). */
static void agg_counts(const struct lines *ls, int b, int *srv, int *chk)
{
	for (int i = b - 1; i >= 0 && ls->v[i].obj == STAT_OBJ_SRV; i--) {
		const struct stat_line *s = &ls->v[i];
		const char *st = srv_state(s->v[ST_STATUS].u.str);
		for (int k = 0; srv_states[k]; k++)
			srv[k] += !strcmp(st, srv_states[k]);
		if (s->v[ST_CHECK_STATUS].type == STT_STR)
			for (int k = 0; k < AGG_CHK_NSTATES; k++)
				chk[k] += !strcmp(chk_state(s->v[ST_CHECK_STATUS].u.str), chk_states[k]);
	}
}

static void emit_state(struct sbuf *o, const char *prefix, const struct metric *m, const struct lines *ls, int i)
{
	const struct stat_line *l = &ls->v[i];
	const char *const *names = srv_states;
	int counts[20] = { 0 }, n;
	const char *cur = NULL;

	if (m->field == ST_CHECK_STATUS || m->field == ST_AGG_CHECK_STATUS)
		names = chk_states;
	if (m->field == ST_AGG_SERVER_STATUS || m->field == ST_AGG_SERVER_CHECK_STATUS) {
		int chk[20] = { 0 };
		agg_counts(ls, i, counts, chk);
	} else if (m->field == ST_AGG_CHECK_STATUS) {
		int srv[20] = { 0 };
		agg_counts(ls, i, srv, counts);
	} else if (m->field == ST_CHECK_STATUS) {
		cur = chk_state(l->v[ST_CHECK_STATUS].u.str);
	} else if (l->obj == STAT_OBJ_SRV) {
		cur = srv_state(l->v[ST_STATUS].u.str);
	} else {
		static const char *const updown[] = { "DOWN", "UP", NULL };
		const char *st = l->v[ST_STATUS].u.str;
		names = updown;
		cur = !strcmp(st, "OPEN") || !strcmp(st, "UP") || !strcmp(st, "FULL") ? "UP" : "DOWN";
	}
	n = m->field == ST_AGG_CHECK_STATUS ? AGG_CHK_NSTATES : 100;
	for (int k = 0; k < n && names[k]; k++) {
		sbuf_printf(o, "%s%s", prefix, m->name);
		labels(o, l);
		sbuf_puts(o, ",");
		label(o, "state", names[k]);
		sbuf_printf(o, "} %d\n", cur ? !strcmp(cur, names[k]) : counts[k]);
	}
}

static void emit_stats(struct sbuf *o, const struct lines *ls)
{
	static const struct { unsigned flag; enum stat_obj obj; const char *prefix; } kinds[] = {
		{ F_FE, STAT_OBJ_FE, "haproxy_frontend_" },
		{ F_BE, STAT_OBJ_BE, "haproxy_backend_" },
		{ F_SRV, STAT_OBJ_SRV, "haproxy_server_" },
	};

	for (size_t k = 0; k < 3; k++)
		for (size_t m = 0; m < sizeof(st_metrics) / sizeof(st_metrics[0]); m++) {
			const struct metric *mt = &st_metrics[m];
			int first = 1;
			if (!(mt->flags & kinds[k].flag))
				continue;
			for (int i = 0; i < ls->n; i++) {
				const struct stat_line *l = &ls->v[i];
				if (l->obj != kinds[k].obj)
					continue;
				/* as HAProxy: check metrics only for servers with a check */
				if ((mt->field == ST_CHECK_STATUS || mt->field == ST_CHECK_CODE ||
				     mt->field == ST_CHECK_DURATION) && l->v[ST_CHECK_STATUS].type != STT_STR)
					continue;
				if (first)
					header(o, kinds[k].prefix, mt->name, mt->type,
					       mt->help ? mt->help : stat_fields[mt->field].desc);
				first = 0;
				if (mt->flags & F_STATE) {
					emit_state(o, kinds[k].prefix, mt, ls, i);
					continue;
				}
				sbuf_printf(o, "%s%s", kinds[k].prefix, mt->name);
				labels(o, l);
				sbuf_puts(o, "}");
				value(o, &l->v[mt->field], (mt->flags & F_SECONDS) != 0);
			}
		}
}

static void emit_info(struct sbuf *o, const struct runtime *rt)
{
	struct info_line il;

	stat_fill_info(&il, rt);
	for (size_t i = 0; i < sizeof(inf_metrics) / sizeof(inf_metrics[0]); i++) {
		const struct stat_value *v = &il.v[inf_metrics[i].field];
		header(o, "haproxy_process_", inf_metrics[i].name, inf_metrics[i].type,
		       info_fields[inf_metrics[i].field].desc);
		if (inf_metrics[i].field == INF_BUILD_INFO) {
			sbuf_puts(o, "haproxy_process_build_info{");
			label(o, "version", il.v[INF_VERSION].type == STT_STR ? il.v[INF_VERSION].u.str : "");
			sbuf_puts(o, "} 1\n");
			continue;
		}
		sbuf_printf(o, "haproxy_process_%s", inf_metrics[i].name);
		value(o, v, 0);
	}
}

/* ---- ferry's own ------------------------------------------------------------------- */

static void srv_labels(struct sbuf *o, const struct pbackend *be, const struct server *s)
{
	sbuf_puts(o, "{");
	label(o, "proxy", be->lb.name);
	sbuf_puts(o, ",");
	label(o, "server", s->name);
}

/* Visits the servers of rt's current generation with a role-aware PostgreSQL check. */
static void emit_pg(struct sbuf *o, const struct runtime *rt)
{
	static const char *const names[] = { "ferry_server_pg_role", "ferry_server_pg_timeline",
					     "ferry_server_pg_lag_bytes", "ferry_server_pg_lag_seconds" };
	static const char *const helps[] = {
		"PostgreSQL role of the server as its last role check found it, per role label value.",
		"PostgreSQL timeline of a primary (0 for replicas).",
		"WAL bytes a replica has received but not replayed yet.",
		"Seconds since the last transaction a replica replayed (0 when caught up).",
	};
	const struct generation *g = rt->gen;

	for (int m = 0; m < 4; m++) {
		int first = 1;
		for (int b = 0; b < g->nbe; b++)
			for (int i = 0; i < g->bes[b]->lb.nsrv; i++) {
				const struct server *s = g->bes[b]->lb.srv[i];
				struct pg_info pi;
				if (!s->check || pgcheck_info(s->check, &pi) || !pi.answered)
					continue;
				if (first)
					header(o, "", names[m], MT_GAUGE, helps[m]);
				first = 0;
				if (m == 0) {
					for (int r = 0; r < 2; r++) {
						sbuf_puts(o, names[0]);
						srv_labels(o, g->bes[b], s);
						sbuf_puts(o, ",");
						label(o, "role", r ? "replica" : "primary");
						sbuf_printf(o, "} %d\n", pi.in_recovery == r);
					}
					continue;
				}
				sbuf_puts(o, names[m]);
				srv_labels(o, g->bes[b], s);
				if (m == 1)
					sbuf_printf(o, "} %d\n", pi.timeline);
				else if (m == 2)
					sbuf_printf(o, "} %lld\n", pi.lag_bytes);
				else
					sbuf_printf(o, "} %f\n", pi.lag_seconds);
			}
	}
}

static void emit_check_hist(struct sbuf *o, const struct runtime *rt)
{
	const struct generation *g = rt->gen;
	int first = 1;

	for (int b = 0; b < g->nbe; b++)
		for (int i = 0; i < g->bes[b]->lb.nsrv; i++) {
			const struct server *s = g->bes[b]->lb.srv[i];
			const struct check *c = s->check;
			if (!c)
				continue;
			if (first)
				sbuf_puts(o, "# HELP ferry_check_duration_seconds Duration of the server's health checks.\n"
					     "# TYPE ferry_check_duration_seconds histogram\n");
			first = 0;
			uint64_t cum = 0;
			for (int k = 0; k <= CHECK_HIST_N; k++) {
				char le[32];
				cum += c->hist[k];
				if (k < CHECK_HIST_N)
					snprintf(le, sizeof(le), "%g", check_hist_ms[k] / 1000.0);
				else
					snprintf(le, sizeof(le), "+Inf");
				sbuf_puts(o, "ferry_check_duration_seconds_bucket");
				srv_labels(o, g->bes[b], s);
				sbuf_puts(o, ",");
				label(o, "le", le);
				sbuf_printf(o, "} %llu\n", (unsigned long long)cum);
			}
			sbuf_puts(o, "ferry_check_duration_seconds_sum");
			srv_labels(o, g->bes[b], s);
			sbuf_printf(o, "} %f\n", (double)c->hist_sum_ms / 1000.0);
			sbuf_puts(o, "ferry_check_duration_seconds_count");
			srv_labels(o, g->bes[b], s);
			sbuf_printf(o, "} %llu\n", (unsigned long long)cum);
		}
}

void metrics_render(const struct runtime *rt, struct sbuf *o)
{
	struct stat_filter all = STAT_FILTER_ALL;
	struct lines ls = { 0 };

	emit_info(o, rt);
	stat_walk(rt, &all, 0, collect, &ls);
	emit_stats(o, &ls);
	free(ls.v);
	emit_pg(o, rt);
	emit_check_hist(o, rt);
	sbuf_printf(o, "# HELP ferry_generation Configuration generation in use (1 at start, one more per reload).\n"
		       "# TYPE ferry_generation gauge\nferry_generation %d\n", rt->gen->id);
}

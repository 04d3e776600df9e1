/* The dashboard's JSON (GET <stats uri>;data): what the page shows, small
 * enough to fetch every second: the process (version unless "stats
 * hide-version", uptime, connections, rates), the generation in use,
 * whether this client may act ("stats admin"), and every frontend, backend
 * and server with its state, sessions, rates, bytes, queue, weight, last
 * check and, for servers with a role-aware PostgreSQL check, its role,
 * timeline and lag. Written from the stats model (stats.h), so the page
 * and "show stat" never disagree. */
#include "ops/http_int.h"

#include <stdio.h>
#include <string.h>

#include "ops/stats.h"

#define jstr sbuf_json_str

/* "name":value for a numeric field (null when empty). */
static void num(struct sbuf *o, const char *name, const struct stat_value *v)
{
	sbuf_printf(o, ",\"%s\":", name);
	if (v->type == STT_EMPTY || v->type == STT_STR)
		sbuf_puts(o, "null");
	else if (v->type == STT_S32)
		sbuf_printf(o, "%d", v->u.s32);
	else
		sbuf_printf(o, "%.0f", stat_value_num(v));
}

/* "name":"value" for a string field ("" when empty). */
static void str(struct sbuf *o, const char *name, const struct stat_value *v)
{
	sbuf_printf(o, ",\"%s\":", name);
	jstr(o, v->type == STT_STR ? v->u.str : "");
}

/* The fields every object shows. */
static void common(struct sbuf *o, const struct stat_line *l)
{
	sbuf_puts(o, "{\"name\":");
	jstr(o, l->obj == STAT_OBJ_SRV ? l->v[ST_SVNAME].u.str : l->v[ST_PXNAME].u.str);
	str(o, "status", &l->v[ST_STATUS]);
	num(o, "scur", &l->v[ST_SCUR]);
	num(o, "smax", &l->v[ST_SMAX]);
	num(o, "slim", &l->v[ST_SLIM]);
	num(o, "stot", &l->v[ST_STOT]);
	num(o, "rate", &l->v[ST_RATE]);
	num(o, "rate_max", &l->v[ST_RATE_MAX]);
	num(o, "bin", &l->v[ST_BIN]);
	num(o, "bout", &l->v[ST_BOUT]);
}

static void server(struct sbuf *o, const struct runtime *rt, const struct pbackend *be, const struct server *s)
{
	struct stat_line l;
	struct pg_info pi;

	stat_fill_server(&l, rt, be, s, STAT_F_LEGENDS);
	common(o, &l);
	num(o, "qcur", &l.v[ST_QCUR]);
	num(o, "qmax", &l.v[ST_QMAX]);
	num(o, "qlimit", &l.v[ST_QLIMIT]);
	num(o, "weight", &l.v[ST_WEIGHT]);
	num(o, "uweight", &l.v[ST_UWEIGHT]);
	num(o, "iweight", &(struct stat_value){ .type = STT_S32, .u.s32 = s->iweight });
	num(o, "lastchg", &l.v[ST_LASTCHG]);
	num(o, "downtime", &l.v[ST_DOWNTIME]);
	num(o, "chkfail", &l.v[ST_CHKFAIL]);
	num(o, "econ", &l.v[ST_ECON]);
	num(o, "check_code", &l.v[ST_CHECK_CODE]);
	num(o, "check_duration", &l.v[ST_CHECK_DURATION]);
	num(o, "check_health", &l.v[ST_CHECK_HEALTH]);
	num(o, "check_rise", &l.v[ST_CHECK_RISE]);
	num(o, "check_fall", &l.v[ST_CHECK_FALL]);
	num(o, "lastsess", &l.v[ST_LASTSESS]);
	str(o, "check_status", &l.v[ST_CHECK_STATUS]);
	str(o, "check_desc", &l.v[ST_CHECK_DESC]);
	str(o, "last_chk", &l.v[ST_LAST_CHK]);
	str(o, "agent_status", &l.v[ST_AGENT_STATUS]);
	str(o, "addr", &l.v[ST_ADDR]);
	sbuf_printf(o, ",\"backup\":%s", (s->flags & SRV_F_BACKUP) ? "true" : "false");
	if (s->check && !pgcheck_info(s->check, &pi) && pi.answered)
		sbuf_printf(o, ",\"pg\":{\"role\":\"%s\",\"timeline\":%d,\"lag_bytes\":%lld,\"lag_seconds\":%.3f}",
			    pi.in_recovery ? "replica" : "primary", pi.timeline, pi.lag_bytes, pi.lag_seconds);
	sbuf_puts(o, "}");
}

static void backend(struct sbuf *o, const struct runtime *rt, const struct pbackend *be)
{
	struct stat_line l;

	stat_fill_backend(&l, rt, be, STAT_F_LEGENDS);
	common(o, &l);
	num(o, "qcur", &l.v[ST_QCUR]);
	num(o, "qmax", &l.v[ST_QMAX]);
	num(o, "weight", &l.v[ST_WEIGHT]);
	num(o, "act", &l.v[ST_ACT]);
	num(o, "bck", &l.v[ST_BCK]);
	num(o, "lastchg", &l.v[ST_LASTCHG]);
	num(o, "downtime", &l.v[ST_DOWNTIME]);
	num(o, "econ", &l.v[ST_ECON]);
	str(o, "algo", &l.v[ST_ALGO]);
	sbuf_puts(o, ",\"servers\":[");
	for (int i = 0; i < be->lb.nsrv; i++) {
		if (i)
			sbuf_puts(o, ",");
		server(o, rt, be, be->lb.srv[i]);
	}
	sbuf_puts(o, "]}");
}

static void process(struct sbuf *o, const struct runtime *rt, const struct cfg_stats *st)
{
	struct info_line il;
	const struct stat_value *v = il.v;

	stat_fill_info(&il, rt);
	sbuf_puts(o, "\"process\":{\"version\":");
	jstr(o, st && (st->flags & STATS_F_HIDEVER) ? "" : v[INF_VERSION].u.str);
	sbuf_puts(o, ",\"node\":");
	jstr(o, st && (st->flags & STATS_F_NODE) ? (st->node ? st->node : v[INF_NODE].type == STT_STR ? v[INF_NODE].u.str : "") : "");
	sbuf_puts(o, ",\"desc\":");
	jstr(o, st && (st->flags & STATS_F_DESC) && st->desc ? st->desc : "");
	num(o, "pid", &v[INF_PID]);
	num(o, "uptime_sec", &v[INF_UPTIME_SEC]);
	num(o, "nbthread", &v[INF_NBTHREAD]);
	num(o, "curr_conns", &v[INF_CURR_CONNS]);
	num(o, "maxconn", &v[INF_MAXCONN]);
	num(o, "cum_conns", &v[INF_CUM_CONNS]);
	num(o, "conn_rate", &v[INF_CONN_RATE]);
	num(o, "max_conn_rate", &v[INF_MAX_CONN_RATE]);
	num(o, "idle_pct", &v[INF_IDLE_PCT]);
	num(o, "bytes_out", &v[INF_TOTAL_BYTES_OUT]);
	num(o, "bytes_out_rate", &v[INF_BYTES_OUT_RATE]);
	num(o, "stopping", &v[INF_STOPPING]);
	sbuf_puts(o, "}");
}

void http_data_render(struct sbuf *o, const struct runtime *rt, const struct cfg_proxy *px, int admin)
{
	const struct generation *g = rt->gen;

	sbuf_printf(o, "{\"generation\":%d,\"admin\":%s,\"proxy\":", g->id, admin ? "true" : "false");
	jstr(o, px->name);
	sbuf_puts(o, ",\"uri\":");
	jstr(o, cfg_stats_uri(px->stats));
	sbuf_puts(o, ",");
	process(o, rt, px->stats);
	sbuf_puts(o, ",\"frontends\":[");
	for (int i = 0; i < g->nfe; i++) {
		struct stat_line l;
		stat_fill_frontend(&l, rt, &g->fes[i], STAT_F_LEGENDS);
		if (i)
			sbuf_puts(o, ",");
		common(o, &l);
		num(o, "conn_rate", &l.v[ST_CONN_RATE]);
		num(o, "conn_tot", &l.v[ST_CONN_TOT]);
		num(o, "dcon", &l.v[ST_DCON]);
		num(o, "ereq", &l.v[ST_EREQ]);
		sbuf_puts(o, ",\"backend\":");
		jstr(o, g->fes[i].be ? g->fes[i].be->lb.name : "");
		sbuf_puts(o, "}");
	}
	sbuf_puts(o, "],\"backends\":[");
	for (int i = 0; i < g->nbe; i++) {
		if (i)
			sbuf_puts(o, ",");
		backend(o, rt, g->bes[i]);
	}
	sbuf_puts(o, "]}\n");
}

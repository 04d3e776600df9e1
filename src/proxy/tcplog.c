/* Connection logs. With "option tcplog", HAProxy's TCP log format:
 *   %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
 * written by hand (one snprintf: the common case stays cheap). With
 * "log-format", the compiled format (rules/logformat.c) over the same
 * values. Without either, HAProxy's minimal "Connect from" line at accept
 * time. */
#include "proxy/proxy.h"
#include "proxy/pgedge.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/atomic.h"
#include "rules/logformat.h"

void log_set_send(const struct log_set *ls, int level, const char *line)
{
	if (ls->own && ls->own->n)
		log_send(ls->own, level, line);
	if (ls->global && ls->global->n)
		log_send(ls->global, level, line);
}

static int has_logs(const struct log_set *ls)
{
	return (ls->own && ls->own->n) || (ls->global && ls->global->n);
}

static void fmt_date(const struct timespec *ts, char *buf, size_t len)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	localtime_r(&ts->tv_sec, &tm);
	snprintf(buf, len, "%02d/%s/%04d:%02d:%02d:%02d.%03ld", tm.tm_mday, mon[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
}

/* The client's port in a log line: a unix client's is its listener's id,
 * as HAProxy prints it ("unix:1"). */
static int cli_port(const struct session *s)
{
	return s->cli_addr.sa.sa_family == AF_UNIX ? s->luid : addr_port(&s->cli_addr.sa);
}

void session_log_connect(struct session *s)
{
	char ci[64], dst[80], line[512];

	if (!has_logs(&s->fe->logs) || (s->fe->options & PXO_TCPLOG) || s->fe->lf)
		return;
	if (s->cli_addr.sa.sa_family == AF_UNIX) { /* HAProxy: only the destination is known */
		snprintf(line, sizeof(line), "Connect to unix:%d (%s/TCP)", s->luid, s->fe->name);
		log_set_send(&s->fe->logs, LOG_INFO, line);
		return;
	}
	session_dst_addr(s);
	addr_ip_str(&s->cli_addr.sa, ci, sizeof(ci));
	addr_ip_str(&s->dst_addr.sa, dst, sizeof(dst));
	snprintf(line, sizeof(line), "Connect from %s:%d to %s:%d (%s/TCP)", ci,
		 addr_port(&s->cli_addr.sa), dst, addr_port(&s->dst_addr.sa), s->fe->name);
	log_set_send(&s->fe->logs, LOG_INFO, line);
}

void session_log_prepare(struct session *s)
{
	socklen_t l = sizeof(s->bk_addr);

	if (!s->fe->lf || !has_logs(&s->fe->logs))
		return;
	if (s->fe->lf_uses & (LF_USE_FI | LF_USE_EXPR))
		session_dst_addr(s);
	if ((s->fe->lf_uses & LF_USE_BI) && s->srv.fd >= 0 && !s->bk_addr.sa.sa_family)
		getsockname(s->srv.fd, &s->bk_addr.sa, &l);
}

/* The log-format line of s. */
static void log_custom(const struct session *s)
{
	struct frontend *fe = s->fe;
	struct process *p = s->w->proc;
	struct lf_data d = { 0 };
	struct rule_ctx c = { 0 };
	struct sockaddr_storage si;
	char host[256], line[1024];
	int omitted = 0;

	d.ci = &s->cli_addr.sa;
	d.luid = s->luid;
	d.fi = s->dst_addr.sa.sa_family ? &s->dst_addr.sa : NULL;
	d.bi = s->bk_addr.sa.sa_family ? &s->bk_addr.sa : NULL;
	if (s->server && server_copy_addr(s->server, &si, &omitted))
		d.si = (struct sockaddr *)&si;
	d.fe_name = fe->name;
	d.be_name = s->be ? s->be->lb.name : fe->name;
	d.srv_name = s->server ? s->server->name : NULL;
	if (fe->lf_uses & LF_USE_HOST) {
		host[0] = 0;
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = 0;
		d.hostname = host;
	}
	d.accept_date = s->accept_date;
	d.tw = s->tw;
	d.tc = s->tc;
	d.tt = (int32_t)(s->w->loop.now_ms - s->t_accept);
	d.bytes_in = s->bytes[0];
	d.bytes_out = s->bytes[1];
	d.term[0] = s->term[0];
	d.term[1] = s->term[1];
	d.ac = proc_actconn(p);
	d.fc = ATOMIC_LOAD(&fe->cur_conns);
	d.bc = s->be ? ATOMIC_LOAD(&s->be->lb.cur_conns) : 0;
	d.sc = s->server ? ATOMIC_LOAD(&s->server->cur_sess) : 0;
	d.sq = s->sq_pos;
	d.bq = s->bq_pos;
	d.retries = s->retries;
	d.redisp = !!(s->flags & SF_REDISP);
	/* HAProxy numbers streams as they start; ferry numbers the sessions
	 * of formats that print %rt as they are logged */
	if (fe->lf_uses & LF_USE_RT)
		d.rt = __atomic_fetch_add(&p->req_count, 1, __ATOMIC_RELAXED);
	d.lc = __atomic_fetch_add(&fe->log_count, 1, __ATOMIC_RELAXED);
	d.pid = (int)getpid();
	if (fe->lf_uses & LF_USE_EXPR) {
		c.src = &s->cli_addr.sa;
		c.dst = d.fi;
		c.fe_name = fe->name;
		c.fe_id = fe->uuid;
		c.fe_conn = d.fc;
		c.bes = fe->lbs;
		c.nbe = fe->nbe;
		c.req = s->req_seen; /* what the content rules decided on, when kept */
		c.req_len = s->req_seen_len;
		c.req_final = 1;
		if (s->pg)
			pgedge_rule_ctx(s, &c); /* %[pg.user] ... */
	}
	lf_render(fe->lf, &d, &c, line, sizeof(line));
	log_set_send(&fe->logs, LOG_INFO, line);
}

void session_log(const struct session *s)
{
	const struct frontend *fe = s->fe;
	char ci[64], date[40], line[1024];
	/* the server it used, tried, or waited for in that server's queue */
	const char *srv = s->server ? s->server->name : "<NOSRV>";
	int tt = (int)(s->w->loop.now_ms - s->t_accept);

	if (!((fe->options & PXO_TCPLOG) || fe->lf) || !has_logs(&fe->logs) || (s->flags & SF_NOLOG))
		return;
	/* as HAProxy: a null connection is one where the client sent nothing,
	 * whatever the server sent (a probe reading a greeting) */
	if ((fe->options & PXO_DONTLOGNULL) && s->bytes[0] == 0)
		return;
	if (fe->lf) {
		log_custom(s);
		return;
	}
	addr_ip_str(&s->cli_addr.sa, ci, sizeof(ci));
	fmt_date(&s->accept_date, date, sizeof(date));
	snprintf(line, sizeof(line),
		 "%s:%d [%s] %s %s/%s %d/%d/%d %llu %c%c %d/%d/%d/%d/%s%d %d/%d",
		 ci, cli_port(s), date, fe->name,
		 s->be ? s->be->lb.name : fe->name, srv, s->tw, s->tc, tt,
		 (unsigned long long)s->bytes[1], s->term[0] ? s->term[0] : '-',
		 s->term[1] ? s->term[1] : '-', proc_actconn(s->w->proc), ATOMIC_LOAD(&fe->cur_conns),
		 s->be ? ATOMIC_LOAD(&s->be->lb.cur_conns) : 0,
		 s->server ? ATOMIC_LOAD(&s->server->cur_sess) : 0,
		 (s->flags & SF_REDISP) ? "+" : "", s->retries, s->sq_pos, s->bq_pos);
	log_set_send(&fe->logs, LOG_INFO, line);
}

void session_log_handshake(const struct session *s, const char *msg)
{
	const struct frontend *fe = s->fe;
	char ci[64], date[40], line[512];

	if (!has_logs(&fe->logs))
		return;
	/* as HAProxy with option dontlognull: not for a client that sent nothing */
	if ((fe->options & PXO_DONTLOGNULL) && s->pp_seen == 0 &&
	    (!strncmp(msg, "Connection closed", 17) || !strncmp(msg, "Connection error", 16)))
		return;
	addr_ip_str(&s->cli_addr.sa, ci, sizeof(ci));
	fmt_date(&s->accept_date, date, sizeof(date));
	snprintf(line, sizeof(line), "%s:%d [%s] %s/%d: %s", ci, cli_port(s), date, fe->name,
		 s->luid, msg);
	log_set_send(&fe->logs, LOG_INFO, line);
}

void session_log_event(const struct session *s, const char *msg)
{
	const struct frontend *fe = s->fe;
	char ci[64], date[40], line[512];

	if (!has_logs(&fe->logs))
		return;
	addr_ip_str(&s->cli_addr.sa, ci, sizeof(ci));
	fmt_date(&s->accept_date, date, sizeof(date));
	snprintf(line, sizeof(line), "%s:%d [%s] %s %s", ci, cli_port(s), date, fe->name, msg);
	log_set_send(&fe->logs, LOG_INFO, line);
}

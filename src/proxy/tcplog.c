/* Connection logs. With "option tcplog", HAProxy's TCP log format:
 *   %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
 * Without it, HAProxy's minimal "Connect from" line at accept time. */
#include "proxy/proxy.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "core/addr.h"
#include "core/atomic.h"

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

void session_log_connect(struct session *s)
{
	char ci[64], dst[80], line[512];

	if (!has_logs(&s->fe->logs) || (s->fe->options & PXO_TCPLOG))
		return;
	session_dst_addr(s);
	addr_ip_str(&s->cli_addr.sa, ci, sizeof(ci));
	addr_ip_str(&s->dst_addr.sa, dst, sizeof(dst));
	snprintf(line, sizeof(line), "Connect from %s:%d to %s:%d (%s/TCP)", ci,
		 addr_port(&s->cli_addr.sa), dst, addr_port(&s->dst_addr.sa), s->fe->name);
	log_set_send(&s->fe->logs, LOG_INFO, line);
}

void session_log(const struct session *s)
{
	const struct frontend *fe = s->fe;
	char ci[64], date[40], line[1024];
	/* the server it used, tried, or waited for in that server's queue */
	const char *srv = s->server ? s->server->name : "<NOSRV>";
	int tt = (int)(s->w->loop.now_ms - s->t_accept);

	if (!(fe->options & PXO_TCPLOG) || !has_logs(&fe->logs) || (s->flags & SF_NOLOG))
		return;
	/* as HAProxy: a null connection is one where the client sent nothing,
	 * whatever the server sent (a probe reading a greeting) */
	if ((fe->options & PXO_DONTLOGNULL) && s->bytes[0] == 0)
		return;
	addr_ip_str(&s->cli_addr.sa, ci, sizeof(ci));
	fmt_date(&s->accept_date, date, sizeof(date));
	snprintf(line, sizeof(line),
		 "%s:%d [%s] %s %s/%s %d/%d/%d %llu %c%c %d/%d/%d/%d/%s%d %d/%d",
		 ci, addr_port(&s->cli_addr.sa), date, fe->name,
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
	snprintf(line, sizeof(line), "%s:%d [%s] %s/%d: %s", ci, addr_port(&s->cli_addr.sa), date, fe->name,
		 s->luid, msg);
	log_set_send(&fe->logs, LOG_INFO, line);
}

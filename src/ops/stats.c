/* Filling stats lines from the live objects (see stats.h): which fields
 * HAProxy 2.6.12 fills for a TCP frontend, backend and server, with its
 * tags, and ferry's values for them. Fields ferry has no counterpart for
 * are 0 where HAProxy prints 0 for a TCP proxy (HTTP, compression, SSL,
 * idle connections), and empty where it prints nothing. */
#include "ops/stats.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/atomic.h"

/* ---- putting values ------------------------------------------------------ */

/* tags: HAProxy's three letters, as "show stat typed" prints them ("MGP"). */
static void tag(struct stat_value *v, const char *tags)
{
	static const char origins[] = "MSKCP", natures[] = "GLmMRCDATNOa", scopes[] = "PSsC";

	v->origin = (uint8_t)(strchr(origins, tags[0]) - origins);
	v->nature = (uint8_t)(strchr(natures, tags[1]) - natures);
	v->scope = (uint8_t)(strchr(scopes, tags[2]) - scopes);
}

static void u32(struct stat_value *v, const char *tags, uint64_t x)
{
	v->type = STT_U32;
	tag(v, tags);
	v->u.u32 = (uint32_t)x;
}

static void s32(struct stat_value *v, const char *tags, int32_t x)
{
	v->type = STT_S32;
	tag(v, tags);
	v->u.s32 = x;
}

static void u64(struct stat_value *v, const char *tags, uint64_t x)
{
	v->type = STT_U64;
	tag(v, tags);
	v->u.u64 = x;
}

/* A string kept in the line's own buffer (cut short if it is full). */
static void strf(struct stat_value *v, char *buf, size_t *used, size_t cap, const char *tags,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void strf(struct stat_value *v, char *buf, size_t *used, size_t cap, const char *tags,
		 const char *fmt, ...)
{
	va_list ap;
	char *p = buf + *used;
	size_t left = cap - *used;
	int n;

	v->type = STT_STR;
	tag(v, tags);
	v->u.str = "";
	if (left < 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p, left, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	v->u.str = p;
	*used += (size_t)n < left ? (size_t)n + 1 : left;
}

#define LSTR(l, f, tags, ...) strf(&(l)->v[f], (l)->buf, &(l)->used, sizeof((l)->buf), tags, __VA_ARGS__)

static void line_init(struct stat_line *l, enum stat_obj obj)
{
	memset(l->v, 0, sizeof(l->v));
	l->obj = obj;
	l->used = 0;
}

/* The stats modules' fields (ssl, h2, h1): HAProxy fills them with 0 for
 * frontends and backends (all three) and servers (ssl only). */
static void modules(struct stat_line *l, int srv)
{
	for (int f = STAT_NSTATIC; f < STAT_NFIELDS; f++) {
		int gauge = f == ST_H2_OPEN_CONNECTIONS || f == ST_H2_BACKEND_OPEN_STREAMS ||
			    f == ST_H1_OPEN_CONNECTIONS || f == ST_H1_OPEN_STREAMS;
		if (srv && f > ST_SSL_FAILED_HANDSHAKE)
			break;
		u64(&l->v[f], gauge ? "MGP" : "MCP", 0);
	}
}

/* ---- times ---------------------------------------------------------------- */

static uint64_t now_mono(const struct runtime *rt)
{
	return rt->ws[0].loop.now_ms;
}

/* Seconds since a monotonic moment; 0 means "since the start". */
static uint32_t age_s(const struct runtime *rt, uint64_t since_ms)
{
	uint64_t now = now_mono(rt), t = since_ms ? since_ms : rt->start_ms;

	return now > t ? (uint32_t)((now - t) / 1000) : 0;
}

/* HAProxy's lastsess: seconds since the last session, -1 when none. */
static int32_t last_sess(uint64_t realtime_s)
{
	time_t now = time(NULL);

	if (!realtime_s)
		return -1;
	return (uint64_t)now > realtime_s ? (int32_t)((uint64_t)now - realtime_s) : 0;
}

static uint32_t rate_max(const struct counters *sum)
{
	return sum->rate_cur > sum->rate_max ? sum->rate_cur : sum->rate_max;
}

/* ---- frontends -------------------------------------------------------------- */

int stat_iid(int uuid)
{
	return uuid + 1;
}

void stat_fill_frontend(struct stat_line *l, const struct runtime *rt, const struct frontend *fe,
			unsigned flags)
{
	struct counters sum;
	struct stat_value *v = l->v;

	(void)flags;
	counters_sum(fe->ctr, rt->nw, now_mono(rt), &sum);
	line_init(l, STAT_OBJ_FE);
	LSTR(l, ST_PXNAME, "KNS", "%s", fe->name);
	LSTR(l, ST_SVNAME, "KNS", "FRONTEND");
	u32(&v[ST_SCUR], "MGP", (uint32_t)ATOMIC_LOAD(&fe->cur_conns));
	u32(&v[ST_SMAX], "MMP", (uint32_t)ATOMIC_LOAD(&fe->max_conns_seen));
	u32(&v[ST_SLIM], "CLP", (uint32_t)ATOMIC_LOAD(&fe->maxconn));
	u64(&v[ST_STOT], "MCP", sum.cum_sess);
	u64(&v[ST_BIN], "MCP", sum.bytes_in);
	u64(&v[ST_BOUT], "MCP", sum.bytes_out);
	u64(&v[ST_DREQ], "MCP", sum.denied_req);
	u64(&v[ST_DRESP], "MCP", 0);
	u64(&v[ST_EREQ], "MCP", 0);
	LSTR(l, ST_STATUS, "SGP", "%s", ATOMIC_LOAD(&fe->disabled) == FE_STOPPED ? "STOP"
				     : ATOMIC_LOAD(&fe->disabled) == FE_PAUSED ? "PAUSED" : "OPEN");
	u32(&v[ST_PID], "KGP", 1);
	u32(&v[ST_IID], "KGS", (uint32_t)stat_iid(fe->uuid));
	u32(&v[ST_SID], "KGS", 0);
	u32(&v[ST_TYPE], "CGS", STAT_OBJ_FE);
	u32(&v[ST_RATE], "MRP", counters_rate(&sum));
	u32(&v[ST_RATE_LIM], "CLP", fe->sps_lim);
	u32(&v[ST_RATE_MAX], "MMP", rate_max(&sum));
	u32(&v[ST_REQ_RATE], "MRP", 0);
	u32(&v[ST_REQ_RATE_MAX], "MMP", 0);
	u64(&v[ST_REQ_TOT], "MCP", 0);
	for (int f = ST_COMP_IN; f <= ST_COMP_RSP; f++)
		u64(&v[f], "MCP", 0);
	LSTR(l, ST_MODE, "CGS", "tcp");
	/* a TCP frontend without tcp-request rules: every connection is a session */
	u32(&v[ST_CONN_RATE], "MRP", counters_rate(&sum));
	u32(&v[ST_CONN_RATE_MAX], "MMP", rate_max(&sum));
	u64(&v[ST_CONN_TOT], "MCP", sum.cum_sess);
	u64(&v[ST_DCON], "MCP", sum.denied_conn);
	u64(&v[ST_DSES], "MCP", 0);
	u64(&v[ST_WREW], "MCP", 0);
	u64(&v[ST_EINT], "MCP", 0);
	modules(l, 0);
}

/* ---- servers ------------------------------------------------------------------ */

/* What backends and servers share: traffic, errors, connection attempts,
 * aborts, and HAProxy's queue, connect and total times (ferry measures no
 * response time: rtime is 0). */
static void fill_traffic(struct stat_line *l, const struct runtime *rt, const struct counters *sum,
			 const struct counters *blocks)
{
	struct stat_value *v = l->v;

	u64(&v[ST_STOT], "MCP", sum->cum_sess);
	u64(&v[ST_BIN], "MCP", sum->bytes_in);
	u64(&v[ST_BOUT], "MCP", sum->bytes_out);
	u64(&v[ST_DRESP], "MCP", 0);
	u64(&v[ST_ECON], "MCP", sum->failed_conns);
	u64(&v[ST_ERESP], "MCP", sum->failed_resp);
	u64(&v[ST_WRETR], "MCP", sum->retries);
	u64(&v[ST_WREDIS], "MCP", sum->redispatches);
	u64(&v[ST_WREW], "MCP", 0);
	u64(&v[ST_EINT], "MCP", 0);
	u64(&v[ST_CONNECT], "MCP", sum->connect);
	u64(&v[ST_REUSE], "MCP", 0);
	u64(&v[ST_CLI_ABRT], "MCP", sum->cli_abrt);
	u64(&v[ST_SRV_ABRT], "MCP", sum->srv_abrt);
	s32(&v[ST_LASTSESS], "MAP", last_sess(sum->last_sess));
	u32(&v[ST_QTIME], "MaP", counters_avg(blocks, rt->nw, 0));
	u32(&v[ST_CTIME], "MaP", counters_avg(blocks, rt->nw, 1));
	u32(&v[ST_RTIME], "MaP", 0);
	u32(&v[ST_TTIME], "MaP", counters_avg(blocks, rt->nw, 2));
	u32(&v[ST_QTIME_MAX], "MMP", sum->qtime_max);
	u32(&v[ST_CTIME_MAX], "MMP", sum->ctime_max);
	u32(&v[ST_RTIME_MAX], "MMP", 0);
	u32(&v[ST_TTIME_MAX], "MMP", sum->ttime_max);
}

static const struct srv_rt *rt_of(const struct server *s)
{
	return (const struct srv_rt *)s;
}

/* The health check is configured and not disabled ("disable health"):
 * HAProxy's CHK_ST_ENABLED. */
static int check_enabled(const struct server *s)
{
	return rt_of(s)->has_check && !(s->flags & SRV_F_NOCHECK);
}

static int agent_enabled(const struct server *s)
{
	return rt_of(s)->has_agent && !(s->flags & SRV_F_NOAGENT);
}

static int in_maint(const struct server *s)
{
	return (s->flags & SRV_F_ANY_MAINT) != 0;
}

/* The running check (NULL when it has not started: a server disabled in
 * the configuration until it is enabled). */
static const struct check *check_of(const struct server *s)
{
	return s->check;
}

static int check_health(const struct server *s)
{
	const struct check *c = check_of(s);

	return c ? c->fsm.health : 0;
}

void stat_server_status(const struct server *s, char *buf, size_t len)
{
	const struct srv_rt *x = rt_of(s);
	const struct check *c = check_of(s);
	int chk = check_enabled(s) && c, agt = agent_enabled(s);
	int rise = c ? c->fsm.rise : x->cs->o.rise, fall = c ? c->fsm.fall : x->cs->o.fall;
	int h = check_health(s), top = rise + fall - 1;
	/* an agent's "down" stops the server, as HAProxy's */
	int up = s->up && !(agt && (s->flags & SRV_F_AGENT_DOWN));
	const char *st;

	if (in_maint(s)) {
		snprintf(buf, len, (s->flags & SRV_F_ANY_MAINT) == SRV_F_RMAINT ? "MAINT (resolution)" : "MAINT");
		return;
	}
	if (up && (s->flags & SRV_F_STOPPING)) {
		st = !chk || h == top ? "NOLB" : "NOLB %d/%d";
	} else if (up) {
		int going_down = chk && h < top;
		st = going_down ? "UP %d/%d" : "UP";
		if (s->flags & SRV_F_FDRAIN)
			st = agt ? "DRAIN (agent)" : going_down ? "DRAIN %d/%d" : "DRAIN";
		else if (!going_down && !chk)
			st = "no check";
	} else if (agt && (s->flags & SRV_F_AGENT_DOWN)) {
		st = "DOWN (agent)";
	} else if (chk && h == 0) {
		st = "DOWN";
	} else if (agt || chk) {
		st = "DOWN %d/%d";
	} else {
		st = "DOWN";
	}
	/* going up: health/rise; going down: (health - rise + 1)/fall. st
	 * may have no %d ("DOWN"): C ignores the extra arguments. */
	/* cppcheck-suppress wrongPrintfScanfArgNum */
	snprintf(buf, len, st, up ? h - rise + 1 : h, up ? fall : rise);
}

/* HAProxy's time spent DOWN, counting the current period. */
static uint32_t srv_downtime(const struct runtime *rt, const struct server *s)
{
	uint64_t t = s->down_time_ms;
	uint64_t since = s->last_change_ms ? s->last_change_ms : rt->start_ms;

	if (!s->up && now_mono(rt) > since)
		t += now_mono(rt) - since;
	return (uint32_t)(t / 1000);
}

static void fill_check(struct stat_line *l, const struct server *s)
{
	const struct check *c = check_of(s);
	struct stat_value *v = l->v;
	const char *st;

	if (!check_enabled(s) || in_maint(s) || !c)
		return; /* HAProxy: only an enabled check that is not paused */
	st = c->status ? c->status : "INI";
	LSTR(l, ST_CHECK_STATUS, "MOP", "%s%s", c->running ? "* " : "", st);
	if (!strcmp(st, "L7OK") || !strcmp(st, "L7OKC") || !strcmp(st, "L7STS"))
		u32(&v[ST_CHECK_CODE], "MOP", (uint32_t)c->code);
	if (strcmp(st, "INI"))
		u64(&v[ST_CHECK_DURATION], "MDP", (uint64_t)c->duration);
	LSTR(l, ST_CHECK_DESC, "MOP", "%s", check_status_reason(st));
	LSTR(l, ST_LAST_CHK, "MOP", "%s", c->info);
	u32(&v[ST_CHECK_RISE], "CGS", (uint32_t)c->fsm.rise);
	u32(&v[ST_CHECK_FALL], "CGS", (uint32_t)c->fsm.fall);
	u32(&v[ST_CHECK_HEALTH], "CGS", (uint32_t)c->fsm.health);
}

static void fill_agent(struct stat_line *l, const struct server *s)
{
	const struct agent *a = s->agent;
	struct stat_value *v = l->v;
	const char *st;

	if (!agent_enabled(s) || !a)
		return;
	st = a->status ? a->status : "INI";
	LSTR(l, ST_AGENT_STATUS, "MOP", "%s%s", a->running ? "* " : "", st);
	if (!strcmp(st, "L7OK") || !strcmp(st, "L7STS"))
		u32(&v[ST_AGENT_CODE], "MOP", 0);
	u64(&v[ST_AGENT_DURATION], "MDP", (uint64_t)(a->duration > 0 ? a->duration : 0));
	LSTR(l, ST_AGENT_DESC, "MOP", "%s", check_status_reason(st));
	LSTR(l, ST_LAST_AGT, "MOP", "%s", a->info);
	u32(&v[ST_AGENT_RISE], "CGS", 1);
	u32(&v[ST_AGENT_FALL], "CGS", 1);
	u32(&v[ST_AGENT_HEALTH], "CGS", (s->flags & SRV_F_AGENT_DOWN) ? 0 : 1);
}

/* The server's address as HAProxy prints it: ip:port, [ipv6]:port, unix. */
static void fill_addr(struct stat_line *l, const struct server *s)
{
	char ip[64];
	int port = s->port_omitted ? 0 : addr_port((const struct sockaddr *)&s->addr);

	addr_ip_str((const struct sockaddr *)&s->addr, ip, sizeof(ip));
	if (s->addr.ss_family == AF_UNIX)
		LSTR(l, ST_ADDR, "CGS", "unix"); /* as HAProxy: no path */
	else if (s->addr.ss_family == AF_INET6)
		LSTR(l, ST_ADDR, "CGS", "[%s]:%d", ip, port);
	else
		LSTR(l, ST_ADDR, "CGS", "%s:%d", ip, port);
}

void stat_fill_server(struct stat_line *l, const struct runtime *rt, const struct pbackend *be,
		      const struct server *s, unsigned flags)
{
	struct counters sum;
	struct stat_value *v = l->v;
	char status[32];
	int backup = (s->flags & SRV_F_BACKUP) != 0;

	counters_sum(s->ctr, rt->nw, now_mono(rt), &sum);
	line_init(l, STAT_OBJ_SRV);
	LSTR(l, ST_PXNAME, "KNS", "%s", be->lb.name);
	LSTR(l, ST_SVNAME, "KNS", "%s", s->name);
	LSTR(l, ST_MODE, "CGS", "tcp");
	u32(&v[ST_QCUR], "MGP", (uint32_t)ATOMIC_LOAD(&s->q.len));
	u32(&v[ST_QMAX], "MMP", (uint32_t)ATOMIC_LOAD(&s->q.max));
	u32(&v[ST_SCUR], "MGP", (uint32_t)ATOMIC_LOAD(&s->cur_sess));
	u32(&v[ST_SMAX], "MMP", (uint32_t)ATOMIC_LOAD(&s->max_conns_seen));
	if (s->maxconn)
		u32(&v[ST_SLIM], "CLP", (uint32_t)s->maxconn);
	u32(&v[ST_SRV_ICUR], "MGP", 0);
	if (s->flags & SRV_F_DYNAMIC) /* HAProxy 2.6 gives added servers an idle limit of 0 */
		u32(&v[ST_SRC_ILIM], "CLP", 0);
	fill_traffic(l, rt, &sum, s->ctr);
	for (int f = ST_IDLE_CONN_CUR; f <= ST_NEED_CONN_EST; f++)
		u32(&v[f], "MGP", 0);
	/* HAProxy's estimate of the connections a server needs counts its
	 * checks' connections: 1 once a check or agent has connected */
	if ((s->check && check_of(s)->status && strcmp(check_of(s)->status, "INI")) ||
	    (s->agent && ((const struct agent *)s->agent)->status &&
	     strcmp(((const struct agent *)s->agent)->status, "INI")))
		v[ST_NEED_CONN_EST].u.u32 = 1;
	stat_server_status(s, status, sizeof(status));
	LSTR(l, ST_STATUS, "SGP", "%s", status);
	u32(&v[ST_LASTCHG], "MAP", age_s(rt, s->last_change_ms));
	/* HAProxy shows its scaled eweight divided back, rounded up */
	u32(&v[ST_WEIGHT], "MaP", (uint32_t)((srv_lbw(s) + SRV_WSCALE - 1) / SRV_WSCALE));
	u32(&v[ST_UWEIGHT], "MaP", (uint32_t)s->uweight);
	u32(&v[ST_ACT], "SGP", !backup);
	u32(&v[ST_BCK], "SGP", backup);
	if (check_enabled(s)) {
		u64(&v[ST_CHKFAIL], "MCP", check_of(s) ? check_of(s)->failed : 0);
		u64(&v[ST_CHKDOWN], "MCP", s->down_trans);
		u32(&v[ST_DOWNTIME], "MCP", srv_downtime(rt, s));
	}
	if (s->maxqueue)
		u32(&v[ST_QLIMIT], "CGS", (uint32_t)s->maxqueue);
	u32(&v[ST_PID], "KGP", 1);
	u32(&v[ST_IID], "KGS", (uint32_t)stat_iid(be->lb.uuid));
	u32(&v[ST_SID], "KGS", (uint32_t)s->id);
	if (server_throttle(s) >= 0) /* slowstart: warming up */
		u32(&v[ST_THROTTLE], "MaP", (uint32_t)server_throttle(s));
	u64(&v[ST_LBTOT], "MCP", sum.lbtot);
	u32(&v[ST_TYPE], "CGS", STAT_OBJ_SRV);
	if (s->observe)
		u64(&v[ST_HANAFAIL], "MCP", ATOMIC_LOAD(&s->hanafail));
	u32(&v[ST_RATE], "MRP", counters_rate(&sum));
	u32(&v[ST_RATE_MAX], "MMP", rate_max(&sum));
	fill_check(l, s);
	fill_agent(l, s);
	if (flags & STAT_F_LEGENDS)
		fill_addr(l, s);
	modules(l, 1);
}

/* ---- backends ------------------------------------------------------------------ */

int stat_backend_fullconn(const struct generation *g, const struct pbackend *be)
{
	long tot = 0;

	for (int i = 0; i < g->nfe; i++)
		if (g->fes[i].be == be)
			tot += g->fes[i].maxconn;
	tot = (tot + 9) / 10;
	return tot > 0 ? (int)tot : 1;
}

/* HAProxy's sums over the servers: those not DOWN (nbup), all (nbsrv),
 * the effective and user weights of the group traffic goes to. */
static void backend_weights(const struct backend *be, int *nbup, int *tot_w, int *tot_uw)
{
	const struct server *only;
	enum lb_group g = lb_group(be, &only);

	*nbup = *tot_w = *tot_uw = 0;
	for (int i = 0; i < be->nsrv; i++) {
		const struct server *s = be->srv[i];
		*nbup += s->up && !in_maint(s);
		if (lb_in_group(be, s, g, only)) {
			*tot_w += srv_lbw(s);
			*tot_uw += s->uweight;
		}
	}
}

static uint32_t be_downtime(const struct runtime *rt, const struct backend *be, int up)
{
	uint64_t t = be->down_time_ms;
	uint64_t since = be->last_change_ms ? be->last_change_ms : rt->start_ms;

	if (!up && now_mono(rt) > since)
		t += now_mono(rt) - since;
	return (uint32_t)(t / 1000);
}

void stat_fill_backend(struct stat_line *l, const struct runtime *rt, const struct pbackend *be,
		       unsigned flags)
{
	const struct backend *b = &be->lb;
	struct counters sum;
	struct stat_value *v = l->v;
	int nbup, tot_w, tot_uw, act, bck, up;

	counters_sum(b->ctr, rt->nw, now_mono(rt), &sum);
	backend_weights(b, &nbup, &tot_w, &tot_uw);
	backend_count_usable(b, &act, &bck);
	up = tot_w > 0 || !b->nsrv;
	line_init(l, STAT_OBJ_BE);
	LSTR(l, ST_PXNAME, "KNS", "%s", b->name);
	LSTR(l, ST_SVNAME, "KNS", "BACKEND");
	LSTR(l, ST_MODE, "CGS", "tcp");
	u32(&v[ST_QCUR], "MGP", (uint32_t)ATOMIC_LOAD(&b->q.len));
	u32(&v[ST_QMAX], "MMP", (uint32_t)ATOMIC_LOAD(&b->q.max));
	u32(&v[ST_SCUR], "MGP", (uint32_t)ATOMIC_LOAD(&b->cur_conns));
	u32(&v[ST_SMAX], "MMP", (uint32_t)ATOMIC_LOAD(&b->max_conns_seen));
	u32(&v[ST_SLIM], "CLP", (uint32_t)stat_backend_fullconn(rt->gen, be));
	u64(&v[ST_DREQ], "MCP", 0);
	fill_traffic(l, rt, &sum, b->ctr);
	if (flags & (STAT_F_HIDE_DOWN | STAT_F_HIDE_MAINT))
		LSTR(l, ST_STATUS, "SGP", "%s (%d/%d)", up ? "UP" : "DOWN", nbup, b->nsrv);
	else
		LSTR(l, ST_STATUS, "SGP", "%s", up ? "UP" : "DOWN");
	u32(&v[ST_AGG_SERVER_CHECK_STATUS], "MGP", 0);
	u32(&v[ST_AGG_SERVER_STATUS], "MGP", 0);
	u32(&v[ST_AGG_CHECK_STATUS], "MGP", 0);
	u32(&v[ST_WEIGHT], "MaP", (uint32_t)((tot_w + SRV_WSCALE - 1) / SRV_WSCALE));
	u32(&v[ST_UWEIGHT], "MaP", (uint32_t)tot_uw);
	u32(&v[ST_ACT], "MGP", (uint32_t)act);
	u32(&v[ST_BCK], "MGP", (uint32_t)bck);
	u64(&v[ST_CHKDOWN], "MCP", b->down_trans);
	u32(&v[ST_LASTCHG], "MAP", age_s(rt, b->last_change_ms));
	if (b->nsrv)
		u32(&v[ST_DOWNTIME], "MCP", be_downtime(rt, b, up));
	u32(&v[ST_PID], "KGP", 1);
	u32(&v[ST_IID], "KGS", (uint32_t)stat_iid(b->uuid));
	u32(&v[ST_SID], "KGS", 0);
	u64(&v[ST_LBTOT], "MCP", sum.lbtot);
	u32(&v[ST_TYPE], "CGS", STAT_OBJ_BE);
	u32(&v[ST_RATE], "MGP", counters_rate(&sum));
	u32(&v[ST_RATE_MAX], "MGP", rate_max(&sum));
	if (flags & STAT_F_LEGENDS)
		LSTR(l, ST_ALGO, "CGS", "%s", lb_algo_name(b->algo));
	for (int f = ST_COMP_IN; f <= ST_COMP_RSP; f++)
		u64(&v[f], "MCP", 0);
	modules(l, 0);
}

/* ---- walking the proxies ------------------------------------------------------- */

static int wanted(const struct stat_filter *f, enum stat_obj obj)
{
	return f->types < 0 || (f->types & (1 << obj));
}

/* HAProxy's "up" and "no-maint" filters. */
static int server_hidden(const struct server *s, unsigned flags)
{
	if ((flags & STAT_F_HIDE_MAINT) && in_maint(s))
		return 1;
	if (!(flags & STAT_F_HIDE_DOWN))
		return 0;
	if (in_maint(s))
		return 1;
	if (s->up)
		return 0;
	/* down and not on its way up */
	return !(check_enabled(s) || agent_enabled(s)) ||
	       (agent_enabled(s) && (s->flags & SRV_F_AGENT_DOWN)) ||
	       (check_enabled(s) && check_health(s) == 0);
}

int stat_walk(const struct runtime *rt, const struct stat_filter *f, unsigned flags,
	      int (*cb)(void *arg, const struct stat_line *l), void *arg)
{
	const struct generation *g = rt->gen;
	struct stat_line l;
	int ret;

	for (const struct cfg_proxy *px = g->cfg->proxies; px; px = px->next) {
		const struct frontend *fe = NULL;
		const struct pbackend *be = NULL;

		if (f->iid >= 0 && stat_iid(px->uuid) != f->iid)
			continue;
		for (int i = 0; i < g->nfe && !fe; i++)
			if (g->fes[i].cfg == px)
				fe = &g->fes[i];
		for (int i = 0; i < g->nbe && !be; i++)
			if (g->bes[i]->cfg == px)
				be = g->bes[i];
		if (fe && wanted(f, STAT_OBJ_FE)) {
			stat_fill_frontend(&l, rt, fe, flags);
			if ((ret = cb(arg, &l)))
				return ret;
		}
		if (!be)
			continue;
		for (int i = 0; i < be->lb.nsrv && wanted(f, STAT_OBJ_SRV); i++) {
			const struct server *s = be->lb.srv[i];
			if ((f->sid >= 0 && s->id != f->sid) || server_hidden(s, flags))
				continue;
			stat_fill_server(&l, rt, be, s, flags);
			if ((ret = cb(arg, &l)))
				return ret;
		}
		if (wanted(f, STAT_OBJ_BE)) {
			stat_fill_backend(&l, rt, be, flags);
			if ((ret = cb(arg, &l)))
				return ret;
		}
	}
	return 0;
}

/* "show info": the process's fields in HAProxy 2.6.12's positions, and the
 * one-second sampler that keeps the maxima HAProxy updates on every event
 * (rate_max, MaxSessRate, ...) without touching the data path. */
#include "ops/stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/clock.h"
#include "core/log.h"
#include "ops/ops_int.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "dev"
#endif
#ifndef FERRY_DATE
#define FERRY_DATE ""
#endif

#define SAMPLE_MS 1000

/* Each field's type and HAProxy's tags; "" for the fields ferry leaves out
 * as HAProxy's Debian build does (zlib) or without a value (description). */
static const struct { uint8_t type; char tags[4]; } info_kind[INF_NFIELDS] = {
	[INF_NAME] = { STT_STR, "POS" }, [INF_VERSION] = { STT_STR, "POS" },
	[INF_RELEASE_DATE] = { STT_STR, "POS" }, [INF_NBTHREAD] = { STT_U32, "CGS" },
	[INF_NBPROC] = { STT_U32, "CGS" }, [INF_PROCESS_NUM] = { STT_U32, "KGP" },
	[INF_PID] = { STT_U32, "SGP" }, [INF_UPTIME] = { STT_STR, "MDP" },
	[INF_UPTIME_SEC] = { STT_U32, "MDP" }, [INF_MEMMAX_MB] = { STT_U32, "CLP" },
	[INF_POOL_ALLOC_MB] = { STT_U32, "MGP" }, [INF_POOL_USED_MB] = { STT_U32, "MGP" },
	[INF_POOL_FAILED] = { STT_U32, "MCP" }, [INF_ULIMIT_N] = { STT_U32, "CLP" },
	[INF_MAXSOCK] = { STT_U32, "CLP" }, [INF_MAXCONN] = { STT_U32, "CLP" },
	[INF_HARD_MAXCONN] = { STT_U32, "CLP" }, [INF_CURR_CONNS] = { STT_U32, "MGP" },
	[INF_CUM_CONNS] = { STT_U32, "MCP" }, [INF_CUM_REQ] = { STT_U32, "MCP" },
	[INF_MAX_SSL_CONNS] = { STT_U32, "MMP" }, [INF_CURR_SSL_CONNS] = { STT_U32, "MGP" },
	[INF_CUM_SSL_CONNS] = { STT_U32, "MCP" }, [INF_MAXPIPES] = { STT_U32, "CLP" },
	[INF_PIPES_USED] = { STT_U32, "MGP" }, [INF_PIPES_FREE] = { STT_U32, "MGP" },
	[INF_CONN_RATE] = { STT_U32, "MRP" }, [INF_CONN_RATE_LIMIT] = { STT_U32, "CLP" },
	[INF_MAX_CONN_RATE] = { STT_U32, "MMP" }, [INF_SESS_RATE] = { STT_U32, "MRP" },
	[INF_SESS_RATE_LIMIT] = { STT_U32, "CLP" }, [INF_MAX_SESS_RATE] = { STT_U32, "MRP" },
	[INF_SSL_RATE] = { STT_U32, "MRP" }, [INF_SSL_RATE_LIMIT] = { STT_U32, "CLP" },
	[INF_MAX_SSL_RATE] = { STT_U32, "MMP" }, [INF_SSL_FRONTEND_KEY_RATE] = { STT_U32, "MGP" },
	[INF_SSL_FRONTEND_MAX_KEY_RATE] = { STT_U32, "MMP" },
	[INF_SSL_FRONTEND_SESSION_REUSE_PCT] = { STT_U32, "MGP" },
	[INF_SSL_BACKEND_KEY_RATE] = { STT_U32, "MRP" }, [INF_SSL_BACKEND_MAX_KEY_RATE] = { STT_U32, "MMP" },
	[INF_SSL_CACHE_LOOKUPS] = { STT_U32, "MCP" }, [INF_SSL_CACHE_MISSES] = { STT_U32, "MCP" },
	[INF_COMPRESS_BPS_IN] = { STT_U32, "MRP" }, [INF_COMPRESS_BPS_OUT] = { STT_U32, "MRP" },
	[INF_COMPRESS_BPS_RATE_LIM] = { STT_U32, "CLP" }, [INF_TASKS] = { STT_U32, "MGP" },
	[INF_RUN_QUEUE] = { STT_U32, "MGP" }, [INF_IDLE_PCT] = { STT_U32, "MaP" },
	[INF_NODE] = { STT_STR, "COS" }, [INF_STOPPING] = { STT_U32, "MGP" },
	[INF_JOBS] = { STT_U32, "MGP" }, [INF_UNSTOPPABLE_JOBS] = { STT_U32, "MGP" },
	[INF_LISTENERS] = { STT_U32, "MGP" }, [INF_ACTIVE_PEERS] = { STT_U32, "MGP" },
	[INF_CONNECTED_PEERS] = { STT_U32, "MGP" }, [INF_DROPPED_LOGS] = { STT_U32, "MGP" },
	[INF_BUSY_POLLING] = { STT_U32, "MGP" }, [INF_FAILED_RESOLUTIONS] = { STT_U32, "MGP" },
	[INF_TOTAL_BYTES_OUT] = { STT_U64, "MGP" }, [INF_TOTAL_SPLICDED_BYTES_OUT] = { STT_U64, "MGP" },
	[INF_BYTES_OUT_RATE] = { STT_U64, "MRP" }, [INF_DEBUG_COMMANDS_ISSUED] = { STT_U32, "MGP" },
	[INF_CUM_RECV_LOGS] = { STT_U32, "MCP" }, [INF_BUILD_INFO] = { STT_STR, "POS" },
	[INF_MEMMAX_BYTES] = { STT_U32, "CLP" }, [INF_POOL_ALLOC_BYTES] = { STT_U64, "MGP" },
	[INF_POOL_USED_BYTES] = { STT_U64, "MGP" }, [INF_START_TIME_SEC] = { STT_U32, "MDP" },
	[INF_TAINTED] = { STT_STR, "SGP" },
};

/* Sets field f to the number x, with the table's type and tags. */
static void num(struct info_line *l, int f, uint64_t x)
{
	static const char origins[] = "MSKCP", natures[] = "GLmMRCDATNOa", scopes[] = "PSsC";
	struct stat_value *v = &l->v[f];

	v->type = info_kind[f].type;
	v->origin = (uint8_t)(strchr(origins, info_kind[f].tags[0]) - origins);
	v->nature = (uint8_t)(strchr(natures, info_kind[f].tags[1]) - natures);
	v->scope = (uint8_t)(strchr(scopes, info_kind[f].tags[2]) - scopes);
	if (v->type == STT_U64)
		v->u.u64 = x;
	else
		v->u.u32 = (uint32_t)x;
}

static void str(struct info_line *l, int f, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void str(struct info_line *l, int f, const char *fmt, ...)
{
	va_list ap;
	size_t left = sizeof(l->buf) - l->used;
	int n;

	num(l, f, 0);
	l->v[f].u.str = "";
	if (left < 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->used, left, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	l->v[f].u.str = l->buf + l->used;
	l->used += (size_t)n < left ? (size_t)n + 1 : left;
}

/* What the process's frontends add up to: current rate, bytes out. */
static void frontend_totals(const struct runtime *rt, uint32_t *rate, uint64_t *bytes_out)
{
	const struct generation *g = rt->gen;
	struct counters sum;

	*rate = 0;
	*bytes_out = 0;
	for (int i = 0; g && i < g->nfe; i++) {
		counters_sum(g->fes[i].ctr, rt->nw, rt->ws[0].loop.now_ms, &sum);
		*rate += counters_rate(&sum);
		*bytes_out += sum.bytes_out;
	}
}

/* Listening sockets as HAProxy counts them: one per bind address and port
 * (whatever the threads), and one per stats socket. */
static uint32_t count_listeners(const struct runtime *rt)
{
	uint32_t n = 0;

	for (int i = 0; i < rt->gen->nfe; i++)
		for (const struct cfg_bind *b = rt->gen->fes[i].cfg->binds; b; b = b->next)
			for (int a = 0; a < b->naddr; a++)
				n += (uint32_t)(b->addrs[a].port_hi - b->addrs[a].port_lo + 1);
	for (const struct cfg_stats_socket *s = rt->cfg->g.stats_sockets; s; s = s->next)
		n++;
	return n;
}

void stat_fill_info(struct info_line *l, const struct runtime *rt)
{
	const struct ops *o = rt->ops;
	uint64_t up_ms = rt->ws[0].loop.now_ms - rt->start_ms, cum = 0, bytes_out;
	uint32_t up = (uint32_t)(up_ms / 1000), rate, pipes_used = 0, pipes_free = 0, pool_failed = 0;
	uint64_t bufs_used = 0, bufs_free = 0;
	struct rlimit rl = { 0, 0 };
	char host[256] = "";

	memset(l->v, 0, sizeof(l->v));
	l->used = 0;
	for (int i = 0; i < INF_NFIELDS; i++)
		if (info_kind[i].type != STT_EMPTY && info_kind[i].type != STT_STR)
			num(l, i, 0);
	for (int t = 0; t < rt->nw; t++) {
		cum += ATOMIC_LOAD(&rt->ws[t].cum_conns);
		pipes_used += (uint32_t)ATOMIC_LOAD(&rt->ws[t].pipes.in_use);
		pipes_free += (uint32_t)ATOMIC_LOAD(&rt->ws[t].pipes.nfree);
		bufs_used += (uint64_t)ATOMIC_LOAD(&rt->ws[t].pool.in_use);
		bufs_free += (uint64_t)ATOMIC_LOAD(&rt->ws[t].pool.nfree);
		pool_failed += ATOMIC_LOAD(&rt->ws[t].pool.failed);
	}
	frontend_totals(rt, &rate, &bytes_out);
	getrlimit(RLIMIT_NOFILE, &rl);
	gethostname(host, sizeof(host) - 1);
	str(l, INF_NAME, "ferry");
	str(l, INF_VERSION, "%s", FERRY_VERSION);
	str(l, INF_RELEASE_DATE, "%s", FERRY_DATE);
	num(l, INF_NBTHREAD, (uint64_t)rt->nw);
	num(l, INF_NBPROC, 1);
	num(l, INF_PROCESS_NUM, 1);
	num(l, INF_PID, (uint64_t)getpid());
	str(l, INF_UPTIME, "%ud %uh%02um%02us", up / 86400, (up % 86400) / 3600, (up % 3600) / 60, up % 60);
	num(l, INF_UPTIME_SEC, up);
	num(l, INF_ULIMIT_N, (uint64_t)rl.rlim_cur);
	num(l, INF_MAXSOCK, (uint64_t)rl.rlim_cur);
	num(l, INF_MAXCONN, (uint64_t)ATOMIC_LOAD(&rt->proc.maxconn));
	num(l, INF_HARD_MAXCONN, (uint64_t)rt->maxconn);
	num(l, INF_CURR_CONNS, (uint64_t)proc_actconn(&rt->proc));
	num(l, INF_CUM_CONNS, cum);
	num(l, INF_CUM_REQ, cum); /* a TCP session is one stream, HAProxy's "request" */
	/* ferry's one pool is its relay buffers (16 KiB each, per thread):
	 * allocated counts the idle ones kept for reuse too, as HAProxy's */
	num(l, INF_POOL_ALLOC_MB, (bufs_used + bufs_free) * sizeof(struct rbuf) / 1048576);
	num(l, INF_POOL_USED_MB, bufs_used * sizeof(struct rbuf) / 1048576);
	num(l, INF_POOL_ALLOC_BYTES, (bufs_used + bufs_free) * sizeof(struct rbuf));
	num(l, INF_POOL_USED_BYTES, bufs_used * sizeof(struct rbuf));
	num(l, INF_POOL_FAILED, pool_failed);
	num(l, INF_MAXPIPES, (uint64_t)rt->proc.maxpipes);
	num(l, INF_PIPES_USED, pipes_used);
	num(l, INF_PIPES_FREE, pipes_free);
	num(l, INF_CONN_RATE_LIMIT, ATOMIC_LOAD(&rt->proc.cps_lim));
	num(l, INF_SESS_RATE_LIMIT, ATOMIC_LOAD(&rt->proc.sps_lim));
	num(l, INF_CONN_RATE, rate);
	num(l, INF_MAX_CONN_RATE, o && o->max_conn_rate > rate ? o->max_conn_rate : rate);
	num(l, INF_SESS_RATE, rate);
	num(l, INF_MAX_SESS_RATE, o && o->max_sess_rate > rate ? o->max_sess_rate : rate);
	num(l, INF_TASKS, (uint64_t)proc_actconn(&rt->proc) + (uint64_t)(rt->gen->nchecks + rt->gen->nagents));
	num(l, INF_IDLE_PCT, (uint64_t)(o ? o->idle_pct : 100));
	str(l, INF_NODE, "%s", host);
	num(l, INF_STOPPING, (uint64_t)(rt->ws[0].stopping != 0));
	num(l, INF_JOBS, (uint64_t)proc_actconn(&rt->proc) + count_listeners(rt) + (uint64_t)(o ? o->nconns : 0));
	num(l, INF_LISTENERS, count_listeners(rt));
	num(l, INF_DROPPED_LOGS, (uint64_t)log_dropped());
	num(l, INF_BUSY_POLLING, (uint64_t)(rt->cfg->g.busy_polling != 0));
	num(l, INF_TOTAL_BYTES_OUT, bytes_out);
	num(l, INF_BYTES_OUT_RATE, o ? o->bytes_out_rate : 0);
	str(l, INF_BUILD_INFO, "%s", FERRY_VERSION);
	num(l, INF_START_TIME_SEC, (uint64_t)rt->start_time);
	str(l, INF_TAINTED, "0");
	/* zlib is not built in (as Debian's HAProxy, which uses slz), and no
	 * description is kept */
	l->v[INF_ZLIB_MEM_USAGE].type = l->v[INF_MAX_ZLIB_MEM_USAGE].type = STT_EMPTY;
	l->v[INF_DESCRIPTION].type = STT_EMPTY;
}

/* ---- the sampler ------------------------------------------------------------- */

static void sample_counters(struct counters *ctr, int nw, uint64_t now)
{
	struct counters sum;

	counters_sum(ctr, nw, now, &sum);
	/* block 0 is worker 0's own: this runs on worker 0 */
	if (counters_rate(&sum) > ATOMIC_LOAD(&ctr[0].rate_max))
		ATOMIC_STORE(&ctr[0].rate_max, counters_rate(&sum));
}

void stat_sample_rates(const struct runtime *rt)
{
	const struct generation *g = rt->gen;
	uint64_t now = rt->ws[0].loop.now_ms;

	for (int i = 0; i < g->nfe; i++)
		sample_counters(g->fes[i].ctr, rt->nw, now);
	for (int b = 0; b < g->nbe; b++) {
		sample_counters(g->bes[b]->lb.ctr, rt->nw, now);
		for (int i = 0; i < g->bes[b]->lb.nsrv; i++)
			sample_counters(g->bes[b]->lb.srv[i]->ctr, rt->nw, now);
	}
}

static uint64_t cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Once a second: the rate maxima, the bytes-out rate, and Idle_pct (the
 * share of the threads' time not spent on the CPU). */
static void sample_cb(struct loop *lp, struct timer *t)
{
	struct ops *o = (struct ops *)((char *)t - offsetof(struct ops, sample_timer));
	struct runtime *rt = o->rt;
	uint64_t bytes_out, now = lp->now_ms, cpu = cpu_us();
	uint32_t rate;

	stat_sample_rates(rt);
	frontend_totals(rt, &rate, &bytes_out);
	if (rate > o->max_conn_rate)
		o->max_conn_rate = o->max_sess_rate = rate;
	if (o->wall_last_ms && now > o->wall_last_ms) {
		uint64_t wall_us = (now - o->wall_last_ms) * 1000 * (uint64_t)rt->nw;
		uint64_t busy = cpu - o->cpu_last_us;
		o->idle_pct = busy >= wall_us ? 0 : (int)(100 - busy * 100 / wall_us);
		o->bytes_out_rate = (bytes_out - o->bytes_out_last) * 1000 / (now - o->wall_last_ms);
	}
	o->bytes_out_last = bytes_out;
	o->cpu_last_us = cpu;
	o->wall_last_ms = now;
	loop_timer_arm(lp, t, now + SAMPLE_MS);
}

void stats_sampler_start(struct ops *o)
{
	o->idle_pct = 100;
	o->sample_timer.cb = sample_cb;
	loop_timer_arm(&o->rt->ws[0].loop, &o->sample_timer, o->rt->ws[0].loop.now_ms + SAMPLE_MS);
}

void stats_sampler_stop(struct ops *o)
{
	loop_timer_cancel(&o->rt->ws[0].loop, &o->sample_timer);
}

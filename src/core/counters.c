#include "core/counters.h"

#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"

struct counters *counters_new(int nthreads)
{
	void *p = NULL;

	if (nthreads < 1 || posix_memalign(&p, 64, (size_t)nthreads * sizeof(struct counters)))
		return NULL;
	memset(p, 0, (size_t)nthreads * sizeof(struct counters));
	return p;
}

void counters_rate_add(struct counters *c, uint64_t now_ms)
{
	uint32_t sec = (uint32_t)(now_ms / 1000);

	if (sec != c->rate_sec) {
		/* the second before keeps its count; anything older counts 0 */
		ATOMIC_STORE(&c->rate_prev, sec == c->rate_sec + 1 ? c->rate_cur : 0);
		ATOMIC_STORE(&c->rate_cur, 0);
		ATOMIC_STORE(&c->rate_sec, sec);
	}
	ATOMIC_STORE(&c->rate_cur, c->rate_cur + 1);
}

#define ADD(f) sum->f += ATOMIC_LOAD(&b->f)
#define MAX(f) do { uint32_t v_ = ATOMIC_LOAD(&b->f); if (v_ > sum->f) sum->f = v_; } while (0)

void counters_sum(const struct counters *c, int n, uint64_t now_ms, struct counters *sum)
{
	uint32_t sec = (uint32_t)(now_ms / 1000), ms = (uint32_t)(now_ms % 1000);
	uint64_t cur = 0, prev = 0;

	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < n && c; i++) {
		const struct counters *b = &c[i];
		uint32_t bs = ATOMIC_LOAD(&b->rate_sec);
		uint64_t last = ATOMIC_LOAD(&b->last_sess);
		ADD(cum_sess); ADD(bytes_in); ADD(bytes_out); ADD(failed_conns); ADD(failed_resp);
		ADD(cli_abrt); ADD(srv_abrt); ADD(retries); ADD(redispatches); ADD(lbtot);
		ADD(connect); ADD(denied_conn); ADD(denied_req);
		ADD(qtime_n); ADD(ctime_n); ADD(ttime_n);
		MAX(qtime_max); MAX(ctime_max); MAX(ttime_max); MAX(rate_max);
		if (last > sum->last_sess)
			sum->last_sess = last;
		if (bs == sec) {
			cur += ATOMIC_LOAD(&b->rate_cur);
			prev += ATOMIC_LOAD(&b->rate_prev);
		} else if (bs + 1 == sec) {
			prev += ATOMIC_LOAD(&b->rate_cur);
		}
	}
	/* freq_ctr: the current second plus what is left of the previous one */
	sum->rate_sec = sec;
	sum->rate_cur = (uint32_t)(cur + prev * (1000 - ms) / 1000);
	sum->rate_prev = (uint32_t)prev;
}

void counters_fold(struct counters *dst, const struct counters *sum, const struct counters *base)
{
#define FOLD(f) ctr_add(&dst->f, sum->f - (base ? base->f : 0))
	FOLD(cum_sess); FOLD(bytes_in); FOLD(bytes_out); FOLD(failed_conns); FOLD(failed_resp);
	FOLD(cli_abrt); FOLD(srv_abrt); FOLD(retries); FOLD(redispatches); FOLD(lbtot);
	FOLD(connect); FOLD(denied_conn); FOLD(denied_req);
#undef FOLD
	if (sum->last_sess > ATOMIC_LOAD(&dst->last_sess))
		ATOMIC_STORE(&dst->last_sess, sum->last_sess);
}

uint32_t counters_rate(const struct counters *sum)
{
	return sum->rate_cur;
}

uint32_t counters_avg(const struct counters *c, int n, int which)
{
	uint64_t num = 0, den = 0;

	for (int i = 0; i < n && c; i++) {
		const struct counters *b = &c[i];
		uint64_t sw = ATOMIC_LOAD(which == 0 ? &b->qtime_sw : which == 1 ? &b->ctime_sw : &b->ttime_sw);
		uint64_t k = ATOMIC_LOAD(which == 0 ? &b->qtime_n : which == 1 ? &b->ctime_n : &b->ttime_n);
		uint64_t w = k < SWRATE_N ? k : SWRATE_N;
		/* this thread's average, as swrate_avg: (sum + n - 1) / n */
		num += (sw + SWRATE_N - 1) / SWRATE_N * w;
		den += w;
	}
	return den ? (uint32_t)(num / den) : 0;
}

void counters_clear(struct counters *c, int n, int keep_totals)
{
	for (int i = 0; i < n && c; i++) {
		if (keep_totals) {
			ATOMIC_STORE(&c[i].qtime_max, 0);
			ATOMIC_STORE(&c[i].ctime_max, 0);
			ATOMIC_STORE(&c[i].ttime_max, 0);
			ATOMIC_STORE(&c[i].rate_max, 0);
			continue;
		}
		/* word by word: the owner thread may be writing its block */
		for (size_t w = 0; w < sizeof(c[i]) / sizeof(uint64_t); w++)
			ATOMIC_STORE((uint64_t *)&c[i] + w, 0);
	}
}

uint32_t freq_ctr_add(struct freq_ctr *c, uint32_t period, uint32_t inc, uint64_t now_ms)
{
	uint32_t now = (uint32_t)now_ms;

	if (now - c->curr_tick < period)
		return c->curr_ctr += inc;
	/* a new period: the current one becomes the previous one, unless
	 * more than one went by without an event */
	c->prev_ctr = c->curr_ctr;
	c->curr_ctr = inc;
	c->curr_tick += period;
	if (now - c->curr_tick >= period) {
		c->prev_ctr = 0;
		c->curr_tick = now;
	}
	return inc;
}

uint32_t freq_ctr_read(const struct freq_ctr *c, uint32_t period, uint64_t now_ms)
{
	uint64_t curr = c->curr_ctr, past = c->prev_ctr;
	int64_t remain = (int32_t)(c->curr_tick + period - (uint32_t)now_ms);

	if (!period)
		return 0;
	if (remain < 0) {
		/* past the current period: it is now the previous one, which
		 * counts while the next period lasts, then nothing */
		remain += period;
		past = remain >= 0 ? curr : 0;
		curr = 0;
	}
	if (!curr && past <= 1) /* below one event per period: no flapping */
		return (uint32_t)past;
	return (uint32_t)((past * (uint64_t)remain + curr * period) / period);
}

void freq_ctr_set(struct freq_ctr *c, uint32_t v, uint64_t now_ms)
{
	c->curr_tick = (uint32_t)now_ms & ~1u; /* as HAProxy, whose low bit is a lock */
	c->prev_ctr = 0;
	c->curr_ctr = v;
}

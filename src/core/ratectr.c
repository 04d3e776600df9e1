#include "core/ratectr.h"

#define PERIOD 1000u

uint32_t rate_ctr_add(struct rate_ctr *c, uint64_t now_ms, uint32_t inc)
{
	uint32_t now = (uint32_t)now_ms, tick;

	for (;;) {
		tick = __atomic_load_n(&c->tick, __ATOMIC_ACQUIRE);
		/* signed: another thread's clock may be a little behind this one's */
		if ((int32_t)(now - (tick & ~1u)) < (int32_t)PERIOD)
			return __atomic_add_fetch(&c->cur, inc, __ATOMIC_RELAXED);
		/* the period is over: one thread rotates, the others wait for it */
		if (!(tick & 1) &&
		    __atomic_compare_exchange_n(&c->tick, &tick, tick | 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			break;
	}
	/* events added meanwhile by other threads land in the old period */
	__atomic_store_n(&c->prev, __atomic_exchange_n(&c->cur, inc, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
	tick += PERIOD;
	if ((int32_t)(now - tick) >= (int32_t)PERIOD) {
		/* two periods or more went by without an event */
		__atomic_store_n(&c->prev, 0, __ATOMIC_RELAXED);
		tick = now;
	}
	__atomic_store_n(&c->tick, tick & ~1u, __ATOMIC_RELEASE);
	return inc;
}

/* Events over the current period plus the part of the previous one still
 * in the sliding second, times PERIOD (pend more counted in the current). */
static uint64_t total(const struct rate_ctr *c, uint32_t now, uint32_t pend)
{
	uint32_t tick = __atomic_load_n(&c->tick, __ATOMIC_ACQUIRE) & ~1u;
	uint64_t cur = __atomic_load_n(&c->cur, __ATOMIC_RELAXED);
	uint64_t prev = __atomic_load_n(&c->prev, __ATOMIC_RELAXED);
	int32_t age = (int32_t)(now - tick);
	int64_t remain = (int64_t)PERIOD - (age < 0 ? 0 : age);

	if (remain < 0) {
		/* past the current period: it is the previous one now */
		remain += PERIOD;
		prev = remain >= 0 ? cur : 0;
		cur = 0;
		if (remain < 0)
			remain = 0;
	}
	return prev * (uint64_t)remain + (cur + pend) * PERIOD;
}

uint32_t rate_ctr_read(const struct rate_ctr *c, uint64_t now_ms)
{
	return (uint32_t)(total(c, (uint32_t)now_ms, 0) / PERIOD);
}

uint32_t rate_ctr_remain(const struct rate_ctr *c, uint64_t now_ms, uint32_t freq, uint32_t pend)
{
	uint64_t avg = total(c, (uint32_t)now_ms, pend) / PERIOD;

	return avg >= freq ? 0 : freq - (uint32_t)avg;
}

uint32_t rate_ctr_delay(const struct rate_ctr *c, uint64_t now_ms, uint32_t freq, uint32_t pend)
{
	uint64_t t = total(c, (uint32_t)now_ms, pend), limit = (uint64_t)freq * PERIOD, wait;

	if (t < limit)
		return 0;
	/* each event beyond the limit takes PERIOD/freq ms to slide out */
	wait = (t - limit) / (freq ? freq : 1);
	return wait ? (uint32_t)(wait > 60000 ? 60000 : wait) : 1;
}

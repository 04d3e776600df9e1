/* Counters that several threads touch. Writers either hold the lock that
 * guards the counter's owner (a backend) or need no lock at all (process and
 * frontend totals); readers that do not hold the lock (logs, limits) load
 * them with these, so every access is a whole, untorn value. Relaxed order:
 * the counters order nothing else. */
#ifndef FERRY_CORE_ATOMIC_H
#define FERRY_CORE_ATOMIC_H

#define ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ATOMIC_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define ATOMIC_XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)

/* Takes one unit of *ctr if it is below max; returns 1 when taken. */
static inline int atomic_reserve(int *ctr, int max)
{
	int cur = __atomic_load_n(ctr, __ATOMIC_RELAXED);

	while (cur < max)
		if (__atomic_compare_exchange_n(ctr, &cur, cur + 1, 1, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return 1;
	return 0;
}

#endif

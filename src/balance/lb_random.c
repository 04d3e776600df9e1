/* random / random(N): N weighted random draws among the candidates, keeping
 * the one with the fewest connections per unit of weight ("power of N
 * choices"); HAProxy's default is 2 draws. */
#include "balance/server.h"

static uint64_t next_rand(struct backend *be)
{
	uint64_t x = be->rng; /* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	be->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static struct server *random_pick(struct backend *be, uint32_t key, const struct server *avoid,
				    enum lb_group g, const struct server *only)
{
	struct server *best = NULL;
	uint64_t total = 0;

	(void)key;
	for (int i = 0; i < be->nsrv; i++)
		if (lb_candidate(be, be->srv[i], g, only, avoid))
			total += (uint64_t)srv_lbw(be->srv[i]);
	if (!total)
		return NULL;
	for (int d = 0; d < be->random_draws; d++) {
		uint64_t r = next_rand(be) % total;
		struct server *s = NULL;
		for (int i = 0; i < be->nsrv && !s; i++) {
			if (!lb_candidate(be, be->srv[i], g, only, avoid))
				continue;
			if (r < (uint64_t)srv_lbw(be->srv[i]))
				s = be->srv[i];
			else
				r -= (uint64_t)srv_lbw(be->srv[i]);
		}
		if (!s) /* none drawn: cannot happen while the lock is held */
			continue;
		/* compare cur_conns/eweight without division */
		if (!best || (uint64_t)s->cur_conns * (uint64_t)srv_lbw(best) <
				     (uint64_t)best->cur_conns * (uint64_t)srv_lbw(s))
			best = s;
	}
	return best;
}

const struct lb_ops lb_random_ops = { random_pick, NULL, NULL };

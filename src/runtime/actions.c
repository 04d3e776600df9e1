/* The actions of the runtime API (see actions.h). */
#include "runtime/actions.h"

#include "core/atomic.h"

static void clear_counters(struct counters *c, int nw, int all)
{
	counters_clear(c, nw, !all);
}

void act_clear_counters(struct runtime *rt, int all)
{
	struct generation *g = rt->gen;

	for (int i = 0; i < g->nfe; i++) {
		clear_counters(g->fes[i].ctr, rt->nw, all);
		ATOMIC_STORE(&g->fes[i].max_conns_seen, 0);
	}
	for (int b = 0; b < g->nbe; b++) {
		struct backend *be = &g->bes[b]->lb;
		clear_counters(be->ctr, rt->nw, all);
		ATOMIC_STORE(&be->max_conns_seen, 0);
		ATOMIC_STORE(&be->q.max, 0);
		for (int i = 0; i < be->nsrv; i++) {
			struct server *s = be->srv[i];
			struct srv_rt *x = (struct srv_rt *)s;
			clear_counters(s->ctr, rt->nw, all);
			ATOMIC_STORE(&s->max_conns_seen, 0);
			ATOMIC_STORE(&s->q.max, 0);
			if (all) { /* HAProxy clears the whole server counters block */
				s->down_trans = 0;
				x->check.failed = 0;
			}
		}
	}
}

/* leastconn: the server with the fewest connections per unit of weight.
 * As in HAProxy, the key is 0 for an idle server (idle servers first) and
 * (inflight + 1) * 4096 / weight otherwise, where inflight counts served and
 * queued connections. Equal keys rotate: the scan starts after the last pick
 * and only a strictly smaller key replaces the current best. Also as in
 * HAProxy, a server with a maxqueue is a candidate while its connections
 * and its queue together stay below maxconn + maxqueue: the caller then
 * queues on it, which smooths the load when maxconn is small. */
#include "balance/server.h"

static uint64_t lc_key(const struct server *s)
{
	uint64_t inflight = (uint64_t)s->cur_conns + (uint64_t)s->q.len;

	/* srv_lbw is eweight x 16 (less while warming up): 65536 keeps 4096 per unit */
	return inflight ? (inflight + 1) * 65536u / (uint64_t)srv_lbw(s) : 0;
}

static struct server *lc_pick(struct backend *be, uint32_t key, const struct server *avoid,
				    enum lb_group g, const struct server *only)
{
	struct server *best = NULL;
	uint64_t best_key = 0;
	int best_i = 0;

	(void)key;
	for (int k = 0; k < be->nsrv; k++) {
		int i = (be->lc_cursor + k) % be->nsrv;
		struct server *s = be->srv[i];
		uint64_t sk;
		if (s == avoid || !lb_in_group(be, s, g, only) ||
		    (s->maxconn && s->cur_conns + s->q.len >= srv_maxconn(s) + s->maxqueue))
			continue;
		sk = lc_key(s);
		if (!best || sk < best_key) {
			best = s;
			best_key = sk;
			best_i = i;
		}
	}
	if (best)
		be->lc_cursor = (best_i + 1) % be->nsrv;
	return best;
}

const struct lb_ops lb_leastconn_ops = { lc_pick, NULL, NULL };

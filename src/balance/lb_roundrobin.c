/* roundrobin and static-rr: smooth weighted round robin. Each candidate's
 * "current" grows by its weight; the largest wins and gives back the total.
 * Over any window of W = sum of weights picks, each server gets exactly its
 * weight's share, evenly spaced (5,1,1 → a a b a c a a).
 *   roundrobin reads the effective weight at every pick (scaled, and lower
 *   while the server warms up: srv_lbw), so weight changes take effect at once;
 *   static-rr uses the configured weight, so they are ignored, as in HAProxy. */
#include "balance/server.h"

static struct server *swrr_pick(struct backend *be, const struct server *avoid, enum lb_group g,
				const struct server *only, int fixed)
{
	struct server *best = NULL;
	int64_t total = 0, *best_cur = NULL;

	for (int i = 0; i < be->nsrv; i++) {
		struct server *s = be->srv[i];
		int w = fixed ? s->iweight : srv_lbw(s);
		int64_t *cur = fixed ? &s->srr_current : &s->rr_current;
		if (!w || !lb_candidate(be, s, g, only, avoid))
			continue;
		*cur += w;
		total += w;
		if (!best || *cur > *best_cur) {
			best = s;
			best_cur = cur;
		}
	}
	if (best)
		*best_cur -= total;
	return best;
}

static struct server *rr_pick(struct backend *be, uint32_t key, const struct server *avoid,
			      enum lb_group g, const struct server *only)
{
	(void)key;
	return swrr_pick(be, avoid, g, only, 0);
}

static struct server *srr_pick(struct backend *be, uint32_t key, const struct server *avoid,
			       enum lb_group g, const struct server *only)
{
	(void)key;
	return swrr_pick(be, avoid, g, only, 1);
}

const struct lb_ops lb_roundrobin_ops = { rr_pick, NULL, NULL };
const struct lb_ops lb_static_rr_ops = { srr_pick, NULL, NULL };

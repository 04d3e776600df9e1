/* roundrobin: smooth weighted round robin. Each candidate's "current" grows
 * by its effective weight; the largest wins and gives back the total. Over
 * any window of W = sum of weights picks, each server gets exactly its
 * weight's share, evenly spaced (5,1,1 → a a b a c a a). Weights are read at
 * every pick, so weight changes take effect at once. */
#include "balance/server.h"

static struct server *rr_pick(struct backend *be, uint32_t key, const struct server *avoid)
{
	const struct server *only;
	enum lb_group g = lb_group(be, &only);
	struct server *best = NULL;
	int64_t total = 0;

	(void)key;
	for (int i = 0; i < be->nsrv; i++) {
		struct server *s = be->srv[i];
		if (!lb_candidate(be, s, g, only, avoid))
			continue;
		s->rr_current += s->eweight;
		total += s->eweight;
		if (!best || s->rr_current > best->rr_current)
			best = s;
	}
	if (best)
		best->rr_current -= total;
	return best;
}

const struct lb_ops lb_roundrobin_ops = { rr_pick, NULL, NULL };

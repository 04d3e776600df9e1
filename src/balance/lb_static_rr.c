/* static-rr: the same smooth weighted rotation as roundrobin, but over the
 * weights from the configuration: runtime weight changes are ignored, as in
 * HAProxy. Servers coming and going are taken into account at once. */
#include "balance/server.h"

static struct server *srr_pick(struct backend *be, uint32_t key, const struct server *avoid)
{
	const struct server *only;
	enum lb_group g = lb_group(be, &only);
	struct server *best = NULL;
	int64_t total = 0;

	(void)key;
	for (int i = 0; i < be->nsrv; i++) {
		struct server *s = be->srv[i];
		if (!lb_candidate(be, s, g, only, avoid) || !s->uweight)
			continue;
		s->srr_current += s->uweight;
		total += s->uweight;
		if (!best || s->srr_current > best->srr_current)
			best = s;
	}
	if (best)
		best->srr_current -= total;
	return best;
}

const struct lb_ops lb_static_rr_ops = { srr_pick, NULL, NULL };

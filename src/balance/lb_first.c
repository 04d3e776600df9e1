/* first: the first server in declaration order that still has a free
 * connection slot (its maxconn); without maxconn the first server takes
 * everything. Lets idle servers be powered down, as in HAProxy. */
#include "balance/server.h"

static struct server *first_pick(struct backend *be, uint32_t key, const struct server *avoid,
				    enum lb_group g, const struct server *only)
{

	(void)key;
	for (int i = 0; i < be->nsrv; i++)
		if (lb_candidate(be, be->srv[i], g, only, avoid))
			return be->srv[i];
	return NULL;
}

const struct lb_ops lb_first_ops = { first_pick, NULL, NULL };

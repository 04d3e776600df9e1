/* The address a server takes from an answer (see dnspick.h). */
#include "dns/dnspick.h"

#include <string.h>
#include <sys/socket.h>

static int same(const struct dns_ip *x, const struct dns_ip *y)
{
	return x->family == y->family && !memcmp(x->a, y->a, x->family == AF_INET ? 4 : 16);
}

static int in_nets(const struct dns_ip *ip, const struct cfg_net *nets, int n)
{
	for (int i = 0; i < n; i++)
		if (cfg_net_match(&nets[i], ip->family, ip->a))
			return 1;
	return 0;
}

int dns_pick_ip(const struct dns_ip *cand, int n, const struct dns_ip *cur, int prefer,
		const struct cfg_net *nets, int nnets, const struct dns_ip *taken, int ntaken,
		int allow_dup)
{
	if (!prefer)
		prefer = AF_INET6;
	if (cur)
		for (int i = 0; i < n; i++)
			if (same(&cand[i], cur))
				return i;
	/* pass 0: net and family; 1: family; 2: anything */
	for (int pass = nnets ? 0 : 1; pass < 3; pass++)
		for (int i = 0; i < n; i++) {
			int used = 0;
			if (pass == 0 && !in_nets(&cand[i], nets, nnets))
				continue;
			if (pass <= 1 && cand[i].family != prefer)
				continue;
			for (int k = 0; k < ntaken && !allow_dup && !used; k++)
				used = same(&cand[i], &taken[k]);
			if (!used)
				return i;
		}
	return -1;
}

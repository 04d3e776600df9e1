/* Which of a DNS answer's addresses a server takes: pure, so it is tested
 * without a network (HAProxy's resolv_get_ip_from_response). */
#ifndef FERRY_DNS_DNSPICK_H
#define FERRY_DNS_DNSPICK_H
#include <stdint.h>

#include "config/resolvers.h"

struct dns_ip {
	int family;                /* AF_INET or AF_INET6 */
	uint8_t a[16];
};

/* Among cand (n addresses), the one a server should use: its current one
 * (cur, NULL when it has none) when the answer still has it; else the
 * first that matches a resolve-net network, in the preferred family, and
 * that no other server uses (taken[ntaken]: the addresses of the servers
 * of the backend with the same name, unless allow_dup); then relaxing the
 * network, then the family. Returns its index, or -1 when none fits. */
int dns_pick_ip(const struct dns_ip *cand, int n, const struct dns_ip *cur, int prefer,
		const struct cfg_net *nets, int nnets, const struct dns_ip *taken, int ntaken,
		int allow_dup);

#endif

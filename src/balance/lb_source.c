/* source: the client's address, hashed, chooses the server, so a client
 * keeps reaching the same server while the set of servers is stable.
 *   hash-type map-based:  hash modulo the total weight of the usable servers
 *                         (any change of the set moves most clients);
 *   hash-type consistent: a ring of 40 points per unit of weight, rebuilt
 *                         when a server changes state; a change moves only
 *                         the clients of that server.
 * As in HAProxy, the chosen server is returned even when it is full: the
 * client then waits in that server's queue (only a server to avoid, on a
 * retry, moves the pick to the next one). */
#include "balance/server.h"

#include <stdlib.h>

#define POINTS_PER_WEIGHT 40

struct ring_point {
	uint32_t hash;
	struct server *s;
};

struct ring {
	int n;
	struct ring_point p[];
};

static int point_cmp(const void *a, const void *b)
{
	const struct ring_point *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->s->id - y->s->id;
}

/* POINTS_PER_WEIGHT per unit of eweight, fewer while the server warms up
 * (slowstart: consistent hashing is a dynamic algorithm in HAProxy). */
static int ring_points(const struct server *s)
{
	return (srv_lbw(s) * POINTS_PER_WEIGHT + SRV_WSCALE - 1) / SRV_WSCALE;
}

static void ring_build(struct backend *be)
{
	const struct server *only;
	enum lb_group g = lb_group(be, &only);
	struct ring *r;
	int n = 0;

	free(be->lb);
	be->lb = NULL;
	if (be->hash_type != HASH_CONSISTENT)
		return;
	for (int i = 0; i < be->nsrv; i++)
		if (lb_in_group(be, be->srv[i], g, only))
			n += ring_points(be->srv[i]);
	r = malloc(sizeof(*r) + (size_t)n * sizeof(r->p[0]));
	if (!r)
		return; /* pick then falls back to map-based */
	r->n = 0;
	for (int i = 0; i < be->nsrv; i++) {
		struct server *s = be->srv[i];
		if (!lb_in_group(be, s, g, only))
			continue;
		for (int k = 0; k < ring_points(s); k++) {
			r->p[r->n].hash = lb_hash32(((uint32_t)s->id << 16) ^ (uint32_t)k ^
						    lb_hash32((uint32_t)s->id * 2654435761u));
			r->p[r->n++].s = s;
		}
	}
	qsort(r->p, (size_t)r->n, sizeof(r->p[0]), point_cmp);
	be->lb = r;
}

static struct server *ring_pick(struct backend *be, uint32_t key, const struct server *avoid)
{
	struct ring *r = be->lb;
	int lo = 0, hi = r->n;

	if (!r->n)
		return NULL;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (r->p[mid].hash < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int k = 0; k < r->n; k++) {
		struct server *s = r->p[(lo + k) % r->n].s;
		if (s != avoid && srv_usable(s))
			return s;
	}
	return NULL;
}

static struct server *map_pick(struct backend *be, uint32_t key, const struct server *avoid,
				    enum lb_group g, const struct server *only)
{
	uint64_t total = 0, r;
	int i;

	for (i = 0; i < be->nsrv; i++)
		if (lb_in_group(be, be->srv[i], g, only))
			total += (uint64_t)be->srv[i]->eweight;
	if (!total)
		return NULL;
	r = key % total;
	for (i = 0; i < be->nsrv; i++) {
		struct server *s = be->srv[i];
		if (!lb_in_group(be, s, g, only))
			continue;
		if (r < (uint64_t)s->eweight)
			break;
		r -= (uint64_t)s->eweight;
	}
	for (int k = 0; k < be->nsrv; k++) {
		struct server *s = be->srv[(i + k) % be->nsrv];
		if (lb_in_group(be, s, g, only) && s != avoid)
			return s;
	}
	return NULL;
}

static struct server *source_pick(struct backend *be, uint32_t key, const struct server *avoid,
				  enum lb_group g, const struct server *only)
{
	if (be->hash_type == HASH_CONSISTENT && be->lb)
		return ring_pick(be, key, avoid);
	return map_pick(be, key, avoid, g, only);
}

static void source_free(struct backend *be)
{
	free(be->lb);
	be->lb = NULL;
}

const struct lb_ops lb_source_ops = { source_pick, ring_build, source_free };

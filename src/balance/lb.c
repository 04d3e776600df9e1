/* What every algorithm shares: which servers are candidates (active first,
 * then backups), saturation, state changes, and the address hash. */
#include "balance/server.h"

#include <netinet/in.h>
#include <string.h>

int srv_usable(const struct server *s)
{
	return s->up && !(s->flags & (SRV_F_ANY_MAINT | SRV_F_AGENT_DOWN | SRV_F_FDRAIN |
				      SRV_F_STOPPING | SRV_F_DELETED)) &&
	       s->eweight > 0;
}

int srv_full(const struct server *s)
{
	return s->maxconn && (s->q.len || s->cur_conns >= srv_maxconn(s));
}

int lb_is_hash(const struct backend *be)
{
	return be->algo == LB_SOURCE;
}

int srv_takes_backend_queue(const struct backend *be, const struct server *s)
{
	const struct server *only;
	enum lb_group g = lb_group(be, &only);

	return lb_in_group(be, s, g, only);
}

enum lb_group lb_group(const struct backend *be, const struct server **only)
{
	int backups = 0;

	*only = NULL;
	for (int i = 0; i < be->nsrv; i++) {
		const struct server *s = be->srv[i];
		if (!srv_usable(s))
			continue;
		if (!(s->flags & SRV_F_BACKUP))
			return LB_GROUP_ACTIVE;
		if (!backups++ && !be->allbackups)
			*only = s;
	}
	return backups ? LB_GROUP_BACKUP : LB_GROUP_NONE;
}

int lb_in_group(const struct backend *be, const struct server *s, enum lb_group g,
		const struct server *only)
{
	(void)be;
	if (g == LB_GROUP_NONE)
		return 0;
	if (!srv_usable(s))
		return 0;
	if (g == LB_GROUP_ACTIVE)
		return !(s->flags & SRV_F_BACKUP);
	if (!(s->flags & SRV_F_BACKUP))
		return 0;
	return !only || s == only;
}

int lb_candidate(const struct backend *be, const struct server *s, enum lb_group g,
		 const struct server *only, const struct server *avoid)
{
	return s != avoid && lb_in_group(be, s, g, only) && !srv_full(s);
}

struct server *lb_pick(struct backend *be, uint32_t key, const struct server *avoid,
		       int *all_full)
{
	const struct server *only;
	enum lb_group g = lb_group(be, &only);
	struct server *s;

	*all_full = 0;
	if (g == LB_GROUP_NONE)
		return NULL;
	s = be->ops->pick(be, key, avoid, g, only);
	if (!s && avoid)  /* the avoided server is the only one left: better than none */
		s = be->ops->pick(be, key, NULL, g, only);
	if (!s) {
		for (int i = 0; i < be->nsrv; i++)
			if (lb_in_group(be, be->srv[i], g, only))
				*all_full = 1;
	}
	return s;
}

static const struct lb_ops *ops_for(enum lb_algo a)
{
	switch (a) {
	case LB_STATIC_RR: return &lb_static_rr_ops;
	case LB_LEASTCONN: return &lb_leastconn_ops;
	case LB_FIRST: return &lb_first_ops;
	case LB_SOURCE: return &lb_source_ops;
	case LB_RANDOM: return &lb_random_ops;
	default: return &lb_roundrobin_ops;
	}
}

void backend_init(struct backend *be, enum lb_algo algo, enum hash_type ht, int draws)
{
	be->algo = algo;
	be->hash_type = ht;
	be->random_draws = draws > 0 ? draws : 2;
	be->ops = ops_for(algo);
	pthread_mutex_init(&be->lock, NULL);
	if (!be->rng)
		be->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)be;
	backend_update(be);
	{
		const struct server *only;
		be->was_usable = lb_group(be, &only) != LB_GROUP_NONE;
	}
}

void backend_update(struct backend *be)
{
	if (be->ops && be->ops->update)
		be->ops->update(be);
}

void backend_free_lb(struct backend *be)
{
	if (be->ops && be->ops->free)
		be->ops->free(be);
	be->lb = NULL;
	pthread_mutex_destroy(&be->lock);
}

void server_set_up(struct server *s, int up, uint64_t now_ms)
{
	if (s->up == up)
		return;
	s->up = up;
	if (!up)
		s->down_trans++;
	else if (s->last_change_ms && now_ms > s->last_change_ms)
		s->down_time_ms += now_ms - s->last_change_ms;
	s->last_change_ms = now_ms;
	s->warm_since_ms = 0;
	s->warm_step = s->warm_maxconn = 0;
	if (up) /* came back: slowstart */
		server_warm_start(s, now_ms);
	s->rr_current = 0;
	s->srr_current = 0;
	backend_update(s->be);
	backend_note_state(s->be, now_ms);
}

void backend_note_state(struct backend *be, uint64_t now_ms)
{
	const struct server *only;
	int usable = lb_group(be, &only) != LB_GROUP_NONE;

	if (usable == be->was_usable)
		return;
	if (!usable)
		be->down_trans++;
	else if (be->last_change_ms && now_ms > be->last_change_ms)
		be->down_time_ms += now_ms - be->last_change_ms;
	be->was_usable = usable;
	be->last_change_ms = now_ms;
}

static void recalc_eweight(struct server *s)
{
	int w = (int)(((long)s->uweight * s->lag_permille + 500) / 1000);

	if (!w && s->uweight && s->lag_permille)
		w = 1; /* a lagging replica within its max-lag still gets a little */
	if (w == s->eweight)
		return;
	s->eweight = w;
	backend_update(s->be);
}

void server_set_weight(struct server *s, int weight)
{
	s->uweight = weight;
	recalc_eweight(s);
}

socklen_t server_copy_addr(const struct server *s, struct sockaddr_storage *out, int *port_omitted)
{
	unsigned seq;
	socklen_t len;

	do {
		seq = __atomic_load_n(&s->addr_seq, __ATOMIC_ACQUIRE);
		memcpy(out, &s->addr, sizeof(*out));
		len = s->addrlen;
		*port_omitted = s->port_omitted;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((seq & 1) || seq != __atomic_load_n(&s->addr_seq, __ATOMIC_RELAXED));
	return len;
}

void server_set_addr(struct server *s, const struct sockaddr_storage *ss, socklen_t len, int port_omitted)
{
	unsigned seq = s->addr_seq;

	__atomic_store_n(&s->addr_seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(&s->addr, ss, sizeof(s->addr));
	s->addrlen = len;
	s->port_omitted = port_omitted;
	__atomic_store_n(&s->addr_seq, seq + 2, __ATOMIC_RELEASE);
}

void server_set_lag_permille(struct server *s, int permille)
{
	s->lag_permille = permille;
	recalc_eweight(s);
}

void backend_count_usable(const struct backend *be, int *active, int *backup)
{
	*active = *backup = 0;
	for (int i = 0; i < be->nsrv; i++) {
		if (!srv_usable(be->srv[i]))
			continue;
		if (be->srv[i]->flags & SRV_F_BACKUP)
			(*backup)++;
		else
			(*active)++;
	}
}

int server_observe_l4(struct server *s, int ok)
{
	int n;

	if (ok) {
		if (__atomic_load_n(&s->consec_errors, __ATOMIC_RELAXED))
			__atomic_store_n(&s->consec_errors, 0, __ATOMIC_RELAXED);
		return 0;
	}
	n = __atomic_add_fetch(&s->consec_errors, 1, __ATOMIC_RELAXED);
	if (n < s->error_limit || !__atomic_compare_exchange_n(&s->consec_errors, &n, 0, 0, __ATOMIC_RELAXED,
							       __ATOMIC_RELAXED))
		return 0;
	__atomic_add_fetch(&s->hanafail, 1, __ATOMIC_RELAXED);
	return n;
}

uint32_t lb_hash32(uint32_t x)
{
	/* a full-avalanche integer mix (lowbias32) */
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

uint32_t lb_hash_addr(const struct sockaddr *sa)
{
	uint32_t h = 2166136261u; /* FNV-1a over the address bytes, then mixed */
	const unsigned char *p;
	size_t n;

	if (sa->sa_family == AF_INET6) {
		p = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	} else {
		p = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return lb_hash32(h);
}

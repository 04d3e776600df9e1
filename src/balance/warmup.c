/* slowstart: a server that comes back UP (from DOWN or from maintenance,
 * never at start-up) warms up over its slowstart time, as HAProxy 2.6's
 * server_recalc_eweight and srv_dynamic_maxconn:
 *   - the slowstart is counted in whole seconds (rounded up), and so is the
 *     time since the server came back (elapsed);
 *   - the dynamic algorithms (roundrobin, leastconn, first, random,
 *     consistent hashing) weigh it eweight x step / SRV_WSCALE, with
 *     step = (SRV_WSCALE x elapsed + slowstart) / slowstart: 1/16 at once,
 *     then growing linearly; the static ones (static-rr, map-based
 *     hashing) ignore it;
 *   - its maxconn, when it has one, is maxconn x (100 x elapsed /
 *     slowstart) %, at least 1, whatever the algorithm.
 * The runtime calls server_warm_update about once a second, as HAProxy's
 * warm-up task (whose period is max(1 s, slowstart / 20) with slowstart in
 * seconds, that is 1 s). */
#include "balance/server.h"

/* HAProxy's BE_LB_PROP_DYN: the algorithms whose weights can change live. */
static int algo_dynamic(const struct backend *be)
{
	if (be->algo == LB_STATIC_RR)
		return 0;
	if (be->algo == LB_SOURCE)
		return be->hash_type == HASH_CONSISTENT;
	return 1;
}

void server_warm_start(struct server *s, uint64_t now_ms)
{
	if (s->slowstart_ms <= 0)
		return;
	s->warm_since_ms = now_ms ? now_ms : 1;
	server_warm_update(s, now_ms);
}

int server_warm_update(struct server *s, uint64_t now_ms)
{
	int64_t ss = (s->slowstart_ms + 999) / 1000, el;
	int step = 0, maxconn = 0, old_step = s->warm_step;

	if (s->warm_since_ms && ss > 0 && now_ms >= s->warm_since_ms &&
	    (el = (int64_t)(now_ms - s->warm_since_ms) / 1000) < ss) {
		int ratio = (int)(100 * el / ss);
		step = algo_dynamic(s->be) ? (int)((SRV_WSCALE * el + ss) / ss) : SRV_WSCALE;
		if (s->maxconn) {
			maxconn = (int)((int64_t)s->maxconn * ratio / 100);
			if (maxconn < 1)
				maxconn = 1;
		}
	} else {
		s->warm_since_ms = 0; /* full throttle: HAProxy's RUNNING */
	}
	s->warm_step = step >= SRV_WSCALE ? (s->warm_since_ms ? SRV_WSCALE : 0) : step;
	s->warm_maxconn = maxconn;
	if (s->warm_step != old_step && s->be)
		backend_update(s->be);
	return s->warm_since_ms != 0;
}

int server_throttle(const struct server *s)
{
	int64_t w;

	if (!s->warm_since_ms || (s->flags & SRV_F_FDRAIN))
		return -1;
	if (!s->uweight) /* HAProxy: a weight of 0 is draining, not warming: 100 % */
		return 100;
	/* HAProxy's server_throttle_rate over its scaled eweight (uweight x step) */
	w = (int64_t)s->uweight * (s->warm_step ? s->warm_step : SRV_WSCALE);
	return (int)((100 * w + SRV_WSCALE - 1) / (SRV_WSCALE * (int64_t)s->uweight));
}

/* Run-time DNS resolution (see resolvers.h), after HAProxy 2.6's
 * resolvers.c: every "timeout resolve" each name is asked again of every
 * nameserver of its section; without an answer the query is sent again
 * every "timeout retry", "resolve_retries" times. The first valid answer
 * counts. An error keeps the servers' addresses for the "hold" period of
 * its kind, counted from the last valid answer; then they go to
 * maintenance (HAProxy's RMAINT, shown "MAINT (resolution)").
 *
 * Two kinds of requesters: a server with a host name (A/AAAA: it takes
 * one of the addresses, not one another server of its backend with the
 * same name has, unless allow-dup-ip), and the group of servers of a
 * backend sharing a SRV label (server-template): each record fills a
 * free slot with its target's address (from the additional section, or
 * from a query of its own for the target), its port and its weight; a
 * record missing from the answers for "hold obsolete" frees its slot,
 * which goes to maintenance. Everything runs on worker 0.
 *
 * The state these live in is declared in resolvers_int.h; what a reload
 * carries of it is in resolvers_carry.c, "show resolvers" in
 * resolvers_show.c. */
#include "runtime/resolvers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "core/strutil.h"
#include "dns/dnsmsg.h"
#include "dns/dnspick.h"
#include "runtime/dns_tcp.h"
#include "runtime/resolvers_int.h"
#include "runtime/runtime.h"

static uint64_t now_of(const struct rsec *s)
{
	return s->g->rt->ws[0].loop.now_ms;
}

static struct loop *loop_of(const struct rsec *s)
{
	return &s->g->rt->ws[0].loop;
}

/* ---- server state ------------------------------------------------------------------ */

static void say(struct server *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct server *s, int level, const char *fmt, ...)
{
	const struct pbackend *be = (const struct pbackend *)s->be;
	const struct log_targets *logs[2] = { be->logs.own, be->logs.global };
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	health_log(logs, level, 4, msg);
}

/* Resolution maintenance on (why) or off, as HAProxy's RMAINT. Sessions
 * go on unless on-marked-down shutdown-sessions, as HAProxy's. */
static void rmaint(struct rsec *sec, struct server *s, int on, const char *why)
{
	struct srv_rt *x = (struct srv_rt *)s;
	struct runtime *rt = sec->g->rt;
	struct check *c = s->check;
	int was_up = s->up;

	if (on == ((s->flags & SRV_F_RMAINT) != 0))
		return;
	backend_lock(s->be);
	if (on) {
		s->flags |= SRV_F_RMAINT;
		if (was_up)
			server_set_up(s, 0, now_of(sec));
	} else {
		s->flags &= ~SRV_F_RMAINT;
		if (c)
			c->fsm.health = c->fsm.rise; /* starts UP, checked soon */
		if (!(s->flags & SRV_F_ANY_MAINT) && !s->up)
			server_set_up(s, 1, now_of(sec));
		s->last_change_ms = now_of(sec);
	}
	backend_update(s->be);
	backend_note_state(s->be, now_of(sec));
	backend_unlock(s->be);
	if (on) {
		say(s, LOG_NOTICE, "Server %s/%s is going DOWN for maintenance (%s).", s->be->name, s->name, why);
		if (rt->cenv.on_change)
			rt->cenv.on_change(s, 0, rt->cenv.arg);
	} else {
		say(s, LOG_NOTICE, "Server %s/%s administratively READY thanks to valid DNS answer.",
		    s->be->name, s->name);
		if (s->up && rt->cenv.on_change)
			rt->cenv.on_change(s, 1, rt->cenv.arg);
	}
	(void)x;
}

static void to_dns_ip(const struct sockaddr_storage *ss, struct dns_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(ip->a, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(ip->a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

/* Shared with resolvers_carry.c; its contract is in resolvers_int.h. */
void resolvers_probes_follow(struct server *s)
{
	struct srv_rt *x = (struct srv_rt *)s;
	int port = addr_port((const struct sockaddr *)&s->addr);

	if (s->check && !x->cs->has_check_addr) {
		x->check.addr = s->addr;
		addr_set_port((struct sockaddr *)&x->check.addr, x->check.port ? x->check.port : port);
		x->check.addrlen = addr_len((struct sockaddr *)&x->check.addr);
	}
	if (s->agent) {
		int aport = addr_port((struct sockaddr *)&x->agent.addr);
		x->agent.addr = s->addr;
		addr_set_port((struct sockaddr *)&x->agent.addr, aport);
	}
}

/* s connects to ip:port from now on (new connections; established ones
 * stay), its checks too unless they have their own address. */
static void set_addr(struct server *s, const struct dns_ip *ip, int port, const char *by)
{
	struct sockaddr_storage ss, cur;
	char was[64] = "(none)", now[64];
	int omitted;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)ip->family;
	if (ip->family == AF_INET)
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, ip->a, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, ip->a, 16);
	addr_set_port((struct sockaddr *)&ss, port);
	server_copy_addr(s, &cur, &omitted);
	if (addr_same_endpoint(&cur, &ss))
		return;
	if (cur.ss_family == AF_INET || cur.ss_family == AF_INET6)
		addr_ip_str((struct sockaddr *)&cur, was, sizeof(was));
	addr_ip_str((struct sockaddr *)&ss, now, sizeof(now));
	backend_lock(s->be);
	server_set_addr(s, &ss, addr_len((struct sockaddr *)&ss), port == 0);
	backend_unlock(s->be);
	resolvers_probes_follow(s);
	say(s, LOG_NOTICE, "%s/%s changed its IP from %s to %s by %s.", s->be->name, s->name, was, now, by);
}

/* ---- resolutions ----------------------------------------------------------------------- */

static struct res *res_get(struct rsec *sec, const char *name, uint16_t prefer)
{
	struct res *r;

	for (r = sec->res; r; r = r->next)
		if (r->prefer == prefer && !strcmp(r->name, name))
			return r;
	r = xcalloc(1, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->prefer = r->qtype = prefer;
	r->status = -1;
	r->last_valid = now_of(sec); /* as HAProxy: holds count from its creation until a valid answer */
	r->next = sec->res;
	sec->res = r;
	return r;
}

static uint16_t new_id(void)
{
	static uint32_t seed;

	if (!seed)
		seed = (uint32_t)getpid() ^ (uint32_t)(uintptr_t)&seed;
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return (uint16_t)seed;
}

static void res_send(struct rsec *sec, struct res *r)
{
	uint8_t q[512];
	int len;

	r->id = new_id();
	r->last_query = now_of(sec);
	r->pending = 1;
	r->answers = 0;
	len = dns_build_query(q, sizeof(q), r->id, r->name, r->qtype, (uint16_t)sec->cfg->payload);
	for (int i = 0; i < sec->nns; i++) {
		struct rns *ns = &sec->ns[i];
		if (len < 0 || (ns->tcp ? dns_tcp_send(ns->tcp, q, (size_t)len) == -1
				: ns->io.fd < 0 || send(ns->io.fd, q, (size_t)len, MSG_DONTWAIT) == -1))
			ns->c.snd_error++;
		else
			ns->c.sent++;
	}
}

static void rq_host_valid(struct rsec *sec, struct res *r, struct rq *q, const struct dns_response *resp);
static void rq_srv_valid(struct rsec *sec, struct res *r, struct rq *q, const struct dns_response *resp);

static int64_t hold_of(const struct cfg_resolvers *c, int status)
{
	switch (status) {
	case DNS_S_NX: return c->hold_nx;
	case DNS_S_REFUSED: return c->hold_refused;
	case -2: return c->hold_timeout;
	default: return c->hold_other;
	}
}

static const char *why_of(int status)
{
	switch (status) {
	case DNS_S_NX: return "DNS NX status";
	case DNS_S_REFUSED: return "DNS refused status";
	case -2: return "DNS timeout status";
	default: return "unspecified DNS error";
	}
}

static void srv_item_drop(struct rsec *sec, struct rq *q, int i, const char *why);

/* The round ended without a valid answer (status; -2: timeout). Servers
 * keep their addresses for the hold period of that status. */
static void res_error(struct rsec *sec, struct res *r, int status)
{
	uint64_t now = now_of(sec);

	r->status = status;
	r->pending = 0;
	r->last_res = now;
	r->qtype = r->prefer;
	if (now < r->last_valid + (uint64_t)hold_of(sec->cfg, status))
		return;
	for (struct rq *q = r->rqs; q; q = q->next) {
		if (q->kind == RQ_HOST) {
			rmaint(sec, q->srv, 1, why_of(status));
		} else {
			while (q->nitems)
				srv_item_drop(sec, q, q->nitems - 1, why_of(status));
		}
	}
}

static void res_valid(struct rsec *sec, struct res *r, const struct dns_response *resp)
{
	int any = 0;

	for (int i = 0; i < resp->nrr && !any; i++)
		any = resp->rr[i].section == DNS_SEC_ANSWER &&
		      (resp->rr[i].type == r->qtype ||
		       (r->qtype != DNS_T_SRV && resp->rr[i].type != DNS_T_CNAME && resp->rr[i].type != DNS_T_SRV));
	if (!any && r->qtype != DNS_T_SRV && r->qtype == r->prefer) {
		/* no record of the preferred family: ask the other one at once */
		r->qtype = r->prefer == DNS_T_A ? DNS_T_AAAA : DNS_T_A;
		res_send(sec, r);
		return;
	}
	if (!any) {
		res_error(sec, r, DNS_S_OTHER);
		return;
	}
	r->status = DNS_S_VALID;
	r->pending = 0;
	r->last_res = r->last_valid = now_of(sec);
	r->qtype = r->prefer;
	for (struct rq *q = r->rqs; q; q = q->next) {
		if (q->kind == RQ_HOST)
			rq_host_valid(sec, r, q, resp);
		else
			rq_srv_valid(sec, r, q, resp);
	}
}

/* ---- A/AAAA requesters --------------------------------------------------------------- */

static int answer_ips(const struct dns_response *resp, int section, const char *name,
		      struct dns_ip *out, int max)
{
	int n = 0;

	for (int i = 0; i < resp->nrr && n < max; i++) {
		const struct dns_rr *rr = &resp->rr[i];
		if (rr->section != section || (rr->type != DNS_T_A && rr->type != DNS_T_AAAA))
			continue;
		if (name && strcmp(rr->name, name))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = rr->type == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(out[n].a, rr->d.a6, rr->type == DNS_T_A ? 4 : 16);
		n++;
	}
	return n;
}

/* The addresses of the other servers of s's backend resolving the same
 * name (HAProxy's prevent-dup-ip). */
static int taken_ips(const struct server *s, const char *name, struct dns_ip *out, int max)
{
	int n = 0;

	for (int i = 0; i < s->be->nsrv && n < max; i++) {
		const struct server *o = s->be->srv[i];
		const struct srv_rt *ox = (const struct srv_rt *)o;
		if (o == s || (o->flags & SRV_F_RMAINT) || !ox->dns_host || strcmp(ox->dns_host, name) ||
		    (ox->cs->fqdn && ox->cs->fqdn[0] == '_'))
			continue;
		to_dns_ip(&o->addr, &out[n++]);
	}
	return n;
}

static void rq_host_valid(struct rsec *sec, struct res *r, struct rq *q, const struct dns_response *resp)
{
	struct server *s = q->srv;
	struct srv_rt *x = (struct srv_rt *)s;
	const struct cfg_srv_dns *d = &x->cs->o.dns;
	struct dns_ip cand[DNS_MAX_RR], taken[64], cur;
	int n = answer_ips(resp, DNS_SEC_ANSWER, NULL, cand, DNS_MAX_RR), nt, k;
	int has = (s->addr.ss_family == AF_INET || s->addr.ss_family == AF_INET6) && !(s->flags & SRV_F_RMAINT);

	to_dns_ip(&s->addr, &cur);
	nt = taken_ips(s, r->name, taken, 64);
	k = dns_pick_ip(cand, n, has ? &cur : NULL, d->prefer, d->net, d->nnet, taken, nt,
			(d->opts & RSLV_O_ALLOW_DUP_IP) != 0);
	if (k < 0) {
		rmaint(sec, s, 1, "No IP for server ");
		return;
	}
	if (!has || memcmp(&cur, &cand[k], sizeof(cur))) {
		char by[300];
		snprintf(by, sizeof(by), "'%s/%s'", sec->cfg->name, sec->ns[0].cfg->name);
		set_addr(s, &cand[k], q->port, by);
		for (int i = 0; i < sec->nns; i++)
			sec->ns[i].c.update += i == 0;
	}
	rmaint(sec, s, 0, NULL);
}

/* ---- SRV requesters -------------------------------------------------------------------- */

/* Shared with resolvers_carry.c; its contract is in resolvers_int.h. */
void resolvers_slot_follow(struct rsec *sec, struct server *s, const char *target, int port)
{
	struct srv_rt *x = (struct srv_rt *)s;
	const struct cfg_srv_dns *d = &x->cs->o.dns;
	struct res *r = res_get(sec, target, d->prefer == AF_INET ? DNS_T_A : DNS_T_AAAA);
	struct rq *q = xcalloc(1, sizeof(*q));

	q->kind = RQ_HOST;
	q->srv = s;
	q->port = port;
	q->next = r->rqs;
	r->rqs = q;
	free(x->dns_host);
	x->dns_host = xstrdup(target);
}

static void slot_unfollow(struct rsec *sec, struct server *s)
{
	for (struct res *r = sec->res; r; r = r->next)
		for (struct rq **pq = &r->rqs; *pq; pq = &(*pq)->next)
			if ((*pq)->kind == RQ_HOST && (*pq)->srv == s) {
				struct rq *q = *pq;
				*pq = q->next;
				free(q);
				return;
			}
}

static void srv_item_drop(struct rsec *sec, struct rq *q, int i, const char *why)
{
	struct server *s = q->items[i].slot;

	if (s) {
		struct srv_rt *x = (struct srv_rt *)s;
		slot_unfollow(sec, s);
		free(x->dns_host);
		x->dns_host = NULL;
		rmaint(sec, s, 1, why);
	}
	q->items[i] = q->items[--q->nitems];
}

static struct server *free_slot(struct rq *q)
{
	for (int k = 0; k < q->nslots; k++) {
		int used = 0;
		for (int i = 0; i < q->nitems && !used; i++)
			used = q->items[i].slot == q->slots[k];
		if (!used)
			return q->slots[k];
	}
	return NULL;
}

static void slot_fill(struct rsec *sec, struct srv_item *it, const struct dns_response *resp)
{
	struct server *s = it->slot;
	struct srv_rt *x = (struct srv_rt *)s;
	const struct cfg_srv_dns *d = &x->cs->o.dns;
	struct dns_ip cand[DNS_MAX_RR];
	int n = answer_ips(resp, DNS_SEC_ADDITIONAL, it->target, cand, DNS_MAX_RR), k;

	if (!(d->opts & RSLV_O_IGNORE_WEIGHT) && s->uweight != (it->weight + 255) / 256) {
		backend_lock(s->be);
		server_set_weight(s, (it->weight + 255) / 256);
		backend_update(s->be);
		backend_unlock(s->be);
	}
	k = dns_pick_ip(cand, n, NULL, d->prefer, d->net, d->nnet, NULL, 0, 1);
	if (k < 0) { /* no additional record: the slot asks for the target itself */
		if (!it->follow) {
			slot_unfollow(sec, s);
			resolvers_slot_follow(sec, s, it->target, it->port);
			it->follow = 1;
		}
		return;
	}
	if (it->follow) {
		slot_unfollow(sec, s);
		it->follow = 0;
	}
	free(x->dns_host);
	x->dns_host = xstrdup(it->target); /* shown as its fqdn */
	set_addr(s, &cand[k], it->port, "DNS additional record");
	rmaint(sec, s, 0, NULL);
}

static void rq_srv_valid(struct rsec *sec, struct res *r, struct rq *q, const struct dns_response *resp)
{
	uint64_t now = now_of(sec);

	for (int i = 0; i < resp->nrr; i++) {
		const struct dns_rr *rr = &resp->rr[i];
		struct srv_item *it = NULL;
		if (rr->section != DNS_SEC_ANSWER || rr->type != DNS_T_SRV || strcmp(rr->name, r->name))
			continue;
		for (int k = 0; k < q->nitems && !it; k++)
			if (q->items[k].port == rr->d.srv.port && !strcmp(q->items[k].target, rr->d.srv.target))
				it = &q->items[k];
		if (!it) {
			if (q->nitems == MAX_SRV_ITEMS)
				continue;
			it = &q->items[q->nitems++];
			memset(it, 0, sizeof(*it));
			snprintf(it->target, sizeof(it->target), "%s", rr->d.srv.target);
			it->port = rr->d.srv.port;
		}
		it->weight = rr->d.srv.weight;
		it->last_seen = now;
		it->restored_until = 0;
		if (!it->slot)
			it->slot = free_slot(q);
		if (it->slot)
			slot_fill(sec, it, resp);
	}
	/* records not seen for hold obsolete free their slot */
	for (int k = q->nitems - 1; k >= 0; k--)
		if (!q->items[k].restored_until && now > q->items[k].last_seen + (uint64_t)sec->cfg->hold_obsolete)
			srv_item_drop(sec, q, k, "entry removed from SRV record");
}

/* A record restored from the state file that no answer has had for
 * "hold timeout" since the start frees its slot (HAProxy's srvrq_check). */
static void srv_restored_expire(struct rsec *sec, struct res *r, uint64_t now)
{
	for (struct rq *q = r->rqs; q; q = q->next)
		for (int k = q->kind == RQ_SRV ? q->nitems - 1 : -1; k >= 0; k--)
			if (q->items[k].restored_until && now >= q->items[k].restored_until)
				srv_item_drop(sec, q, k, "entry removed from SRV record");
}

/* slot s's SRV record saved in the state file (config/parse_resolvers.c
 * read it): the slot keeps it until an answer says otherwise. */
static void srv_restore(struct rsec *sec, struct rq *q, struct server *s)
{
	const struct cfg_srv_last *l = &((struct srv_rt *)s)->cs->last;
	struct srv_item *it;

	if (!l->target[0] || q->nitems == MAX_SRV_ITEMS)
		return;
	it = &q->items[q->nitems++];
	memset(it, 0, sizeof(*it));
	snprintf(it->target, sizeof(it->target), "%s", l->target);
	it->port = l->port;
	it->weight = s->uweight * 256 - 255;
	it->last_seen = now_of(sec);
	it->restored_until = now_of(sec) + (uint64_t)sec->cfg->hold_timeout;
	it->slot = s;
	((struct srv_rt *)s)->dns_host = xstrdup(l->target);
	if (!(s->flags & SRV_F_RMAINT))
		resolvers_probes_follow(s);
}

/* ---- sockets and the timer ---------------------------------------------------------- */

static struct res *res_by_id(struct rsec *sec, uint16_t id)
{
	for (struct res *r = sec->res; r; r = r->next)
		if (r->pending && r->id == id)
			return r;
	return NULL;
}

static void ns_count(struct rns *ns, enum dns_status st)
{
	switch (st) {
	case DNS_S_VALID: ns->c.valid++; break;
	case DNS_S_NX: ns->c.nx++; break;
	case DNS_S_REFUSED: ns->c.refused++; break;
	case DNS_S_OTHER: ns->c.other++; break;
	case DNS_S_INVALID: ns->c.invalid++; break;
	case DNS_S_WRONG_ID: ns->c.outdated++; break;
	case DNS_S_TRUNCATED: ns->c.truncated++; break;
	case DNS_S_CNAME_ERROR: ns->c.cname_error++; break;
	}
}

/* One message from ns (over UDP or TCP, len bytes from the network). */
static void ns_message(struct rns *ns, const uint8_t *buf, size_t len)
{
	struct rsec *sec = ns->sec;
	static struct dns_response resp; /* worker 0 only */
	struct res *r;
	enum dns_status st;

	if (len < 2) {
		ns->c.invalid++;
		return;
	}
	if (len > (size_t)sec->cfg->payload) { /* over TCP too, as HAProxy 2.6 */
		ns->c.too_big++;
		return;
	}
	r = res_by_id(sec, (uint16_t)(buf[0] << 8 | buf[1]));
	if (!r) {
		ns->c.outdated++;
		return;
	}
	st = dns_parse_response(buf, len, r->id, r->name, r->qtype, &resp);
	if (st == DNS_S_VALID && r->qtype != DNS_T_SRV) {
		int ncname;
		st = dns_answer_chain(&resp, r->name, &ncname);
		if (st == DNS_S_VALID && ncname)
			ns->c.cname++; /* ferry's: HAProxy 2.6 shows this counter, never counts */
	}
	ns_count(ns, st);
	if (st == DNS_S_WRONG_ID || st == DNS_S_INVALID)
		return;
	if (st == DNS_S_CNAME_ERROR)
		st = DNS_S_OTHER; /* held as "other", as HAProxy */
	r->answers++;
	if (st == DNS_S_VALID)
		res_valid(sec, r, &resp);
	else if (r->answers < sec->nns)
		return; /* another nameserver may know better */
	else if (r->qtype != DNS_T_SRV && r->qtype == r->prefer) {
		/* as HAProxy: the other family is asked at once */
		r->status = st;
		r->qtype = r->prefer == DNS_T_A ? DNS_T_AAAA : DNS_T_A;
		res_send(sec, r);
	} else {
		res_error(sec, r, st); /* every nameserver said no: the last word counts */
	}
}

static void ns_tcp_message(void *arg, const uint8_t *msg, size_t len)
{
	ns_message(arg, msg, len);
}

static void ns_read(struct loop *l, struct io *io, uint32_t events)
{
	struct rns *ns = (struct rns *)((char *)io - offsetof(struct rns, io));
	uint8_t buf[65536];

	(void)l;
	(void)events;
	for (int n = 0; n < 64; n++) { /* bounded: other events get their turn */
		ssize_t len = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len == -1)
			return; /* EAGAIN, or ECONNREFUSED: no server there (a timeout will say) */
		ns_message(ns, buf, (size_t)len);
	}
}

static void sec_tick(struct loop *l, struct timer *t)
{
	struct rsec *sec = (struct rsec *)((char *)t - offsetof(struct rsec, t));
	const struct cfg_resolvers *c = sec->cfg;
	uint64_t now = l->now_ms;
	int64_t step = c->to_resolve < c->to_retry ? c->to_resolve : c->to_retry;

	for (int i = 0; i < sec->nns; i++)
		if (sec->ns[i].tcp)
			dns_tcp_idle(sec->ns[i].tcp, now);
	for (struct res *r = sec->res; r; r = r->next) {
		if (!r->rqs)
			continue;
		if (r->qtype == DNS_T_SRV)
			srv_restored_expire(sec, r, now);
		if (r->pending && now >= r->last_query + (uint64_t)c->to_retry) {
			if (r->tries > 1) {
				r->tries--;
				res_send(sec, r);
			} else {
				for (int i = 0; i < sec->nns; i++)
					sec->ns[i].c.timeout += r->answers == 0;
				res_error(sec, r, r->answers ? r->status : -2);
			}
		} else if (!r->pending && (r->status == -1 || now >= r->last_res + (uint64_t)c->to_resolve)) {
			r->tries = c->retries > 0 ? c->retries : 1;
			res_send(sec, r);
		}
	}
	if (step > 1000)
		step = 1000;
	loop_timer_arm(l, t, now + (uint64_t)(step > 10 ? step / 2 : 10));
}

static struct rsec *sec_new(struct generation *g, const struct cfg_resolvers *c)
{
	struct rsec *sec = xcalloc(1, sizeof(*sec));

	sec->cfg = c;
	sec->g = g;
	sec->nns = c->nns;
	sec->ns = xcalloc((size_t)(c->nns ? c->nns : 1), sizeof(*sec->ns));
	for (int i = 0; i < c->nns; i++) {
		struct rns *ns = &sec->ns[i];
		int fd;
		if (c->ns[i].tcp) { /* connected when a query goes */
			ns->cfg = &c->ns[i];
			ns->sec = sec;
			io_init(&ns->io, -1, ns_read);
			ns->tcp = xcalloc(1, sizeof(*ns->tcp));
			dns_tcp_init(ns->tcp, &g->rt->ws[0].loop, &c->ns[i].ss, c->ns[i].len, ns_tcp_message, ns);
			continue;
		}
		fd = socket(c->ns[i].ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ns->cfg = &c->ns[i];
		ns->sec = sec;
		if (fd != -1 && connect(fd, (const struct sockaddr *)&c->ns[i].ss, c->ns[i].len) == -1) {
			WARN("resolvers %s: nameserver %s: %s", c->name, c->ns[i].name, strerror(errno));
			close(fd);
			fd = -1;
		}
		io_init(&ns->io, fd, ns_read);
		if (fd != -1)
			loop_io_set(&g->rt->ws[0].loop, &ns->io, EPOLLIN);
	}
	timer_init(&sec->t, sec_tick);
	return sec;
}

static struct rsec *sec_of(struct gen_dns *gd, struct generation *g, const char *name)
{
	const struct cfg_resolvers *c = cfg_find_resolvers(g->cfg, name);
	struct rsec *sec;

	for (sec = gd->secs; sec; sec = sec->next)
		if (sec->cfg == c)
			return sec;
	sec = sec_new(g, c);
	sec->next = gd->secs;
	gd->secs = sec;
	return sec;
}

/* The SRV requester of be for label, made on first use. */
static struct rq *srv_group(struct rsec *sec, struct res *r, struct server *s)
{
	struct rq *q;

	for (q = r->rqs; q; q = q->next)
		if (q->kind == RQ_SRV && q->slots[0]->be == s->be)
			break;
	if (!q) {
		q = xcalloc(1, sizeof(*q));
		q->kind = RQ_SRV;
		q->slots = xcalloc((size_t)s->be->nsrv, sizeof(*q->slots));
		q->next = r->rqs;
		r->rqs = q;
	}
	q->slots[q->nslots++] = s;
	return q;
}

void gen_start_resolvers(struct generation *g)
{
	struct gen_dns *gd = xcalloc(1, sizeof(*gd));

	g->dns = gd;
	for (int b = 0; b < g->nbe; b++)
		for (int i = 0; i < g->bes[b]->lb.nsrv; i++) {
			struct server *s = g->bes[b]->lb.srv[i];
			struct srv_rt *x = (struct srv_rt *)s;
			const struct cfg_server *cs = x->cs;
			struct rsec *sec;
			struct res *r;
			if (!cs->fqdn || !cs->o.dns.resolvers[0] || (s->flags & SRV_F_DYNAMIC))
				continue;
			sec = sec_of(gd, g, cs->o.dns.resolvers);
			if (cs->fqdn[0] == '_') {
				r = res_get(sec, cs->fqdn, DNS_T_SRV);
				srv_restore(sec, srv_group(sec, r, s), s);
				continue;
			}
			r = res_get(sec, cs->fqdn, cs->o.dns.prefer == AF_INET ? DNS_T_A : DNS_T_AAAA);
			{
				struct rq *q = xcalloc(1, sizeof(*q));
				q->kind = RQ_HOST;
				q->srv = s;
				q->port = cs->addr.port_lo;
				q->next = r->rqs;
				r->rqs = q;
				x->dns_host = xstrdup(cs->fqdn);
			}
		}
	for (struct rsec *sec = gd->secs; sec; sec = sec->next)
		loop_timer_arm(loop_of(sec), &sec->t, now_of(sec));
}

void gen_stop_resolvers(struct generation *g)
{
	struct gen_dns *gd = g->dns;

	if (!gd)
		return;
	while (gd->secs) {
		struct rsec *sec = gd->secs;
		gd->secs = sec->next;
		loop_timer_cancel(loop_of(sec), &sec->t);
		for (int i = 0; i < sec->nns; i++) {
			if (sec->ns[i].io.fd >= 0)
				loop_io_close(loop_of(sec), &sec->ns[i].io);
			if (sec->ns[i].tcp) {
				dns_tcp_close(sec->ns[i].tcp);
				free(sec->ns[i].tcp);
			}
		}
		while (sec->res) {
			struct res *r = sec->res;
			sec->res = r->next;
			while (r->rqs) {
				struct rq *q = r->rqs;
				r->rqs = q->next;
				free(q->slots);
				free(q);
			}
			free(r);
		}
		free(sec->ns);
		free(sec);
	}
	free(gd);
	g->dns = NULL;
}

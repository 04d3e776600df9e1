/* What a reload carries of the run-time resolvers (resolvers_carry, see
 * resolvers.h): from the old generation's sections to the new one's, by
 * section, name and backend, each name's last answer times and each SRV
 * record's slot. The servers' addresses and resolution maintenance are
 * carried with the rest of their state by reload.c. */
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"
#include "runtime/resolvers.h"
#include "runtime/resolvers_int.h"

static struct server *slot_named(const struct rq *q, const char *name)
{
	for (int k = 0; k < q->nslots; k++)
		if (!strcmp(q->slots[k]->name, name))
			return q->slots[k];
	return NULL;
}

/* The records of old group o go to the same slots (by name) of group q. */
static void carry_srv_items(struct rsec *sec, const struct rq *o, struct rq *q)
{
	while (q->nitems) { /* records read from the state file: what ran is newer */
		struct srv_rt *x = (struct srv_rt *)q->items[--q->nitems].slot;
		free(x->dns_host);
		x->dns_host = NULL;
	}
	for (int i = 0; i < o->nitems && q->nitems < MAX_SRV_ITEMS; i++) {
		struct server *s = o->items[i].slot ? slot_named(q, o->items[i].slot->name) : NULL;
		struct srv_rt *ox = o->items[i].slot ? (struct srv_rt *)o->items[i].slot : NULL;
		struct srv_item *it;
		if (!s)
			continue; /* the template shrank: the next answer finds it a slot */
		it = &q->items[q->nitems++];
		*it = o->items[i];
		it->slot = s;
		if (ox->dns_host) {
			free(((struct srv_rt *)s)->dns_host);
			((struct srv_rt *)s)->dns_host = xstrdup(ox->dns_host);
		}
		if (it->follow)
			resolvers_slot_follow(sec, s, it->target, it->port);
		if (!(s->flags & SRV_F_RMAINT))
			resolvers_probes_follow(s); /* its address was carried by reload.c */
	}
}

static const struct res *res_in(const struct rsec *os, const struct res *r)
{
	const struct res *or;

	for (or = os->res; or && (or->prefer != r->prefer || strcmp(or->name, r->name)); or = or->next)
		;
	return or;
}

void resolvers_carry(const struct generation *old, struct generation *g)
{
	const struct gen_dns *od = old->dns;

	if (!od || !g->dns)
		return;
	for (struct rsec *sec = ((struct gen_dns *)g->dns)->secs; sec; sec = sec->next) {
		const struct rsec *os;
		for (os = od->secs; os && strcmp(os->cfg->name, sec->cfg->name); os = os->next)
			;
		if (!os)
			continue;
		/* the SRV records first: their slots may ask for targets (new names) */
		for (struct res *r = sec->res; r; r = r->next) {
			const struct res *or = res_in(os, r);
			for (struct rq *q = r->rqs; q && or; q = q->next) {
				if (q->kind != RQ_SRV)
					continue;
				for (const struct rq *oq = or->rqs; oq; oq = oq->next)
					if (oq->kind == RQ_SRV && !strcmp(oq->slots[0]->be->name, q->slots[0]->be->name))
						carry_srv_items(sec, oq, q);
			}
		}
		for (struct res *r = sec->res; r; r = r->next) {
			const struct res *or = res_in(os, r);
			for (struct rq *q = r->rqs; q; q = q->next) /* addresses carried by reload.c */
				if (q->kind == RQ_HOST && !(q->srv->flags & SRV_F_RMAINT))
					resolvers_probes_follow(q->srv);
			if (!or || or->status == -1)
				continue;
			r->status = or->status == DNS_S_VALID ? DNS_S_VALID : -1;
			r->last_res = or->last_res;
			r->last_valid = or->last_valid;
		}
	}
}

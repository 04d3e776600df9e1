#include "proxy/bufpool.h"

#include <stdlib.h>

/* The counts have one writer (the pool's worker): a plain read then an
 * atomic store keeps the data path free of locked instructions while the
 * stats thread reads a whole value. */
#define SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

void bufpool_init(struct bufpool *p, int max_free)
{
	p->free = NULL;
	p->nfree = 0;
	p->max_free = max_free;
	p->in_use = 0;
	p->failed = 0;
}

void bufpool_destroy(struct bufpool *p)
{
	while (p->free) {
		struct rbuf *b = p->free;
		p->free = b->next_free;
		free(b);
	}
	SET(p->nfree, 0);
}

struct rbuf *bufpool_get(struct bufpool *p)
{
	struct rbuf *b = p->free;

	if (b) {
		p->free = b->next_free;
		SET(p->nfree, p->nfree - 1);
	} else {
		b = malloc(sizeof(*b));
		if (!b) {
			SET(p->failed, p->failed + 1);
			return NULL;
		}
	}
	b->head = b->tail = 0;
	SET(p->in_use, p->in_use + 1);
	return b;
}

void bufpool_put(struct bufpool *p, struct rbuf *b)
{
	SET(p->in_use, p->in_use - 1);
	if (p->nfree >= p->max_free) {
		free(b);
		return;
	}
	b->next_free = p->free;
	p->free = b;
	SET(p->nfree, p->nfree + 1);
}

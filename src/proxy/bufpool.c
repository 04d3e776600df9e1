#include "proxy/bufpool.h"

#include <stdlib.h>

void bufpool_init(struct bufpool *p, int max_free)
{
	p->free = NULL;
	p->nfree = 0;
	p->max_free = max_free;
	p->in_use = 0;
}

void bufpool_destroy(struct bufpool *p)
{
	while (p->free) {
		struct rbuf *b = p->free;
		p->free = b->next_free;
		free(b);
	}
	p->nfree = 0;
}

struct rbuf *bufpool_get(struct bufpool *p)
{
	struct rbuf *b = p->free;

	if (b) {
		p->free = b->next_free;
		p->nfree--;
	} else {
		b = malloc(sizeof(*b));
		if (!b)
			return NULL;
	}
	b->head = b->tail = 0;
	p->in_use++;
	return b;
}

void bufpool_put(struct bufpool *p, struct rbuf *b)
{
	p->in_use--;
	if (p->nfree >= p->max_free) {
		free(b);
		return;
	}
	b->next_free = p->free;
	p->free = b;
	p->nfree++;
}

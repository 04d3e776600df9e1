#include "proxy/pipepool.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/atomic.h"

void pipepool_init(struct pipepool *p, int max_free, int *total, int max_total)
{
	p->free = NULL;
	p->nfree = 0;
	p->max_free = max_free;
	p->in_use = 0;
	p->total = total;
	p->max_total = max_total;
	p->disabled = max_total <= 0;
}

static void destroy(struct pipepool *p, struct rpipe *pp)
{
	close(pp->rfd);
	close(pp->wfd);
	free(pp);
	ATOMIC_ADD(p->total, -1);
}

void pipepool_destroy(struct pipepool *p)
{
	while (p->free) {
		struct rpipe *pp = p->free;
		p->free = pp->next_free;
		destroy(p, pp);
	}
	p->nfree = 0;
}

struct rpipe *pipepool_get(struct pipepool *p)
{
	struct rpipe *pp = p->free;
	int fds[2], sz;

	if (pp) {
		p->free = pp->next_free;
		p->nfree--;
		p->in_use++;
		return pp;
	}
	if (p->disabled || !atomic_reserve(p->total, p->max_total))
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		ATOMIC_ADD(p->total, -1);
		return NULL;
	}
	pp = malloc(sizeof(*pp));
	if (!pp) {
		close(fds[0]);
		close(fds[1]);
		ATOMIC_ADD(p->total, -1);
		return NULL;
	}
	pp->rfd = fds[0];
	pp->wfd = fds[1];
	pp->count = 0;
	sz = fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES);
	if (sz == -1)
		sz = fcntl(fds[1], F_GETPIPE_SZ);
	pp->size = sz > 0 ? (uint32_t)sz : 65536;
	p->in_use++;
	return pp;
}

void pipepool_put(struct pipepool *p, struct rpipe *pp)
{
	p->in_use--;
	if (pp->count || p->nfree >= p->max_free) {
		destroy(p, pp);
		return;
	}
	pp->next_free = p->free;
	p->free = pp;
	p->nfree++;
}

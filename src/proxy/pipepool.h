/* Kernel pipes for splice(): a direction moving bulk data goes socket →
 * pipe → socket without copying through user space. Pipes are taken from a
 * per-thread pool only while they hold data, like relay buffers. */
#ifndef FERRY_PROXY_PIPEPOOL_H
#define FERRY_PROXY_PIPEPOOL_H
#include <stdint.h>

#define PIPE_BYTES (1 << 20) /* asked with F_SETPIPE_SZ; the kernel may give less */

struct rpipe {
	int rfd, wfd;
	uint32_t count;          /* bytes in the pipe */
	uint32_t size;           /* its capacity */
	struct rpipe *next_free;
};

struct pipepool {
	struct rpipe *free;
	int nfree, max_free;
	int in_use;
	int disabled;            /* no pipe budget at all: use buffers only */
	int *total;              /* pipes of every thread's pool, idle ones too (atomic) */
	int max_total;           /* the process's budget (maxpipes) */
};

/* A pool keeping at most max_free idle pipes, creating new ones while
 * *total (shared by every thread's pool) is below max_total. */
void pipepool_init(struct pipepool *p, int max_free, int *total, int max_total);
void pipepool_destroy(struct pipepool *p);
/* An empty pipe, or NULL (budget spent, no descriptors or memory left):
 * the caller then uses buffers. */
struct rpipe *pipepool_get(struct pipepool *p);
/* Gives back an empty pipe; a pipe with data left in it is closed. */
void pipepool_put(struct pipepool *p, struct rpipe *pp);

#endif

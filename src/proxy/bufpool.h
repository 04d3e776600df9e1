/* Relay buffers, taken from a per-thread pool only while data is in flight
 * and given back as soon as they are empty: a session at rest holds none,
 * and neither does one whose client has sent nothing yet (inspect.c takes
 * the first buffer only once bytes are there). */
#ifndef FERRY_PROXY_BUFPOOL_H
#define FERRY_PROXY_BUFPOOL_H
#include <stdint.h>

#define RBUF_SIZE 16384 /* HAProxy's tune.bufsize */

struct rbuf {
	uint32_t head, tail;      /* pending bytes are data[head..tail) */
	struct rbuf *next_free;
	char data[RBUF_SIZE];
};

/* Only the owning worker changes the counts; "show info" reads them from
 * another thread (relaxed atomic loads of single-writer stores). */
struct bufpool {
	struct rbuf *free;
	int nfree, max_free;
	int in_use;               /* buffers held by sessions now */
	uint32_t failed;          /* allocations that failed (HAProxy's PoolFailed) */
};

void bufpool_init(struct bufpool *p, int max_free);
void bufpool_destroy(struct bufpool *p);
/* Returns an empty buffer, or NULL when memory is exhausted. */
struct rbuf *bufpool_get(struct bufpool *p);
void bufpool_put(struct bufpool *p, struct rbuf *b);

#endif

/* Waiting connections, as HAProxy queues them: each server has a queue for
 * connections that must go to it (the algorithm chose it, e.g. by hashing
 * the client's address, and it is at its maxconn), and each backend has one
 * for connections that can go to any server (every server was full). A
 * freed slot of a server goes to the oldest entry of its own queue or of
 * the backend's, so entries of both carry one backend-wide sequence number.
 * Pure data: the proxy layer embeds a qnode in each session. */
#ifndef FERRY_BALANCE_QUEUE_H
#define FERRY_BALANCE_QUEUE_H
#include <stdint.h>

struct queue;

struct qnode {
	struct qnode *prev, *next;
	struct queue *q;           /* the queue it is in; NULL: none */
	uint64_t seq;              /* order of arrival, backend-wide */
	uint32_t idx;              /* the queue's idx when it arrived */
};

struct queue {
	struct qnode *head, *tail;
	int len;                   /* also read without the lock (atomic) */
	int max;                   /* the longest it was (qmax; "clear counters" resets it) */
	uint32_t idx;              /* entries that left it with a slot so far */
};

/* Appends n with sequence number seq. */
void queue_push(struct queue *q, struct qnode *n, uint64_t seq);
/* Takes n out of its queue. dequeued: it leaves with a slot (counted in
 * q->idx). Returns HAProxy's queue position for the log (%sq, %bq): 1 +
 * the entries that left this queue with a slot while n waited. */
int queue_remove(struct qnode *n, int dequeued);
/* The older of two queue heads (either may be NULL). */
struct qnode *queue_older(struct qnode *a, struct qnode *b);

#endif

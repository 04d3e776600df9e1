#include "balance/queue.h"

#include <stddef.h>

#include "core/atomic.h"

void queue_push(struct queue *q, struct qnode *n, uint64_t seq)
{
	n->q = q;
	n->seq = seq;
	n->idx = q->idx;
	n->next = NULL;
	n->prev = q->tail;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	if (ATOMIC_ADD(&q->len, 1) > q->max)
		ATOMIC_STORE(&q->max, q->len);
}

int queue_remove(struct qnode *n, int dequeued)
{
	struct queue *q = n->q;
	int pos;

	if (!q)
		return 0;
	if (n->prev)
		n->prev->next = n->next;
	else
		q->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		q->tail = n->prev;
	n->prev = n->next = NULL;
	n->q = NULL;
	ATOMIC_ADD(&q->len, -1);
	/* HAProxy counts from idx - 1 at arrival, so the first one served is 1 */
	pos = (int)(q->idx - n->idx) + 1;
	if (dequeued)
		q->idx++;
	return pos;
}

struct qnode *queue_older(struct qnode *a, struct qnode *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a->seq <= b->seq ? a : b;
}

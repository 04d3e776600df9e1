/* Binary min-heap of intrusive nodes keyed by a 64-bit value (timer deadlines).
 * A node knows its index, so removal and re-keying are O(log n). */
#ifndef FERRY_CORE_HEAP_H
#define FERRY_CORE_HEAP_H
#include <stdint.h>

struct heap_node {
	uint64_t key;
	int idx; /* position in the heap, -1 when not in it */
};

struct heap {
	struct heap_node **v;
	int n, cap;
};

void heap_init(struct heap *h);
void heap_free(struct heap *h);
/* Inserts node (must not be in a heap). Returns 0, or -1 on allocation failure. */
int heap_push(struct heap *h, struct heap_node *node);
/* Removes node if it is in the heap; no-op otherwise. */
void heap_remove(struct heap *h, struct heap_node *node);
/* Changes node's key and restores order; node must be in the heap. */
void heap_update(struct heap *h, struct heap_node *node, uint64_t key);
static inline struct heap_node *heap_top(const struct heap *h)
{
	return h->n ? h->v[0] : 0;
}

#endif

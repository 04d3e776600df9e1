#include "core/heap.h"

#include <stdlib.h>

void heap_init(struct heap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
}

void heap_free(struct heap *h)
{
	free(h->v);
	heap_init(h);
}

static void place(struct heap *h, int i, struct heap_node *x)
{
	h->v[i] = x;
	x->idx = i;
}

static void sift_up(struct heap *h, int i)
{
	struct heap_node *x = h->v[i];

	while (i > 0) {
		int p = (i - 1) / 2;
		if (h->v[p]->key <= x->key)
			break;
		place(h, i, h->v[p]);
		i = p;
	}
	place(h, i, x);
}

static void sift_down(struct heap *h, int i)
{
	struct heap_node *x = h->v[i];

	for (;;) {
		int c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->key < h->v[c]->key)
			c++;
		if (x->key <= h->v[c]->key)
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, x);
}

int heap_push(struct heap *h, struct heap_node *node)
{
	if (h->n == h->cap) {
		int cap = h->cap ? h->cap * 2 : 64;
		struct heap_node **v = realloc(h->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	place(h, h->n++, node);
	sift_up(h, node->idx);
	return 0;
}

void heap_remove(struct heap *h, struct heap_node *node)
{
	int i = node->idx;

	if (i < 0 || i >= h->n || h->v[i] != node)
		return;
	node->idx = -1;
	h->n--;
	if (i == h->n)
		return;
	struct heap_node *y = h->v[h->n];
	place(h, i, y);
	sift_up(h, i);
	sift_down(h, y->idx);
}

void heap_update(struct heap *h, struct heap_node *node, uint64_t key)
{
	uint64_t old = node->key;

	node->key = key;
	if (key < old)
		sift_up(h, node->idx);
	else
		sift_down(h, node->idx);
}

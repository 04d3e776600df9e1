/* Intrusive doubly linked list that keeps its length: the element holds a
 * struct dlist_link and is found again from it with dlist_entry(). Adding
 * and removing are O(1) and allocate nothing; an all-zero struct dlist is
 * an empty list. Used for a worker's objects under way that it must be
 * able to count (for a cap), end one by one, and free all at stop. */
#ifndef FERRY_CORE_DLIST_H
#define FERRY_CORE_DLIST_H
#include <stddef.h>

struct dlist_link {
	struct dlist_link *prev, *next;
};

struct dlist {
	struct dlist_link *first;
	int n;                         /* elements in the list */
};

/* The element of type `type` whose member `member` is the link ln. */
#define dlist_entry(ln, type, member) ((type *)((char *)(ln) - offsetof(type, member)))

/* Puts e (in no list) at the head of l. */
void dlist_push(struct dlist *l, struct dlist_link *e);
/* Takes e out of l, which holds it; e's links are cleared. */
void dlist_remove(struct dlist *l, struct dlist_link *e);

#endif

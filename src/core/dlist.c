/* Intrusive doubly linked list with a count (see dlist.h). */
#include "core/dlist.h"

void dlist_push(struct dlist *l, struct dlist_link *e)
{
	e->prev = NULL;
	e->next = l->first;
	if (l->first)
		l->first->prev = e;
	l->first = e;
	l->n++;
}

void dlist_remove(struct dlist *l, struct dlist_link *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	l->n--;
}

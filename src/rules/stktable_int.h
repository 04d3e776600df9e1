/* Inside the stick tables (stktable.c, stktable_data.c): an entry's layout. */
#ifndef FERRY_RULES_STKTABLE_INT_H
#define FERRY_RULES_STKTABLE_INT_H
#include "core/counters.h"
#include "rules/stktable.h"

/* One stored value: which member depends on its data type's kind. */
union stk_slot {
	uint64_t u;                /* UINT, ULL counters */
	int64_t s;                 /* SINT */
	struct freq_ctr f;         /* RATE */
	char *dict;                /* DICT: owned */
};

struct stksess {
	struct stksess *hnext;     /* same hash bucket */
	struct stksess *older, *newer; /* the age list */
	uint64_t expire;           /* ms: created or last touched + expire */
	int ref;                   /* references held by callers ("use=") */
	uint32_t hash;
	unsigned char *key;        /* key_size bytes, after the slots */
	union stk_slot data[];     /* t->nslots */
};

static inline unsigned char *stk_key_of(const struct stktable *t, const struct stksess *ts)
{
	(void)t;
	return ts->key;
}

/* stktable_data.c: a zeroed entry of t (NULL when out of memory), and its
 * end (what it owns too). */
struct stksess *stk_entry_new(const struct stktable *t);
void stk_entry_free(const struct stktable *t, struct stksess *ts);
/* Whether ts's data match all nf filters at now_ms (HAProxy's rule: a
 * filter on a data type the table does not store was refused before). */
int stk_entry_matches(const struct stktable *t, const struct stksess *ts, uint64_t now_ms,
		      const struct stk_filter *f, int nf);

#endif

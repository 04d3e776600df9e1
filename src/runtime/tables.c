/* The stick tables of a generation: one per proxy with a "stick-table"
 * line, built with the generation; a reload hands a table on to the new
 * generation when its name and layout (type, len, size, stored data and
 * periods) stay, so its entries survive (a new expire or nopurge applies
 * at once), and makes a new, empty one otherwise. Expired entries are
 * freed on worker 0's timer, a bounded batch per table and tick. */
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"
#include "runtime/runtime.h"

#define PURGE_EVERY_MS 1000
#define PURGE_BATCH 1024      /* entries freed per table and tick at most */

void gen_build_tables(struct generation *g)
{
	int n = 0;

	for (struct cfg_proxy *px = g->cfg->proxies; px; px = px->next)
		n += px->table != NULL;
	g->tables = xcalloc((size_t)(n ? n : 1), sizeof(*g->tables));
	for (struct cfg_proxy *px = g->cfg->proxies; px; px = px->next) {
		struct stktable *t;
		if (!px->table)
			continue;
		t = stktable_new(px->name, &px->table->def);
		if (!t)
			abort(); /* at build time: nothing sensible to go on with */
		g->tables[g->ntables++] = t;
	}
}

struct stktable *gen_find_table(const struct generation *g, const char *name)
{
	for (int i = 0; i < g->ntables; i++)
		if (!strcmp(g->tables[i]->name, name))
			return g->tables[i];
	return NULL;
}

void gen_carry_tables(struct generation *old, struct generation *g)
{
	for (int i = 0; i < g->ntables; i++) {
		struct stktable *o = gen_find_table(old, g->tables[i]->name);
		if (!o || !stk_def_same_layout(&o->def, &g->tables[i]->def))
			continue;
		stktable_redefine(o, &g->tables[i]->def);
		stktable_hold(o);
		stktable_put(g->tables[i]);
		g->tables[i] = o;
	}
}

void gen_free_tables(struct generation *g)
{
	for (int i = 0; i < g->ntables; i++)
		stktable_put(g->tables[i]);
	free(g->tables);
}

static void purge_tick(struct loop *l, struct timer *tm)
{
	struct runtime *rt = (struct runtime *)((char *)tm - offsetof(struct runtime, table_purge));
	struct generation *g = rt->gen;
	uint64_t next = PURGE_EVERY_MS;

	for (int i = 0; g && i < g->ntables; i++)
		if (stktable_purge(g->tables[i], l->now_ms, PURGE_BATCH) == PURGE_BATCH)
			next = 10; /* more waiting: come back soon */
	loop_timer_arm(l, tm, l->now_ms + next);
}

void runtime_tables_start(struct runtime *rt)
{
	timer_init(&rt->table_purge, purge_tick);
	loop_timer_arm(&rt->ws[0].loop, &rt->table_purge, rt->ws[0].loop.now_ms + PURGE_EVERY_MS);
}

void runtime_tables_stop(struct runtime *rt)
{
	if (rt->table_purge.cb && timer_armed(&rt->table_purge))
		loop_timer_cancel(&rt->ws[0].loop, &rt->table_purge);
}

/* Run-time DNS resolution of servers (resolvers sections): UDP queries on
 * worker 0's loop, answers applied to servers without a reload. */
#ifndef FERRY_RUNTIME_RESOLVERS_H
#define FERRY_RUNTIME_RESOLVERS_H
#include "ops/sbuf.h"

struct generation;

/* Starts resolving the servers of g that name a resolvers section (the
 * first queries go out at once); stop: closes its sockets and timers. */
void gen_start_resolvers(struct generation *g);
void gen_stop_resolvers(struct generation *g);
/* On reload, after gen_start_resolvers(g) and before old stops: each
 * name's last answer times (so hold periods go on, and no query goes out
 * before it is due) and each SRV record's slot, by backend and server
 * name, carried from old to g. The servers' addresses and resolution
 * maintenance are carried with their state (reload.c). */
void resolvers_carry(const struct generation *old, struct generation *g);
/* "show resolvers [name]": HAProxy's counters per nameserver. Returns 0,
 * or -1 when name is no section. */
int resolvers_show(const struct generation *g, const char *name, struct sbuf *out);

#endif

/* server-state-file, as HAProxy: at start, servers take the state saved by
 * "show servers state > file" (version 1) before a restart: what the checks
 * had found (DOWN stays DOWN until it rises), maintenance and drain set at
 * run time, and a weight set at run time when the configured one has not
 * changed since. A line for a backend or server that no longer exists is
 * skipped; a malformed line is reported and skipped. The saved addresses
 * and SRV records are read with the configuration (init-addr last:
 * config/parse_resolvers.c) and given to slots by resolvers.c. */
#include "runtime/runtime.h"

#include "config/server_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMF_FMAINT 0x01 /* HAProxy's srv_admin_state bits */
#define ADMF_CMAINT 0x04
#define ADMF_FDRAIN 0x08
#define ST_STOPPED 0     /* and its srv_op_state values */
#define ST_STARTING 1
#define ST_RUNNING 2
#define ST_STOPPING 3

static void apply_line(void *arg, const char *path, int lineno, char **f, int n)
{
	struct generation *g = arg;
	struct pbackend *be;
	struct server *s;
	struct check *c;
	long op, adm, uw, iw;

	if (n < 12) {
		WARN("%s:%d: server state line with %d fields, skipped", path, lineno, n);
		return;
	}
	be = gen_find_backend(g, f[1]);
	s = be ? gen_find_server(be, f[3]) : NULL;
	if (!s)
		return; /* gone from the configuration */
	op = strtol(f[5], NULL, 10);
	adm = strtol(f[6], NULL, 10);
	uw = strtol(f[7], NULL, 10);
	iw = strtol(f[8], NULL, 10);
	if (op < ST_STOPPED || op > ST_STOPPING || uw < 0 || uw > 256 || iw < 0 || iw > 256) {
		WARN("%s:%d: invalid server state for %s/%s, skipped", path, lineno, f[1], f[3]);
		return;
	}
	c = s->check;
	backend_lock(&be->lb);
	s->up = op != ST_STOPPED && op != ST_STARTING;
	if (op == ST_STOPPING)
		s->flags |= SRV_F_STOPPING;
	if (c)
		c->fsm.health = op == ST_RUNNING || op == ST_STOPPING ? c->fsm.rise + c->fsm.fall - 1
			      : op == ST_STARTING ? c->fsm.rise - 1 : 0;
	if (adm & ADMF_FMAINT)
		s->flags |= SRV_F_FMAINT;
	if (adm & ADMF_FDRAIN)
		s->flags |= SRV_F_FDRAIN;
	/* a weight set at run time, unless the configured one changed since */
	if (iw == s->iweight && uw != s->uweight)
		server_set_weight(s, (int)uw);
	backend_update(&be->lb);
	backend_unlock(&be->lb);
}

void state_file_apply(struct generation *g)
{
	cfg_state_each(g->cfg, 1, apply_line, g);
}

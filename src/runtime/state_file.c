/* server-state-file, as HAProxy: at start, servers take the state saved by
 * "show servers state > file" (version 1) before a restart: what the checks
 * had found (DOWN stays DOWN until it rises), maintenance and drain set at
 * run time, and a weight set at run time when the configured one has not
 * changed since. A line for a backend or server that no longer exists is
 * skipped; a malformed line is reported and skipped. */
#include "runtime/runtime.h"

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

static void apply_line(struct generation *g, const char *path, int lineno, char *line)
{
	char *f[32], *save = NULL;
	int n = 0;
	struct pbackend *be;
	struct server *s;
	struct check *c;
	long op, adm, uw, iw;

	for (char *t = strtok_r(line, " \t\n", &save); t && n < 32; t = strtok_r(NULL, " \t\n", &save))
		f[n++] = t;
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

static void load_file(struct generation *g, const char *path, const char *only_backend)
{
	FILE *fp = fopen(path, "r");
	char line[4096];
	int lineno = 0;

	if (!fp) {
		WARN("cannot read server state file '%s': %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		char name[256];
		lineno++;
		if (lineno == 1) {
			if (strtol(line, NULL, 10) != 1) {
				WARN("%s: unknown server state file version '%.*s', file ignored", path,
				     (int)strcspn(line, "\n"), line);
				break;
			}
			continue;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (only_backend && (sscanf(line, "%*s %255s", name) != 1 || strcmp(name, only_backend)))
			continue;
		apply_line(g, path, lineno, line);
	}
	fclose(fp);
}

/* base + name, unless name is absolute. */
static void path_of(const struct cfg *c, const char *name, char *out, size_t len)
{
	if (name[0] == '/' || !c->g.state_base)
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "%s/%s", c->g.state_base, name);
}

void state_file_apply(struct generation *g)
{
	const struct cfg *c = g->cfg;
	char path[4096];
	int global_done = 0;

	for (int i = 0; i < g->nbe; i++) {
		const struct cfg_proxy *px = g->bes[i]->cfg;
		if (px->load_state == SSF_GLOBAL && c->g.state_file && !global_done) {
			path_of(c, c->g.state_file, path, sizeof(path));
			load_file(g, path, NULL); /* every backend's lines at once */
			global_done = 1;
		} else if (px->load_state == SSF_LOCAL) {
			path_of(c, px->state_file_name ? px->state_file_name : px->name, path, sizeof(path));
			load_file(g, path, px->name);
		}
	}
}

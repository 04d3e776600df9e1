/* Checks that need the whole configuration: references between sections,
 * missing binds and timeouts, and the values servers inherit. */
#include "config/model.h"

#include <string.h>
#include <sys/un.h>

static void check_frontend(struct cfg *c, struct cfg_proxy *px)
{
	const char *kind = px->cap == PX_CAP_FE ? "frontend" : "listen";

	if (!px->binds)
		cfg_error(c, px->file, px->line,
			  "%s '%s' has no 'bind' line (declare it as a backend if it only holds servers)",
			  kind, px->name);
	if (px->default_backend) {
		px->be = cfg_find_proxy(c, px->default_backend, PX_CAP_BE);
		if (!px->be)
			cfg_error(c, px->file, px->default_backend_line ? px->default_backend_line : px->line,
				  "%s '%s': default_backend '%s' does not exist",
				  kind, px->name, px->default_backend);
	} else if (px->cap & PX_CAP_BE) {
		px->be = px;
	} else {
		cfg_warn(c, px->file, px->line,
			 "frontend '%s' has no default_backend: its connections will be closed at once",
			 px->name);
	}
	if (!px->to.client)
		cfg_warn(c, px->file, px->line,
			 "%s '%s' has no 'timeout client': idle clients are never closed", kind, px->name);
}

static void check_backend(struct cfg *c, struct cfg_proxy *px)
{
	if (!px->to.connect || !px->to.server)
		cfg_warn(c, px->file, px->line,
			 "%s '%s' is missing 'timeout connect' or 'timeout server': connections may hang forever",
			 px->cap == PX_CAP_BE ? "backend" : "listen", px->name);
	httpchk_validate(c, px);
	for (struct cfg_server *s = px->servers; s; s = s->next) {
		const struct addr_spec *a = s->has_check_addr ? &s->check_addr : &s->addr;
		char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
		int port;
		/* libpq reaches a unix socket as host=<dir> port=<n> */
		if (px->check_type == CHK_PGSQL && s->o.check && a->ss.ss_family == AF_UNIX &&
		    (a->kind == ADDR_K_ABNS ||
		     addr_pgsql_socket(((const struct sockaddr_un *)&a->ss)->sun_path, dir, sizeof(dir), &port)))
			cfg_error(c, s->file, s->line,
				  "server '%s': the PostgreSQL check reaches a unix socket as libpq does, so its path must end in '/.s.PGSQL.<port>' (got '%s')",
				  s->name, s->has_check_addr ? s->o.check_addr : s->addr_text);
		if (!s->o.fastinter)
			s->o.fastinter = s->o.inter;
		if (!s->o.downinter)
			s->o.downinter = s->o.inter;
	}
}

int cfg_validate(struct cfg *c)
{
	cfg_validate_stats(c); /* the stats frontends leave c->proxies */
	cfg_validate_resolvers(c);
	for (struct cfg_proxy *px = c->proxies; px; px = px->next) {
		if (px->cap & PX_CAP_FE)
			check_frontend(c, px);
		if (px->cap & PX_CAP_BE)
			check_backend(c, px);
	}
	if (!c->proxies && !c->stats_fes)
		cfg_error(c, c->nfiles ? c->files[0] : "config", 0,
			  "no frontend, backend or listen section: nothing to do");
	if (c->g.zero_warning && c->nwarn)
		cfg_error(c, c->nfiles ? c->files[0] : "config", 0,
			  "Some warnings were found and 'zero-warning' is set. Aborting.");
	return c->nerr;
}

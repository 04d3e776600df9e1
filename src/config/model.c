#include "config/model.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cfg_init(struct cfg *c, FILE *diag)
{
	memset(c, 0, sizeof(*c));
	c->diag = diag ? diag : stderr;
	c->g.nbthread = 1;
}

static void free_srv_opts(struct cfg_srv_opts *o)
{
	free(o->check_addr);
}

static void free_proxy(struct cfg_proxy *px)
{
	while (px->binds) {
		struct cfg_bind *b = px->binds;
		px->binds = b->next;
		free(b->text);
		free(b->addrs);
		free(b);
	}
	while (px->servers) {
		struct cfg_server *s = px->servers;
		px->servers = s->next;
		free(s->name);
		free(s->addr_text);
		free_srv_opts(&s->o);
		free(s);
	}
	log_targets_close(&px->logs);
	free(px->logs.v);
	free(px->default_backend);
	free_srv_opts(&px->dflt_srv);
	free(px->name);
	free(px);
}

void cfg_free(struct cfg *c)
{
	while (c->proxies) {
		struct cfg_proxy *px = c->proxies;
		c->proxies = px->next;
		free_proxy(px);
	}
	while (c->defaults) {
		struct cfg_proxy *px = c->defaults;
		c->defaults = px->next;
		free_proxy(px);
	}
	log_targets_close(&c->g.logs);
	free(c->g.logs.v);
	free(c->g.pidfile);
	for (int i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	memset(c, 0, sizeof(*c));
}

struct cfg_proxy *cfg_find_proxy(const struct cfg *c, const char *name, int cap)
{
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		if ((px->cap & cap) && !strcmp(px->name, name))
			return px;
	return NULL;
}

static void vdiag(struct cfg *c, const char *file, int line, const char *tag,
		  const char *fmt, va_list ap)
{
	if (file && line > 0)
		fprintf(c->diag, "%s:%d: %s", file, line, tag);
	else if (file)
		fprintf(c->diag, "%s: %s", file, tag);
	else
		fprintf(c->diag, "%s", tag);
	vfprintf(c->diag, fmt, ap);
	fputc('\n', c->diag);
	fflush(c->diag);
}

void cfg_error(struct cfg *c, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(c, file, line, "", fmt, ap);
	va_end(ap);
	c->nerr++;
}

void cfg_warn(struct cfg *c, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(c, file, line, "warning: ", fmt, ap);
	va_end(ap);
	c->nwarn++;
}

const char *lb_algo_name(enum lb_algo a)
{
	static const char *const n[] = { "roundrobin", "static-rr", "leastconn",
					 "first", "source", "random" };
	return n[a];
}

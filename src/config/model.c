#include "config/model.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/regex.h"

void cfg_init(struct cfg *c, FILE *diag)
{
	memset(c, 0, sizeof(*c));
	c->diag = diag ? diag : stderr;
	c->g.nbthread = 0; /* as HAProxy: one thread per usable CPU unless set */
	c->g.ux_mode = -1;
	c->g.ux_uid = c->g.ux_gid = -1;
	c->g.uid = c->g.gid = c->g.user_gid = -1;
}

static void free_srv_opts(struct cfg_srv_opts *o)
{
	free(o->check_addr);
	free(o->agent_send);
}

void tcr_list_free(struct tcr_list *l)
{
	for (int i = 0; i < l->n; i++) {
		free(l->v[i].data);
		free(l->v[i].on_error);
		free(l->v[i].on_success);
		free(l->v[i].comment);
		rx_free(l->v[i].re);
		tcr_http_free(l->v[i].http);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void pgcheck_free(struct cfg_pgcheck *pg)
{
	free(pg->user);
	free(pg->password);
	free(pg->dbname);
	free(pg->sslmode);
	memset(pg, 0, sizeof(*pg));
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
		free(s->fqdn);
		free_srv_opts(&s->o);
		free(s);
	}
	log_targets_close(&px->logs);
	free(px->logs.v);
	free(px->default_backend);
	free(px->logformat);
	free_srv_opts(&px->dflt_srv);
	tcr_list_free(&px->rules);
	tcr_list_free(&px->hrules);
	pgcheck_free(&px->pg);
	free(px->state_file_name);
	cfg_stats_free(px->stats);
	for (int i = 0; i < px->nhttp_lines; i++)
		free(px->http_lines[i].msg);
	free(px->http_lines);
	free(px->ignored);
	for (int i = 0; i < px->rlines.n; i++) {
		for (int k = 0; k < px->rlines.v[i].n; k++)
			free(px->rlines.v[i].w[k]);
		free(px->rlines.v[i].w);
	}
	free(px->rlines.v);
	cfg_stktable_free(px->table);
	free(px->name);
	free(px);
}

void cfg_free(struct cfg *c)
{
	if (c->rules && c->rules_free)
		c->rules_free(c->rules);
	c->rules = NULL;
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
	while (c->stats_fes) {
		struct cfg_proxy *px = c->stats_fes;
		c->stats_fes = px->next;
		free_proxy(px);
	}
	cfg_resolvers_free(c);
	log_targets_close(&c->g.logs);
	free(c->g.logs.v);
	free(c->g.pidfile);
	free(c->g.state_file);
	free(c->g.state_base);
	free(c->g.ux_prefix);
	free(c->g.chroot);
	while (c->g.stats_sockets) {
		struct cfg_stats_socket *ss = c->g.stats_sockets;
		c->g.stats_sockets = ss->next;
		free(ss->text);
		free(ss->path);
		free(ss);
	}
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

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void tcr_list_copy(struct tcr_list *dst, const struct tcr_list *src)
{
	dst->n = 0;
	dst->v = NULL;
	if (!src->n)
		return;
	dst->v = calloc((size_t)src->n, sizeof(*dst->v));
	if (!dst->v)
		abort();
	for (int i = 0; i < src->n; i++) {
		struct tcr *r = &dst->v[i];
		*r = src->v[i];
		if (src->v[i].data) {
			r->data = malloc(src->v[i].len + 1);
			if (!r->data)
				abort();
			memcpy(r->data, src->v[i].data, src->v[i].len + 1);
		}
		r->on_error = dup_or_null(src->v[i].on_error);
		r->on_success = dup_or_null(src->v[i].on_success);
		r->comment = dup_or_null(src->v[i].comment);
		/* each list owns its compiled expressions */
		if (src->v[i].re && !(r->re = rx_dup(src->v[i].re)))
			abort();
		r->http = tcr_http_dup(src->v[i].http);
	}
	dst->n = src->n;
}

void pgcheck_copy(struct cfg_pgcheck *dst, const struct cfg_pgcheck *src)
{
	*dst = *src;
	dst->user = dup_or_null(src->user);
	dst->password = dup_or_null(src->password);
	dst->dbname = dup_or_null(src->dbname);
	dst->sslmode = dup_or_null(src->sslmode);
}

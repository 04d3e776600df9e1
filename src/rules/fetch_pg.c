/* PostgreSQL fetches (ferry's own, HAProxy has none): what the client's
 * first message said, as the session of a PostgreSQL frontend (option
 * pgsql) parsed it (proto/pgwire.h) and put in ctx->pg and ctx->pg_flags.
 *
 * The session evaluates the rules once the first message is complete, so
 * these never ask for more bytes (-1): a message that is not there is no
 * sample. They are content fetches (RF_USE_CONTENT): at accept nothing has
 * been read, and a tcp-request connection rule gets HAProxy's "will never
 * match" warning, as for req.len. */
#include "rules/rules_int.h"

#include <stdio.h>
#include <string.h>

#include "proto/pgwire.h"

/* The StartupMessage, or NULL: none read, or the first message was
 * another one (SSLRequest: the parameters come encrypted, never seen). */
static const struct pg_first *startup(const struct rule_ctx *c)
{
	return c->pg && c->pg->kind == PG_FIRST_STARTUP ? c->pg : NULL;
}

static int param(const struct rule_ctx *c, const char *name, struct sample *s)
{
	const struct pg_first *m = startup(c);
	const char *v = m ? pg_startup_param(m, name) : NULL;

	if (!v)
		return 0;
	s->type = SMP_STR;
	s->p = (const uint8_t *)v;
	s->len = strlen(v);
	return 1;
}

static int f_pg_database(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return param(c, "database", s);
}

static int f_pg_user(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return param(c, "user", s);
}

static int f_pg_application_name(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return param(c, "application_name", s);
}

static int f_pg_param(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return a[0].s ? param(c, a[0].s, s) : 0;
}

/* "3.0", "3.2": the version the StartupMessage asks for. */
static int f_pg_protocol(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	const struct pg_first *m = startup(c);
	int n;

	if (!m)
		return 0;
	n = snprintf(s->buf, sizeof(s->buf), "%u.%u", (unsigned)(m->proto >> 16), (unsigned)(m->proto & 0xffff));
	s->type = SMP_STR;
	s->p = (const uint8_t *)s->buf;
	s->len = (size_t)n;
	return 1;
}

/* A boolean of a PostgreSQL frontend; no sample elsewhere, so that
 * "unless { pg.ssl_request }" does not match on another frontend. */
static int pg_bool(const struct rule_ctx *c, int v, struct sample *s)
{
	if (!(c->pg_flags & RC_PG_FE))
		return 0;
	s->type = SMP_BOOL;
	s->i = v;
	return 1;
}

static int f_pg_ssl_request(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return pg_bool(c, (c->pg_flags & RC_PG_SSL) != 0, s);
}

static int f_pg_cancel_request(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return pg_bool(c, c->pg && c->pg->kind == PG_FIRST_CANCEL, s);
}

#define CT RF_USE_CONTENT
#define PP (RF_USE_CONTENT | RF_PG_PARAMS)

/* Arguments: C = a string (the parameter's name). */
static const struct fetch_def pg_fetches[] = {
	{ "pg.application_name", "", SMP_STR, PP, PM_STR, f_pg_application_name },
	{ "pg.cancel_request", "", SMP_BOOL, CT, PM_BOOL, f_pg_cancel_request },
	{ "pg.database", "", SMP_STR, PP, PM_STR, f_pg_database },
	{ "pg.param", "C", SMP_STR, PP, PM_STR, f_pg_param },
	{ "pg.protocol", "", SMP_STR, PP, PM_STR, f_pg_protocol },
	{ "pg.ssl_request", "", SMP_BOOL, CT, PM_BOOL, f_pg_ssl_request },
	{ "pg.user", "", SMP_STR, PP, PM_STR, f_pg_user },
	{ NULL, NULL, 0, 0, 0, NULL }
};

const struct fetch_def *fetch_pg_find(const char *name, size_t len)
{
	if (len < 3 || memcmp(name, "pg.", 3))
		return NULL;
	for (const struct fetch_def *f = pg_fetches; f->name; f++)
		if (strlen(f->name) == len && !memcmp(f->name, name, len))
			return f;
	return NULL;
}

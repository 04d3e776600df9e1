/* The runtime API's reading commands: show info, show stat, show servers
 * state, show backend, show errors, with HAProxy 2.6's arguments, formats
 * and sentences. */
#include "ops/cli_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/atomic.h"
#include "ops/metrics.h"
#include "ops/stats.h"
#include "runtime/resolvers.h"

/* ---- lookups shared by the commands --------------------------------------------- */

struct pbackend *cli_find_backend(struct cli_req *r, const char *name)
{
	struct pbackend *be;

	if (!*name) {
		cli_print(r, "A backend name is expected.\n");
		return NULL;
	}
	be = gen_find_backend(r->sess->rt->gen, name);
	if (!be)
		cli_print(r, "No such backend.\n");
	return be;
}

struct frontend *cli_find_frontend(struct cli_req *r, const char *name)
{
	struct frontend *fe;

	if (!*name) {
		cli_print(r, "A frontend name is expected.\n");
		return NULL;
	}
	fe = gen_find_frontend(r->sess->rt->gen, name);
	if (!fe)
		cli_print(r, "No such frontend.\n");
	return fe;
}

struct server *cli_find_server(struct cli_req *r, char *arg)
{
	char *slash = strchr(arg, '/');
	struct pbackend *be;
	struct server *s;

	if (slash)
		*slash++ = 0;
	if (!slash || !*slash || !*arg) {
		cli_print(r, "Require 'backend/server'.\n");
		return NULL;
	}
	be = gen_find_backend(r->sess->rt->gen, arg);
	s = be ? gen_find_server(be, slash) : NULL;
	if (!s || (s->flags & SRV_F_DELETED)) {
		cli_print(r, be ? "No such server.\n" : "No such backend.\n");
		return NULL;
	}
	return s;
}

/* A proxy named by its name or HAProxy's numeric id (show stat, show
 * errors); 0 when none. */
static int proxy_iid(const struct runtime *rt, const char *arg)
{
	for (const struct cfg_proxy *px = rt->gen->cfg->proxies; px; px = px->next)
		if (!strcmp(px->name, arg))
			return stat_iid(px->uuid);
	return atoi(arg);
}

/* ---- show info --------------------------------------------------------------------- */

static int cmd_show_info(struct cli_req *r)
{
	struct info_line l;
	int typed = 0, json = 0, desc = 0;

	for (int i = 2; *r->args[i]; i++) {
		if (!strcmp(r->args[i], "typed"))
			typed = 1, json = 0;
		else if (!strcmp(r->args[i], "json"))
			json = 1, typed = 0;
		else if (!strcmp(r->args[i], "desc"))
			desc = 1;
		/* "float" prints the same integers: ferry keeps whole seconds */
	}
	stat_fill_info(&l, r->sess->rt);
	if (json)
		info_emit_json(&r->out, &l);
	else if (typed)
		info_emit_typed(&r->out, &l, desc);
	else
		info_emit_plain(&r->out, &l, desc);
	return CLI_DONE;
}

/* ---- show stat --------------------------------------------------------------------- */

enum stat_fmt { FMT_CSV, FMT_TYPED, FMT_JSON };

struct stat_out {
	struct sbuf *o;
	enum stat_fmt fmt;
	int desc, n;
};

static int stat_out_line(void *arg, const struct stat_line *l)
{
	struct stat_out *so = arg;

	if (so->fmt == FMT_TYPED)
		stat_emit_typed(so->o, l, so->desc);
	else if (so->fmt == FMT_JSON)
		stat_emit_json(so->o, l, so->n == 0);
	else
		stat_emit_csv(so->o, l);
	so->n++;
	return 0;
}

/* show stat [domain proxy] [{<iid>|<proxy>} <type> <sid>] [typed|json|desc|up|no-maint]* */
static int cmd_show_stat(struct cli_req *r)
{
	struct stat_filter f = STAT_FILTER_ALL;
	struct stat_out so = { &r->out, FMT_CSV, 0, 0 };
	unsigned flags = r->sess->sock_level >= CLI_LEVEL_OPER ? STAT_F_LEGENDS : 0;
	char **a = r->args + 2;

	if (!strcmp(a[0], "domain")) {
		if (!strcmp(a[1], "resolvers"))
			return CLI_DONE; /* ferry resolves names at start only: no resolvers to show */
		if (strcmp(a[1], "proxy")) {
			cli_print(r, "Invalid statistics domain.\n");
			return CLI_DONE;
		}
		a += 2;
	}
	if (*a[0] && *a[1] && *a[2]) {
		f.iid = proxy_iid(r->sess->rt, a[0]);
		if (!f.iid) {
			cli_print(r, "No such proxy.\n");
			return CLI_DONE;
		}
		f.types = atoi(a[1]);
		f.sid = atoi(a[2]);
		a += 3;
	}
	for (; *a[0]; a++) {
		if (!strcmp(a[0], "typed"))
			so.fmt = FMT_TYPED;
		else if (!strcmp(a[0], "json"))
			so.fmt = FMT_JSON;
		else if (!strcmp(a[0], "desc"))
			so.desc = 1;
		else if (!strcmp(a[0], "no-maint"))
			flags |= STAT_F_HIDE_MAINT;
		else if (!strcmp(a[0], "up"))
			flags |= STAT_F_HIDE_DOWN;
	}
	if (so.fmt == FMT_CSV)
		stat_csv_header(&r->out);
	else if (so.fmt == FMT_JSON)
		sbuf_add(&r->out, "[", 1);
	stat_walk(r->sess->rt, &f, flags, stat_out_line, &so);
	if (so.fmt == FMT_JSON)
		sbuf_add(&r->out, "]\n", 2);
	return CLI_DONE;
}

/* ---- show servers state -------------------------------------------------------------- */

#define SRV_STATE_FIELDS "be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state " \
	"srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result " \
	"srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn " \
	"srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

/* HAProxy's numbers for check statuses (HCHK_STATUS_*) and results (CHK_RES_*). */
static int check_status_num(const char *st)
{
	static const char *const names[] = { "UNK", "INI", "START", "CHECKED", "HANA", "SOCKERR", "L4OK",
					     "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT",
					     "L7RSP", "L57DATA", "L7OK", "L7OKC", "L7STS" };

	for (int i = 0; st && i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(st, names[i]))
			return i;
	return 1;
}

static int check_result_num(const struct check *c)
{
	if (!c || !c->status || !strcmp(c->status, "INI"))
		return 0; /* unknown */
	if (!strcmp(c->status, "L7OKC"))
		return 4; /* conditionally passed */
	return c->last_ok > 0 ? 3 : 2;
}

/* The host name of a server written with one ("-" for an address). */
static void server_fqdn(const struct srv_rt *x, char *out, size_t len)
{
	const char *a = x->cs->addr_text;
	unsigned char tmp[16];
	char host[256];
	size_t n;

	snprintf(out, len, "-");
	if (!a || x->cs->addr.ss.ss_family == AF_UNIX)
		return;
	if (!strncmp(a, "ipv4@", 5) || !strncmp(a, "ipv6@", 5))
		a += 5;
	if (*a == '[')
		return; /* [ipv6]:port */
	n = strcspn(a, ":");
	if (strchr(a + n + (a[n] != 0), ':'))
		return; /* several colons: an IPv6 address */
	snprintf(host, sizeof(host), "%.*s", (int)n, a);
	if (!*host || inet_pton(AF_INET, host, tmp) == 1)
		return;
	snprintf(out, len, "%s", host);
}

static void server_state_line(struct cli_req *r, const struct pbackend *be, const struct server *s)
{
	const struct srv_rt *x = (const struct srv_rt *)s;
	const struct check *c = s->check;
	uint64_t now = r->sess->rt->ws[0].loop.now_ms;
	uint64_t since = s->last_change_ms ? s->last_change_ms : r->sess->rt->start_ms;
	int maint = (s->flags & SRV_F_ANY_MAINT) != 0;
	int chk_en = x->has_check && !(s->flags & SRV_F_NOCHECK);
	int agent_down = x->has_agent && !(s->flags & SRV_F_NOAGENT) && (s->flags & SRV_F_AGENT_DOWN);
	int op = !s->up || maint || agent_down ? 0 : (s->flags & SRV_F_STOPPING) ? 3 : 2;
	int admin = ((s->flags & (SRV_F_MAINT | SRV_F_FMAINT | SRV_F_AGENT_MAINT)) ? 0x01 : 0) |
		    ((s->flags & SRV_F_RMAINT) ? 0x20 : 0) |
		    (x->cs->o.disabled ? 0x04 : 0) | ((s->flags & SRV_F_FDRAIN) ? 0x08 : 0);
	int health = maint ? 0 : c ? c->fsm.health : x->cs->o.rise;
	/* paused: in maintenance with its check on, or disabled in the configuration */
	int chk_state = (x->has_check ? 0x02 : 0) | (chk_en ? 0x04 : 0) |
			(maint && (chk_en || x->cs->o.disabled) ? 0x08 : 0) | (c && c->running ? 0x01 : 0);
	int agt_state = x->has_agent ? 0x12 | (!(s->flags & SRV_F_NOAGENT) ? 0x04 : 0) : 0;
	char ip[64], fqdn[256], chk_addr[64] = "-";

	addr_ip_str((const struct sockaddr *)&s->addr, ip, sizeof(ip));
	if (s->addr.ss_family == AF_UNIX || s->addr.ss_family == AF_UNSPEC)
		snprintf(ip, sizeof(ip), "-"); /* HAProxy's srv_addr of a unix server, or none yet (resolvers) */
	server_fqdn(x, fqdn, sizeof(fqdn));
	if (x->dns_host) /* what resolvers ask for it now (a SRV record's target) */
		snprintf(fqdn, sizeof(fqdn), "%s", x->dns_host);
	else if (x->cs->fqdn && x->cs->fqdn[0] == '_')
		snprintf(fqdn, sizeof(fqdn), "-");
	if (x->cs->has_check_addr)
		addr_ip_str((const struct sockaddr *)&x->cs->check_addr.ss, chk_addr, sizeof(chk_addr));
	sbuf_printf(&r->out, "%d %s %d %s %s %d %d %d %d %ld %d %d %d %d %d 0 0 %s %d %s 0 %d %s - %d\n",
		    stat_iid(be->lb.uuid), be->lb.name, s->id, s->name, ip, op, admin, s->uweight,
		    s->iweight, (long)((now > since ? now - since : 0) / 1000),
		    check_status_num(c ? c->status : "INI"), check_result_num(c), health, chk_state,
		    agt_state, fqdn, s->port_omitted ? 0 : addr_port((const struct sockaddr *)&s->addr),
		    x->cs->fqdn && x->cs->fqdn[0] == '_' ? x->cs->fqdn : "-",
		    c ? c->port : x->cs->o.check_port, chk_addr, x->has_agent ? x->cs->o.agent_port : 0);
}

static int cmd_show_servers_state(struct cli_req *r)
{
	const struct generation *g = r->sess->rt->gen;
	const struct pbackend *only = NULL;

	if (*r->args[3]) {
		only = gen_find_backend(g, r->args[3]);
		if (!only) {
			cli_print(r, "Can't find backend.\n");
			return CLI_DONE;
		}
	}
	sbuf_puts(&r->out, "1\n# " SRV_STATE_FIELDS "\n");
	for (int b = 0; b < g->nbe; b++) {
		const struct pbackend *be = g->bes[b];
		if (only && be != only)
			continue;
		for (int i = 0; i < be->lb.nsrv; i++)
			server_state_line(r, be, be->lb.srv[i]);
	}
	return CLI_DONE;
}

/* HAProxy's counters per nameserver of each resolvers section. */
static int cmd_show_resolvers(struct cli_req *r)
{
	if (resolvers_show(r->sess->rt->gen, r->args[2], &r->out))
		cli_print(r, "Can't find that resolvers section\n");
	return CLI_DONE;
}

/* ---- show backend, show errors ---------------------------------------------------------- */

static int cmd_show_backend(struct cli_req *r)
{
	const struct generation *g = r->sess->rt->gen;

	sbuf_puts(&r->out, "# name\n");
	for (int b = 0; b < g->nbe; b++)
		sbuf_printf(&r->out, "%s\n", g->bes[b]->lb.name);
	return CLI_DONE;
}

/* ferry never parses what it relays, so it captures no protocol errors:
 * the list is always empty, with HAProxy's heading. */
static int cmd_show_errors(struct cli_req *r)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct timespec ts;
	struct tm tm;

	if (!cli_has_level(r, CLI_LEVEL_OPER))
		return CLI_DONE;
	if (*r->args[2] && !proxy_iid(r->sess->rt, r->args[2])) {
		cli_print(r, "No such proxy.\n");
		return CLI_DONE;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	sbuf_printf(&r->out, "Total events captured on [%02d/%s/%04d:%02d:%02d:%02d.%03d] : 0\n",
		    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (int)(ts.tv_nsec / 1000000));
	return CLI_DONE;
}

/* ---- show pg (ferry's own) ------------------------------------------------------------ */

/* One line per server with a role-aware PostgreSQL check: its role, the
 * primary's timeline, a replica's lag in bytes and seconds, the last
 * check's status and reason. */
static int cmd_show_pg(struct cli_req *r)
{
	const struct generation *g = r->sess->rt->gen;
	const struct pbackend *only = NULL;

	if (*r->args[2] && !(only = cli_find_backend(r, r->args[2])))
		return CLI_DONE;
	sbuf_puts(&r->out, "# be_name srv_name role timeline lag_bytes lag_seconds check_status last_chk\n");
	for (int b = 0; b < g->nbe; b++) {
		const struct pbackend *be = g->bes[b];
		if ((only && be != only) || be->cfg->check_type != CHK_PGSQL)
			continue;
		for (int i = 0; i < be->lb.nsrv; i++) {
			const struct server *s = be->lb.srv[i];
			const struct check *c = s->check;
			struct pg_info pg;
			char tl[16] = "-";
			if (!c || pgcheck_info(c, &pg))
				memset(&pg, 0, sizeof(pg));
			if (pg.answered && !pg.in_recovery)
				snprintf(tl, sizeof(tl), "%d", pg.timeline);
			sbuf_printf(&r->out, "%s %s %s %s %lld %.3f %s %s\n", be->lb.name, s->name,
				    !pg.answered ? "-" : pg.in_recovery ? "replica" : "primary", tl,
				    pg.lag_bytes, pg.lag_seconds, c && c->status ? c->status : "INI",
				    c ? c->info : "");
		}
	}
	return CLI_DONE;
}

/* ferry's own, not in the help: the Prometheus scrape the HTTP listener
 * serves at /metrics, here for scripts and tests. */
static int cmd_show_metrics(struct cli_req *r)
{
	metrics_render(r->sess->rt, &r->out);
	return CLI_DONE;
}

const struct cli_cmd cli_cmds_show[] = {
	{ { "show", "info", NULL },
	  "show info [desc|json|typed|float]*      : report information about the running process", cmd_show_info },
	{ { "show", "stat", NULL },
	  "show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server", cmd_show_stat },
	{ { "show", "servers", "state", NULL },
	  "show servers state [<backend>]          : dump volatile server information (all or for a single backend)",
	  cmd_show_servers_state },
	{ { "show", "resolvers", NULL },
	  "show resolvers [id]                     : dumps counters from all resolvers section and associated name servers",
	  cmd_show_resolvers },
	{ { "show", "backend", NULL },
	  "show backend                            : list backends in the current running config", cmd_show_backend },
	{ { "show", "errors", NULL },
	  "show errors [<px>] [request|response]   : report last request and/or response errors for each proxy",
	  cmd_show_errors },
	{ { "show", "pg", NULL },
	  "show pg [<backend>]                     : PostgreSQL role, timeline and lag of role-checked servers (ferry)",
	  cmd_show_pg },
	{ { "show", "metrics", NULL }, NULL, cmd_show_metrics },
	{ { NULL }, NULL, NULL }
};

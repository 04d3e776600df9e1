/* The runtime API's server commands, with HAProxy 2.6's arguments, levels
 * (every change is for admins) and sentences: set server, set/get weight,
 * set maxconn server, enable/disable server/health/agent, add/del server.
 * The changes themselves are in runtime/actions.c. */
#include "ops/cli_int.h"

#include <stdio.h>
#include <string.h>

/* The server named by r->args[i] for an admin command, or NULL after the
 * refusal was written. */
static struct server *admin_server(struct cli_req *r, int i)
{
	if (!cli_has_level(r, CLI_LEVEL_ADMIN))
		return NULL;
	return cli_find_server(r, r->args[i]);
}

static void print_opt(struct cli_req *r, const char *msg)
{
	if (msg)
		cli_print(r, msg);
}

/* ---- set server ------------------------------------------------------------------ */

static void set_state(struct cli_req *r, struct server *s, const char *v)
{
	struct runtime *rt = r->sess->rt;

	if (!strcmp(v, "ready"))
		act_server_ready(rt, s);
	else if (!strcmp(v, "drain"))
		act_server_drain(rt, s);
	else if (!strcmp(v, "maint"))
		act_server_maint(rt, s);
	else
		cli_print(r, "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
}

static void set_health(struct cli_req *r, struct server *s, const char *v)
{
	struct runtime *rt = r->sess->rt;

	if (!strcmp(v, "up"))
		act_server_health(rt, s, ACT_UP);
	else if (!strcmp(v, "stopping"))
		act_server_health(rt, s, ACT_STOPPING);
	else if (!strcmp(v, "down"))
		act_server_health(rt, s, ACT_DOWN);
	else
		cli_print(r, "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n");
}

static void set_agent(struct cli_req *r, struct server *s, const char *v)
{
	const struct srv_rt *x = (const struct srv_rt *)s;

	if (!x->has_agent || (s->flags & SRV_F_NOAGENT))
		cli_print(r, "agent checks are not enabled on this server.\n");
	else if (!strcmp(v, "up") || !strcmp(v, "down"))
		print_opt(r, act_server_agent(r->sess->rt, s, !strcmp(v, "up")));
	else
		cli_print(r, "'set server <srv> agent' expects 'up' or 'down'.\n");
}

static void set_addr(struct cli_req *r, struct server *s)
{
	char msg[512];

	if (!*r->args[4]) {
		cli_print(r, "set server <b>/<s> addr requires an address and optionally a port.\n");
		return;
	}
	act_server_addr(r->sess->rt, s, r->args[4], !strcmp(r->args[5], "port") ? r->args[6] : NULL,
			msg, sizeof(msg));
	cli_print(r, msg);
}

static void set_port(struct cli_req *r, struct server *s, int agent)
{
	char msg[256];

	if (!*r->args[4]) {
		sbuf_printf(&r->out, "set server <b>/<s> %s requires a port.\n", r->args[3]);
		return;
	}
	act_server_check_port(r->sess->rt, s, r->args[4], agent, msg, sizeof(msg));
	cli_print(r, msg);
}

static int cmd_set_server(struct cli_req *r)
{
	struct server *s = admin_server(r, 2);
	const char *what = r->args[3];

	if (!s)
		return CLI_DONE;
	if (!strcmp(what, "weight"))
		print_opt(r, act_server_weight(r->sess->rt, s, r->args[4]));
	else if (!strcmp(what, "state"))
		set_state(r, s, r->args[4]);
	else if (!strcmp(what, "health"))
		set_health(r, s, r->args[4]);
	else if (!strcmp(what, "agent"))
		set_agent(r, s, r->args[4]);
	else if (!strcmp(what, "addr"))
		set_addr(r, s);
	else if (!strcmp(what, "check-port") || !strcmp(what, "agent-port"))
		set_port(r, s, !strcmp(what, "agent-port"));
	else if (!strcmp(what, "agent-addr") || !strcmp(what, "agent-send") || !strcmp(what, "check-addr") ||
		 !strcmp(what, "fqdn") || !strcmp(what, "ssl"))
		sbuf_printf(&r->out, "'set server <srv> %s' is not supported by ferry yet.\n", what);
	else
		cli_print(r, "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | "
			     "agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n");
	return CLI_DONE;
}

/* ---- weights, maxconn ------------------------------------------------------------- */

static int cmd_set_weight(struct cli_req *r)
{
	struct server *s = admin_server(r, 2);

	if (s)
		print_opt(r, act_server_weight(r->sess->rt, s, r->args[3]));
	return CLI_DONE;
}

/* Any level, as HAProxy's. */
static int cmd_get_weight(struct cli_req *r)
{
	struct server *s = cli_find_server(r, r->args[2]);

	if (s)
		sbuf_printf(&r->out, "%d (initial %d)\n", s->uweight, s->iweight);
	return CLI_DONE;
}

static int cmd_set_maxconn_server(struct cli_req *r)
{
	struct server *s = admin_server(r, 3);

	if (s)
		print_opt(r, act_server_maxconn(r->sess->rt, s, r->args[4]));
	return CLI_DONE;
}

/* ---- enable / disable ---------------------------------------------------------------- */

static int cmd_server_onoff(struct cli_req *r)
{
	struct server *s = admin_server(r, 2);
	int on = !strcmp(r->args[0], "enable");

	if (!s)
		return CLI_DONE;
	if (on)
		act_server_ready(r->sess->rt, s);
	else
		act_server_maint(r->sess->rt, s);
	return CLI_DONE;
}

static int cmd_health_onoff(struct cli_req *r)
{
	struct server *s = admin_server(r, 2);

	if (s)
		print_opt(r, act_server_check_enable(r->sess->rt, s, !strcmp(r->args[0], "enable")));
	return CLI_DONE;
}

static int cmd_agent_onoff(struct cli_req *r)
{
	struct server *s = admin_server(r, 2);

	if (s)
		print_opt(r, act_server_agent_enable(r->sess->rt, s, !strcmp(r->args[0], "enable")));
	return CLI_DONE;
}

/* ---- add / del server ------------------------------------------------------------------ */

/* "backend/server" split in place; NULL after HAProxy's sentence (written
 * without a line feed, as its add/del server do). */
static struct pbackend *split_backend(struct cli_req *r, char **name)
{
	char *slash = strchr(r->args[2], '/');
	struct pbackend *be;

	if (!slash || !slash[1]) {
		cli_print(r, "Require 'backend/server'.");
		return NULL;
	}
	*slash = 0;
	*name = slash + 1;
	be = gen_find_backend(r->sess->rt->gen, r->args[2]);
	if (!be)
		cli_print(r, "No such backend.");
	return be;
}

static int cmd_add_server(struct cli_req *r)
{
	struct pbackend *be;
	char *words[CLI_MAX_ARGS], err[512];
	const char *e;
	int n = 0;

	if (!cli_has_level(r, CLI_LEVEL_ADMIN) || !(be = split_backend(r, &words[0])))
		return CLI_DONE;
	n = 1;
	for (int i = 3; *r->args[i] && n < CLI_MAX_ARGS; i++)
		words[n++] = r->args[i];
	e = act_server_add(r->sess->rt, be, words, n, err, sizeof(err));
	cli_print(r, e ? e : "New server registered.\n");
	return CLI_DONE;
}

static int cmd_del_server(struct cli_req *r)
{
	struct pbackend *be;
	struct server *s;
	char *name;
	const char *e;

	if (!cli_has_level(r, CLI_LEVEL_ADMIN) || !(be = split_backend(r, &name)))
		return CLI_DONE;
	s = gen_find_server(be, name);
	if (!s) {
		cli_print(r, "No such server.");
		return CLI_DONE;
	}
	e = act_server_del(r->sess->rt, be, s);
	cli_print(r, e ? e : "Server deleted.");
	return CLI_DONE;
}

const struct cli_cmd cli_cmds_server[] = {
	{ { "set", "server", NULL },
	  "set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl", cmd_set_server },
	{ { "set", "weight", NULL },
	  "set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)", cmd_set_weight },
	{ { "get", "weight", NULL },
	  "get weight <bk>/<srv>                   : report a server's current weight", cmd_get_weight },
	{ { "set", "maxconn", "server", NULL },
	  "set maxconn server <bk>/<srv>           : change a server's maxconn setting", cmd_set_maxconn_server },
	{ { "disable", "server", NULL },
	  "disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)",
	  cmd_server_onoff },
	{ { "enable", "server", NULL },
	  "enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)",
	  cmd_server_onoff },
	{ { "disable", "health", NULL },
	  "disable health                          : disable health checks", cmd_health_onoff },
	{ { "enable", "health", NULL },
	  "enable health                           : enable health checks", cmd_health_onoff },
	{ { "disable", "agent", NULL },
	  "disable agent                           : disable agent checks", cmd_agent_onoff },
	{ { "enable", "agent", NULL },
	  "enable agent                            : enable agent checks", cmd_agent_onoff },
	{ { "add", "server", NULL },
	  "add server <bk>/<srv>                   : create a new server", cmd_add_server },
	{ { "del", "server", NULL },
	  "del server <bk>/<srv>                   : remove a dynamically added server", cmd_del_server },
	{ { NULL }, NULL, NULL }
};

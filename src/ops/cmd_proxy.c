/* The runtime API's process and frontend commands: clear counters, set
 * maxconn frontend|global, disable|enable|shutdown frontend, reload. */
#include "ops/cli_int.h"

#include <stdlib.h>
#include <string.h>

/* clear counters [all]: operators may clear the maxima, admins everything
 * (HAProxy 2.6). */
static int cmd_clear_counters(struct cli_req *r)
{
	int all = !strcmp(r->args[2], "all");
	struct ops *o = r->sess->rt->ops;

	if (!cli_has_level(r, CLI_LEVEL_OPER) || (all && !cli_has_level(r, CLI_LEVEL_ADMIN)))
		return CLI_DONE;
	act_clear_counters(r->sess->rt, all);
	o->max_conn_rate = o->max_sess_rate = 0;
	return CLI_DONE;
}

static void print_opt(struct cli_req *r, const char *msg)
{
	if (msg)
		cli_print(r, msg);
}

static int cmd_set_maxconn_frontend(struct cli_req *r)
{
	struct frontend *fe;

	if (!cli_has_level(r, CLI_LEVEL_ADMIN) || !(fe = cli_find_frontend(r, r->args[3])))
		return CLI_DONE;
	print_opt(r, act_maxconn_frontend(r->sess->rt, fe, r->args[4]));
	return CLI_DONE;
}

static int cmd_set_maxconn_global(struct cli_req *r)
{
	if (cli_has_level(r, CLI_LEVEL_ADMIN))
		print_opt(r, act_maxconn_global(r->sess->rt, r->args[3]));
	return CLI_DONE;
}

/* disable, enable and shutdown frontend <fe> */
static int cmd_frontend(struct cli_req *r)
{
	struct runtime *rt = r->sess->rt;
	struct frontend *fe;

	if (!cli_has_level(r, CLI_LEVEL_ADMIN) || !(fe = cli_find_frontend(r, r->args[2])))
		return CLI_DONE;
	if (!strcmp(r->args[0], "disable"))
		print_opt(r, act_frontend_disable(rt, fe));
	else if (!strcmp(r->args[0], "enable"))
		print_opt(r, act_frontend_enable(rt, fe));
	else
		print_opt(r, act_frontend_shutdown(rt, fe));
	return CLI_DONE;
}

/* ferry's own: reads the configuration again (runtime_reload) and says
 * what it did, or why not. */
static int cmd_reload(struct cli_req *r)
{
	char *out;

	if (!cli_has_level(r, CLI_LEVEL_ADMIN))
		return CLI_DONE;
	out = malloc(65536);
	if (!out) {
		cli_print(r, "Out of memory.\n");
		return CLI_DONE;
	}
	out[0] = 0;
	runtime_reload(r->sess->rt, "stats socket", out, 65536);
	cli_print(r, out);
	free(out);
	return CLI_DONE;
}

const struct cli_cmd cli_cmds_proxy[] = {
	{ { "clear", "counters", NULL },
	  "clear counters [all]                    : clear max statistics counters (or all counters)",
	  cmd_clear_counters },
	{ { "set", "maxconn", "frontend", NULL },
	  "set maxconn frontend <frontend> <value> : change a frontend's maxconn setting", cmd_set_maxconn_frontend },
	{ { "set", "maxconn", "global", NULL },
	  "set maxconn global <value>              : change the per-process maxconn setting", cmd_set_maxconn_global },
	{ { "disable", "frontend", NULL },
	  "disable frontend <frontend>             : temporarily disable specific frontend", cmd_frontend },
	{ { "enable", "frontend", NULL },
	  "enable frontend <frontend>              : re-enable specific frontend", cmd_frontend },
	{ { "shutdown", "frontend", NULL },
	  "shutdown frontend <frontend>            : stop a specific frontend", cmd_frontend },
	{ { "reload", NULL },
	  "reload                                  : reload the configuration files (ferry)", cmd_reload },
	{ { NULL }, NULL, NULL }
};

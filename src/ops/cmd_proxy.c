/* The runtime API's process and frontend commands: clear counters. */
#include "ops/cli_int.h"

#include <string.h>

#include "runtime/actions.h"

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

const struct cli_cmd cli_cmds_proxy[] = {
	{ { "clear", "counters", NULL },
	  "clear counters [all]                    : clear max statistics counters (or all counters)",
	  cmd_clear_counters },
	{ { NULL }, NULL, NULL }
};

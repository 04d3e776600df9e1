/* The runtime API's place in the runtime: its sockets open with the first
 * generation, follow each reload (prepared beside the serving ones, kept
 * when the path or address stays, switched with the generation) and close
 * with the process (src/ops does the work). */
#include "runtime/runtime.h"

#include "ops/cli.h"
#include "runtime/actions.h"

int runtime_ops_start(struct runtime *rt, char *err, size_t errlen)
{
	return ops_start(rt, err, errlen);
}

int runtime_ops_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen)
{
	if (!ops_cli_prepare(rt, c, err, errlen))
		return 0;
	ops_cli_abort(rt);
	return -1;
}

void runtime_ops_commit(struct runtime *rt)
{
	ops_cli_commit(rt, rt->cfg);
}

void runtime_ops_stop(struct runtime *rt)
{
	ops_stop(rt);
	act_fanout_abandon(rt); /* the other threads have stopped: no answer will come */
}

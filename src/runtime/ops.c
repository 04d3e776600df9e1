/* The runtime API's place in the runtime: its sockets open with the first
 * generation and close with the process (src/ops does the work). */
#include "runtime/runtime.h"

#include "ops/cli.h"
#include "runtime/actions.h"

int runtime_ops_start(struct runtime *rt, char *err, size_t errlen)
{
	return ops_start(rt, err, errlen);
}

void runtime_ops_stop(struct runtime *rt)
{
	ops_stop(rt);
	act_fanout_abandon(rt); /* the other threads have stopped: no answer will come */
}

/* The stats frontends' place in the runtime: their HTTP listeners
 * (src/ops/http.c) open with the first generation on worker 0 only (never
 * the TCP session path), follow each reload (prepared beside the serving
 * ones, kept when the address stays, switched with the generation), close
 * at a graceful stop and at exit. */
#include "runtime/runtime.h"

#include "ops/http.h"

int runtime_stats_fe_start(struct runtime *rt, char *err, size_t errlen)
{
	if (http_prepare(rt, rt->cfg, err, errlen)) {
		http_abort(rt);
		return -1;
	}
	http_commit(rt);
	return 0;
}

int runtime_stats_fe_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen)
{
	if (!http_prepare(rt, c, err, errlen))
		return 0;
	http_abort(rt);
	return -1;
}

void runtime_stats_fe_commit(struct runtime *rt)
{
	http_commit(rt);
}

void runtime_stats_fe_abort(struct runtime *rt)
{
	http_abort(rt);
}

void runtime_stats_fe_stop_listening(struct runtime *rt)
{
	http_stop_listening(rt);
}

void runtime_stats_fe_stop(struct runtime *rt)
{
	http_stop(rt);
}

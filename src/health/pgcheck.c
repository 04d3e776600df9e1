/* Placeholder until the libpq check lands: reports that it is unavailable. */
#include "health/check.h"

void pgcheck_run(struct check *c)
{
	check_done(c, 0, "L7STS", "PostgreSQL role checks are not built in yet");
}

void pgcheck_timeout(struct check *c)
{
	(void)c;
}

void pgcheck_release(struct check *c)
{
	(void)c;
}

/* Reload: the configuration read again inside the running process. */
#include "runtime/runtime.h"

#include <stdio.h>

int runtime_reload(struct runtime *rt, const char *why, char *out, size_t outlen)
{
	(void)rt;
	(void)why;
	snprintf(out, outlen, "reload is not implemented yet\n");
	return -1;
}

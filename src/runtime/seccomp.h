/* The system-call allowlist (seccomp.c): once start-up is done, every
 * thread of ferry may make only the system calls its running needs. */
#ifndef FERRY_RUNTIME_SECCOMP_H
#define FERRY_RUNTIME_SECCOMP_H
#include <stddef.h>

#include "config/model.h"

/* Installs the filter on every thread of the process (TSYNC), unless the
 * configuration says "no-seccomp". Any call outside the list is stopped
 * before it runs and the process dies of SIGSYS, after a line on stderr
 * naming the call. With FERRY_TEST_SECCOMP_TRIGGER set in the
 * environment, ferry then makes one call outside the list (a harmless
 * personality query) to show that. Returns 0, or -1 with err filled. */
int sandbox_install(const struct cfg_global *g, char *err, size_t errlen);
#endif

/* The system-call allowlist (seccomp.c): once start-up is done, every
 * thread of ferry may make only the system calls its running needs. */
#ifndef FERRY_RUNTIME_SECCOMP_H
#define FERRY_RUNTIME_SECCOMP_H
#include <stddef.h>

#include "config/model.h"
#include "core/log.h"

/* Installs the filter on every thread of the process (TSYNC), unless the
 * configuration says "no-seccomp". Any call outside the list is stopped
 * before it runs and the process dies of SIGSYS, after a line on stderr
 * naming the call. With FERRY_TEST_SECCOMP_TRIGGER set in the
 * environment, ferry then makes one call outside the list (a harmless
 * personality query) to show that. Returns 0, or -1 with err filled. */
int sandbox_install(const struct cfg_global *g, char *err, size_t errlen);
/* The log targets the SIGSYS line goes to besides stderr (the global
 * section's), copied: called before sandbox_install and by each reload
 * once its targets are open, before the old ones close. */
void sandbox_set_logs(const struct log_targets *t);
/* 1 once the filter is installed (it stays until the process ends). */
int sandbox_active(void);
/* 1 when "no-seccomp" left it off at start (a reload cannot install it). */
int sandbox_off_by_config(void);
#endif

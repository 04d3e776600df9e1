/* Least privilege (privs.c): what ferry gives up once start-up has opened
 * everything that needs root (listeners, stats sockets, log sockets, the
 * pid file). */
#ifndef FERRY_RUNTIME_PRIVS_H
#define FERRY_RUNTIME_PRIVS_H
#include <stddef.h>
#include <sys/socket.h>

#include "config/model.h"

/* Whether ferry may serve as the user it runs as: as root it needs
 * "user"/"uid" or "insecure-run-as-root". Returns 0, or -1 with the
 * sentence in err (check_only: the sentence is a warning, and 0). */
int privs_check_start(const struct cfg_global *g, int check_only, char *err, size_t errlen);
/* On the main thread, before any other thread starts (checked): chroot,
 * supplementary groups cleared, setgid/setuid, every capability gone
 * (but cap_net_bind_service with "setcap"), no_new_privs. Staying root
 * (insecure-run-as-root, or "user root") keeps the capabilities. With a
 * chroot, unix log sockets are connected first (their paths go out of
 * reach). Returns
 * 0, or -1 with err filled (the caller exits). */
int privs_drop(struct cfg *c, char *err, size_t errlen);
/* A reload in a chroot: the unix log targets of c take the connected
 * sockets of old's (their paths are outside the chroot). */
void privs_take_logs(struct cfg *c, const struct cfg *old);
/* Once every thread has started: RLIMIT_NPROC 0 (no process or thread
 * can start any more), unless insecure-fork-wanted, as HAProxy 2.6. */
void privs_lock_forks(const struct cfg_global *g);
/* After bind() on ss failed with errno e: why, when it is a port below
 * 1024 that ferry gave up the right to bind (a sentence starting with
 * "; "), else "". */
const char *privs_bind_hint(const struct sockaddr_storage *ss, int e);
/* The chroot ferry is in, or NULL: a reload reads its files there. */
const char *privs_chroot(void);
#endif

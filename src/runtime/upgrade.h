/* Binary upgrade: listening sockets passed from the running process to
 * the next one (see upgrade.c). */
#ifndef FERRY_RUNTIME_UPGRADE_H
#define FERRY_RUNTIME_UPGRADE_H
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>

/* A listening socket received from the previous process. */
struct inherited {
	int fd;
	struct sockaddr_storage ss;  /* its address (getsockname) */
	int used;                    /* taken by a listener, or not a TCP listener */
};

/* Asks the process behind the unix socket path for its listening sockets.
 * Returns 0 with *out (caller releases with upgrade_release) and *n, or -1
 * with err filled. */
int upgrade_fetch(const char *path, struct inherited **out, int *n, char *err, size_t errlen);
/* An unused received socket listening on ss, now used; -1 when none. */
int upgrade_take(struct inherited *v, int n, const struct sockaddr_storage *ss);
/* Closes the sockets nobody took (addresses gone from the configuration:
 * the old process's copies close with it) and frees v. */
void upgrade_release(struct inherited *v, int n);
/* The answer to "_getsocks" on a stats socket with expose-fd listeners:
 * sends the n descriptors over the connected unix socket s (HAProxy's
 * format). Returns 0 or -1. */
int upgrade_send(int s, const int *fds, int n);

#endif

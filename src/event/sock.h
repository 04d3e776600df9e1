/* Socket helpers. They return an fd or a negative errno and write a
 * sentence into the caller's buffer; they never log. */
#ifndef FERRY_EVENT_SOCK_H
#define FERRY_EVENT_SOCK_H
#include <stddef.h>
#include <sys/socket.h>

#define SOCK_V6_DEFAULT -1

/* Listening socket, non-blocking, SO_REUSEADDR and SO_REUSEPORT (a unix
 * one: sock_listen_unix with the umask's mode and ferry's owner).
 * v6only: 1, 0 or SOCK_V6_DEFAULT (leave the system default). */
int sock_listen(const struct sockaddr *sa, socklen_t len, int backlog, int v6only,
		char *err, size_t errlen);
/* A listening unix stream socket at un (a path, or an abstract name when
 * sun_path[0] is 0), non-blocking. A path is bound under "<path>.<pid>.tmp",
 * given mode (-1: the umask's) and owner (-1: unchanged), listened on, then
 * renamed over the path, as HAProxy does: a socket left by an earlier
 * process, or one still serving, is replaced in one step. *dev and *ino
 * (may be NULL) get the file's identity, so a later unlink can check the
 * file is still this one. Returns the fd or a negative errno with err
 * filled in HAProxy's words. */
struct sockaddr_un;
int sock_listen_unix(const struct sockaddr_un *un, int backlog, int mode, long uid, long gid,
		     unsigned long *dev, unsigned long *ino, char *err, size_t errlen);
/* Non-blocking connect. Returns the fd (connection in progress or done) or
 * a negative errno. */
int sock_connect(const struct sockaddr *sa, socklen_t len);
/* The same from a source address (HAProxy's "source ADDR[:PORT]"): the
 * socket is bound to src first; with port 0 the kernel picks the port at
 * connect time (IP_BIND_ADDRESS_NO_PORT), so sources share the ephemeral
 * range with every destination. src NULL: as sock_connect. */
int sock_connect_from(const struct sockaddr *sa, socklen_t len, const struct sockaddr *src, socklen_t srclen);
/* The pending error of a connecting socket (0 when connected). */
int sock_error(int fd);
void sock_set_nodelay(int fd);
void sock_set_keepalive(int fd);
/* TCP urgent data stays in the stream (SO_OOBINLINE): a relay must not
 * lose the urgent byte. */
void sock_set_oobinline(int fd);
/* 1 when the next byte to read is TCP urgent data (SIOCATMARK), else 0. */
int sock_at_urgent_mark(int fd);
/* Makes the next close() send a reset instead of a FIN. */
void sock_set_reset_on_close(int fd);

#endif

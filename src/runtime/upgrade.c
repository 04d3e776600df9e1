/* Binary upgrade, as HAProxy's "-x <socket>": a new process asks the
 * running one, on a stats socket declared with "expose-fd listeners", for
 * its listening sockets ("_getsocks"), receives them over the unix socket
 * (SCM_RIGHTS) and accepts on them instead of binding, so no client is
 * refused while one process hands over to the other; then it tells the old
 * one to finish (-sf: SIGUSR1) or stop (-st: SIGTERM). The exchange is
 * HAProxy 2.x's own (an int with the count, then batches of at most 252
 * descriptors, each described by an empty namespace, an empty interface
 * and four zero bytes, an int acknowledging each full batch), so ferry can
 * also take over the sockets of a running HAProxy. */
#include "runtime/upgrade.h"

#include "core/addr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SEND_FD 252           /* HAProxy's batch size */
#define DESC_MAX (1 + 255 + 1 + 16 + 4) /* ns len, ns, if len, if, options */

/* A socket the old process held under several descriptors (an fd@ bind:
 * one per worker) arrives as many times: one copy is enough here, the
 * others are closed (the socket lives on in the one kept). */
static void drop_copies(struct inherited *v, int n)
{
	struct stat *st = calloc(n > 0 ? (size_t)n : 1, sizeof(*st));

	if (!st)
		return; /* copies stay: each is adopted, which only wastes a little */
	for (int i = 0; i < n; i++)
		if (v[i].used || fstat(v[i].fd, &st[i]) == -1)
			st[i].st_ino = 0;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; st[i].st_ino && j < n; j++)
			if (st[j].st_ino == st[i].st_ino && st[j].st_dev == st[i].st_dev && !v[j].used) {
				close(v[j].fd);
				v[j].fd = -1;
				v[j].used = 1;
				st[j].st_ino = 0;
			}
	free(st);
}

/* A unix socket's name is the one it was bound under, "<path>.<pid>.tmp"
 * (ferry's and HAProxy's), before the rename to <path>: the name is cut
 * back to <path>, so it matches the bind line (a stats socket passed too
 * matches none and is closed). */
static void unix_bound_name(struct sockaddr_un *un)
{
	char *p = un->sun_path, *end, *dot;
	size_t n = strnlen(p, sizeof(un->sun_path));

	if (!p[0] || n < 6 || strcmp(p + n - 4, ".tmp"))
		return;
	end = p + n - 4;
	for (dot = end; dot > p && dot[-1] >= '0' && dot[-1] <= '9'; dot--)
		;
	if (dot < end && dot > p && dot[-1] == '.')
		memset(dot - 1, 0, (size_t)(p + sizeof(un->sun_path) - (dot - 1)));
}

int upgrade_fetch(const char *path, struct inherited **out, int *n, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	char *cbuf = NULL, *desc = NULL;
	int s = -1, total = 0, got = 0, rc = -1;
	struct inherited *v = NULL;

	*out = NULL;
	*n = 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: '%s'", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot connect to the running process's socket '%s': %s", path, strerror(errno));
		goto out;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(s, "_getsocks\n", 10, MSG_NOSIGNAL) != 10 ||
	    recv(s, &total, sizeof(total), MSG_WAITALL) != (ssize_t)sizeof(total)) {
		snprintf(err, errlen, "'%s' sent no sockets (is it a stats socket with 'expose-fd listeners'?)", path);
		goto out;
	}
	if (total < 0 || total > 65536) {
		snprintf(err, errlen, "'%s' announced %d sockets", path, total);
		goto out;
	}
	v = calloc((size_t)(total ? total : 1), sizeof(*v));
	cbuf = malloc(CMSG_SPACE(MAX_SEND_FD * sizeof(int)));
	desc = malloc(MAX_SEND_FD * DESC_MAX);
	if (!v || !cbuf || !desc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (got < total) {
		struct iovec iov = { .iov_base = desc, .iov_len = MAX_SEND_FD * DESC_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = CMSG_SPACE(MAX_SEND_FD * sizeof(int)) };
		ssize_t r = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
		int zero = 0, batch = 0;

		if (r <= 0) {
			snprintf(err, errlen, "'%s' stopped after %d of %d sockets", path, got, total);
			goto out;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t k;
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (got < total)
					v[got++].fd = fd;
				else
					close(fd);
				batch++;
			}
		}
		if (batch == MAX_SEND_FD && send(s, &zero, sizeof(zero), MSG_NOSIGNAL) != sizeof(zero))
			break; /* the sender waits for this after a full batch */
	}
	for (int i = 0; i < got; i++) {
		socklen_t l = sizeof(v[i].ss);
		int listening = 0;
		socklen_t ll = sizeof(listening);
		if (getsockname(v[i].fd, (struct sockaddr *)&v[i].ss, &l) == -1 ||
		    getsockopt(v[i].fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) == -1 || !listening ||
		    (v[i].ss.ss_family != AF_INET && v[i].ss.ss_family != AF_INET6 && v[i].ss.ss_family != AF_UNIX))
			v[i].used = 1; /* not a stream listener: not ours to take */
		else if (v[i].ss.ss_family == AF_UNIX)
			unix_bound_name((struct sockaddr_un *)&v[i].ss);
	}
	drop_copies(v, got);
	*out = v;
	*n = got;
	v = NULL;
	rc = 0;
out:
	free(v);
	free(cbuf);
	free(desc);
	if (s >= 0)
		close(s);
	return rc;
}

int upgrade_take(struct inherited *v, int n, const struct sockaddr_storage *ss)
{
	for (int i = 0; i < n; i++)
		if (!v[i].used && addr_same_endpoint(&v[i].ss, ss)) {
			v[i].used = 1;
			return v[i].fd;
		}
	return -1;
}

void upgrade_release(struct inherited *v, int n)
{
	for (int i = 0; i < n; i++)
		if (!v[i].used)
			close(v[i].fd);
	free(v);
}
int upgrade_send(int s, const int *fds, int n)
{
	char *cbuf = malloc(CMSG_SPACE(MAX_SEND_FD * sizeof(int)));
	char desc[MAX_SEND_FD * 6];
	int rc = -1, flags = fcntl(s, F_GETFL);
	struct timeval tv = { .tv_sec = 1 };

	if (!cbuf || flags == -1 || fcntl(s, F_SETFL, flags & ~O_NONBLOCK) == -1)
		goto out;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(s, &n, sizeof(n), MSG_NOSIGNAL) != sizeof(n))
		goto out;
	memset(desc, 0, sizeof(desc)); /* per socket: no namespace, no interface, no options */
	for (int off = 0; off < n; off += MAX_SEND_FD) {
		int k = n - off < MAX_SEND_FD ? n - off : MAX_SEND_FD, ack;
		struct iovec iov = { .iov_base = desc, .iov_len = (size_t)k * 6 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = CMSG_SPACE((size_t)k * sizeof(int)) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		/* CMSG_FIRSTHDR is NULL only when msg_controllen is below one
		 * header, and here it is CMSG_SPACE() of k >= 1 fds (off < n);
		 * gcc's analyzer does not follow that arithmetic. */
#if !defined(__clang__) /* clang knows no -Wanalyzer-* */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-null-dereference"
#endif
		c->cmsg_level = SOL_SOCKET;
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)k * sizeof(int));
		memcpy(CMSG_DATA(c), fds + off, (size_t)k * sizeof(int));
		if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
			goto out;
		if (k == MAX_SEND_FD && recv(s, &ack, sizeof(ack), 0) <= 0)
			goto out;
	}
	rc = 0;
out:
	if (flags != -1)
		fcntl(s, F_SETFL, flags);
	free(cbuf);
	return rc;
}

#include "event/sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/addr.h"

int sock_listen(const struct sockaddr *sa, socklen_t len, int backlog, int v6only,
		char *err, size_t errlen)
{
	int one = 1, fd, e;
	char a[128];

	if (sa->sa_family == AF_UNIX)
		return sock_listen_unix((const struct sockaddr_un *)sa, backlog, -1, -1, -1, NULL, NULL, err,
					errlen);
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		e = errno;
		snprintf(err, errlen, "cannot create socket: %s", strerror(e));
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (sa->sa_family == AF_INET6 && v6only != SOCK_V6_DEFAULT)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, sa, len) == -1 || listen(fd, backlog) == -1) {
		e = errno;
		addr_str(sa, a, sizeof(a));
		snprintf(err, errlen, "cannot bind to %s: %s", a, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int sock_listen_unix(const struct sockaddr_un *un, int backlog, int mode, long uid, long gid,
		     unsigned long *dev, unsigned long *ino, char *err, size_t errlen)
{
	struct sockaddr_un tmp = { .sun_family = AF_UNIX };
	const char *path = un->sun_path;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;
	struct stat st;

	if (fd == -1) {
		e = errno;
		snprintf(err, errlen, "cannot create socket: %s", strerror(e));
		return -e;
	}
	if (!path[0]) { /* abstract: no file to replace or to own */
		if (bind(fd, (const struct sockaddr *)un, sizeof(*un)) == -1 || listen(fd, backlog) == -1) {
			e = errno;
			snprintf(err, errlen, "cannot bind UNIX socket (%s) [abns@%.*s]", strerror(e),
				 (int)sizeof(un->sun_path) - 1, path + 1);
			goto fail;
		}
		return fd;
	}
	if (snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%.*s.%d.tmp", (int)sizeof(un->sun_path), path,
		     (int)getpid()) >= (int)sizeof(tmp.sun_path)) {
		e = ENAMETOOLONG;
		snprintf(err, errlen, "path '%s' is too long for a unix socket", path);
		goto fail;
	}
	unlink(tmp.sun_path);
	if (bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)) == -1) {
		e = errno;
		snprintf(err, errlen, "cannot bind UNIX socket (%s) [%s]", strerror(e), path);
		goto fail;
	}
	if ((mode >= 0 && chmod(tmp.sun_path, (mode_t)mode) == -1) ||
	    ((uid >= 0 || gid >= 0) && chown(tmp.sun_path, (uid_t)uid, (gid_t)gid) == -1)) {
		e = errno;
		snprintf(err, errlen, "cannot change UNIX socket ownership or mode (%s) [%s]", strerror(e), path);
		goto fail_unlink;
	}
	if (listen(fd, backlog) == -1 || rename(tmp.sun_path, path) == -1) {
		e = errno;
		snprintf(err, errlen, "cannot listen on UNIX socket (%s) [%s]", strerror(e), path);
		goto fail_unlink;
	}
	if (stat(path, &st) == 0) {
		if (dev)
			*dev = (unsigned long)st.st_dev;
		if (ino)
			*ino = (unsigned long)st.st_ino;
	}
	return fd;
fail_unlink:
	unlink(tmp.sun_path);
fail:
	close(fd);
	return -e;
}

int sock_connect(const struct sockaddr *sa, socklen_t len)
{
	return sock_connect_from(sa, len, NULL, 0);
}

int sock_connect_from(const struct sockaddr *sa, socklen_t len, const struct sockaddr *src, socklen_t srclen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int e, one = 1;

	if (fd == -1)
		return -errno;
	if (src && sa->sa_family != AF_UNIX) { /* a unix connection has no source (HAProxy's neither) */
		int port = src->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)src)->sin6_port
						       : ((const struct sockaddr_in *)src)->sin_port;
		if (!port)
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		else
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, src, srclen) == -1) {
			e = errno;
			close(fd);
			return -e;
		}
	}
	if (connect(fd, sa, len) == -1 && errno != EINPROGRESS) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int sock_error(int fd)
{
	int e = 0;
	socklen_t l = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) == -1)
		return errno;
	return e;
}

void sock_set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void sock_set_keepalive(int fd)
{
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

void sock_set_oobinline(int fd)
{
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
}

int sock_at_urgent_mark(int fd)
{
	int at = 0;

	return ioctl(fd, SIOCATMARK, &at) == 0 && at;
}

void sock_set_reset_on_close(int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* DNS over TCP to one nameserver (see dns_tcp.h). The peer is a server
 * on the network: a length prefix says how much follows, and the read
 * buffer holds the largest message any prefix can announce, so nothing
 * a server sends can make it grow; reads per event are bounded. */
#include "runtime/dns_tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/strutil.h"

#define READS_PER_EVENT 16

void dns_tcp_init(struct dns_tcp *t, struct loop *l, const struct sockaddr_storage *to, socklen_t tolen,
		  dns_tcp_msg_cb cb, void *arg)
{
	t->loop = l;
	t->to = *to;
	t->tolen = tolen;
	t->on_msg = cb;
	t->arg = arg;
	t->io.fd = -1;
}

void dns_tcp_close(struct dns_tcp *t)
{
	if (t->io.fd >= 0)
		loop_io_close(t->loop, &t->io);
	free(t->in);
	t->in = NULL;
	t->ilen = t->olen = 0;
	t->connected = 0;
}

/* Writes what is queued. Returns 0, or -1 when the connection failed. */
static int flush(struct dns_tcp *t)
{
	while (t->olen) {
		ssize_t n = send(t->io.fd, t->out, t->olen, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		memmove(t->out, t->out + n, t->olen - (size_t)n);
		t->olen -= (size_t)n;
		t->last_use = t->loop->now_ms;
	}
	return 0;
}

/* Hands every whole message of the read buffer to the callback and keeps
 * the start of the next one. */
static void deliver(struct dns_tcp *t)
{
	size_t off = 0;

	while (t->ilen - off >= 2) {
		size_t mlen = (size_t)t->in[off] << 8 | t->in[off + 1];
		if (t->ilen - off - 2 < mlen)
			break;
		t->on_msg(t->arg, t->in + off + 2, mlen);
		off += 2 + mlen;
	}
	memmove(t->in, t->in + off, t->ilen - off);
	t->ilen -= off;
}

/* Returns 0, or -1 when the connection ended (closed, reset). */
static int receive(struct dns_tcp *t)
{
	for (int i = 0; i < READS_PER_EVENT; i++) {
		ssize_t n = recv(t->io.fd, t->in + t->ilen, DNS_TCP_IN - t->ilen, MSG_DONTWAIT);
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		t->ilen += (size_t)n;
		t->last_use = t->loop->now_ms;
		deliver(t); /* leaves less than one whole message: there is room */
	}
	return 0;
}

static void on_io(struct loop *l, struct io *io, uint32_t events)
{
	struct dns_tcp *t = (struct dns_tcp *)((char *)io - offsetof(struct dns_tcp, io));

	(void)l;
	if (!t->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 || e) {
			dns_tcp_close(t); /* refused or unreachable: a retry opens another */
			return;
		}
		t->connected = 1;
	}
	if (!t->connected)
		return;
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && receive(t)) {
		dns_tcp_close(t);
		return;
	}
	if (flush(t)) {
		dns_tcp_close(t);
		return;
	}
	loop_io_set(t->loop, &t->io, EPOLLIN | (t->olen ? EPOLLOUT : 0));
}

static int open_conn(struct dns_tcp *t)
{
	int fd = socket(t->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&t->to, t->tolen) == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	io_init(&t->io, fd, on_io);
	t->in = malloc(DNS_TCP_IN);
	if (!t->in || loop_io_set(t->loop, &t->io, EPOLLIN | EPOLLOUT) == -1) {
		dns_tcp_close(t);
		return -1;
	}
	t->connected = 0;
	t->ilen = 0;
	t->last_use = t->loop->now_ms;
	t->nconn++;
	return 0;
}

int dns_tcp_send(struct dns_tcp *t, const uint8_t *msg, size_t len)
{
	if (len > 65535 || DNS_TCP_OUT - t->olen < len + 2)
		return -1;
	if (t->io.fd < 0 && open_conn(t))
		return -1;
	t->out[t->olen] = (uint8_t)(len >> 8);
	t->out[t->olen + 1] = (uint8_t)len;
	memcpy(t->out + t->olen + 2, msg, len);
	t->olen += len + 2;
	/* written when the socket says it can take it (once connected) */
	return loop_io_set(t->loop, &t->io, EPOLLIN | EPOLLOUT) == -1 ? -1 : 0;
}

void dns_tcp_idle(struct dns_tcp *t, uint64_t now_ms)
{
	if (t->io.fd >= 0 && !t->olen && now_ms >= t->last_use + DNS_TCP_IDLE_MS)
		dns_tcp_close(t);
}

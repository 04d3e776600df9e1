/* An experiment, not part of ferry: the smallest io_uring TCP relay, to
 * measure what io_uring could buy ferry's data path before building it in.
 * One listener, one backend, a blocking connect per client (fine for
 * keep-alive measurements, not for churn), a recv armed on each side and a
 * send on completion, all submitted in batches: one io_uring_submit_and_wait
 * per loop turn. No timeouts, no half-close subtleties: a 0-byte read or an
 * error closes the pair.
 *
 *   cc -O2 -o uring_relay uring_relay.c -luring
 *   ./uring_relay LISTEN_PORT BACKEND_PORT
 */
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 16384
#define OP_ACCEPT 1
#define OP_RECV 2
#define OP_SEND 3

struct side {
	int fd;
	struct side *peer;
	char buf[BUFSZ];
	int closed;
};

static struct io_uring ring;
static int backend_port;

static void *tag(void *p, int op)
{
	return (void *)((uintptr_t)p | (uintptr_t)op);
}

static struct io_uring_sqe *sqe(void)
{
	struct io_uring_sqe *e = io_uring_get_sqe(&ring);
	if (!e) {
		io_uring_submit(&ring);
		e = io_uring_get_sqe(&ring);
	}
	return e;
}

static void arm_recv(struct side *s)
{
	struct io_uring_sqe *e = sqe();
	io_uring_prep_recv(e, s->fd, s->buf, BUFSZ, 0);
	io_uring_sqe_set_data(e, tag(s, OP_RECV));
}

static void pair_close(struct side *s)
{
	/* leaks the pair's memory on purpose if completions are still in flight:
	 * an experiment, bounded by the measurement's length */
	if (!s->closed) {
		s->closed = s->peer->closed = 1;
		close(s->fd);
		close(s->peer->fd);
	}
}

static void on_accept(int cfd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)backend_port) };
	struct side *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s));
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = cfd;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s->fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
		close(cfd);
		close(s->fd);
		free(c);
		free(s);
		return;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->peer = s;
	s->peer = c;
	arm_recv(c);
	arm_recv(s);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct io_uring_sqe *e;

	if (argc != 3)
		return 2;
	backend_port = atoi(argv[2]);
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1024)) {
		perror("listen");
		return 1;
	}
	/* Task work (the retry of a recv after its poll fired) runs only when
	 * this thread asks for completions: without DEFER_TASKRUN it runs at
	 * once, inside the sender's wake-up, and fights the sender for the
	 * socket lock (a third of the CPU went to that spinlock here). */
	struct io_uring_params pr = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
	if (getenv("URING_PLAIN"))
		pr.flags = 0;
	if (io_uring_queue_init_params(4096, &ring, &pr)) {
		perror("io_uring");
		return 1;
	}
	e = sqe();
	io_uring_prep_multishot_accept(e, lfd, NULL, NULL, 0);
	io_uring_sqe_set_data(e, tag(NULL, OP_ACCEPT));
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		io_uring_submit_and_wait(&ring, 1);
		io_uring_for_each_cqe(&ring, head, cqe) {
			uintptr_t d = (uintptr_t)io_uring_cqe_get_data(cqe);
			int op = (int)(d & 3);
			struct side *s = (struct side *)(d & ~(uintptr_t)3);
			n++;
			if (op == OP_ACCEPT) {
				if (cqe->res >= 0)
					on_accept(cqe->res);
				continue;
			}
			if (s->closed)
				continue;
			if (cqe->res <= 0) {
				pair_close(s);
				continue;
			}
			if (op == OP_RECV) { /* send what came to the other side */
				e = sqe();
				io_uring_prep_send(e, s->peer->fd, s->buf, (size_t)cqe->res, MSG_WAITALL);
				io_uring_sqe_set_data(e, tag(s, OP_SEND));
			} else { /* sent: read again from the side it came from */
				arm_recv(s);
			}
		}
		io_uring_cq_advance(&ring, n);
	}
}

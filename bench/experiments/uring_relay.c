/* An experiment, not part of ferry: the smallest io_uring TCP relay, to
 * measure what io_uring could buy ferry's data path before building it in.
 * One listener, one backend, a blocking connect per client (fine for
 * keep-alive measurements, not for churn), a recv armed on each side and a
 * send on completion, all submitted in batches: one io_uring_submit_and_wait
 * per loop turn. No timeouts, no half-close subtleties: a 0-byte read or an
 * error closes the pair.
 *
 * URING_MULTISHOT=1: one multishot recv per side into buffers the kernel
 * picks from a registered buffer ring, a send per completion, the buffer
 * given back when its send completes: no recv to re-arm per message.
 * (Two sends in flight on one socket could reorder; request/response
 * traffic as measured here has one at a time.)
 *
 *   cc -O2 -o uring_relay uring_relay.c -luring
 *   ./uring_relay LISTEN_PORT BACKEND_PORT
 */
#include <arpa/inet.h>
#include <errno.h>
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
static int multishot;

#define NBUF 1024 /* buffer ring: NBUF buffers of BUFSZ */
static struct io_uring_buf_ring *br;
static char *bufs;

/* user_data: the side's address (below 2^48), the op in its low bits, a
 * buffer id in the top 16 bits */
static void *tag(void *p, int op)
{
	return (void *)((uintptr_t)p | (uintptr_t)op);
}

static void *tag_buf(void *p, int op, unsigned bid)
{
	return (void *)((uintptr_t)p | (uintptr_t)op | ((uintptr_t)bid << 48));
}

static void give_buffer(unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
			      io_uring_buf_ring_mask(NBUF), 0);
	io_uring_buf_ring_advance(br, 1);
}

static int setup_buffers(void)
{
	struct io_uring_buf_reg reg = { .ring_entries = NBUF, .bgid = 0 };

	if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf)) ||
	    posix_memalign((void **)&bufs, 4096, (size_t)NBUF * BUFSZ))
		return -1;
	io_uring_buf_ring_init(br);
	reg.ring_addr = (unsigned long)br;
	if (io_uring_register_buf_ring(&ring, &reg, 0))
		return -1;
	for (unsigned i = 0; i < NBUF; i++)
		give_buffer(i);
	return 0;
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
	if (multishot) {
		io_uring_prep_recv_multishot(e, s->fd, NULL, 0, 0);
		e->flags |= IOSQE_BUFFER_SELECT;
		e->buf_group = 0;
	} else {
		io_uring_prep_recv(e, s->fd, s->buf, BUFSZ, 0);
	}
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
	multishot = getenv("URING_MULTISHOT") != NULL;
	if (multishot && setup_buffers()) {
		perror("buffer ring");
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
			struct side *s = (struct side *)(d & (((uintptr_t)1 << 48) - 4));
			n++;
			if (op == OP_ACCEPT) {
				if (cqe->res >= 0)
					on_accept(cqe->res);
				continue;
			}
			if (multishot && op == OP_SEND)
				give_buffer((unsigned)(d >> 48));
			if (s->closed) {
				if (op == OP_RECV && (cqe->flags & IORING_CQE_F_BUFFER)) /* data for a closed pair */
					give_buffer(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
				continue;
			}
			if (multishot && op == OP_RECV && cqe->res == -ENOBUFS) {
				arm_recv(s); /* every buffer in flight: ask again */
				continue;
			}
			if (cqe->res <= 0) {
				pair_close(s);
				continue;
			}
			if (multishot && op == OP_RECV) {
				unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				e = sqe();
				io_uring_prep_send(e, s->peer->fd, bufs + (size_t)bid * BUFSZ, (size_t)cqe->res,
						   MSG_WAITALL);
				io_uring_sqe_set_data(e, tag_buf(s, OP_SEND, bid));
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm_recv(s); /* the multishot ended: start another */
				continue;
			}
			if (multishot) /* a send completed: the multishot recv is still armed */
				continue;
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

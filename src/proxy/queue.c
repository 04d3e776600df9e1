/* Queues, as HAProxy's: a session waits in its server's queue when the
 * algorithm chose that server for it (a hash of the client's address, or
 * leastconn with a maxqueue) and the server is full, and in its backend's
 * queue when every server was full. When a slot of a server frees, it goes
 * to the oldest session of that server's queue or of the backend's (the
 * latter only when the server may take the backend's traffic now). Both
 * queues of a backend are ordered by one sequence number. With ferry's
 * wait-for-server, a session that found no usable server at all waits in
 * the backend's queue too: the first server to come UP takes it, as it
 * takes any backend-queue session (HAProxy's pendconn_grab_from_px).
 *
 * The queues, s->handoff and s->handed are read and written under the
 * backend lock only. A slot freed on one thread may go to a session of
 * another worker: it gets it through that worker's inbox and starts from
 * there (session_handed), because only its own thread touches a session. */
#include "proxy/proxy.h"

#include <stddef.h>

#include "core/atomic.h"

static struct session *of_node(struct qnode *n)
{
	return (struct session *)((char *)n - offsetof(struct session, qn));
}

void queue_session(struct session *s, struct server *srv)
{
	struct backend *be = &s->be->lb;

	s->server = srv;
	queue_push(srv ? &srv->q : &be->q, &s->qn, be->qseq++);
}

/* Marks how s left its queue; s starts on its own thread. */
static void hand(struct worker *self, struct session *s, int how, struct server *srv,
		 struct session ***mine)
{
	s->handoff = (uint8_t)how;
	s->handed = srv;
	if (s->w == self) {
		s->inext = NULL;
		**mine = s;
		*mine = &s->inext;
	} else {
		worker_handoff(s);
	}
}

/* Takes s out of its queue and adds HAProxy's position in it to the log's
 * (a session sent elsewhere may wait in a second queue, as in HAProxy). */
static void leave(struct session *s, int with_slot)
{
	int from_server = s->qn.q != &s->be->lb.q;
	int pos = queue_remove(&s->qn, with_slot);

	if (from_server)
		s->sq_pos += pos;
	else
		s->bq_pos += pos;
}

struct server *unqueue_session(struct session *s)
{
	struct server *offer = NULL;

	if (s->qn.q) {
		leave(s, 0);
	} else if (s->handoff) { /* another thread gave it a slot meanwhile */
		if (s->handoff == HANDOFF_SERVER) {
			offer = s->handed;
			ATOMIC_ADD(&offer->cur_conns, -1);
		}
		s->handoff = 0;
		s->handed = NULL;
		worker_handoff_cancel(s);
	}
	return offer;
}

int server_dequeue(struct worker *self, struct pbackend *be, struct server *srv,
		   struct session ***mine)
{
	int px_ok, given = 0;

	if (!srv->q.head && !be->lb.q.head)
		return 0; /* nobody waits: the common case, at every session's end */
	px_ok = srv_takes_backend_queue(&be->lb, srv);

	while (!srv->maxconn || srv->cur_conns < srv_maxconn(srv)) {
		struct qnode *n = queue_older(srv->q.head, px_ok ? be->lb.q.head : NULL);
		struct session *s;
		int c;

		if (!n)
			break;
		s = of_node(n);
		leave(s, 1);
		c = ATOMIC_ADD(&srv->cur_conns, 1);
		if (c > srv->max_conns_seen)
			srv->max_conns_seen = c;
		hand(self, s, HANDOFF_SERVER, srv, mine);
		given++;
	}
	return given;
}

void sessions_run_handed(struct session *mine)
{
	while (mine) {
		struct session *s = mine;
		mine = s->inext;
		s->inext = NULL;
		session_handed(s);
	}
}

int backend_dequeue(struct worker *self, struct pbackend *be)
{
	struct session *mine = NULL, **tail = &mine;
	const struct server *only;
	int none = 0, moved = 0;

	backend_lock(&be->lb);
	for (int i = 0; i < be->lb.nsrv; i++) {
		struct server *srv = be->lb.srv[i];
		moved += server_dequeue(self, be, srv, &tail);
		/* HAProxy's pendconn_redistribute: the sessions waiting for a
		 * server that is gone choose again with option redispatch, or
		 * when it is in maintenance; otherwise they wait for it (or
		 * their queue timeout) */
		if (!srv_usable(srv) && ((be->options & PXO_REDISPATCH) || (srv->flags & SRV_F_ANY_MAINT))) {
			while (srv->q.head) {
				struct session *s = of_node(srv->q.head);
				leave(s, 0);
				hand(self, s, HANDOFF_REASSIGN, NULL, &tail);
				moved++;
			}
		}
	}
	/* no server at all: no point waiting, unless the backend waits for
	 * one to come UP (wait-for-server): then each keeps its own deadline */
	none = !be->wait_for_server && lb_group(&be->lb, &only) == LB_GROUP_NONE;
	while (none && be->lb.q.head) {
		struct session *s = of_node(be->lb.q.head);
		leave(s, 0);
		hand(self, s, HANDOFF_NOSERVER, NULL, &tail);
	}
	backend_unlock(&be->lb);
	sessions_run_handed(mine);
	return moved;
}

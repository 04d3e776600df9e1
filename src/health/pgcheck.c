/* ferry's PostgreSQL check: a real login through libpq's non-blocking API
 * on ferry's own event loop, kept open between checks, then one query for
 * the server's role (pg_is_in_recovery), WAL positions, replay delay,
 * timeline and system identifier. The verdict depends on the backend's
 * "role": primary, replica (within max-lag) or any. In a role primary
 * backend, two servers claiming to be primary are arbitrated by timeline
 * when they share a system identifier, and refused otherwise. */
#include "health/check.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>

#include "core/addr.h"

#define PG_QUERY \
	"SELECT pg_is_in_recovery()," \
	" (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END" \
	"  - '0/0'::pg_lsn)::bigint," \
	" (COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), '0/0') - '0/0'::pg_lsn)::bigint," \
	" COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8," \
	" CASE WHEN pg_is_in_recovery() THEN 0" \
	"  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END," \
	" (SELECT system_identifier FROM pg_control_system())::text"

enum pg_phase { PGP_IDLE, PGP_CONNECTING, PGP_QUERY };

struct pgstate {
	PGconn *conn;
	PGconn *watched;      /* the connection whose socket c->io registered */
	enum pg_phase phase;
	int reused;           /* this check runs on the connection kept from the last */
	int retried;          /* this check has connected again once already */
	int valid;            /* the last check got an answer */
	int in_recovery;
	int known_role;       /* 0 none yet, 1 primary, 2 replica: for role changes */
	long long lsn;        /* current (primary) or replayed (replica) WAL position */
	long long received;   /* received WAL position (replica) */
	double replay_age;    /* seconds since the last replayed transaction */
	int timeline;         /* primaries only */
	char sysid[32];
};

static void pg_io(struct loop *l, struct io *io, uint32_t ev);

static void drop(struct check *c)
{
	struct pgstate *pg = c->pg;

	loop_io_forget(c->env->loop, &c->io);
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->watched = NULL;
	pg->phase = PGP_IDLE;
}

static void fail(struct check *c, const char *status, const char *why)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s", why);
	msg[strcspn(msg, "\n")] = 0; /* libpq messages end in a newline */
	c->pg->valid = 0;
	drop(c);
	check_done(c, 0, status, msg);
}

static void start_connect(struct check *c);

/* A kept connection the server has closed (idle_session_timeout, a restart,
 * a firewall's reset) says nothing about the server's health: connect again,
 * once per check, before calling the check failed. */
static void lost(struct check *c, const char *status, const char *why)
{
	struct pgstate *pg = c->pg;

	if (!pg->reused || pg->retried) {
		fail(c, status, why);
		return;
	}
	pg->retried = 1;
	drop(c);
	start_connect(c);
}

/* Registers libpq's socket for events. The socket is known by the PGconn
 * it belongs to, not by its number: while connecting, libpq may close its
 * socket and open another (next address, SSL or GSS fallback) that gets the
 * same number, and the old registration died with the old socket. So while
 * connecting, and for a new PGconn, the socket is registered afresh. */
static void watch(struct check *c, uint32_t events)
{
	struct pgstate *pg = c->pg;

	if (pg->phase == PGP_CONNECTING || pg->watched != pg->conn) {
		loop_io_forget(c->env->loop, &c->io);
		io_init(&c->io, PQsocket(pg->conn), pg_io);
		pg->watched = pg->conn;
	}
	loop_io_set(c->env->loop, &c->io, events);
}

static void human_bytes(long long b, char *out, size_t len)
{
	if (b >= 1LL << 30 && b % (1LL << 30) == 0)
		snprintf(out, len, "%lldGB", b >> 30);
	else if (b >= 1LL << 20)
		snprintf(out, len, "%lldMB", b >> 20);
	else if (b >= 1LL << 10)
		snprintf(out, len, "%lldkB", b >> 10);
	else
		snprintf(out, len, "%lldB", b);
}

static struct pgstate *peer_state(const struct server *s)
{
	const struct check *pc = s->check;

	return pc && pc->type == CHK_PGSQL ? pc->pg : NULL;
}

/* Split-brain arbitration for a role primary backend, seen from c (which
 * claims to be primary). Returns 1 when c may serve, else 0 with a reason.
 * Losers that are still UP are taken down at once. */
static int arbitrate(struct check *c, char *why, size_t len)
{
	const struct backend *be = c->srv->be;
	struct pgstate *me = c->pg;
	int wins = 1;

	for (int i = 0; i < be->nsrv; i++) {
		struct server *o = be->srv[i];
		struct pgstate *op = peer_state(o);
		if (o == c->srv || !op || !op->valid || op->in_recovery)
			continue;
		if (!me->sysid[0] || strcmp(me->sysid, op->sysid)) {
			snprintf(why, len, "split brain: %s and %s both claim to be primary with different "
				 "system identifiers (%s, %s); routing to neither",
				 c->srv->name, o->name, me->sysid, op->sysid);
			if (c->srv->up) /* said once, when it takes the server out */
				log_proc(1, "backend %s: %s", be->name, why);
			wins = 0;
			continue;
		}
		if (me->timeline > op->timeline) {
			/* o is the stale primary: it leaves now, unless its check is busy,
			 * in which case c waits one more round rather than risk two */
			struct check *oc = o->check;
			if (o->up && oc->running) {
				snprintf(why, len, "newer timeline %d than %s (timeline %d), waiting for it to leave",
					 me->timeline, o->name, op->timeline);
				wins = 0;
			} else if (o->up) {
				char r[200];
				snprintf(r, sizeof(r), "split brain: timeline %d is older than %s's timeline %d",
					 op->timeline, c->srv->name, me->timeline);
				log_proc(1, "backend %s: %s/%s %s", be->name, be->name, o->name, r);
				check_done_role_change(oc, "L7STS", r);
			}
			continue;
		}
		if (me->timeline < op->timeline)
			snprintf(why, len, "split brain: timeline %d is older than %s's timeline %d",
				 me->timeline, o->name, op->timeline);
		else
			snprintf(why, len, "split brain: %s and %s both claim to be primary on timeline %d; routing to neither",
				 c->srv->name, o->name, me->timeline);
		if (c->srv->up)
			log_proc(1, "backend %s: %s", be->name, why);
		wins = 0;
	}
	return wins;
}

/* Decides UP or DOWN from the answer, and the weight of a lagging replica. */
static void verdict(struct check *c)
{
	const struct cfg_pgcheck *cfg = &c->pxcfg->pg;
	struct pgstate *pg = c->pg;
	int role = pg->in_recovery ? 2 : 1, changed = pg->known_role && pg->known_role != role;
	char why[300], a[32], b[32];

	pg->known_role = role;
	if (cfg->role == PG_ROLE_PRIMARY && pg->in_recovery) {
		if (changed)
			check_done_role_change(c, "L7STS", "is in recovery (demoted from primary)");
		else
			check_done(c, 0, "L7STS", "is in recovery");
		return;
	}
	if (cfg->role == PG_ROLE_REPLICA && !pg->in_recovery) {
		if (changed)
			check_done_role_change(c, "L7STS", "is not in recovery (promoted to primary)");
		else
			check_done(c, 0, "L7STS", "is not in recovery (it is a primary)");
		return;
	}
	if (!pg->in_recovery) {
		if (cfg->role == PG_ROLE_PRIMARY && !arbitrate(c, why, sizeof(why))) {
			check_done(c, 0, "L7STS", why);
			return;
		}
		if (c->srv->lag_permille != 1000) {
			backend_lock(c->srv->be);
			server_set_lag_permille(c->srv, 1000);
			backend_unlock(c->srv->be);
		}
		snprintf(why, sizeof(why), "primary, timeline %d", pg->timeline);
		check_done(c, 1, "L7OK", why);
		return;
	}
	{
		long long lag = pg->received > pg->lsn ? pg->received - pg->lsn : 0;
		double age = lag ? pg->replay_age : 0; /* caught up: no delay, however idle */
		double frac = 0;
		if (cfg->max_lag_bytes && lag > cfg->max_lag_bytes) {
			human_bytes(lag, a, sizeof(a));
			human_bytes(cfg->max_lag_bytes, b, sizeof(b));
			snprintf(why, sizeof(why), "lag %s exceeds max-lag %s", a, b);
			check_done(c, 0, "L7STS", why);
			return;
		}
		if (cfg->max_lag_ms && age * 1000 > (double)cfg->max_lag_ms) {
			snprintf(why, sizeof(why), "lag %.1fs exceeds max-lag %.1fs", age, (double)cfg->max_lag_ms / 1000);
			check_done(c, 0, "L7STS", why);
			return;
		}
		/* within the limit, fresher replicas weigh more */
		if (cfg->max_lag_bytes)
			frac = (double)lag / (double)cfg->max_lag_bytes;
		else if (cfg->max_lag_ms)
			frac = age * 1000 / (double)cfg->max_lag_ms;
		{
			int permille = (int)((1.0 - frac) * 1000 + 0.5);
			if (permille != c->srv->lag_permille) {
				backend_lock(c->srv->be);
				server_set_lag_permille(c->srv, permille);
				backend_unlock(c->srv->be);
			}
		}
		human_bytes(lag, a, sizeof(a));
		snprintf(why, sizeof(why), "replica, lag %s", a);
		check_done(c, 1, "L7OK", why);
	}
}

static void read_result(struct check *c)
{
	struct pgstate *pg = c->pg;
	PGresult *r;
	int got = 0;

	if (!PQconsumeInput(pg->conn)) {
		lost(c, "L7RSP", PQerrorMessage(pg->conn));
		return;
	}
	if (PQisBusy(pg->conn)) {
		watch(c, EPOLLIN);
		return;
	}
	while ((r = PQgetResult(pg->conn))) {
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 6) {
			pg->in_recovery = PQgetvalue(r, 0, 0)[0] == 't';
			pg->lsn = atoll(PQgetvalue(r, 0, 1));
			pg->received = atoll(PQgetvalue(r, 0, 2));
			pg->replay_age = atof(PQgetvalue(r, 0, 3));
			pg->timeline = atoi(PQgetvalue(r, 0, 4));
			snprintf(pg->sysid, sizeof(pg->sysid), "%s", PQgetvalue(r, 0, 5));
			got = 1;
		} else if (!got) {
			char msg[256];
			const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
			/* FATAL: the server ends the session (idle_session_timeout) */
			int gone = (sev && !strcmp(sev, "FATAL")) || PQstatus(pg->conn) == CONNECTION_BAD;
			snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
			PQclear(r);
			while ((r = PQgetResult(pg->conn)))
				PQclear(r);
			if (gone)
				lost(c, "L7STS", msg);
			else
				fail(c, "L7STS", msg);
			return;
		}
		PQclear(r);
	}
	pg->phase = PGP_IDLE;
	pg->valid = 1;
	loop_io_set(c->env->loop, &c->io, 0);
	verdict(c);
}

static void send_query(struct check *c)
{
	struct pgstate *pg = c->pg;

	if (!PQsendQuery(pg->conn, PG_QUERY)) {
		lost(c, "L7RSP", PQerrorMessage(pg->conn));
		return;
	}
	pg->phase = PGP_QUERY;
	watch(c, PQflush(pg->conn) == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* libpq's 'connection to server at "127.0.0.1", port 5432 failed:
 * Connection refused' (older: 'could not connect to server: Connection
 * refused'): the system's words after the last ": " of the first line, as
 * HAProxy reports a failed connect. */
static void l4_reason(const char *msg, char *out, size_t len)
{
	size_t n = strcspn(msg, "\n");
	const char *p = msg, *q;

	while ((q = memmem(p, n - (size_t)(p - msg), ": ", 2)))
		p = q + 2;
	snprintf(out, len, "%.*s", (int)(n - (size_t)(p - msg)), p);
}

/* A failed connection attempt: layer 4 while the TCP connection was not up
 * (refused, unreachable), as HAProxy; layer 7 once PostgreSQL was talking. */
static void connect_failed(struct check *c, int tcp_up)
{
	char why[256];

	if (tcp_up) {
		fail(c, "L7STS", PQerrorMessage(c->pg->conn));
		return;
	}
	l4_reason(PQerrorMessage(c->pg->conn), why, sizeof(why));
	fail(c, "L4CON", why);
}

static void poll_connect(struct check *c)
{
	int tcp_up = PQstatus(c->pg->conn) != CONNECTION_STARTED;

	switch (PQconnectPoll(c->pg->conn)) {
	case PGRES_POLLING_READING:
		watch(c, EPOLLIN);
		return;
	case PGRES_POLLING_WRITING:
		watch(c, EPOLLOUT);
		return;
	case PGRES_POLLING_OK:
		PQsetnonblocking(c->pg->conn, 1);
		send_query(c);
		return;
	default:
		connect_failed(c, tcp_up);
		return;
	}
}

static void pg_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct check *c = (struct check *)((char *)io - offsetof(struct check, io));

	(void)l;
	if (!c->running)
		return;
	if (c->pg->phase == PGP_CONNECTING) {
		poll_connect(c);
		return;
	}
	if ((ev & EPOLLOUT) && PQflush(c->pg->conn) == 0)
		loop_io_set(c->env->loop, &c->io, EPOLLIN);
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		read_result(c);
}

/* A kept connection may receive the server's last words while idle
 * ("terminating connection due to idle-session timeout"): libpq hands them
 * to a notice receiver, whose default prints them on stderr. */
static void ignore_notice(void *arg, const PGresult *res)
{
	(void)arg;
	(void)res;
}

static void start_connect(struct check *c)
{
	const struct cfg_pgcheck *cfg = &c->pxcfg->pg;
	struct pgstate *pg = c->pg;
	char host[sizeof(((struct sockaddr_un *)0)->sun_path)], port[16];
	const char *keys[12], *vals[12];
	int n = 0, pgport = 0;

	if (c->addr.ss_family == AF_UNIX) {
		/* the configuration checked the shape: <dir>/.s.PGSQL.<port> */
		addr_pgsql_socket(((struct sockaddr_un *)&c->addr)->sun_path, host, sizeof(host), &pgport);
		keys[n] = "host"; vals[n++] = host;
	} else {
		addr_ip_str((struct sockaddr *)&c->addr, host, sizeof(host));
		pgport = addr_port((struct sockaddr *)&c->addr);
		keys[n] = "hostaddr"; vals[n++] = host;
	}
	snprintf(port, sizeof(port), "%d", pgport);
	keys[n] = "port"; vals[n++] = port;
	keys[n] = "user"; vals[n++] = cfg->user;
	keys[n] = "dbname"; vals[n++] = cfg->dbname ? cfg->dbname : "postgres";
	keys[n] = "application_name"; vals[n++] = "ferry-health-check";
	if (cfg->password) {
		keys[n] = "password"; vals[n++] = cfg->password;
	}
	if (cfg->sslmode) {
		keys[n] = "sslmode"; vals[n++] = cfg->sslmode;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	pg->reused = 0;
	pg->conn = PQconnectStartParams(keys, vals, 0);
	if (!pg->conn) {
		fail(c, "SOCKERR", "out of memory");
		return;
	}
	PQsetNoticeReceiver(pg->conn, ignore_notice, NULL);
	pg->phase = PGP_CONNECTING;
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		connect_failed(c, 0);
		return;
	}
	poll_connect(c);
}

void pgcheck_run(struct check *c)
{
	int64_t to = c->to_check ? c->to_check : c->inter;

	if (!c->pg) {
		c->pg = calloc(1, sizeof(*c->pg));
		if (!c->pg) {
			check_done(c, 0, "SOCKERR", "out of memory");
			return;
		}
	}
	loop_timer_arm(c->env->loop, &c->timer, c->env->loop->now_ms + (uint64_t)to);
	c->pg->retried = 0;
	/* The connection kept from the last check, unless the server has closed
	 * it meanwhile: reading what came while idle finds that out. */
	if (c->pg->conn && PQstatus(c->pg->conn) == CONNECTION_OK && PQconsumeInput(c->pg->conn) &&
	    PQstatus(c->pg->conn) == CONNECTION_OK) {
		c->pg->reused = 1;
		send_query(c);
	} else {
		drop(c);
		start_connect(c);
	}
}

void pgcheck_timeout(struct check *c)
{
	/* still waiting for the TCP connection: layer 4 (without a text, as
	 * HAProxy's connect timeouts); connected but the startup,
	 * authentication or query got no answer: layer 7. c->pg is set: the
	 * timer only calls this while the check runs, and pgcheck_run either
	 * allocated it or ended the check at once. */
	int l4 = c->pg->phase == PGP_CONNECTING && c->pg->conn &&
		 PQstatus(c->pg->conn) == CONNECTION_STARTED;

	fail(c, l4 ? "L4TOUT" : "L7TOUT",
	     l4 ? "" : "PostgreSQL did not answer in time");
}

int pgcheck_info(const struct check *c, struct pg_info *out)
{
	const struct pgstate *pg = c->pg;

	memset(out, 0, sizeof(*out));
	if (c->type != CHK_PGSQL || !pg)
		return -1;
	out->answered = pg->valid;
	out->in_recovery = pg->in_recovery;
	out->timeline = pg->in_recovery ? 0 : pg->timeline;
	if (pg->in_recovery) {
		out->lag_bytes = pg->received > pg->lsn ? pg->received - pg->lsn : 0;
		out->lag_seconds = out->lag_bytes ? pg->replay_age : 0; /* as verdict() */
	}
	snprintf(out->sysid, sizeof(out->sysid), "%s", pg->sysid);
	return 0;
}

void pgcheck_release(struct check *c)
{
	if (!c->pg)
		return;
	drop(c);
	free(c->pg);
	c->pg = NULL;
}

void pgcheck_inherit(struct check *c, const struct check *old)
{
	const struct pgstate *o = old->pg;

	if (!o || c->type != CHK_PGSQL)
		return;
	if (!c->pg && !(c->pg = calloc(1, sizeof(*c->pg))))
		return;
	/* the answers, not the connection: the new check logs in anew */
	c->pg->valid = o->valid;
	c->pg->in_recovery = o->in_recovery;
	c->pg->known_role = o->known_role;
	c->pg->lsn = o->lsn;
	c->pg->received = o->received;
	c->pg->replay_age = o->replay_age;
	c->pg->timeline = o->timeline;
	memcpy(c->pg->sysid, o->sysid, sizeof(c->pg->sysid));
}

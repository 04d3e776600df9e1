/* The runtime API's session commands: show sess, shutdown session,
 * shutdown sessions server. Sessions live on the worker that accepted them
 * and only that thread touches them, so each command asks every worker
 * (act_fanout) and answers once all have. */
#include "ops/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

/* HAProxy's human_time: at most two units, "0s" for nothing. */
static void human_time(char *buf, size_t len, uint64_t secs)
{
	static const struct { uint64_t s; char u; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' }
	};
	size_t n = 0;
	int shown = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		uint64_t v = i ? secs % units[i - 1].s / units[i].s : secs / units[i].s;
		if (v && n < len) {
			n += (size_t)snprintf(buf + n, len - n, "%llu%c", (unsigned long long)v, units[i].u);
			shown++;
		}
	}
	if (!secs)
		snprintf(buf, len, "0s");
}

struct sess_req {
	uintptr_t id;              /* 0: every session */
};

/* On each worker: its sessions in HAProxy's "show sess" line, with the
 * fields ferry has (HAProxy's internal buffer and task fields have no
 * counterpart here). */
static int sess_lines(struct worker *w, const void *req, char **text)
{
	const struct sess_req *q = req;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	if (!f)
		return 0;
	for (const struct session *s = w->sessions; s; s = s->next) {
		char ip[64], age[32], exp[32] = "";
		if (q->id && (uintptr_t)s != q->id)
			continue;
		addr_ip_str(&s->cli_addr.sa, ip, sizeof(ip));
		human_time(age, sizeof(age), (w->loop.now_ms - s->t_accept) / 1000);
		if (timer_armed(&s->timer))
			human_time(exp, sizeof(exp), s->timer.hn.key > w->loop.now_ms ?
				   (s->timer.hn.key - w->loop.now_ms + 999) / 1000 : 0);
		fprintf(f, "%p: proto=%s src=%s:%d fe=%s be=%s srv=%s age=%s scf=[fd=%d] scb=[fd=%d] exp=%s\n",
			(const void *)s,
			s->cli_addr.sa.sa_family == AF_UNIX    ? "unix_stream"
			: s->cli_addr.sa.sa_family == AF_INET6 ? "tcpv6"
							       : "tcpv4",
			ip, s->cli_addr.sa.sa_family == AF_UNIX ? s->luid : addr_port(&s->cli_addr.sa), s->fe->name, s->be ? s->be->lb.name : "<NONE>",
			s->server ? s->server->name : "<none>", age, s->cli.fd, s->srv.fd, exp);
		n++;
	}
	fclose(f);
	*text = buf;
	return n;
}

static void sess_finish(struct cli_req *r, int total, char *const *texts, int n)
{
	for (int i = 0; i < n; i++)
		if (texts[i])
			cli_print(r, texts[i]);
	if (!total && *r->args[2])
		cli_print(r, "Session not found.\n");
}

/* show sess [id]: operators and admins, as HAProxy. */
static int cmd_show_sess(struct cli_req *r)
{
	struct sess_req q = { 0 };

	if (!cli_has_level(r, CLI_LEVEL_OPER))
		return CLI_DONE;
	if (*r->args[2])
		q.id = (uintptr_t)strtoull(r->args[2], NULL, 0); /* "all" or junk: 0, every one */
	if (*r->args[2] && !q.id)
		r->args[2][0] = 0;
	return cli_fanout(r, sess_lines, &q, sizeof(q), sess_finish);
}

static void kill_one_finish(struct cli_req *r, int total, char *const *texts, int n)
{
	(void)texts;
	(void)n;
	if (!total)
		cli_print(r, "No such session (use 'show sess').\n");
}

static void kill_finish(struct cli_req *r, int total, char *const *texts, int n)
{
	(void)r;
	(void)total;
	(void)texts;
	(void)n;
}

/* shutdown session <id>: the id "show sess" prints. */
static int cmd_shutdown_session(struct cli_req *r)
{
	struct act_kill k = { NULL, 0 };

	if (!cli_has_level(r, CLI_LEVEL_ADMIN))
		return CLI_DONE;
	k.id = (uintptr_t)strtoull(r->args[2], NULL, 0);
	if (!k.id) {
		cli_print(r, "Session pointer expected (use 'show sess').\n");
		return CLI_DONE;
	}
	return cli_fanout(r, act_kill_sessions, &k, sizeof(k), kill_one_finish);
}

static int cmd_shutdown_sessions_server(struct cli_req *r)
{
	struct act_kill k = { NULL, 0 };

	if (!cli_has_level(r, CLI_LEVEL_ADMIN) || !(k.srv = cli_find_server(r, r->args[3])))
		return CLI_DONE;
	return cli_fanout(r, act_kill_sessions, &k, sizeof(k), kill_finish);
}

const struct cli_cmd cli_cmds_sess[] = {
	{ { "show", "sess", NULL },
	  "show sess [id]                          : report the list of current sessions or dump this exact session",
	  cmd_show_sess },
	{ { "shutdown", "session", NULL },
	  "shutdown session [id]                   : kill a specific session", cmd_shutdown_session },
	{ { "shutdown", "sessions", "server", NULL },
	  "shutdown sessions server <bk>/<srv>     : kill sessions on a server", cmd_shutdown_sessions_server },
	{ { NULL }, NULL, NULL }
};

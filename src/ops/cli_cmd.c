/* Running one command of the runtime API as HAProxy's CLI does: the words
 * of a line, the command they name (the first whose words all match), the
 * levels, and for a line naming no command, HAProxy's help with its
 * "Unknown command" sentences and its guess of what was meant. Also the
 * commands that act on the session itself (help, prompt, quit, levels,
 * timeout) and the dashboard's jobs. */
#include "ops/cli_int.h"

#include <ctype.h>
#include <limits.h>
#include <syslog.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/units.h"
#include "runtime/upgrade.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "dev"
#endif

#define CLI_KW_WORDS 5       /* HAProxy's CLI_PREFIX_KW_NB */
#define CLI_MAX_MATCHES 5
#define CLI_MAX_ENTRIES 256

static const struct cli_cmd *const tables[] = { cli_cmds_base, cli_cmds_show, cli_cmds_proxy,
						cli_cmds_server, cli_cmds_sess, cli_cmds_table };

#define FOREACH_CMD(c) \
	for (size_t t_ = 0; t_ < sizeof(tables) / sizeof(tables[0]); t_++) \
		for (const struct cli_cmd *c = tables[t_]; c->kw[0]; c++)

/* ---- words ------------------------------------------------------------------ */

void cli_req_parse(struct cli_req *r, const char *text, size_t len)
{
	char *p = r->buf, *end;
	int n = 0;

	if (len >= sizeof(r->buf))
		len = sizeof(r->buf) - 1;
	memcpy(r->buf, text, len);
	r->buf[len] = 0;
	end = r->buf + strlen(r->buf); /* a NUL byte ends the line */
	while (n < CLI_MAX_ARGS && p < end) {
		char *w, *o;
		p += strspn(p, " \t");
		if (!*p)
			break;
		/* a word runs to the next blank not escaped by a backslash; the
		 * backslashes are removed (a doubled one stays, once) */
		w = o = p;
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '\\')
				break;
			*o++ = *p++;
		}
		if (*p)
			p++;
		*o = 0;
		r->args[n++] = w;
	}
	while (n <= CLI_MAX_ARGS)
		r->args[n++] = end; /* "" */
}

/* ---- levels and messages ------------------------------------------------------ */

int cli_has_level(struct cli_req *r, int level)
{
	if (r->sess->level >= level)
		return 1;
	cli_print(r, "Permission denied\n");
	return 0;
}

void cli_print(struct cli_req *r, const char *msg)
{
	sbuf_puts(&r->out, msg);
}

/* ---- help and "Unknown command" ------------------------------------------------ */

/* HAProxy's word fingerprint: which letter follows which (a-z folded, any
 * digit one class, anything else another, plus the word's start and end). */
static void fingerprint(uint8_t fp[1024], const char *word)
{
	int from = 28, to;

	for (const char *p = word; *p; p++) {
		int c = tolower((unsigned char)*p);
		to = c >= 'a' && c <= 'z' ? c - 'a' + 1 : c >= '0' && c <= '9' ? 27 : 28;
		fp[to] = 1;
		fp[32 * from + to]++;
		from = to;
	}
	fp[32 * from + 28]++;
}

static int fp_distance(const uint8_t *a, const uint8_t *b)
{
	int d = 0;

	for (int i = 0; i < 1024; i++)
		d += abs((int)a[i] - (int)b[i]);
	return d;
}

/* How many of the first words of args equal those of c (at most want). */
static int words_matching(const struct cli_cmd *c, char *const *args, int want)
{
	int i;

	for (i = 0; i < want && i < CLI_KW_WORDS; i++)
		if (!c->kw[i] || !*args[i] || strcmp(c->kw[i], args[i]))
			break;
	return i;
}

static int by_usage(const void *a, const void *b)
{
	const struct cli_cmd *x = *(const struct cli_cmd *const *)a, *y = *(const struct cli_cmd *const *)b;

	return strcmp(x->usage, y->usage);
}

/* The closest commands to what args say after the words that matched
 * (length), by fingerprint distance, HAProxy's way: the best five, minus
 * those much farther than the best. Returns how many. */
static int closest(char *const *args, int length, const struct cli_cmd **out)
{
	struct { const struct cli_cmd *c; int dist; } m[CLI_MAX_MATCHES];
	int n = 0;

	for (int i = 0; i < CLI_MAX_MATCHES; i++) {
		m[i].c = NULL;
		m[i].dist = INT_MAX;
	}
	FOREACH_CMD(c) {
		uint8_t ws[1024], ks[1024];
		int totlen = 0, dist, i;

		if (!c->usage || words_matching(c, args, length) != length)
			continue;
		memset(ws, 0, sizeof(ws));
		memset(ks, 0, sizeof(ks));
		for (i = length; i < CLI_KW_WORDS && *args[i]; i++) {
			fingerprint(ws, args[i]);
			totlen += (int)strlen(args[i]);
		}
		for (i = length; i < CLI_KW_WORDS && c->kw[i]; i++) {
			fingerprint(ks, c->kw[i]);
			totlen += (int)strlen(c->kw[i]);
		}
		dist = fp_distance(ws, ks);
		if (dist >= 5 * totlen / 2 || dist >= m[CLI_MAX_MATCHES - 1].dist)
			continue;
		/* insert in order, keeping the earlier of equals first */
		for (i = CLI_MAX_MATCHES - 1; i > 0 && m[i - 1].dist > dist; i--)
			m[i] = m[i - 1];
		m[i].c = c;
		m[i].dist = dist;
	}
	for (int i = 0; i < CLI_MAX_MATCHES && m[i].c; i++) {
		if (m[i].dist > 5 * m[0].dist / 2)
			break;
		out[n++] = m[i].c;
	}
	return n;
}

/* HAProxy's help, also its answer to a line naming no command. */
static void usage(struct cli_req *r, char **args)
{
	const struct cli_cmd *entries[CLI_MAX_ENTRIES];
	int help = !strcmp(args[0], "help"), length = 0, n = 0;

	if (help)
		args++;
	FOREACH_CMD(c) {
		int m = words_matching(c, args, CLI_KW_WORDS);
		if (m > length)
			length = m;
	}
	if (help)
		cli_print(r, "The following commands are valid at this level:\n");
	else if (!length && !*args[0])
		cli_print(r, "Unknown command. Please enter one of the following commands only:\n");
	else
		cli_print(r, "Unknown command, but maybe one of the following ones is a better match:\n");
	if (*args[length])
		n = closest(args, length, entries);
	if (!n) {
		FOREACH_CMD(c)
			if (c->usage && words_matching(c, args, length) == length && n < CLI_MAX_ENTRIES)
				entries[n++] = c;
	}
	qsort(entries, (size_t)n, sizeof(entries[0]), by_usage);
	for (int i = 0; i < n; i++)
		sbuf_printf(&r->out, "  %s\n", entries[i]->usage);
	cli_print(r, "  help [<command>]                        : list matching or all commands\n"
		     "  prompt                                  : toggle interactive mode with prompt\n"
		     "  quit                                    : disconnect\n");
}

int cli_req_run(struct cli_req *r)
{
	FOREACH_CMD(c) {
		int i;
		for (i = 0; c->kw[i]; i++)
			if (strcmp(c->kw[i], r->args[i]))
				break;
		if (!c->kw[i])
			return c->fn(r);
	}
	usage(r, r->args);
	return CLI_DONE;
}

static void fanout_done(void *arg, int total, char *const *texts, int n)
{
	struct cli_req *r = arg;

	if (!r->orphan)
		r->finish(r, total, texts, n);
	if (r->in_call) {
		r->finished = 1;
		return;
	}
	cli_req_done(r);
}

int cli_fanout(struct cli_req *r, act_worker_fn fn, const void *req, size_t len,
	       void (*finish)(struct cli_req *r, int total, char *const *texts, int n))
{
	r->finish = finish;
	r->in_call = 1;
	act_fanout(r->sess->rt, fn, req, len, fanout_done, r);
	r->in_call = 0;
	return r->finished ? CLI_DONE : CLI_ASYNC;
}

void cli_req_done(struct cli_req *r)
{
	if (r->orphan) {
		sbuf_free(&r->out);
		free(r);
		return;
	}
	r->resume(r);
}

/* ---- the session's own commands ---------------------------------------------------- */

static int cmd_help(struct cli_req *r)
{
	usage(r, r->args);
	return CLI_DONE;
}

static int cmd_prompt(struct cli_req *r)
{
	r->sess->prompt = !r->sess->prompt;
	return CLI_DONE;
}

static int cmd_quit(struct cli_req *r)
{
	r->sess->quit = 1;
	return CLI_DONE;
}

static int cmd_show_level(struct cli_req *r)
{
	static const char *const names[] = { "unknown\n", "user\n", "operator\n", "admin\n" };

	cli_print(r, names[r->sess->level >= 0 && r->sess->level <= 3 ? r->sess->level : 0]);
	return CLI_DONE;
}

/* "operator" and "user": lower the session's level (never raise it). */
static int cmd_set_level(struct cli_req *r)
{
	int want = !strcmp(r->args[0], "operator") ? CLI_LEVEL_OPER : CLI_LEVEL_USER;

	if (cli_has_level(r, want))
		r->sess->level = want;
	return CLI_DONE;
}

/* "set timeout cli <delay>": the delay is in seconds unless a unit says
 * otherwise, at least one second, as HAProxy's. */
static int cmd_set_timeout(struct cli_req *r)
{
	int64_t ms;
	char buf[64];

	if (strcmp(r->args[2], "cli")) {
		cli_print(r, "'set timeout' only supports 'cli'.\n");
		return CLI_DONE;
	}
	if (!*r->args[3]) {
		cli_print(r, "Expects an integer value.\n");
		return CLI_DONE;
	}
	/* a bare number counts seconds here */
	snprintf(buf, sizeof(buf), "%s%s", r->args[3],
		 strspn(r->args[3], "0123456789") == strlen(r->args[3]) ? "s" : "");
	if (parse_duration_ms(buf, &ms) || ms < 1000) {
		cli_print(r, "Invalid timeout value.\n");
		return CLI_DONE;
	}
	r->sess->timeout_ms = ms / 1000 * 1000;
	return CLI_DONE;
}

static int cmd_show_version(struct cli_req *r)
{
	sbuf_printf(&r->out, "%s\n", FERRY_VERSION);
	return CLI_DONE;
}

/* "_getsocks": HAProxy's exchange for a binary upgrade (-x): on a socket
 * with "expose-fd listeners" (at any level, as HAProxy), every listening
 * socket goes to the asking process (SCM_RIGHTS), and the connection
 * closes; elsewhere nothing is sent. Not in the help, as in HAProxy. */
static int cmd_getsocks(struct cli_req *r)
{
	struct process *p = &r->sess->rt->proc;
	int *fds, n;

	if (!r->sess->expose_fd)
		return CLI_DONE;
	n = listeners_registry_lock(p, &fds);
	if (n < 0)
		return CLI_DONE;
	if (upgrade_send(r->sess->fd, fds, n) == 0)
		log_proc(LOG_NOTICE, "stats socket: %d listening sockets sent for a binary upgrade", n);
	listeners_registry_unlock(p);
	free(fds);
	r->sess->quit = 1;
	return CLI_DONE;
}

const struct cli_cmd cli_cmds_base[] = {
	{ { "_getsocks", NULL }, NULL, cmd_getsocks },
	{ { "help", NULL }, NULL, cmd_help },
	{ { "prompt", NULL }, NULL, cmd_prompt },
	{ { "quit", NULL }, NULL, cmd_quit },
	{ { "show", "cli", "level", NULL },
	  "show cli level                          : display the level of the current CLI session", cmd_show_level },
	{ { "operator", NULL },
	  "operator                                : lower the level of the current CLI session to operator", cmd_set_level },
	{ { "user", NULL },
	  "user                                    : lower the level of the current CLI session to user", cmd_set_level },
	{ { "set", "timeout", NULL },
	  "set timeout [cli] <delay>               : change a timeout setting", cmd_set_timeout },
	{ { "show", "version", NULL },
	  "show version                            : show version of the current process", cmd_show_version },
	{ { NULL }, NULL, NULL }
};

/* ---- jobs: command lines run for the dashboard --------------------------------------- */

struct cli_job {
	struct cli_sess sess;
	struct sbuf out;
	char *line;              /* what is left to run */
	size_t pos, len;
	void (*done)(void *arg, const struct sbuf *out);
	void *arg;
	int cancelled;
	struct cli_req *req;     /* the command running, when it went async */
};

long cli_command_end(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == ';' || s[i] == '\n')
			return (long)i;
	}
	return -1;
}

static void job_finish(struct cli_job *j)
{
	if (!j->cancelled)
		j->done(j->arg, &j->out);
	sbuf_free(&j->out);
	free(j->line);
	free(j);
}

static void job_resume(struct cli_req *r);

/* Runs the job's commands until one goes async (then 1) or none is left
 * (then the job is finished and freed, 0). */
static int job_run(struct cli_job *j)
{
	while (j->pos < j->len && !j->sess.quit) {
		long end = cli_command_end(j->line + j->pos, j->len - j->pos);
		size_t n = end < 0 ? j->len - j->pos : (size_t)end;
		struct cli_req *r = calloc(1, sizeof(*r));
		if (!r)
			break;
		r->sess = &j->sess;
		r->owner = j;
		r->resume = job_resume;
		cli_req_parse(r, j->line + j->pos, n);
		j->pos += n + 1;
		if (cli_req_run(r) == CLI_ASYNC) {
			j->req = r;
			return 1;
		}
		sbuf_add(&j->out, r->out.p, r->out.len);
		sbuf_free(&r->out);
		free(r);
	}
	job_finish(j);
	return 0;
}

static void job_resume(struct cli_req *r)
{
	struct cli_job *j = r->owner;

	j->req = NULL;
	sbuf_add(&j->out, r->out.p, r->out.len);
	sbuf_free(&r->out);
	free(r);
	job_run(j);
}

struct cli_job *cli_job_start(struct runtime *rt, const char *line, int level,
			      void (*done)(void *arg, const struct sbuf *out), void *arg)
{
	struct cli_job *j = calloc(1, sizeof(*j));

	if (!j || !(j->line = strdup(line))) {
		struct sbuf none = SBUF_INIT;
		free(j);
		none.oom = 1;
		done(arg, &none);
		return NULL;
	}
	j->sess.rt = rt;
	j->sess.level = j->sess.sock_level = level;
	j->len = strlen(line);
	j->done = done;
	j->arg = arg;
	return job_run(j) ? j : NULL;
}

void cli_job_cancel(struct cli_job *j)
{
	j->cancelled = 1;
}

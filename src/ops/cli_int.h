/* Inside the runtime API: a command request, the command tables, and the
 * helpers every command file uses. */
#ifndef FERRY_OPS_CLI_INT_H
#define FERRY_OPS_CLI_INT_H
#include "ops/cli.h"
#include "ops/ops_int.h"
#include "ops/sbuf.h"
#include "runtime/actions.h"

#define CLI_MAX_ARGS 64
#define CLI_LINE_MAX 16384  /* HAProxy's tune.bufsize: a longer line is refused */

/* What a connection (or a dashboard job) carries from one command to the next. */
struct cli_sess {
	struct runtime *rt;
	int level;                 /* CLI_LEVEL_*: the socket's, lowered by "operator"/"user" */
	int sock_level;            /* the socket's own level (addr and algo show at operator and up) */
	int prompt;                /* interactive mode ("prompt") */
	int quit;                  /* "quit" was read */
	int64_t timeout_ms;        /* the idle timeout ("set timeout cli") */
	int expose_fd;             /* a socket with "expose-fd listeners" (never a job) ... */
	int fd;                    /* ... and its connection: "_getsocks" sends there */
};

/* One command being run. A command that needs other threads (sessions live
 * on the worker that accepted them) returns CLI_ASYNC and calls
 * cli_req_done() later, on worker 0; until then its owner waits. */
struct cli_req {
	struct cli_sess *sess;
	struct sbuf out;           /* the command's output */
	int orphan;                /* its owner left while it ran: cli_req_done frees it */
	void (*resume)(struct cli_req *r); /* the owner's continuation (async commands) */
	void *owner;
	/* cli_fanout: writes the output from every worker's answer */
	void (*finish)(struct cli_req *r, int total, char *const *texts, int n);
	int in_call, finished;     /* the answers came before act_fanout returned */
	char *args[CLI_MAX_ARGS + 1]; /* the words; every slot past the last is "" */
	char buf[CLI_LINE_MAX];    /* their storage */
};

enum { CLI_DONE = 0, CLI_ASYNC = 1 };

struct cli_cmd {
	const char *kw[5];         /* the words naming it, NULL-terminated */
	const char *usage;         /* its help line (HAProxy's text), NULL: not listed */
	/* Runs the command; writes its output into r->out; returns CLI_DONE,
	 * or CLI_ASYNC (then calls cli_req_done(r) later). */
	int (*fn)(struct cli_req *r);
};

/* The command tables, one per file, each ended by an entry without words. */
extern const struct cli_cmd cli_cmds_base[];   /* cli_cmd.c: help, prompt, quit, levels */
extern const struct cli_cmd cli_cmds_show[];   /* cmd_show.c: show info, stat, servers, backend, errors, pg */
extern const struct cli_cmd cli_cmds_proxy[];  /* cmd_proxy.c: clear counters, frontends, maxconn, reload */
extern const struct cli_cmd cli_cmds_server[]; /* cmd_server.c: set server, weights, add/del server */
extern const struct cli_cmd cli_cmds_sess[];   /* cmd_sess.c: show sess, shutdown session(s) */
extern const struct cli_cmd cli_cmds_table[];  /* cmd_table.c: show, clear, set table */

/* The end of the first command in s[0..len): a line feed or a ';' that no
 * backslash escapes. Its offset, or -1 when it has not come yet. */
long cli_command_end(const char *s, size_t len);
/* Splits text into r->args as HAProxy does (blanks separate words, a
 * backslash makes the next character literal). */
void cli_req_parse(struct cli_req *r, const char *text, size_t len);
/* Runs the command in r->args; returns CLI_DONE or CLI_ASYNC. */
int cli_req_run(struct cli_req *r);
/* An async command finished: the owner resumes (or r is freed if orphaned). */
void cli_req_done(struct cli_req *r);

/* Asks every worker (act_fanout) and writes the output with finish once
 * all have answered. Returns CLI_DONE when that happened at once (one
 * worker), else CLI_ASYNC. */
int cli_fanout(struct cli_req *r, act_worker_fn fn, const void *req, size_t len,
	       void (*finish)(struct cli_req *r, int total, char *const *texts, int n));

/* Level check as HAProxy's cli_has_level: writes "Permission denied" and
 * returns 0 when the session is below level. */
int cli_has_level(struct cli_req *r, int level);
/* Writes msg as the command's whole output (HAProxy's cli_msg/cli_err). */
void cli_print(struct cli_req *r, const char *msg);

/* HAProxy's lookups with their error sentences ("No such backend.", ...):
 * NULL after writing the sentence. "backend/server" arguments are split in
 * place. */
struct pbackend *cli_find_backend(struct cli_req *r, const char *name);
struct frontend *cli_find_frontend(struct cli_req *r, const char *name);
struct server *cli_find_server(struct cli_req *r, char *arg);

#endif

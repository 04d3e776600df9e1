/* The stats socket's command line (src/ops/cli_cmd.c), fed what a client
 * of the socket may send: the first byte picks the socket's level, the
 * rest is the byte stream, cut into commands at a ';' or line feed that
 * no backslash escapes (cli_command_end, as the socket's reader does),
 * each split into words (cli_req_parse) and looked up in the command
 * tables (the first 4 commands of an input: each unknown one prints the
 * whole help, and more commands would only slow the run).
 *
 * Covered: the tokenizer, the dispatcher (which command a line names),
 * and every command that needs no running ferry: help and HAProxy's
 * "Unknown command" guesses (usage), prompt, quit, show cli level,
 * operator, user, set timeout cli, show version, _getsocks on a socket
 * without expose-fd. Not covered: the commands of cmd_show.c, cmd_proxy.c,
 * cmd_server.c, cmd_sess.c and cmd_table.c, which read and change a
 * running generation (servers, tables, sessions on worker threads) and
 * would need a whole runtime per input; their argument checks run in the
 * integration tests (test_cli.py and others).
 *
 * Checks, besides no crash and no leak: at most CLI_MAX_ARGS words, each
 * inside the request's buffer, the slots after the last one ""; the words
 * written back with backslashes before blanks and backslashes split into
 * the same words; a command's end is an unescaped ';' or line feed. */
#include <string.h>

#include "fuzz.h"
#include "ops/cli_int.h"
#include "runtime/runtime.h"

static struct runtime rt; /* zeroed: only _getsocks looks at it, and leaves at once */

static const struct cli_cmd *const tables[] = { cli_cmds_base, cli_cmds_show, cli_cmds_proxy,
						cli_cmds_server, cli_cmds_sess, cli_cmds_table };

/* The table of the first command whose words all match, as cli_req_run
 * looks them up; NULL when none does (the usage text). */
static const struct cli_cmd *table_of(char *const *args)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct cli_cmd *c = tables[t]; c->kw[0]; c++) {
			int i;
			for (i = 0; c->kw[i]; i++)
				if (strcmp(c->kw[i], args[i]))
					break;
			if (!c->kw[i])
				return tables[t];
		}
	return NULL;
}

static void check_words(const struct cli_req *r)
{
	static struct cli_req again;
	static char line[2 * CLI_LINE_MAX];
	size_t o = 0;
	int n = 0;

	while (n < CLI_MAX_ARGS && *r->args[n])
		n++;
	for (int i = 0; i <= CLI_MAX_ARGS; i++) {
		FUZZ_CHECK(r->args[i] >= r->buf && r->args[i] < r->buf + sizeof(r->buf));
		FUZZ_CHECK(memchr(r->args[i], 0, (size_t)(r->buf + sizeof(r->buf) - r->args[i])));
		if (i >= n)
			FUZZ_CHECK(!*r->args[i]);
	}
	/* written back escaped, the words read the same */
	for (int i = 0; i < n; i++) {
		for (const char *s = r->args[i]; *s; s++) {
			if (*s == ' ' || *s == '\t' || *s == '\\')
				line[o++] = '\\';
			line[o++] = *s;
		}
		line[o++] = ' ';
	}
	if (o >= CLI_LINE_MAX) /* longer than a line once escaped: cut, not comparable */
		return;
	memset(&again, 0, sizeof(again));
	cli_req_parse(&again, line, o);
	for (int i = 0; i <= CLI_MAX_ARGS; i++)
		FUZZ_CHECK(!strcmp(again.args[i], r->args[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_sess sess = { .rt = &rt };
	const char *in;
	size_t left;

	if (size < 1)
		return 0;
	sess.level = sess.sock_level = 1 + data[0] % 3; /* user, operator, admin */
	in = (const char *)data + 1;
	left = size - 1;
	for (int cmds = 0; left && !sess.quit && cmds < 4; cmds++) { /* 4: more only slows the run */
		long end = cli_command_end(in, left);
		size_t len = end < 0 ? left : (size_t)end;
		struct cli_req *r;
		const struct cli_cmd *t;

		if (end >= 0) { /* an even run of backslashes (pairs) before it: not escaped */
			long bs = 0;
			while (bs < end && in[end - 1 - bs] == '\\')
				bs++;
			FUZZ_CHECK((size_t)end < left && (in[end] == ';' || in[end] == '\n') && bs % 2 == 0);
		}
		if (len >= CLI_LINE_MAX) { /* the socket ignores a line too long */
			in += len + (end >= 0);
			left -= len + (end >= 0);
			continue;
		}
		if (len && in[len - 1] == '\r' && end >= 0 && in[end] == '\n')
			len--;
		r = calloc(1, sizeof(*r));
		FUZZ_CHECK(r);
		r->sess = &sess;
		cli_req_parse(r, in, len);
		check_words(r);
		t = table_of(r->args);
		if (!t || t == cli_cmds_base) /* the rest needs a running ferry */
			FUZZ_CHECK(cli_req_run(r) == CLI_DONE);
		FUZZ_CHECK(sess.level >= 1 && sess.level <= sess.sock_level);
		sbuf_free(&r->out);
		free(r);
		if (end < 0)
			break;
		in += (size_t)end + 1;
		left -= (size_t)end + 1;
	}
	return 0;
}

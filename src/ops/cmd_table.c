/* The stick-table commands of the runtime API, as HAProxy 2.6:
 *   show table [<t> [key <k> | data.<type> <op> <v> ...]]
 *   clear table <t> [key <k> | data.<type> <op> <v> ...]
 *   set table <t> key <k> [data.<type> <v>]*
 * with its output ("# table: t, type: ip, size:1024, used:2" and one line
 * per entry, in key order) and its error sentences. Entries are shown and
 * changed at operator level and up; a user sees the table's header only. */
#include <stdlib.h>
#include <string.h>

#include "ops/cli_int.h"
#include "runtime/runtime.h"

enum act { ACT_SHOW, ACT_CLEAR, ACT_SET };

/* HAProxy's strl2llrc: an optional sign and digits, nothing else. */
static int parse_ll(const char *s, long long *v)
{
	char *end;

	if (!*s || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
		return -1;
	*v = strtoll(s, &end, 10);
	return *end ? -1 : 0;
}

static void head(struct cli_req *r, const struct stktable *t, unsigned used, int target)
{
	sbuf_printf(&r->out, "# table: %s, type: %s, size:%u, used:%u\n", t->name,
		    stk_key_names[t->def.type], t->def.size, used);
	if (target && r->sess->level < CLI_LEVEL_OPER)
		sbuf_puts(&r->out, "# contents not dumped due to insufficient privileges\n");
}

struct dump {
	struct cli_req *r;
	uint64_t now;
	int show;
	int head_done;
	unsigned used;
};

static void dump_entry(void *arg, const struct stktable *t, const struct stksess *ts)
{
	struct dump *d = arg;
	char line[1024];
	size_t n = stktable_format(t, ts, d->now, line, sizeof(line));

	sbuf_printf(&d->r->out, "%p:", (const void *)ts);
	if (n < sizeof(line)) {
		sbuf_add(&d->r->out, line, n);
	} else { /* a long string key and many data types */
		char *big = malloc(n + 1);
		if (big) {
			stktable_format(t, ts, d->now, big, n + 1);
			sbuf_add(&d->r->out, big, n);
			free(big);
		}
	}
	sbuf_puts(&d->r->out, "\n");
}

static const char *const err_args[] = {
	[ACT_SHOW] = "Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>\n",
	[ACT_CLEAR] = "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n",
	[ACT_SET] = "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n",
};

/* set table t key k data.x v ...: HAProxy creates the entry first, then
 * sets the values in order, stopping at the first bad pair (those before
 * it stay set), and touches the entry in any case. */
static void set_entry(struct cli_req *r, struct stktable *t, const struct stk_key *k, uint64_t now)
{
	struct stksess *ts = stktable_get(t, k, now);

	if (!ts) {
		cli_print(r, "Unable to allocate a new entry\n");
		return;
	}
	for (int i = 5; *r->args[i]; i += 2) {
		long long v;
		int dt;
		if (strncmp(r->args[i], "data.", 5)) {
			cli_print(r, "\"data.<type>\" followed by a value expected\n");
			break;
		}
		if ((dt = stk_dt_index(r->args[i] + 5)) < 0) {
			cli_print(r, "Unknown data type\n");
			break;
		}
		if (!stktable_stores(t, dt)) {
			cli_print(r, "Data type not stored in this table\n");
			break;
		}
		if (parse_ll(r->args[i + 1], &v)) {
			cli_print(r, "Require a valid integer value to store\n");
			break;
		}
		stktable_data_set(t, ts, dt, 0, v, now);
	}
	stktable_touch(t, ts, now, 1);
}

static void by_key(struct cli_req *r, struct stktable *t, enum act a, uint64_t now)
{
	static const char *const verbs[] = { "Showing", "Removing", "Inserting" };
	struct dump d = { r, now, 1, 0, 0 };
	const char *err;
	struct stk_key k;

	if (!*r->args[4]) {
		cli_print(r, "Key value expected\n");
		return;
	}
	if (stktable_key_text(t, r->args[4], verbs[a], &k, &err)) {
		cli_print(r, err);
		return;
	}
	if (!cli_has_level(r, CLI_LEVEL_OPER))
		return;
	if (a == ACT_SET) {
		set_entry(r, t, &k, now);
	} else if (a == ACT_CLEAR) {
		if (stktable_remove(t, &k, now) < 0)
			cli_print(r, "Entry currently in use, cannot remove\n");
	} else {
		/* the header only when the key is there, as HAProxy */
		struct sbuf entry = r->out;
		memset(&r->out, 0, sizeof(r->out));
		d.used = stktable_walk_key(t, &k, now, dump_entry, &d);
		if (r->out.len) {
			struct sbuf line = r->out;
			r->out = entry;
			head(r, t, d.used, 1);
			sbuf_add(&r->out, line.p, line.len);
			sbuf_free(&line);
		} else {
			sbuf_free(&r->out);
			r->out = entry;
		}
	}
}

/* data.<type> <op> <value> filters from args[3]. Returns how many, or -1
 * after writing HAProxy's sentence. */
static int parse_filters(struct cli_req *r, const struct stktable *t, enum act a,
			 struct stk_filter *f)
{
	char **args = r->args;
	int i;

	if (a != ACT_SHOW && a != ACT_CLEAR) {
		cli_print(r, "content-based lookup is only supported with the \"show\" and \"clear\" actions\n");
		return -1;
	}
	for (i = 0; i < STK_FILTERS; i++) {
		const char *w = args[3 + 3 * i];
		int op;
		if (i > 0 && !*w)
			break;
		f[i].dt = strlen(w) >= 5 ? stk_dt_index(w + 5) : -1;
		if (f[i].dt < 0) {
			sbuf_printf(&r->out, "Filter entry #%d: Unknown data type\n", i + 1);
			return -1;
		}
		if (!stktable_stores(t, f[i].dt)) {
			sbuf_printf(&r->out, "Filter entry #%d: Data type not stored in this table\n", i + 1);
			return -1;
		}
		if ((op = stk_op_parse(args[4 + 3 * i])) < 0) {
			sbuf_printf(&r->out, "Filter entry #%d: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"\n", i + 1);
			return -1;
		}
		f[i].op = (enum stk_op)op;
		if (parse_ll(args[5 + 3 * i], &f[i].value)) {
			sbuf_printf(&r->out, "Filter entry #%d: Require a valid integer value to compare against\n", i + 1);
			return -1;
		}
	}
	if (*args[3 + 3 * i]) {
		sbuf_printf(&r->out, "Detected extra data in filter, %dth word of input, after '%s'\n",
			    3 + 3 * i + 1, args[2 + 3 * i]);
		return -1;
	}
	return i;
}

static int table_cmd(struct cli_req *r, enum act a)
{
	struct runtime *rt = r->sess->rt;
	struct generation *g = rt->gen;
	uint64_t now = rt->ws[0].loop.now_ms;
	struct stk_filter f[STK_FILTERS];
	struct dump d = { r, now, a == ACT_SHOW, 0, 0 };
	struct stktable *t;
	int nf = 0;

	if (!*r->args[2]) {
		if (a != ACT_SHOW) {
			cli_print(r, err_args[a]);
			return CLI_DONE;
		}
		for (int i = g->ntables - 1; i >= 0; i--) /* HAProxy lists the last declared first */
			head(r, g->tables[i], stktable_used(g->tables[i], now), 0);
		return CLI_DONE;
	}
	if (!(t = gen_find_table(g, r->args[2]))) {
		cli_print(r, "No such table\n");
		return CLI_DONE;
	}
	if (!strcmp(r->args[3], "key")) {
		by_key(r, t, a, now);
		return CLI_DONE;
	}
	if (!strncmp(r->args[3], "data.", 5)) {
		if ((nf = parse_filters(r, t, a, f)) < 0)
			return CLI_DONE;
	} else if (*r->args[3]) {
		cli_print(r, err_args[a]);
		return CLI_DONE;
	}
	if (r->sess->level < CLI_LEVEL_OPER) { /* the header only, or nothing */
		if (a == ACT_SHOW)
			head(r, t, stktable_used(t, now), 1);
		return CLI_DONE;
	}
	if (a == ACT_SHOW) {
		struct sbuf lines = r->out;
		memset(&r->out, 0, sizeof(r->out));
		d.used = stktable_walk(t, now, f, nf, dump_entry, &d);
		{
			struct sbuf body = r->out;
			r->out = lines;
			head(r, t, d.used, 1);
			if (body.len)
				sbuf_add(&r->out, body.p, body.len);
			sbuf_free(&body);
		}
	} else {
		/* clear, and (as HAProxy 2.6 does) set without a key: every
		 * unreferenced entry matching the filters goes */
		stktable_clear(t, now, f, nf);
	}
	return CLI_DONE;
}

static int cmd_show_table(struct cli_req *r) { return table_cmd(r, ACT_SHOW); }
static int cmd_clear_table(struct cli_req *r) { return table_cmd(r, ACT_CLEAR); }
static int cmd_set_table(struct cli_req *r) { return table_cmd(r, ACT_SET); }

const struct cli_cmd cli_cmds_table[] = {
	{ { "clear", "table", NULL },
	  "clear table <table> [<filter>]*         : remove an entry from a table (filter: data/key)",
	  cmd_clear_table },
	{ { "set", "table", NULL },
	  "set table <table> key <k> [data.* <v>]* : update or create a table entry's data",
	  cmd_set_table },
	{ { "show", "table", NULL },
	  "show table <table> [<filter>]*          : report table usage stats or dump this table's contents (filter: data/key)",
	  cmd_show_table },
	{ { NULL }, NULL, NULL }
};

/* Conditions and conditional blocks, as HAProxy 2.6 reads them (its
 * cfgcond.c, make_arg_list() for the predicates' arguments and
 * split_version() for versions): the same grammar, the same quirks, the
 * same sentences. */
#include "config/cond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECURSION 1024         /* HAProxy's MAX_CFG_RECURSION */
#define COND_ARG_MAX 1024          /* the room of one predicate argument */

/* One evaluation's first error: its sentence and where in the text. */
struct ceval {
	char *err;
	size_t errlen;
	const char *errptr;
};

static int fail(struct ceval *e, const char *at, const char *fmt, const char *arg)
{
	snprintf(e->err, e->errlen, fmt, arg);
	e->errptr = at;
	return -1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/* ---- versions ------------------------------------------------------------- */

#define VERSION_ELTS 7

/* HAProxy's split_version(): <a>[.<b>[.<c>[.<d>]]][-{dev,pre,rc}<f>][-*][-<g>]
 * into 7 numbers (the tag: dev 1, rc/pre 2, none 3). Returns 0 when the
 * text is not a version. */
static int split_version(const char *s, unsigned v[VERSION_ELTS])
{
	const char *p = s, *last;
	char *end;

	memset(v, 0, VERSION_ELTS * sizeof(*v));
	v[4] = 3;
	if (!*p)
		return 0;
	for (int i = 0; i < 4; i++) {
		v[i] = (unsigned)strtol(p, &end, 10);
		p = end + 1;
		if (!*end)
			return 1;
		if (*end == '-')
			break;
		if (*end != '.' || i == 3)
			return 0;
	}
	if (!(*p >= '0' && *p <= '9')) {
		int tag = !strncmp(p, "dev", 3) ? 1 : !strncmp(p, "rc", 2) ? 2 :
			  !strncmp(p, "pre", 3) ? 2 : 0;
		if (tag) {
			v[4] = (unsigned)tag;
			p += tag == 1 || p[0] == 'p' ? 3 : 2;
			v[5] = (unsigned)strtol(p, &end, 10);
			p = end + 1;
			if (!*end)
				return 1;
			if (*end != '-')
				return 0;
		}
	}
	last = strrchr(p, '-');
	if (last) {
		if (!*++last)
			return 0;
		p = last;
	}
	v[6] = (unsigned)strtol(p, &end, 10);
	if (*end)
		v[6] = 0;
	return 1;
}

/* HAProxy's compare_current_version() against COND_HAPROXY_VERSION: -1 when
 * s is older, 0 the same, 1 newer, -3 when s is not a version (which makes
 * version_atleast true and version_before false, as in HAProxy). */
static int compare_version(const char *s)
{
	unsigned cur[VERSION_ELTS], v[VERSION_ELTS];

	split_version(COND_HAPROXY_VERSION, cur);
	if (!split_version(s, v))
		return -3;
	for (int i = 0; i < VERSION_ELTS; i++)
		if (v[i] != cur[i])
			return v[i] < cur[i] ? -1 : 1;
	return 0;
}

/* ---- predicates ----------------------------------------------------------- */

enum pred { P_DEFINED, P_FEATURE, P_STREQ, P_STRNEQ, P_VATLEAST, P_VBEFORE,
	    P_OSSL_ATLEAST, P_OSSL_BEFORE, P_SSLLIB };

static const struct { const char *word; enum pred p; int nargs; } preds[] = {
	{ "defined", P_DEFINED, 1 },
	{ "feature", P_FEATURE, 1 },
	{ "streq", P_STREQ, 2 },
	{ "strneq", P_STRNEQ, 2 },
	{ "version_atleast", P_VATLEAST, 1 },
	{ "version_before", P_VBEFORE, 1 },
	{ "openssl_version_atleast", P_OSSL_ATLEAST, 1 },
	{ "openssl_version_before", P_OSSL_BEFORE, 1 },
	{ "ssllib_name_startswith", P_SSLLIB, 1 },
};

/* HAProxy's feature(): true when name follows a '+' in the list. */
static int has_feature(const char *name)
{
	const char *f = COND_FEATURES;
	size_t l = strlen(name);

	if (!l)
		return 0;
	for (const char *p = f; (p = strstr(p, name)); p++)
		if (p > f && (p[l] == ' ' || !p[l]) && (p[-1] == '+' || p[-1] == '-'))
			return p[-1] == '+';
	return 0;
}

/* Reads one argument at *inp as make_arg_list() does: quotes removed,
 * \\ \<space> \" \' \r \n \t unescaped, up to an unquoted ',' or ')' or the
 * end. Returns 0, or -1 with HAProxy's sentence in why (a backslash ends
 * the text). */
static int read_arg(const char **inp, char *out, int argno, char *why, size_t whylen)
{
	static const char from[] = "\\ \"'rnt", to[] = "\\ \"'\r\n\t";
	const char *in = *inp;
	int sq = 0, dq = 0;
	size_t o = 0;

	while (*in && o < COND_ARG_MAX - 1) {
		if (*in == '"' && !sq) {
			dq = !dq;
			in++;
		} else if (*in == '\'' && !dq) {
			sq = !sq;
			in++;
		} else if (*in == '\\' && !sq) {
			const char *k = in[1] ? strchr(from, in[1]) : NULL;
			if (!in[1]) {
				out[o] = 0;
				snprintf(why, whylen, "failed to parse '%s' after '%s' as type 'string' at position %d",
					 in, out, argno + 1);
				*inp = in;
				return -1;
			}
			if (k) {
				out[o++] = to[k - from];
				in += 2;
			} else {
				out[o++] = *in++; /* a lone backslash */
			}
		} else if (!sq && !dq && (*in == ',' || *in == ')')) {
			break;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = 0;
	*inp = in;
	return 0;
}

/* The arguments of predicate k at *inp (just after its name), as
 * make_arg_list(): without '(' the predicate gets one empty argument.
 * Returns 0 with *inp after them, or -1 with HAProxy's "... in argument N
 * of predicate 'x' used in conditional expression". */
static int pred_args(struct ceval *e, const char **inp, int k, char args[2][COND_ARG_MAX])
{
	const int nargs = preds[k].nargs;
	const char *in = *inp;
	int pos = 0, bare = *in != '(';
	char why[2 * COND_ARG_MAX + 80];

	if (!bare)
		in++;
	while (pos < nargs) {
		if (bare)
			args[pos][0] = 0;
		else if (read_arg(&in, args[pos], pos, why, sizeof(why)))
			goto err;
		pos++;
		if (bare || !*in || *in == ')' || pos >= nargs)
			break;
		in++; /* the comma */
	}
	if (pos < nargs) {
		snprintf(why, sizeof(why), "missing arguments (got %d/%d), type 'string' expected", pos, nargs);
		goto err;
	}
	if (!bare) {
		if (*in != ')') {
			if (*in)
				snprintf(why, sizeof(why), "expected ')' before '%.*s'", COND_ARG_MAX, in);
			else
				snprintf(why, sizeof(why), "expected ')'");
			if (pos > 1)
				pos--;
			goto err;
		}
		in++;
	}
	*inp = in;
	return 0;
err:
	snprintf(e->err, e->errlen, "%s in argument %d of predicate '%s' used in conditional expression",
		 why, pos, preds[k].word);
	e->errptr = in;
	return -1;
}

/* Evaluates predicate k on its arguments: 1, 0, or -1 (ferry has no SSL
 * library: the OpenSSL version predicates fail as in an HAProxy built
 * without one). */
static int pred_eval(struct ceval *e, int k, char args[2][COND_ARG_MAX])
{
	switch (preds[k].p) {
	case P_DEFINED: return getenv(args[0]) != NULL;
	case P_FEATURE: return has_feature(args[0]);
	case P_STREQ: return !strcmp(args[0], args[1]);
	case P_STRNEQ: return strcmp(args[0], args[1]) != 0;
	case P_VATLEAST: return compare_version(args[0]) <= 0;
	case P_VBEFORE: return compare_version(args[0]) > 0;
	case P_SSLLIB: return 0;
	case P_OSSL_ATLEAST:
	case P_OSSL_BEFORE:
		break;
	}
	snprintf(e->err, e->errlen, "predicate '%s' needs an SSL library, which ferry does not use",
		 preds[k].word);
	e->errptr = NULL;
	return -1;
}

/* ---- the grammar ------------------------------------------------------------
 * expr = and [ '||' expr ]; and = term [ '&&' and ];
 * term = '!'* ( number | '(' expr ')' | predicate [ '(' args ')' ] ).
 * Each returns -1 (error), 0 (nothing to read here: the caller words the
 * error), or 1 with *val set; *text moves past what was read. live: the
 * value counts (a decided && or || parses the rest without evaluating). */

static int parse_expr(struct ceval *e, const char **text, int live, int *val, int depth);

/* A predicate at *inp: 1 with *val (when live), 0 when no predicate has
 * that name, -1 on error. Its own frame: the arguments' room is taken only
 * at the leaves of the recursion. */
static int parse_pred(struct ceval *e, const char **inp, int live, int *val)
{
	size_t l = strcspn(*inp, " (");
	char args[2][COND_ARG_MAX];

	for (size_t k = 0; k < sizeof(preds) / sizeof(preds[0]); k++) {
		if (l != strlen(preds[k].word) || strncmp(*inp, preds[k].word, l))
			continue;
		*inp += l;
		if (pred_args(e, inp, (int)k, args))
			return -1;
		if (live && (*val = pred_eval(e, (int)k, args)) < 0)
			return -1;
		return 1;
	}
	return 0;
}

static int parse_term(struct ceval *e, const char **text, int live, int *val, int depth)
{
	const char *in = skip_blanks(*text);
	int neg = 0, r;
	char *end;
	long num;

	if (!*in)
		return 0;
	if (depth <= 0)
		return fail(e, *text, "unparsable conditional expression '%s'", *text);
	while (*in == '!') {
		neg = !neg;
		in = skip_blanks(in + 1);
	}
	num = strtol(in, &end, 0);
	if (end != in) {
		*val = (num != 0) ^ neg;
		*text = end;
		return 1;
	}
	if (*in == '(') {
		in = skip_blanks(in + 1);
		r = parse_expr(e, &in, live, val, depth - 1);
		if (r < 0)
			return -1;
		if (r == 0)
			return fail(e, *text, "unparsable conditional expression '%s'", *text);
		in = skip_blanks(in);
		if (*in != ')')
			return fail(e, *text, "expected ')' after conditional expression '%s'", *text);
		*val ^= neg;
		*text = skip_blanks(in + 1);
		return 1;
	}
	r = parse_pred(e, &in, live, val);
	if (r < 0)
		return -1;
	if (r > 0) {
		*val ^= neg;
		*text = in;
		return 1;
	}
	return fail(e, *text, "unparsable conditional expression '%s'", *text);
}

/* and = term [ '&&' and ]; op "&&" and the error wording for and,
 * or op "||" for expr. */
static int parse_chain(struct ceval *e, const char **text, int live, int *val, int depth,
		       const char *op)
{
	const char *in = *text;
	int is_and = op[0] == '&', v = 0, r;

	if (!*in)
		return 0;
	if (depth <= 0)
		return fail(e, in, is_and ? "unparsable conditional sub-expression '%s'"
				      : "unparsable conditional expression '%s'", in);
	r = is_and ? parse_term(e, &in, live, &v, depth - 1) : parse_chain(e, &in, live, &v, depth - 1, "&&");
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(e, in, is_and ? "unparsable conditional sub-expression '%s'"
				      : "unparsable conditional expression '%s'", in);
	in = skip_blanks(in);
	*text = in;
	*val = v;
	if (in[0] != op[0] || in[1] != op[1])
		return 1;
	in = skip_blanks(in + 2);
	/* the right side counts only while the left one did not decide */
	r = parse_chain(e, &in, live && (is_and ? v : !v), &v, depth - 1, op);
	if (r > 0) {
		*text = in;
		if (live && (is_and ? *val : !*val))
			*val = v;
	}
	return r;
}

static int parse_expr(struct ceval *e, const char **text, int live, int *val, int depth)
{
	return parse_chain(e, text, live, val, depth, "||");
}

int cond_eval(const char *text, char *err, size_t errlen, int *pos)
{
	struct ceval e = { .err = err, .errlen = errlen };
	const char *in = text;
	int val = 0, r;

	*pos = 0;
	if (!*text)
		return 0;
	r = parse_expr(&e, &in, 1, &val, MAX_RECURSION);
	if (r == 0)
		fail(&e, in, "unparsable conditional expression '%s'", text);
	if (r > 0) {
		in = skip_blanks(in);
		if (!*in)
			return val;
		snprintf(err, errlen, "unexpected character '%c' at the end of conditional expression '%s'",
			 *in, text);
		e.errptr = in;
	}
	*pos = e.errptr ? (int)(e.errptr - text) + 1 : 0;
	return -1;
}

/* ---- conditional blocks ----------------------------------------------------- */

/* The state of an open block, as HAProxy's nested_cond_state. */
enum { IF_TAKE, IF_DROP, IF_SKIP, ELIF_TAKE, ELIF_DROP, ELIF_SKIP, ELSE_TAKE, ELSE_DROP };

static int masks(int st)
{
	return st != IF_TAKE && st != ELIF_TAKE && st != ELSE_TAKE;
}

/* Whether the lines here are masked out: by a condition of this level or,
 * through it (a masked level masks what it holds), of an outer one. */
static int masked(const struct cond_blocks *b)
{
	return b->over || (b->depth && masks(b->st[b->depth - 1]));
}

int cond_eval_words(int n, char *const *w, char *err, size_t errlen, int *pos)
{
	char text[4096 + 2 * 64];
	size_t o = 0;

	text[0] = 0;
	for (int i = 0; i < n && o + 1 < sizeof(text); i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", i ? " " : "", w[i]);
	return cond_eval(text, err, errlen, pos);
}

/* Evaluates the condition of a .if/.elif line: 1, 0, or -1 with err set
 * to HAProxy's "<why> in '.if' at position N". */
static int eval_line(int n, char *const *w, char *err, size_t errlen)
{
	char why[2048 + 256];
	int pos, r = cond_eval_words(n - 1, w + 1, why, sizeof(why), &pos);

	if (r < 0)
		snprintf(err, errlen, "%s in '%s' at position %d", why, w[0], pos);
	return r;
}

static enum cond_action directive_if(struct cond_blocks *b, int n, char *const *w,
				     char *err, size_t errlen)
{
	int r;

	if (b->over || b->depth + 1 >= COND_MAX_NEST) {
		b->over++;
		if (b->over > 1)
			return COND_SKIP; /* said once, at the first level too many */
		snprintf(err, errlen, "too many nested '.if', max is %d.", COND_MAX_NEST);
		return COND_ERROR;
	}
	if (masked(b)) {
		b->st[b->depth++] = IF_SKIP;
		return COND_SKIP;
	}
	r = eval_line(n, w, err, errlen);
	b->st[b->depth++] = r < 0 ? IF_SKIP : r ? IF_TAKE : IF_DROP;
	return r < 0 ? COND_ERROR : COND_SKIP;
}

static enum cond_action directive_elif(struct cond_blocks *b, int n, char *const *w,
				       char *err, size_t errlen)
{
	unsigned char *st;
	int r;

	if (b->over)
		return COND_SKIP;
	if (!b->depth) {
		snprintf(err, errlen, "lone '.elif' with no matching '.if'.");
		return COND_ERROR;
	}
	st = &b->st[b->depth - 1];
	if (*st == ELSE_TAKE || *st == ELSE_DROP) {
		snprintf(err, errlen, "'.elif' after '.else' is not permitted.");
		*st = ELSE_DROP;
		return COND_ERROR;
	}
	if (*st != IF_DROP && *st != ELIF_DROP) { /* a branch was taken, or all are masked */
		*st = ELIF_SKIP;
		return COND_SKIP;
	}
	r = eval_line(n, w, err, errlen);
	*st = r < 0 ? ELIF_SKIP : r ? ELIF_TAKE : ELIF_DROP;
	return r < 0 ? COND_ERROR : COND_SKIP;
}

/* .else and .endif take no argument: that is checked first, as HAProxy
 * does, and the directive is applied all the same. */
static enum cond_action directive_else_endif(struct cond_blocks *b, int n, char *const *w,
					     char *err, size_t errlen)
{
	int is_else = !strcmp(w[0], ".else");
	enum cond_action act = COND_SKIP;
	unsigned char *st;

	if (n > 1 && *w[1]) {
		snprintf(err, errlen, "Unexpected argument '%s' for '%s'.", w[1], w[0]);
		act = COND_ERROR;
	}
	if (b->over) { /* inside a level refused for its depth */
		b->over -= !is_else;
		return act;
	}
	if (!b->depth) {
		if (act == COND_SKIP)
			snprintf(err, errlen, "lone '%s' with no matching '.if'.", w[0]);
		return COND_ERROR;
	}
	st = &b->st[b->depth - 1];
	if (!is_else) {
		b->depth--;
		return act;
	}
	if (*st == ELSE_TAKE || *st == ELSE_DROP) {
		if (act == COND_SKIP)
			snprintf(err, errlen, "'.else' after '.else' is not permitted.");
		*st = ELSE_DROP;
		return COND_ERROR;
	}
	*st = *st == IF_DROP || *st == ELIF_DROP ? ELSE_TAKE : ELSE_DROP;
	return act;
}

enum cond_action cond_line(struct cond_blocks *b, int n, char *const *w, const char **msg,
			   char *err, size_t errlen)
{
	static const char *const levels[] = { ".diag", ".notice", ".warning", ".alert" };
	static const enum cond_action acts[] = { COND_DIAG, COND_NOTICE, COND_WARNING, COND_ALERT };

	*msg = NULL;
	if (w[0][0] != '.')
		return masked(b) ? COND_SKIP : COND_LINE;
	if (!strcmp(w[0], ".if"))
		return directive_if(b, n, w, err, errlen);
	if (!strcmp(w[0], ".elif"))
		return directive_elif(b, n, w, err, errlen);
	if (!strcmp(w[0], ".else") || !strcmp(w[0], ".endif"))
		return directive_else_endif(b, n, w, err, errlen);
	if (masked(b))
		return COND_SKIP;
	for (int i = 0; i < 4; i++) {
		if (strcmp(w[0], levels[i]))
			continue;
		if (n > 2 && *w[2]) {
			snprintf(err, errlen, "Unexpected argument '%s' for '%s'. Use quotes if the message should contain spaces.",
				 w[2], w[0]);
			return COND_ERROR;
		}
		*msg = n > 1 ? w[1] : "";
		return acts[i];
	}
	snprintf(err, errlen, "unknown directive '%s'.", w[0]);
	return COND_ERROR;
}

int cond_end(const struct cond_blocks *b, char *err, size_t errlen)
{
	if (!b->depth && !b->over)
		return 0;
	snprintf(err, errlen, "non-terminated '.if' block.");
	return -1;
}

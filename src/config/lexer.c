#include "config/lexer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The line being split and where its words go. */
struct lexer {
	const char *line;          /* its first byte is position 1 in messages */
	const struct cfg_lex *lx;
	struct cfg_words *out;
	size_t o;                  /* bytes of out->buf in use */
	int open;                  /* the last word is still being written */
	char *err;
	size_t errlen;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static int too_long(struct lexer *L)
{
	snprintf(L->err, L->errlen, "line too long");
	return -1;
}

/* Starts a word unless one is being written. */
static int word_open(struct lexer *L)
{
	if (L->open)
		return 0;
	if (L->out->n == CFG_MAX_WORDS) {
		snprintf(L->err, L->errlen, "too many words on this line (max %d)", CFG_MAX_WORDS);
		return -1;
	}
	L->out->w[L->out->n++] = L->out->buf + L->o;
	L->open = 1;
	return 0;
}

static int word_close(struct lexer *L)
{
	if (!L->open)
		return 0;
	if (L->o + 1 > sizeof(L->out->buf))
		return too_long(L);
	L->out->buf[L->o++] = 0;
	L->open = 0;
	return 0;
}

static int put(struct lexer *L, char c)
{
	if (word_open(L))
		return -1;
	if (L->o + 2 > sizeof(L->out->buf)) /* room for the word's end too */
		return too_long(L);
	L->out->buf[L->o++] = c;
	return 0;
}

static int at(const struct lexer *L, const char *p)
{
	return (int)(p - L->line) + 1;
}

/* Reads the backslash sequence at p (p[0] is a backslash, outside single
 * quotes) as HAProxy's parse_line() does: \\ and "\ " give the character,
 * \t \n \r a control character, \xHH a byte; \# \' \" drop the backslash,
 * and so does \$ inside double quotes. Before any other character, and at
 * the end of the line, the backslash is kept and the next character is read
 * as usual: ^\+OK\s\d+ reaches a regular expression unchanged. Sets *c to
 * the character to store; returns how many bytes of p it used, or -1 when \x
 * is not followed by two hex digits (HAProxy refuses the line too). */
static int unescape(const char *p, int in_dquote, char *c)
{
	switch (p[1]) {
	case '\\': case ' ': case '#': case '\'': case '"':
		*c = p[1];
		return 2;
	case 't': *c = '\t'; return 2;
	case 'n': *c = '\n'; return 2;
	case 'r': *c = '\r'; return 2;
	case '$':
		if (!in_dquote)
			break;
		*c = '$';
		return 2;
	case 'x':
		if (hexval(p[2]) < 0 || hexval(p[3]) < 0)
			return -1;
		*c = (char)(hexval(p[2]) * 16 + hexval(p[3]));
		return 4;
	}
	*c = '\\';
	return 1;
}

/* The value of a pseudo-variable (name starts with '.'), or NULL with an
 * error when there is no such pseudo-variable. */
static const char *pseudo_var(struct lexer *L, const char *name, char *num, size_t numlen)
{
	const struct cfg_lex *lx = L->lx;

	if (!strcmp(name, ".LINE")) {
		snprintf(num, numlen, "%d", lx ? lx->line : 0);
		return num;
	}
	if (!strcmp(name, ".FILE"))
		return lx && lx->file ? lx->file : "";
	if (!strcmp(name, ".SECTION"))
		return lx && lx->section ? lx->section : "";
	return NULL;
}

/* Writes len bytes of v into the current word; with split, each run of
 * blanks ends a word (HAProxy's ${NAME[*]}). Blanks at either end of the
 * value start or end no empty word. */
static int put_value(struct lexer *L, const char *v, size_t len, int split)
{
	for (size_t i = 0; i < len; i++) {
		if (split && isspace((unsigned char)v[i])) {
			if (L->open && L->out->w[L->out->n - 1] != L->out->buf + L->o && word_close(L))
				return -1;
			continue;
		}
		if (put(L, v[i]))
			return -1;
	}
	return 0;
}

/* Expands the variable at *pp ('$', inside double quotes) as HAProxy 2.6's
 * parse_line(), with its error sentences; moves *pp past it. */
static int expand_env(struct lexer *L, const char **pp)
{
	const char *q = *pp + 1, *brace = NULL, *name, *val;
	char nm[256], num[16];
	size_t vlen = 0;
	int split = 0;

	if (*q == '{')
		brace = q++;
	if (!isalpha((unsigned char)*q) && *q != '_' && *q != '.')
		goto bad_name;
	name = q;
	if (*q == '.')
		q++;
	while (isalnum((unsigned char)*q) || *q == '_')
		q++;
	if ((size_t)(q - name) >= sizeof(nm)) {
		snprintf(L->err, L->errlen, "environment variable name too long at position %d", at(L, name));
		return -1;
	}
	memcpy(nm, name, (size_t)(q - name));
	nm[q - name] = 0;
	if (nm[0] == '.') {
		val = pseudo_var(L, nm, num, sizeof(num));
		if (!val) {
			q = name;
			goto bad_name;
		}
	} else {
		val = getenv(nm);
	}
	if (val)
		vlen = strlen(val);
	if (*q == '[' && brace) {
		if (q[1] != '*' || q[2] != ']') {
			snprintf(L->err, L->errlen, "truncated or invalid word expansion sequence at position %d", at(L, q));
			return -1;
		}
		split = 1;
		q += 3;
	}
	if (brace) {
		if (*q == '-') { /* a default, up to the first '}', for an unset variable */
			const char *end = strchr(q, '}');
			if (!end)
				goto bad_brace;
			if (!val) {
				val = q + 1;
				vlen = (size_t)(end - val);
			}
			q = end;
		} else if (*q != '}') {
			goto bad_brace;
		}
		q++;
	}
	*pp = q;
	return val ? put_value(L, val, vlen, split) : 0;
bad_name:
	snprintf(L->err, L->errlen, "forbidden first char in environment variable name at position %d", at(L, q));
	return -1;
bad_brace:
	snprintf(L->err, L->errlen, "unmatched brace in environment variable name at position %d", at(L, brace));
	return -1;
}

int cfg_split_lex(const char *line, const struct cfg_lex *lx, struct cfg_words *out,
		  char *err, size_t errlen)
{
	struct lexer L = { .line = line, .lx = lx, .out = out, .err = err, .errlen = errlen };
	const char *p = line;
	int quote = 0;

	out->n = 0;
	memset(out->w, 0, sizeof(out->w));
	while (*p) {
		char c = *p;

		if (!quote && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			if (word_close(&L))
				return -1;
			p++;
			continue;
		}
		if (!quote && c == '#' && !(lx && lx->no_comment))
			break;
		if (c == quote) {
			quote = 0;
			p++;
			continue;
		}
		if (!quote && (c == '"' || c == '\'')) {
			if (word_open(&L)) /* "" is a word, an empty one */
				return -1;
			quote = c;
			p++;
			continue;
		}
		if (c == '$' && quote == '"') {
			if (expand_env(&L, &p))
				return -1;
			continue;
		}
		if (c == '\\' && quote != '\'') {
			int len = unescape(p, quote == '"', &c);
			if (len < 0) {
				snprintf(err, errlen, "truncated or invalid hexadecimal sequence '%.4s' (expected \\xHH)", p);
				return -1;
			}
			p += len;
		} else {
			p++;
		}
		if (put(&L, c))
			return -1;
	}
	if (quote) {
		snprintf(err, errlen, "unmatched %s quote", quote == '"' ? "double" : "single");
		return -1;
	}
	return word_close(&L);
}

int cfg_split(const char *line, struct cfg_words *out, char *err, size_t errlen)
{
	return cfg_split_lex(line, NULL, out, err, errlen);
}

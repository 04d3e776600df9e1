#include "config/lexer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
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

/* Expands ${NAME} or $NAME at *pp (pointing at '$'). Appends to out[*o]. */
static int expand_env(const char **pp, char *out, size_t *o, size_t cap,
		      char *err, size_t errlen)
{
	const char *p = *pp + 1, *start, *end;
	char name[256], *val;
	int braces = (*p == '{');

	if (braces)
		p++;
	start = p;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	end = p;
	if (braces) {
		if (*p != '}') {
			snprintf(err, errlen, "missing '}' after '${' in environment variable");
			return -1;
		}
		p++;
	}
	if (end == start) { /* a lone '$' is literal */
		if (*o + 1 >= cap)
			goto full;
		out[(*o)++] = '$';
		*pp = *pp + 1;
		return 0;
	}
	if ((size_t)(end - start) >= sizeof(name)) {
		snprintf(err, errlen, "environment variable name too long");
		return -1;
	}
	memcpy(name, start, (size_t)(end - start));
	name[end - start] = 0;
	val = getenv(name);
	if (val) {
		size_t l = strlen(val);
		if (*o + l >= cap)
			goto full;
		memcpy(out + *o, val, l);
		*o += l;
	}
	*pp = p;
	return 0;
full:
	snprintf(err, errlen, "line too long");
	return -1;
}

int cfg_split(const char *line, struct cfg_words *out, char *err, size_t errlen)
{
	const char *p = line;
	size_t o = 0, cap = sizeof(out->buf);

	out->n = 0;
	memset(out->w, 0, sizeof(out->w));
	for (;;) {
		int quote = 0;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			break;
		if (out->n == CFG_MAX_WORDS) {
			snprintf(err, errlen, "too many words on this line (max %d)", CFG_MAX_WORDS);
			return -1;
		}
		out->w[out->n++] = out->buf + o;
		while (*p) {
			char c = *p;
			if (!quote && (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '#'))
				break;
			if (c == quote) {
				quote = 0;
				p++;
				continue;
			}
			if (!quote && (c == '"' || c == '\'')) {
				quote = c;
				p++;
				continue;
			}
			if (c == '\\' && quote != '\'') {
				int len = unescape(p, quote == '"', &c);
				if (len < 0) {
					snprintf(err, errlen, "truncated or invalid hexadecimal sequence '%.4s' (expected \\xHH)", p);
					return -1;
				}
				p += len;
			} else if (c == '$' && quote == '"') {
				if (expand_env(&p, out->buf, &o, cap, err, errlen))
					return -1;
				continue;
			} else {
				p++;
			}
			if (o + 1 >= cap)
				goto full;
			out->buf[o++] = c;
		}
		if (quote) {
			snprintf(err, errlen, "unmatched %s quote",
				 quote == '"' ? "double" : "single");
			return -1;
		}
		if (o + 1 >= cap)
			goto full;
		out->buf[o++] = 0;
	}
	return 0;
full:
	snprintf(err, errlen, "line too long");
	return -1;
}

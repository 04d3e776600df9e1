/* Splits one configuration line into words the way HAProxy 2.6's
 * parse_line() does: blanks separate words; '#' starts a comment; 'single
 * quotes' keep everything literal; elsewhere a backslash escapes only what
 * HAProxy escapes (\\ \<space> \# \' \" \t \n \r \xHH, and \$ inside double
 * quotes) and stays in the word before anything else. Inside double quotes
 * (and only there) environment variables expand: $NAME, ${NAME},
 * ${NAME-default} (the default replaces an unset variable, not an empty
 * one), ${NAME[*]} (the value's blank-separated parts become words of their
 * own) and the pseudo-variables ${.FILE}, ${.LINE}, ${.SECTION}. An unset
 * variable expands to nothing. */
#ifndef FERRY_CONFIG_LEXER_H
#define FERRY_CONFIG_LEXER_H
#include <stddef.h>

#define CFG_MAX_WORDS 64

struct cfg_words {
	int n;
	char *w[CFG_MAX_WORDS + 1]; /* w[n] and every slot after it are NULL */
	char buf[4096];             /* storage for the words */
};

/* Where a line is read, for the pseudo-variables; and how '#' is read. */
struct cfg_lex {
	const char *file;           /* ${.FILE}: NULL expands to nothing */
	int line;                   /* ${.LINE} */
	const char *section;        /* ${.SECTION}: NULL expands to nothing */
	int no_comment;             /* '#' is an ordinary character (ferry -cc) */
};

/* Splits line into out. Returns 0, or -1 with a message in err (positions
 * in it count from 1 at the first byte of line, as HAProxy's). Slots past
 * the last word are NULL, so a parser that looks one or two words ahead of
 * the end reads NULL, never a word left from an earlier line. lx may be
 * NULL: no file, line or section. */
int cfg_split_lex(const char *line, const struct cfg_lex *lx, struct cfg_words *out,
		  char *err, size_t errlen);
/* cfg_split_lex without a location. */
int cfg_split(const char *line, struct cfg_words *out, char *err, size_t errlen);

#endif

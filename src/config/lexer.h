/* Splits one configuration line into words the way HAProxy's parse_line()
 * does: blanks separate words; '#' starts a comment; 'single quotes' keep
 * everything literal; elsewhere a backslash escapes only what HAProxy
 * escapes (\\ \<space> \# \' \" \t \n \r \xHH, and \$ inside double quotes)
 * and stays in the word before anything else; "double quotes" expand ${VAR}
 * from the environment. */
#ifndef FERRY_CONFIG_LEXER_H
#define FERRY_CONFIG_LEXER_H
#include <stddef.h>

#define CFG_MAX_WORDS 64

struct cfg_words {
	int n;
	char *w[CFG_MAX_WORDS + 1]; /* w[n] and every slot after it are NULL */
	char buf[4096];             /* storage for the words */
};

/* Splits line into out. Returns 0, or -1 with a message in err. Slots past
 * the last word are NULL, so a parser that looks one or two words ahead of
 * the end reads NULL, never a word left from an earlier line. */
int cfg_split(const char *line, struct cfg_words *out, char *err, size_t errlen);

#endif

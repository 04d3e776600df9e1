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
	char *w[CFG_MAX_WORDS + 1]; /* w[n] is NULL */
	char buf[4096];             /* storage for the words */
};

/* Splits line into out. Returns 0, or -1 with a message in err. */
int cfg_split(const char *line, struct cfg_words *out, char *err, size_t errlen);

#endif

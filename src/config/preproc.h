/* The conditional blocks and message directives of a configuration file
 * (cond.h) applied while it is read: messages and errors go to the
 * configuration's diagnostics. */
#ifndef FERRY_CONFIG_PREPROC_H
#define FERRY_CONFIG_PREPROC_H
#include "config/cond.h"
#include "config/lexer.h"
#include "config/model.h"

/* Reads the split line w of file:line. Returns 1 when it is an ordinary
 * line to parse, 0 when it was a directive or masked by a condition. */
int cfg_preproc_line(struct cfg *c, struct cond_blocks *b, const char *file, int line,
		     const struct cfg_words *w);
/* The end of a file: a block still open is an error (on its last line). */
void cfg_preproc_end(struct cfg *c, const struct cond_blocks *b, const char *file, int line);

#endif

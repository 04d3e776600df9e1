#include "config/preproc.h"

#include <stdio.h>

int cfg_preproc_line(struct cfg *c, struct cond_blocks *b, const char *file, int line,
		     const struct cfg_words *w)
{
	char err[4096 + 256];
	const char *msg;

	switch (cond_line(b, w->n, w->w, &msg, err, sizeof(err))) {
	case COND_LINE:
		return 1;
	case COND_SKIP:
		break;
	case COND_DIAG: /* HAProxy prints these in diagnostic mode only (-dD) */
		if (c->diag_mode)
			fprintf(c->diag, "%s:%d: diag: '%s'.\n", file, line, msg);
		break;
	case COND_NOTICE:
		fprintf(c->diag, "%s:%d: notice: '%s'.\n", file, line, msg);
		break;
	case COND_WARNING:
		cfg_warn(c, file, line, "'%s'.", msg);
		break;
	case COND_ALERT:
		cfg_error(c, file, line, "'%s'.", msg);
		break;
	case COND_ERROR:
		cfg_error(c, file, line, "%s", err);
		break;
	}
	return 0;
}

void cfg_preproc_end(struct cfg *c, const struct cond_blocks *b, const char *file, int line)
{
	char err[128];

	if (cond_end(b, err, sizeof(err)))
		cfg_error(c, file, line, "%s", err);
}

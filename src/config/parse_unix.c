/* The options of a bind line that set a unix socket file's permissions and
 * owner, as HAProxy 2.6: mode <octal>, uid <n>, user <name>, gid <n>,
 * group <name>, with HAProxy's sentences. */
#include "config/parse_int.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

int parse_bind_unix_option(struct pctx *p, struct cfg_words *w, int *i, struct cfg_bind *b)
{
	const char *k = w->w[*i], *v = w->w[*i + 1] ? w->w[*i + 1] : "";
	char *end;
	long n;

	if (strcmp(k, "mode") && strcmp(k, "uid") && strcmp(k, "user") && strcmp(k, "gid") &&
	    strcmp(k, "group"))
		return 0;
	if (w->w[*i + 1])
		(*i)++;
	if (!strcmp(k, "mode")) {
		n = strtol(v, &end, 8);
		if (!*v || *end || n < 0 || n > 07777) {
			perr(p, "'bind %s' : 'mode' : missing or invalid mode '%s' (octal integer expected)", b->text, v);
			return -1;
		}
		b->ux_mode = (int)n;
	} else if (!strcmp(k, "uid") || !strcmp(k, "gid")) {
		/* HAProxy reads a word as 0 (root); ferry wants a number */
		if (arg_int(p, k, v, 0, 2147483647, &n))
			return -1;
		*(k[0] == 'u' ? &b->ux_uid : &b->ux_gid) = n;
	} else if (!strcmp(k, "user")) {
		struct passwd *pw = getpwnam(v);
		if (!pw) {
			perr(p, "'bind %s' : 'user' : unknown user name '%s'", b->text, v);
			return -1;
		}
		b->ux_uid = (long)pw->pw_uid;
	} else {
		struct group *gr = getgrnam(v);
		if (!gr) {
			perr(p, "'bind %s' : 'group' : unknown group name '%s'", b->text, v);
			return -1;
		}
		b->ux_gid = (long)gr->gr_gid;
	}
	return 1;
}

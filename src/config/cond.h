/* HAProxy 2.6's conditional blocks (.if/.elif/.else/.endif), its
 * conditions (ferry -cc evaluates one) and its message directives
 * (.diag/.notice/.warning/.alert), with its sentences. Pure: no I/O; the
 * only outside state read is the environment (defined()). */
#ifndef FERRY_CONFIG_COND_H
#define FERRY_CONFIG_COND_H
#include <stddef.h>

/* The HAProxy version version_atleast() and version_before() compare with:
 * ferry reads HAProxy 2.6's configuration language, so a configuration
 * written for several versions takes the branches it takes on 2.6.12. */
#define COND_HAPROXY_VERSION "2.6.12"
/* What feature(X) finds, in "haproxy -vv" form: '+' for what ferry has
 * (an equivalent of what HAProxy means by it), '-' for the others HAProxy
 * 2.6 lists. */
#define COND_FEATURES \
	"-51DEGREES +ACCEPT4 -BACKTRACE -CLOSEFROM -CPU_AFFINITY -CRYPT_H -DEVICEATLAS " \
	"-DL -ENGINE +EPOLL -EVPORTS +GETADDRINFO -KQUEUE -LIBCRYPT +LINUX_SPLICE " \
	"-LINUX_TPROXY -LUA -MEMORY_PROFILING -NETFILTER -NS -OBSOLETE_LINKER -OPENSSL " \
	"-OT -PCRE +PCRE2 +PCRE2_JIT -PCRE_JIT -POLL -PRCTL -PROCCTL +PROMEX -QUIC -RT " \
	"-SLZ -STATIC_PCRE -STATIC_PCRE2 +SYSTEMD -TFO +THREAD -THREAD_DUMP -TPROXY " \
	"-WURFL -ZLIB"

/* Evaluates a condition ("defined(X) && !streq(a,b)"). Returns 1 (true),
 * 0 (false, also for an empty text), or -1 with HAProxy's sentence in err
 * and the 1-based position of the offending character in text in *pos. */
int cond_eval(const char *text, char *err, size_t errlen, int *pos);
/* cond_eval on n words joined by single spaces, as HAProxy merges the
 * words of a .if line (or of -cc's argument) back into one expression. */
int cond_eval_words(int n, char *const *w, char *err, size_t errlen, int *pos);

#define COND_MAX_NEST 100          /* HAProxy's MAXNESTEDCONDS */

/* The open blocks of one file. Zeroed: none. */
struct cond_blocks {
	int depth;                     /* open .if levels */
	int over;                      /* levels past COND_MAX_NEST (refused, masked) */
	unsigned char st[COND_MAX_NEST];
};

enum cond_action {
	COND_LINE,                     /* an ordinary line: parse it */
	COND_SKIP,                     /* masked by a condition, or a block directive */
	COND_DIAG,                     /* .diag: print msg in diagnostic mode (-dD) */
	COND_NOTICE,                   /* .notice msg */
	COND_WARNING,                  /* .warning msg */
	COND_ALERT,                    /* .alert msg: an error */
	COND_ERROR,                    /* a wrong directive: err holds the sentence */
};

/* Reads one split line (n words w, n >= 1). Messages point into w. An
 * error leaves the blocks in the state that masks least surprisingly:
 * a condition that cannot be evaluated masks its whole block, branches
 * included. */
enum cond_action cond_line(struct cond_blocks *b, int n, char *const *w, const char **msg,
			   char *err, size_t errlen);
/* At the end of a file: 0, or -1 with "non-terminated '.if' block." in err. */
int cond_end(const struct cond_blocks *b, char *err, size_t errlen);

#endif

/* Regular expressions as HAProxy matches them: PCRE2, so patterns use Perl
 * syntax (\d, \s, (?i), lazy quantifiers), JIT-compiled when the library
 * and the CPU allow. Used by tcp-check rstring/rbinary; kept small so ACLs
 * (-m reg) can share it. */
#ifndef FERRY_CORE_REGEX_H
#define FERRY_CORE_REGEX_H
#include <stddef.h>

struct rx;

#define RX_F_ICASE 0x1 /* case-insensitive, as HAProxy's "-i" */

/* Compiles pattern (NUL-terminated). Returns the compiled expression, or
 * NULL with err filled with PCRE2's message and the offset ("missing closing
 * parenthesis at offset 3"). The caller frees it with rx_free. */
struct rx *rx_compile(const char *pattern, unsigned flags, char *err, size_t errlen);
/* Searches len bytes of subject (NULs included) for a match anywhere.
 * Returns 1 on a match, 0 on none (or when the match could not run, e.g.
 * out of memory). Safe from several threads on the same rx. */
int rx_match(const struct rx *rx, const char *subject, size_t len);
/* A copy of rx (for a second owner), or NULL when out of memory. */
struct rx *rx_dup(const struct rx *rx);
/* The pattern rx was compiled from. */
const char *rx_pattern(const struct rx *rx);
void rx_free(struct rx *rx);

#endif

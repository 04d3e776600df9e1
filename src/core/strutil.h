/* Small string helpers. */
#ifndef FERRY_CORE_STRUTIL_H
#define FERRY_CORE_STRUTIL_H
#include <stddef.h>

/* Levenshtein distance between a and b (byte-wise). */
int str_distance(const char *a, const char *b);
/* Returns the candidate closest to word when it is close enough to be a
 * plausible typo (distance <= 1/3 of the length, at least 1), else NULL.
 * cands is NULL-terminated. */
const char *str_suggest(const char *word, const char *const *cands);
/* strdup that aborts on allocation failure (configuration-time only). */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t sz);

#endif

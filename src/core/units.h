/* Parsers for HAProxy's numeric values: durations, sizes, bounded integers.
 * Each returns NULL on success, or a static message describing what is wrong. */
#ifndef FERRY_CORE_UNITS_H
#define FERRY_CORE_UNITS_H
#include <stdint.h>

/* Duration with HAProxy units: us, ms (default), s, m, h, d. Result in ms
 * (microseconds round up to the next millisecond). Max about 24 days, like
 * HAProxy's timers. */
const char *parse_duration_ms(const char *s, int64_t *ms);
/* Size with optional k, m, g suffix (powers of 1024, any case). */
const char *parse_size(const char *s, uint64_t *bytes);
/* Decimal integer within [min, max]. */
const char *parse_int(const char *s, long min, long max, long *out);

#endif

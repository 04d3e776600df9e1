/* Parsers for HAProxy's numeric values: durations, sizes, bounded integers.
 * Each returns NULL on success, or a static message describing what is wrong. */
#ifndef FERRY_CORE_UNITS_H
#define FERRY_CORE_UNITS_H
#include <stdint.h>

/* HAProxy's limits: a timer holds at most 2^31-1 ms (about 24.8 days), a
 * size at most 2^32-1 bytes (its parse_size_err() works on an unsigned). */
#define DURATION_MAX_MS 2147483647
#define SIZE_MAX_BYTES 4294967295

/* Duration with HAProxy units: us, ms (default), s, m, h, d. Result in ms
 * (microseconds round up to the next millisecond), at most DURATION_MAX_MS:
 * anything larger is "out of range", never wrapped. */
const char *parse_duration_ms(const char *s, int64_t *ms);
/* Size with optional k, m, g suffix (powers of 1024, any case, an optional
 * trailing b), at most SIZE_MAX_BYTES: anything larger is "out of range". */
const char *parse_size(const char *s, uint64_t *bytes);
/* The same with another limit (ferry's own keywords, such as a WAL lag):
 * "out of range" past max. */
const char *parse_size_upto(const char *s, uint64_t max, uint64_t *bytes);
/* Decimal integer within [min, max]. */
const char *parse_int(const char *s, long min, long max, long *out);

#endif

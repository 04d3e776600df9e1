#include "core/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STR(x) #x
#define XSTR(x) STR(x)
#define DURATION_RANGE "out of range (at most " XSTR(DURATION_MAX_MS) " ms, about 24.8 days)"
#define SIZE_RANGE "out of range (at most " XSTR(SIZE_MAX_BYTES) " bytes, just under 4g)"

const char *parse_duration_ms(const char *s, int64_t *ms)
{
	static const struct { const char *unit; unsigned long long num, den; } units[] = {
		{ "us", 1, 1000 }, { "ms", 1, 1 }, { "s", 1000, 1 },
		{ "m", 60000, 1 }, { "h", 3600000, 1 }, { "d", 86400000, 1 },
		{ "", 1, 1 },
	};
	unsigned long long v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return "expects a duration such as 500ms, 5s, 30m";
	/* the smallest unit (us) bounds the digits: v stays below 2^45 */
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned)(*p++ - '0');
		if (v > DURATION_MAX_MS * 1000ULL)
			return DURATION_RANGE;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit))
			continue;
		/* ceil(v * num / den) <= max exactly when v * num <= max * den;
		 * testing v first keeps the product from wrapping */
		if (v > DURATION_MAX_MS * units[i].den / units[i].num)
			return DURATION_RANGE;
		*ms = (int64_t)((v * units[i].num + units[i].den - 1) / units[i].den);
		return NULL;
	}
	return "unknown time unit (expected us, ms, s, m, h or d)";
}

const char *parse_size_upto(const char *s, uint64_t max, uint64_t *bytes)
{
	unsigned long long v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return "expects a size such as 512, 16k, 64m";
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned)(*p++ - '0');
		if (v > max)
			return "out of range";
	}
	switch (tolower((unsigned char)*p)) {
	case 0: break;
	case 'k': shift = 10; p++; break;
	case 'm': shift = 20; p++; break;
	case 'g': shift = 30; p++; break;
	default: return "unknown size unit (expected k, m or g)";
	}
	if (*p && !(tolower((unsigned char)*p) == 'b' && !p[1]))
		return "unknown size unit (expected k, m or g)";
	if (v > max >> shift)
		return "out of range";
	*bytes = v << shift;
	return NULL;
}

const char *parse_size(const char *s, uint64_t *bytes)
{
	const char *e = parse_size_upto(s, SIZE_MAX_BYTES, bytes);

	return e && !strcmp(e, "out of range") ? SIZE_RANGE : e;
}

const char *parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno)
		return "expects an integer";
	if (v < min || v > max)
		return "value out of range";
	*out = v;
	return NULL;
}

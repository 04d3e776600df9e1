#include "core/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DURATION_MAX_MS 2147483647LL /* HAProxy's timer limit: 2^31-1 ms */

const char *parse_duration_ms(const char *s, int64_t *ms)
{
	static const struct { const char *unit; int64_t num, den; } units[] = {
		{ "us", 1, 1000 }, { "ms", 1, 1 }, { "s", 1000, 1 },
		{ "m", 60000, 1 }, { "h", 3600000, 1 }, { "d", 86400000, 1 },
		{ "", 1, 1 },
	};
	unsigned long long v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return "expects a duration such as 500ms, 5s, 30m";
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned)(*p++ - '0');
		if (v > (unsigned long long)DURATION_MAX_MS * 1000)
			return "duration is too large (the limit is about 24 days)";
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit))
			continue;
		unsigned long long r = (v * (unsigned long long)units[i].num +
					units[i].den - 1) / (unsigned long long)units[i].den;
		if (r > DURATION_MAX_MS)
			return "duration is too large (the limit is about 24 days)";
		*ms = (int64_t)r;
		return NULL;
	}
	return "unknown time unit (expected us, ms, s, m, h or d)";
}

const char *parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return "expects a size such as 512, 16k, 64m";
	while (isdigit((unsigned char)*p)) {
		if (v > (1ULL << 50))
			return "size is too large";
		v = v * 10 + (unsigned)(*p++ - '0');
	}
	switch (tolower((unsigned char)*p)) {
	case 0: break;
	case 'k': mult = 1ULL << 10; p++; break;
	case 'm': mult = 1ULL << 20; p++; break;
	case 'g': mult = 1ULL << 30; p++; break;
	default: return "unknown size unit (expected k, m or g)";
	}
	if (*p && !(tolower((unsigned char)*p) == 'b' && !p[1]))
		return "unknown size unit (expected k, m or g)";
	*bytes = v * mult;
	return NULL;
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

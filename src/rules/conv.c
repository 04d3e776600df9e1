/* Converters: lower, upper, ipmask, and the map family (map, map_<match>,
 * map_<match>_<output>), applied to a sample in place. */
#include "rules/rules_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int case_conv(struct sample *s, int up)
{
	size_t n = s->len;

	if (n >= SMP_BUF)
		return 0; /* longer than a converter's buffer: no sample (README) */
	for (size_t i = 0; i < n; i++)
		s->buf[i] = (char)(up ? toupper(s->p[i]) : tolower(s->p[i]));
	s->p = (const uint8_t *)s->buf;
	s->type = SMP_STR;
	return 1;
}

static int c_lower(const struct rarg *a, int n, struct sample *s)
{
	return case_conv(s, 0);
}

static int c_upper(const struct rarg *a, int n, struct sample *s)
{
	return case_conv(s, 1);
}

static int c_ipmask(const struct rarg *a, int n, struct sample *s)
{
	if (s->type == SMP_IPV4) {
		for (int i = 0; i < 4; i++)
			s->ip[i] &= a[0].m4[i];
		return 1;
	}
	if (s->type == SMP_IPV6 && a[1].has_m6) {
		for (int i = 0; i < 16; i++)
			s->ip[i] &= a[1].m6[i];
		return 1;
	}
	return 0; /* as HAProxy: an IPv6 address without an IPv6 mask */
}

static const struct conv_def convs[] = {
	{ "lower", SMP_STR, SMP_STR, NULL, c_lower },
	{ "upper", SMP_STR, SMP_STR, NULL, c_upper },
	{ "ipmask", SMP_IPV4, SMP_IPV4, NULL, c_ipmask },
	{ NULL, 0, 0, NULL, NULL }
};

const struct conv_def *conv_find(const char *name, size_t len)
{
	for (const struct conv_def *d = convs; d->name; d++)
		if (strlen(d->name) == len && !memcmp(d->name, name, len))
			return d;
	return NULL;
}

/* A map converter: looks the sample up, replaces it by the value (or the
 * default); no sample when neither. */
static int map_apply(const struct rconv *cv, struct sample *s)
{
	uint32_t idx;
	const char *txt;

	if (smp_cast(s, cv->in))
		return 0;
	if (pat_match(cv->map, s, &idx, NULL)) {
		txt = cv->map->vals[idx];
		if (cv->out == SMP_SINT)
			return s->type = SMP_SINT, s->i = cv->map->ivals[idx], 1;
		if (cv->out == SMP_IPV4) {
			s->type = cv->map->ipvals[idx][0] == 4 ? SMP_IPV4 : SMP_IPV6;
			memcpy(s->ip, cv->map->ipvals[idx] + 1, 16);
			return 1;
		}
	} else if (cv->dflt) {
		txt = cv->dflt;
		if (cv->out == SMP_SINT)
			return s->type = SMP_SINT, s->i = cv->dflt_i, 1;
		if (cv->out == SMP_IPV4) {
			s->type = cv->dflt_ip[0] == 4 ? SMP_IPV4 : SMP_IPV6;
			memcpy(s->ip, cv->dflt_ip + 1, 16);
			return 1;
		}
	} else {
		return 0;
	}
	s->type = SMP_STR;
	s->p = (const uint8_t *)txt;
	s->len = strlen(txt);
	return 1;
}

int conv_apply(const struct rconv *cv, struct sample *s)
{
	if (!cv->d)
		return map_apply(cv, s);
	if (smp_cast(s, cv->in == SMP_IPV4 ? (s->type == SMP_IPV6 ? SMP_IPV6 : SMP_IPV4) : cv->in))
		return 0;
	return cv->d->fn(cv->a, cv->nargs, s);
}

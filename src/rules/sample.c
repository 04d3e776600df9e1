/* Samples: typed values and HAProxy's casts between them. */
#include "rules/rules_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = { "bool", "sint", "str", "bin", "ipv4", "ipv6", "any" };

const char *smp_type_name(enum smp_type t)
{
	return type_names[t];
}

int smp_from_addr(struct sample *s, const struct sockaddr *sa)
{
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET) {
		s->type = SMP_IPV4;
		memcpy(s->ip, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		s->type = SMP_IPV6;
		memcpy(s->ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* A string sample as a NUL-terminated copy in buf (text casts read it). */
static const char *str_z(struct sample *s, char *tmp, size_t n)
{
	size_t l = s->len < n - 1 ? s->len : n - 1;

	memcpy(tmp, s->p, l);
	tmp[l] = 0;
	return tmp;
}

static void set_str(struct sample *s, int len)
{
	s->type = SMP_STR;
	s->p = (const uint8_t *)s->buf;
	s->len = len < 0 ? 0 : (size_t)len >= sizeof(s->buf) ? sizeof(s->buf) - 1 : (size_t)len;
}

static int str_to_sint(struct sample *s)
{
	char tmp[32], *end;
	const char *t;
	long long v;

	if (s->len == 0 || s->len >= sizeof(tmp))
		return -1;
	t = str_z(s, tmp, sizeof(tmp));
	errno = 0;
	v = strtoll(t, &end, 10); /* HAProxy's read_int64: leading digits */
	if (end == t || errno)
		return -1;
	s->type = SMP_SINT;
	s->i = v;
	return 0;
}

int smp_cast(struct sample *s, enum smp_type to)
{
	char tmp[64];

	if (s->type == to || to == SMP_ANY)
		return 0;
	switch (s->type) {
	case SMP_BOOL:
	case SMP_SINT:
		if (to == SMP_BOOL || to == SMP_SINT) {
			if (to == SMP_BOOL)
				s->i = s->i != 0;
			s->type = to;
			return 0;
		}
		if (to == SMP_STR || to == SMP_BIN) {
			set_str(s, snprintf(s->buf, sizeof(s->buf), "%" PRId64, s->i));
			s->type = to;
			return 0;
		}
		if (to == SMP_IPV4 && s->type == SMP_SINT) { /* as HAProxy: the integer's bytes */
			uint32_t a = htonl((uint32_t)s->i);
			memcpy(s->ip, &a, 4);
			s->type = SMP_IPV4;
			return 0;
		}
		return -1;
	case SMP_IPV4:
		if (to == SMP_IPV6) {
			memmove(s->ip + 12, s->ip, 4);
			memcpy(s->ip, v4mapped, 12);
			s->type = SMP_IPV6;
			return 0;
		}
		if (to == SMP_STR) {
			inet_ntop(AF_INET, s->ip, s->buf, sizeof(s->buf));
			set_str(s, (int)strlen(s->buf));
			return 0;
		}
		if (to == SMP_BIN) {
			memcpy(s->buf, s->ip, 4);
			s->p = (const uint8_t *)s->buf;
			s->len = 4;
			s->type = SMP_BIN;
			return 0;
		}
		if (to == SMP_SINT) {
			uint32_t a;
			memcpy(&a, s->ip, 4);
			s->i = ntohl(a);
			s->type = SMP_SINT;
			return 0;
		}
		return -1;
	case SMP_IPV6:
		if (to == SMP_IPV4) {
			if (memcmp(s->ip, v4mapped, 12))
				return -1;
			memmove(s->ip, s->ip + 12, 4);
			s->type = SMP_IPV4;
			return 0;
		}
		if (to == SMP_STR) {
			inet_ntop(AF_INET6, s->ip, s->buf, sizeof(s->buf));
			set_str(s, (int)strlen(s->buf));
			return 0;
		}
		if (to == SMP_BIN) {
			memcpy(s->buf, s->ip, 16);
			s->p = (const uint8_t *)s->buf;
			s->len = 16;
			s->type = SMP_BIN;
			return 0;
		}
		return -1;
	case SMP_STR:
	case SMP_BIN:
		if (to == SMP_STR || to == SMP_BIN) {
			s->type = to;
			return 0;
		}
		if (to == SMP_SINT || to == SMP_BOOL) {
			if (str_to_sint(s))
				return -1;
			return smp_cast(s, to);
		}
		if (to == SMP_IPV4 || to == SMP_IPV6) {
			const char *t;
			if (s->len == 0 || s->len >= sizeof(tmp))
				return -1;
			t = str_z(s, tmp, sizeof(tmp));
			if (inet_pton(AF_INET, t, s->ip) == 1)
				s->type = SMP_IPV4;
			else if (inet_pton(AF_INET6, t, s->ip) == 1)
				s->type = SMP_IPV6;
			else
				return -1;
			return smp_cast(s, to);
		}
		return -1;
	default:
		return -1;
	}
}

/* A dotted IPv4 mask as a prefix length, -1 when not contiguous. */
static int mask_len(const uint8_t m[4])
{
	uint32_t v = ((uint32_t)m[0] << 24) | ((uint32_t)m[1] << 16) | ((uint32_t)m[2] << 8) | m[3];
	int n = 0;

	while (n < 32 && (v & (0x80000000u >> n)))
		n++;
	return (n == 32 || !(v << n)) ? n : -1;
}

int ip_parse_net(const char *text, int *family, uint8_t addr[16], int *plen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t l = slash ? (size_t)(slash - text) : strlen(text);

	if (l == 0 || l >= sizeof(buf))
		return -1;
	memcpy(buf, text, l);
	buf[l] = 0;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = 4;
		*plen = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = 6;
		*plen = 128;
	} else {
		return -1;
	}
	if (slash) {
		char *end;
		long v;
		uint8_t m[4];
		if (*family == 4 && strchr(slash + 1, '.')) {
			if (inet_pton(AF_INET, slash + 1, m) != 1 || (v = mask_len(m)) < 0)
				return -1;
		} else {
			v = strtol(slash + 1, &end, 10);
			if (end == slash + 1 || *end || v < 0 || v > *plen)
				return -1;
		}
		*plen = (int)v;
	}
	return 0;
}

#include "core/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

socklen_t addr_len(const struct sockaddr *sa)
{
	/* unix: the whole structure, as HAProxy (an abstract name is then
	 * zero-padded to 108 bytes, so a peer HAProxy finds the same one) */
	if (sa->sa_family == AF_UNIX)
		return sizeof(struct sockaddr_un);
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

int addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX)
		return 0;
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

void addr_set_port(struct sockaddr *sa, int port)
{
	if (sa->sa_family == AF_UNIX)
		return;
	if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
}

void addr_ip_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *p = sa->sa_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(buf, len, "unix");
		return;
	}
	if (!inet_ntop(sa->sa_family, p, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		if (un->sun_path[0])
			snprintf(buf, len, "%.*s", (int)sizeof(un->sun_path), un->sun_path);
		else
			snprintf(buf, len, "abns@%.*s", (int)sizeof(un->sun_path) - 1, un->sun_path + 1);
		return;
	}
	addr_ip_str(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", ip, addr_port(sa));
	else
		snprintf(buf, len, "%s:%d", ip, addr_port(sa));
}

static int parse_port(const char *p, int flags, struct addr_spec *out,
		      char *err, size_t errlen)
{
	char *end;
	long lo, hi;

	if (!*p) {
		if (flags & ADDR_F_PORT_OPTIONAL)
			return 0;
		snprintf(err, errlen, "missing port");
		return -1;
	}
	lo = strtol(p, &end, 10);
	hi = lo;
	if (*end == '-' && (flags & ADDR_F_RANGE))
		hi = strtol(end + 1, &end, 10);
	if (*end || end == p || lo < 1 || lo > 65535 || hi < lo || hi > 65535) {
		snprintf(err, errlen, "invalid port '%s'", p);
		return -1;
	}
	out->port_lo = (int)lo;
	out->port_hi = (int)hi;
	return 0;
}

static void set_wildcard(struct addr_spec *out)
{
	if (out->ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&out->ss)->sin6_addr;
		out->wildcard = IN6_IS_ADDR_UNSPECIFIED(a);
	} else {
		out->wildcard = ((struct sockaddr_in *)&out->ss)->sin_addr.s_addr == 0;
	}
}

static int resolve(const char *host, int family, int flags, struct addr_spec *out,
		   char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	int rc;

	if (!*host || !strcmp(host, "*")) {
		struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
		if (family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
			in6->sin6_family = AF_INET6;
			in6->sin6_addr = in6addr_any;
		} else {
			in->sin_family = AF_INET;
			in->sin_addr.s_addr = htonl(INADDR_ANY);
		}
		out->wildcard = 1;
		return 0;
	}
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = (flags & ADDR_F_RESOLVE) ? 0 : AI_NUMERICHOST;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc || !res) {
		if (!(flags & ADDR_F_RESOLVE))
			snprintf(err, errlen, "invalid address '%s'", host);
		else
			snprintf(err, errlen, "could not resolve address '%s': %s",
				 host, gai_strerror(rc));
		return -1;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	set_wildcard(out);
	return 0;
}

int addr_env_expand(const char *s, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t o = 0;

	while (*s) {
		const char *name, *end, *val;
		char nm[256];
		int brace;

		if (*s != '$') {
			if (o + 1 >= outlen)
				goto full;
			out[o++] = *s++;
			continue;
		}
		brace = s[1] == '{';
		name = s + 1 + brace;
		for (end = name; isalnum((unsigned char)*end) || *end == '_'; end++)
			;
		if (brace && (*end == '-' || *end == '[')) {
			snprintf(err, errlen, "'%s': outside double quotes an address expands only $NAME and ${NAME} (HAProxy 2.6 would leave '%s' in the address); put it in double quotes",
				 s, end);
			return -1;
		}
		if ((size_t)(end - name) >= sizeof(nm))
			goto full;
		memcpy(nm, name, (size_t)(end - name));
		nm[end - name] = 0;
		val = getenv(nm); /* "$" alone: getenv("") is NULL, the '$' goes */
		if (val) {
			size_t l = strlen(val);
			if (o + l >= outlen)
				goto full;
			memcpy(out + o, val, l);
			o += l;
		}
		s = end + (brace && *end == '}');
	}
	out[o] = 0;
	return 0;
full:
	snprintf(err, errlen, "address too long");
	return -1;
}

/* fd@N and sockpair@N (s, expanded from orig), with HAProxy's sentences
 * for what it refuses too. */
static int parse_fd(const char *orig, const char *s, int flags, struct addr_spec *out,
		    char *err, size_t errlen)
{
	int pair = s[0] == 's', type = 0;
	const char *num = s + (pair ? 9 : 3);
	struct sockaddr_storage peer;
	socklen_t l = sizeof(out->ss), tl = sizeof(type), pl = sizeof(peer);
	char *end;
	long fd;

	errno = 0;
	fd = strtol(num, &end, 10);
	if (!*num || fd < 0 || fd > INT_MAX || *end) {
		snprintf(err, errlen, "file descriptor '%s' is not a valid integer in '%s'", num, orig);
		return -1;
	}
	if (!(flags & ADDR_F_FD)) {
		snprintf(err, errlen, "a file descriptor is not acceptable here in '%s'", orig);
		return -1;
	}
	if (getsockname((int)fd, (struct sockaddr *)&out->ss, &l) == -1) {
		snprintf(err, errlen, "cannot use file descriptor '%ld' : %s.", fd, strerror(errno));
		return -1;
	}
	out->fd = (int)fd;
	out->len = l;
	if (pair) {
		out->kind = ADDR_K_SOCKPAIR;
		return 0;
	}
	if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) {
		snprintf(err, errlen, "socket on file descriptor '%ld' is of the wrong type.", fd);
		return -1;
	}
	if (out->ss.ss_family != AF_INET && out->ss.ss_family != AF_INET6) {
		snprintf(err, errlen, "socket on file descriptor '%ld' is not an IPv4 or IPv6 socket (ferry balances TCP over IPv4/IPv6)", fd);
		return -1;
	}
	out->port_lo = out->port_hi = addr_port((struct sockaddr *)&out->ss);
	if (getpeername((int)fd, (struct sockaddr *)&peer, &pl) == 0) {
		/* HAProxy would fail at start (listen() on it); this also keeps a
		 * reload from taking ferry's own connection that reused the number
		 * of an fd@ socket closed earlier */
		snprintf(err, errlen, "socket on file descriptor '%ld' is a connection, not a listening socket", fd);
		return -1;
	}
	if (!out->port_lo) {
		snprintf(err, errlen, "socket on file descriptor '%ld' is not bound to an address and port", fd);
		return -1;
	}
	out->kind = ADDR_K_FD;
	set_wildcard(out);
	return 0;
}

/* unix@/path, /path and abns@name (s, expanded from orig): HAProxy's
 * sentences for a path too long. */
static int parse_unix(const char *orig, const char *s, int flags, struct addr_spec *out,
		      char *err, size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
	int abns = !strncmp(s, "abns@", 5);
	const char *path = s + (abns ? 5 : !strncmp(s, "unix@", 5) ? 5 : 0);
	/* a path leaves room for the ".<pid>.tmp" it is bound under first */
	size_t n = strlen(path), max = sizeof(un->sun_path) - 1 - (abns ? 0 : 10);

	if (!(flags & ADDR_F_UNIX)) {
		snprintf(err, errlen, "a unix socket is not acceptable here in '%s'", orig);
		return -1;
	}
	if (!n) {
		snprintf(err, errlen, "empty unix socket path in '%s'", orig);
		return -1;
	}
	if (n > max) {
		snprintf(err, errlen, "socket path '%s' too long (max %zu)", orig, max);
		return -1;
	}
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path + abns, path, n);
	out->len = addr_len((struct sockaddr *)un);
	out->kind = abns ? ADDR_K_ABNS : ADDR_K_UNIX;
	return 0;
}

int addr_parse(const char *orig, int flags, struct addr_spec *out, char *err,
	       size_t errlen)
{
	char host[256], buf[512];
	const char *port = "", *s = buf;
	int family = AF_UNSPEC;
	const char *colon;
	size_t hl;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (addr_env_expand(orig, buf, sizeof(buf), err, errlen))
		return -1;
	if (!*buf && *orig) {
		snprintf(err, errlen, "'%s' resolves to an empty address (environment variable missing?)", orig);
		return -1;
	}
	if (!strncmp(s, "fd@", 3) || !strncmp(s, "sockpair@", 9))
		return parse_fd(orig, s, flags, out, err, errlen);
	if (!strncmp(s, "unix@", 5) || !strncmp(s, "abns@", 5) || s[0] == '/')
		return parse_unix(orig, s, flags, out, err, errlen);
	if (!strncmp(s, "ipv4@", 5)) {
		family = AF_INET;
		s += 5;
	} else if (!strncmp(s, "ipv6@", 5)) {
		family = AF_INET6;
		s += 5;
	} else if (strchr(s, '@')) {
		snprintf(err, errlen, "unsupported address family in '%s' (ferry balances TCP over IPv4/IPv6)", s);
		return -1;
	}
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || (rb[1] && rb[1] != ':')) {
			snprintf(err, errlen, "invalid address '%s'", s);
			return -1;
		}
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			goto toolong;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		port = rb[1] ? rb + 2 : "";
		if (family == AF_UNSPEC)
			family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(host))
			goto toolong;
		memcpy(host, s, hl);
		host[hl] = 0;
		port = colon ? colon + 1 : "";
		if (!colon && !(flags & ADDR_F_PORT_OPTIONAL)) {
			snprintf(err, errlen, "missing port in '%s'", s);
			return -1;
		}
		if (!strcmp(host, "::") && family == AF_UNSPEC)
			family = AF_INET6;
		if (!strcmp(host, "::")) {
			host[0] = 0;
		}
	}
	if (parse_port(port, flags, out, err, errlen))
		return -1;
	if (resolve(host, family, flags, out, err, errlen))
		return -1;
	out->len = addr_len((struct sockaddr *)&out->ss);
	addr_set_port((struct sockaddr *)&out->ss, out->port_lo);
	return 0;
toolong:
	snprintf(err, errlen, "address too long");
	return -1;
}

int addr_same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	if (a->ss_family == AF_UNIX) {
		const struct sockaddr_un *x = (const void *)a, *y = (const void *)b;
		return !memcmp(x->sun_path, y->sun_path, sizeof(x->sun_path));
	}
	return 0;
}

int addr_pgsql_socket(const char *path, char *dir, size_t dirlen, int *port)
{
	const char *base = strrchr(path, '/'), *num;
	char *end;
	long n;

	if (!base || strncmp(base + 1, ".s.PGSQL.", 9))
		return -1;
	num = base + 10;
	n = strtol(num, &end, 10);
	if (!isdigit((unsigned char)*num) || *end || n < 1 || n > 65535)
		return -1;
	/* "/.s.PGSQL.5432": the directory is "/" */
	if (snprintf(dir, dirlen, "%.*s", base == path ? 1 : (int)(base - path), path) >= (int)dirlen)
		return -1;
	*port = (int)n;
	return 0;
}

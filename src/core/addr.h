/* Socket address parsing and printing, HAProxy style:
 *   "127.0.0.1:80", "*:80", ":80", "[::1]:80", "::1:80" (port after the last
 *   colon), "ipv4@host:80", "ipv6@...:80", "host.example:80", port ranges
 *   "8000-8010" and, where allowed, no port at all; where allowed, unix
 *   sockets "unix@/path", "/path" and "abns@name"; on bind lines also
 *   "fd@N" (a socket the parent process opened) and "sockpair@N". As in
 *   HAProxy 2.6 (str2sa_range), $NAME and ${NAME} expand from the
 *   environment anywhere in an address, quoted or not. */
#ifndef FERRY_CORE_ADDR_H
#define FERRY_CORE_ADDR_H
#include <stddef.h>
#include <sys/socket.h>

struct addr_spec {
	struct sockaddr_storage ss; /* port field set to port_lo */
	socklen_t len;
	int port_lo, port_hi; /* both 0 when no port was given */
	int wildcard;         /* address was "*", "" or "::"/"0.0.0.0" */
	int kind;             /* ADDR_K_* */
	int fd;               /* ADDR_K_FD, ADDR_K_SOCKPAIR: the descriptor */
};

#define ADDR_K_IP 0              /* an IPv4/IPv6 address to bind or connect to */
#define ADDR_K_FD 1              /* fd@N: a TCP socket already open; ss is its address */
#define ADDR_K_SOCKPAIR 2        /* sockpair@N: a unix socket connections arrive on */
#define ADDR_K_UNIX 3            /* unix@/path or /path: a unix stream socket file */
#define ADDR_K_ABNS 4            /* abns@name: Linux's abstract namespace (sun_path[0] = 0) */

#define ADDR_F_PORT_OPTIONAL 0x1 /* a missing port is fine (server lines) */
#define ADDR_F_RANGE 0x2         /* a port range is allowed (bind lines) */
#define ADDR_F_RESOLVE 0x4       /* host names are resolved (getaddrinfo) */
#define ADDR_F_FD 0x8            /* fd@N and sockpair@N are allowed (bind lines) */
#define ADDR_F_UNIX 0x10         /* unix@/path, /path and abns@name are allowed */

/* Expands $NAME and ${NAME} in s into out as HAProxy 2.6's env_expand()
 * (an unset variable is empty, so is a '$' without a name). Returns 0, or
 * -1 with a message in err: out too small, or ${NAME-default} /
 * ${NAME[*]}, which HAProxy reads only inside double quotes (unquoted, it
 * leaves "-default}" in the address: ferry refuses it). */
int addr_env_expand(const char *s, char *out, size_t outlen, char *err, size_t errlen);
/* Parses s into out (after addr_env_expand). Returns 0, or -1 with a
 * message in err. fd@N is checked as HAProxy checks it: an open socket of
 * the stream type; ferry also wants it to be IPv4 or IPv6. */
int addr_parse(const char *s, int flags, struct addr_spec *out, char *err,
	       size_t errlen);
/* Writes the IP (no port) of sa into buf ("unix" for a unix socket). */
void addr_ip_str(const struct sockaddr *sa, char *buf, size_t len);
int addr_port(const struct sockaddr *sa);
/* Whether a and b are the same IPv4/IPv6 address and port, or the same
 * unix socket path (or abstract name). */
int addr_same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
void addr_set_port(struct sockaddr *sa, int port);
/* "ip:port", with brackets around IPv6 addresses; a unix socket's path
 * ("abns@name" for an abstract one). */
void addr_str(const struct sockaddr *sa, char *buf, size_t len);
socklen_t addr_len(const struct sockaddr *sa);
/* A PostgreSQL server's unix socket path "<dir>/.s.PGSQL.<port>" as libpq
 * names it (host=<dir>, port=<port>): fills dir and *port and returns 0,
 * or -1 when path has not that shape. */
int addr_pgsql_socket(const char *path, char *dir, size_t dirlen, int *port);

#endif

/* A growable string: the output of a runtime API command, a stats page, a
 * metrics scrape. Appending never fails from the caller's point of view: on
 * allocation failure the buffer keeps what it had and sets oom, which the
 * writer checks once at the end. */
#ifndef FERRY_OPS_SBUF_H
#define FERRY_OPS_SBUF_H
#include <stddef.h>

struct sbuf {
	char *p;        /* NUL-terminated when len > 0; NULL while empty */
	size_t len, cap;
	int oom;        /* an append could not allocate: the text is cut short */
};

#define SBUF_INIT { NULL, 0, 0, 0 }

void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string: quotes, backslashes and control bytes escaped. */
void sbuf_json_str(struct sbuf *b, const char *s);
/* Drops the first n bytes (what was sent). */
void sbuf_consume(struct sbuf *b, size_t n);
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);

#endif

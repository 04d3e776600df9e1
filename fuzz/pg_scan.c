/* The scanner of a PostgreSQL server's first messages for BackendKeyData
 * (src/proto/pgwire.h pg_scan_feed), fed the server's bytes in pieces.
 * The first input byte seeds how the rest is cut. Checks, besides no
 * crash and no read past a piece: the result does not depend on the cut
 * (all at once, byte by byte and in random pieces give the same result,
 * pid and key); a key is 4..PG_CANCEL_KEY_MAX bytes; once finished, later
 * feeds give the same result and change nothing. */
#include <string.h>

#include "fuzz.h"
#include "proto/pgwire.h"

/* Feeds p[0..n) in pieces: 1 = byte by byte, 0 = at once, else cut by a
 * generator seeded with seed. Each random piece is copied to a buffer of
 * its own size, so ASan sees a read past it. */
static enum pg_scan_res feed(struct pg_scan *sc, const uint8_t *p, size_t n, unsigned seed)
{
	enum pg_scan_res r = PG_SCAN_MORE;
	size_t off = 0;
	unsigned x = seed * 2654435761u + 1;

	pg_scan_init(sc);
	if (!n)
		return pg_scan_feed(sc, p, 0);
	while (off < n) {
		size_t k = seed == 0 ? n : seed == 1 ? 1 : 1 + (x = x * 1103515245u + 12345u) % 23u;
		uint8_t *piece;
		if (k > n - off)
			k = n - off;
		if (seed == 1) { /* from the input itself: a malloc a byte would be slow */
			r = pg_scan_feed(sc, p + off, k);
		} else {
			piece = malloc(k);
			FUZZ_CHECK(piece);
			memcpy(piece, p + off, k);
			r = pg_scan_feed(sc, piece, k);
			free(piece);
		}
		off += k;
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pg_scan a, b, c;
	enum pg_scan_res ra, rb, rc;

	if (size < 1)
		return 0;
	ra = feed(&a, data + 1, size - 1, 0);
	rb = feed(&b, data + 1, size - 1, 1);
	rc = feed(&c, data + 1, size - 1, 2 + data[0]);
	FUZZ_CHECK(ra == PG_SCAN_MORE || ra == PG_SCAN_KEY || ra == PG_SCAN_DONE);
	FUZZ_CHECK(ra == rb && ra == rc);
	if (ra == PG_SCAN_KEY) {
		FUZZ_CHECK(a.key_len >= 4 && a.key_len <= PG_CANCEL_KEY_MAX);
		FUZZ_CHECK(a.pid == b.pid && a.pid == c.pid && a.key_len == b.key_len && a.key_len == c.key_len);
		FUZZ_CHECK(!memcmp(a.key, b.key, a.key_len) && !memcmp(a.key, c.key, a.key_len));
	}
	if (ra != PG_SCAN_MORE) { /* finished: the same answer, nothing changes */
		static const uint8_t more[] = { 'K', 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 2 };
		uint32_t pid = a.pid;
		size_t kl = a.key_len;
		FUZZ_CHECK(pg_scan_feed(&a, more, sizeof(more)) == ra);
		FUZZ_CHECK(a.pid == pid && a.key_len == kl);
	}
	return 0;
}

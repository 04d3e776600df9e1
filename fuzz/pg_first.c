/* The first message of a PostgreSQL client (src/proto/pgwire.h
 * pg_first_parse) and the startup parameters read from it
 * (pg_startup_param). Checks, besides no crash and no read past the input:
 * a whole message's length is its length word, within 8..PG_STARTUP_MAX
 * and the input; a cancel key is 4..PG_CANCEL_KEY_MAX bytes inside it and
 * ferry's own CancelRequest writer gives back the same bytes; a startup
 * message has a user, its parameters lie inside it, every name looks up
 * to a NUL-terminated value inside them; the message alone parses the
 * same and one byte less is "wait for more"; a refusal says why. */
#include <string.h>

#include "fuzz.h"
#include "proto/pgwire.h"

static void check_params(const struct pg_first *m, const uint8_t *msg, size_t len)
{
	const char *p = m->params, *end = m->params + m->params_len;
	const char *user = pg_startup_param(m, "user"), *db = pg_startup_param(m, "database");

	FUZZ_CHECK(m->params_len < len && fuzz_within(m->params, m->params_len, msg + 8, len - 8));
	FUZZ_CHECK(user && user >= m->params && user < end);
	FUZZ_CHECK(db && db >= m->params && db < end);
	/* every pair's name finds a value inside the parameters, ending there */
	while (p < end) {
		size_t nl = strnlen(p, (size_t)(end - p));
		const char *v;
		FUZZ_CHECK(p + nl < end); /* the parser promised NUL-terminated pairs */
		v = pg_startup_param(m, p);
		FUZZ_CHECK(v && v > m->params && v < end && v + strnlen(v, (size_t)(end - v)) < end);
		p += nl + 1;
		p += strnlen(p, (size_t)(end - p)) + 1;
	}
	FUZZ_CHECK(p == end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_first m, again;
	int rc = pg_first_parse(data, size, &m);

	FUZZ_CHECK(rc >= -1);
	if (rc == -1) {
		FUZZ_CHECK(m.reason && *m.reason);
		return 0;
	}
	if (rc == 0) {
		if (size) /* a valid beginning: every shorter one is too */
			FUZZ_CHECK(pg_first_parse(data, size - 1, &again) == 0);
		return 0;
	}
	if (m.kind == PG_FIRST_TLS) {
		FUZZ_CHECK(rc == 1 && m.len == 0 && size >= 2 && data[0] == 0x16);
		return 0;
	}
	FUZZ_CHECK((uint32_t)rc == m.len && m.len >= 8 && m.len <= PG_STARTUP_MAX && (size_t)rc <= size);
	switch (m.kind) {
	case PG_FIRST_SSL:
	case PG_FIRST_GSSENC:
		FUZZ_CHECK(rc == 8);
		break;
	case PG_FIRST_CANCEL: {
		uint8_t out[12 + PG_CANCEL_KEY_MAX];
		FUZZ_CHECK(m.key_len >= 4 && m.key_len <= PG_CANCEL_KEY_MAX &&
			   fuzz_within(m.key, m.key_len, data, (size_t)rc));
		FUZZ_CHECK(pg_cancel_build(out, sizeof(out), m.pid, m.key, m.key_len) == (size_t)rc);
		FUZZ_CHECK(!memcmp(out, data, (size_t)rc));
		break;
	}
	case PG_FIRST_STARTUP:
		FUZZ_CHECK(m.proto >> 16 == 3);
		check_params(&m, data, (size_t)rc);
		break;
	default:
		FUZZ_CHECK(!"unknown kind");
	}
	FUZZ_CHECK(pg_first_parse(data, (size_t)rc, &again) == rc && again.kind == m.kind);
	FUZZ_CHECK(pg_first_parse(data, (size_t)rc - 1, &again) == 0);
	return 0;
}

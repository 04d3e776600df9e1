/* The TLS ClientHello reader (src/proto/tls_hello.h tls_hello_parse), fed
 * what a client may send first. Checks, besides no crash and no read past
 * the input: a whole hello is no longer than the input nor TLS_HELLO_MAX;
 * SNI and ALPN point inside it (an empty host_name is an empty SNI, as
 * HAProxy 2.6's req.ssl_sni reads it); the hello alone reads the same (same SNI,
 * ALPN, versions), and one byte less is "wait for more". */
#include <string.h>

#include "fuzz.h"
#include "proto/tls_hello.h"

static int same_field(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return (!a && !b) || (a && b && alen == blen && !memcmp(a, b, alen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello h, again;
	int rc = tls_hello_parse(data, size, &h);

	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == 0) {
		if (size) /* a valid beginning: every shorter one is too */
			FUZZ_CHECK(tls_hello_parse(data, size - 1, &again) == 0);
		return 0;
	}
	if (rc < 0)
		return 0;
	FUZZ_CHECK(h.len > 0 && h.len <= size && h.len <= TLS_HELLO_MAX);
	if (h.sni)
		FUZZ_CHECK(fuzz_within(h.sni, h.sni_len, data, h.len)); /* empty: as HAProxy's req.ssl_sni */
	if (h.alpn)
		FUZZ_CHECK(fuzz_within(h.alpn, h.alpn_len, data, h.len));
	FUZZ_CHECK(h.sslv2 ? h.record_ver == 0x0002 : h.hello_type == 1);
	FUZZ_CHECK(tls_hello_parse(data, h.len, &again) == 1);
	FUZZ_CHECK(again.len == h.len && again.hello_ver == h.hello_ver && again.record_ver == h.record_ver &&
		   again.supported_versions_max == h.supported_versions_max && again.sslv2 == h.sslv2);
	FUZZ_CHECK(same_field(again.sni, again.sni_len, h.sni, h.sni_len));
	FUZZ_CHECK(same_field(again.alpn, again.alpn_len, h.alpn, h.alpn_len));
	FUZZ_CHECK(tls_hello_parse(data, h.len - 1, &again) == 0);
	return 0;
}

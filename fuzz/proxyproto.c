/* PROXY protocol v1/v2 (src/proto/proxyproto.h pp_parse), fed what a
 * client may send first. Checks, besides no crash and no read past the
 * input: a complete header is no longer than the input and than the
 * protocol's limits; its pointers (TLVs, authority, unique id, ALPN) lie
 * inside it; the TLV walk ends inside it; the same header alone parses to
 * the same length, and one byte less is "wait for more"; a refusal says
 * why; and the addresses, written again with ferry's own builders, parse
 * back the same. */
#include <string.h>

#include "core/addr.h"
#include "fuzz.h"
#include "proto/proxyproto.h"

/* ferry's builders write what the parser read: it reads it back alike. */
static void round_trip(const struct pp_info *pi)
{
	uint8_t out[PP_BUILD_MAX];
	struct pp_info back;
	size_t n;
	int fam = pi->src.ss_family;

	if ((fam != AF_INET && fam != AF_INET6) || pi->dst.ss_family != fam)
		return;
	n = pp_build_v1(out, sizeof(out), (const struct sockaddr *)&pi->src, (const struct sockaddr *)&pi->dst);
	FUZZ_CHECK(n > 0 && n <= PP_V1_MAX);
	FUZZ_CHECK(pp_parse(out, n, &back) == (int)n);
	FUZZ_CHECK(addr_same_endpoint(&back.src, &pi->src) && addr_same_endpoint(&back.dst, &pi->dst));
	{
		struct pp_v2_args a = { .src = (const struct sockaddr *)&pi->src,
					.dst = (const struct sockaddr *)&pi->dst,
					.opts = PP_O_CRC32C | (pi->authority ? PP_O_AUTHORITY : 0) |
						(pi->unique_id ? PP_O_UNIQUE_ID : 0),
					.alpn = pi->alpn, .alpn_len = pi->alpn_len,
					.authority = pi->authority, .authority_len = pi->authority_len,
					.unique_id = pi->unique_id, .unique_id_len = pi->unique_id_len };
		n = pp_build_v2(out, sizeof(out), &a);
		if (pi->alpn_len > 255) /* PP_BUILD_MAX keeps room for an ALPN of 255 */
			return;
		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(pp_parse(out, n, &back) == (int)n);
		FUZZ_CHECK(back.crc32c_checked);
		FUZZ_CHECK(addr_same_endpoint(&back.src, &pi->src) && addr_same_endpoint(&back.dst, &pi->dst));
		FUZZ_CHECK(back.authority_len == pi->authority_len && back.unique_id_len == pi->unique_id_len &&
			   back.alpn_len == pi->alpn_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_info pi, again;
	int rc;


	rc = pp_parse(data, size, &pi);
	FUZZ_CHECK(rc >= -1);
	if (rc == -1) {
		FUZZ_CHECK(pi.reason && *pi.reason);
		return 0;
	}
	if (rc == 0) {
		if (size) /* a valid beginning: every shorter one is too */
			FUZZ_CHECK(pp_parse(data, size - 1, &again) == 0);
		return 0;
	}
	FUZZ_CHECK((size_t)rc <= size);
	FUZZ_CHECK(pi.version == 1 || pi.version == 2);
	FUZZ_CHECK(pi.version == 1 ? rc <= PP_V1_MAX : (rc >= PP_V2_HDR_LEN && rc <= PP_V2_MAX));
	if (pi.version == 2) {
		size_t pos = 0, len, seen = 0;
		uint8_t type;
		const uint8_t *val;
		FUZZ_CHECK(pi.tlvs_len == 0 || fuzz_within(pi.tlvs, pi.tlvs_len, data, (size_t)rc));
		while (pp_tlv_next(&pi, &pos, &type, &val, &len)) {
			FUZZ_CHECK(fuzz_within(val, len, pi.tlvs, pi.tlvs_len));
			FUZZ_CHECK(pos <= pi.tlvs_len && ++seen <= pi.tlvs_len / 3);
		}
		if (pi.authority)
			FUZZ_CHECK(pi.authority_len <= PP_AUTHORITY_MAX &&
				   fuzz_within(pi.authority, pi.authority_len, data, (size_t)rc));
		if (pi.unique_id)
			FUZZ_CHECK(pi.unique_id_len <= PP_UNIQUE_ID_MAX &&
				   fuzz_within(pi.unique_id, pi.unique_id_len, data, (size_t)rc));
		if (pi.alpn)
			FUZZ_CHECK(fuzz_within(pi.alpn, pi.alpn_len, data, (size_t)rc));
	}
	/* the header alone is the same header; a byte less is a beginning */
	FUZZ_CHECK(pp_parse(data, (size_t)rc, &again) == rc);
	FUZZ_CHECK(pp_parse(data, (size_t)rc - 1, &again) == 0);
	if (pi.command == PP_CMD_PROXY)
		round_trip(&pi);
	return 0;
}

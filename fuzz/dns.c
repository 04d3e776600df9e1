/* The DNS response reader of ferry's resolvers (src/dns/dnsmsg.h
 * dns_parse_response), fed what a nameserver (or anyone who can send UDP
 * to ferry's port) may answer. Input: one byte choosing the question's
 * type (A, AAAA, SRV; bit 0x80: a query id other than the response's),
 * the question's name up to a NUL, then the response. Checks, besides no
 * crash and no read past the input: a response refused by its header or
 * question (wrong id or question, truncated, an error rcode) leaves the
 * reply untouched (one found invalid among its records may leave it
 * half-written: the resolvers read it only when valid); a valid one keeps at most DNS_MAX_RR records of
 * the answer and additional sections, of the types the resolvers use,
 * with names NUL-terminated, lower case, at most 253 characters and no
 * final dot. */
#include <ctype.h>
#include <string.h>

#include "dns/dnsmsg.h"
#include "fuzz.h"

static void check_name(const char *n)
{
	size_t l = strnlen(n, DNS_NAME_LEN);

	FUZZ_CHECK(l < DNS_NAME_LEN && l <= 253);
	FUZZ_CHECK(l == 0 || n[l - 1] != '.');
	for (size_t i = 0; i < l; i++)
		FUZZ_CHECK(!isupper((unsigned char)n[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_SRV };
	static struct dns_response out, blank;
	const uint8_t *nul;
	char name[300];
	size_t nl;
	uint16_t id, qtype;
	uint8_t sel;
	enum dns_status st;

	if (size < 2 || !(nul = memchr(data + 1, 0, size - 1)) || (nl = (size_t)(nul - data - 1)) >= sizeof(name))
		return -1;
	memcpy(name, data + 1, nl + 1);
	sel = data[0];
	qtype = types[(sel & 0x7f) % 3];
	data = nul + 1;
	size -= nl + 2;
	id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	if (sel & 0x80)
		id ^= 1;
	memset(&out, 0x5a, sizeof(out));
	memset(&blank, 0x5a, sizeof(blank));
	st = dns_parse_response(data, size, id, name, qtype, &out);
	FUZZ_CHECK(st >= DNS_S_VALID && st <= DNS_S_TRUNCATED);
	if (st != DNS_S_VALID) {
		if (st != DNS_S_INVALID)
			FUZZ_CHECK(!memcmp(&out, &blank, sizeof(out)));
		return 0;
	}
	FUZZ_CHECK(out.id == id && out.rcode == 0);
	FUZZ_CHECK(out.nrr >= 0 && out.nrr <= DNS_MAX_RR && out.ndropped >= 0);
	FUZZ_CHECK(out.ndropped == 0 || out.nrr == DNS_MAX_RR);
	for (int i = 0; i < out.nrr; i++) {
		const struct dns_rr *rr = &out.rr[i];
		FUZZ_CHECK(rr->section == DNS_SEC_ANSWER || rr->section == DNS_SEC_ADDITIONAL);
		FUZZ_CHECK(rr->type == DNS_T_A || rr->type == DNS_T_AAAA || rr->type == DNS_T_SRV ||
			   rr->type == DNS_T_CNAME);
		check_name(rr->name);
		if (rr->type == DNS_T_SRV)
			check_name(rr->d.srv.target);
		if (rr->type == DNS_T_CNAME)
			check_name(rr->d.cname);
	}
	return 0;
}

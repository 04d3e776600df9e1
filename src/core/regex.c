#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rx {
	pcre2_code *code;
	char *pattern;
};

struct rx *rx_compile(const char *pattern, unsigned flags, char *err, size_t errlen)
{
	uint32_t opts = PCRE2_NO_AUTO_CAPTURE; /* as HAProxy: matches need no groups */
	PCRE2_SIZE off;
	int code;
	struct rx *rx = calloc(1, sizeof(*rx));

	if (!rx || !(rx->pattern = strdup(pattern))) {
		snprintf(err, errlen, "out of memory");
		free(rx);
		return NULL;
	}
	if (flags & RX_F_ICASE)
		opts |= PCRE2_CASELESS;
	rx->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
	if (!rx->code) {
		PCRE2_UCHAR msg[200];
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)off);
		rx_free(rx);
		return NULL;
	}
	/* Without JIT support (library or CPU) this fails and pcre2_match
	 * interprets the pattern instead: slower, same result. */
	(void)pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE);
	return rx;
}

int rx_match(const struct rx *rx, const char *subject, size_t len)
{
	/* match data per call, as HAProxy: no state shared between threads */
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int rc;

	if (!md)
		return 0;
	rc = pcre2_match(rx->code, (PCRE2_SPTR)(subject ? subject : ""), len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

struct rx *rx_dup(const struct rx *rx)
{
	struct rx *d = calloc(1, sizeof(*d));

	if (!d || !(d->pattern = strdup(rx->pattern)) || !(d->code = pcre2_code_copy(rx->code))) {
		rx_free(d);
		return NULL;
	}
	(void)pcre2_jit_compile(d->code, PCRE2_JIT_COMPLETE); /* JIT code is not copied */
	return d;
}

const char *rx_pattern(const struct rx *rx)
{
	return rx->pattern;
}

void rx_free(struct rx *rx)
{
	if (!rx)
		return;
	pcre2_code_free(rx->code);
	free(rx->pattern);
	free(rx);
}

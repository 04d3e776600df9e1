/* The configuration reader, fed bytes as a configuration file: what
 * `ferry -c -f file` runs (main.c load_config), from the lexer and the
 * conditional blocks to every section's parser, the validation and the
 * compilation of ACLs and rules. Input with a NUL byte is refused before
 * parsing, as parse_file refuses it.
 *
 * What the parser may reach outside the input is fenced (link-time
 * wrappers, see FUZZ_LDFLAGS_config in the Makefile): getaddrinfo resolves
 * numeric addresses and "localhost" only (a server named by a DNS name
 * would query the network for each input), and fopen reads regular files
 * of at most 1 MiB only (an ACL's "-f /dev/zero" would read forever);
 * writes (libFuzzer's own files) pass.
 *
 * Checks, besides no crash, no leak and no exit: every error or warning
 * that names a line of the input names one that exists; a configuration
 * with errors says so at least once. */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/stat.h>

#include "config/model.h"
#include "fuzz.h"
#include "rules/rules.h"

#define NAME "fuzz.cfg"

int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	struct addrinfo h = { 0 };

	if (hints)
		h = *hints;
	if (!node || strcmp(node, "localhost"))
		h.ai_flags |= AI_NUMERICHOST;
	return __real_getaddrinfo(node, service, &h, res);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	struct stat st;

	if (strcmp(mode, "r")) /* a write: libFuzzer's own (corpus, crash files) */
		return __real_fopen(path, mode);
	if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		errno = ENOENT;
		return NULL;
	}
	return __real_fopen(path, mode);
}

/* Lines "fuzz.cfg:N: ..." of the diagnostics name a line 1..lines ("fuzz.cfg: ..."
 * names none). */
static void check_diag(const char *d, size_t len, int lines)
{
	const char *p = d, *end = d + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if ((size_t)(nl - p) > sizeof(NAME) && !memcmp(p, NAME ":", sizeof(NAME)) &&
		    isdigit((unsigned char)p[sizeof(NAME)])) {
			long n = strtol(p + sizeof(NAME), NULL, 10);
			FUZZ_CHECK(n >= 1 && n <= lines);
		}
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	char *text, *diag = NULL;
	size_t dlen = 0;
	FILE *m;
	int lines = 1;

	if (memchr(data, 0, size))
		return -1;
	text = malloc(size + 1);
	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = 0;
	for (size_t i = 0; i + 1 < size; i++) /* a last line feed ends the last line */
		lines += data[i] == '\n';
	m = open_memstream(&diag, &dlen);
	FUZZ_CHECK(m);
	cfg_init(&c, m);
	cfg_parse_text(&c, NAME, text);
	cfg_validate(&c);
	rules_compile(&c);
	fflush(m);
	FUZZ_CHECK(c.nerr >= 0 && c.nwarn >= 0);
	FUZZ_CHECK(!c.nerr || dlen > 0);
	check_diag(diag, dlen, lines);
	cfg_free(&c);
	fclose(m);
	free(diag);
	free(text);
	return 0;
}

/* What every harness of fuzz/ shares: the libFuzzer entry point and a
 * check that stops the run with a readable message when an invariant the
 * parser promises does not hold (libFuzzer then keeps the input as a
 * crash-* file). A harness is one small file; `make fuzz` builds each
 * with clang -fsanitize=fuzzer,address,undefined (see fuzz/README.md). */
#ifndef FERRY_FUZZ_H
#define FERRY_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                              \
		}                                                                             \
	} while (0)

/* Whether [p, p + n) lies inside [base, base + len). */
static inline int fuzz_within(const void *p, size_t n, const void *base, size_t len)
{
	const uint8_t *b = base, *q = p;
	return q >= b && n <= len && (size_t)(q - b) <= len - n;
}

#endif

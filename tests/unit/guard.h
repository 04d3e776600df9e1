/* Input against a guard page (picohttpparser's trick): the bytes end
 * exactly where an unreadable page begins, so a parser that reads one byte
 * past the length it was given crashes the test. */
#ifndef FERRY_TEST_GUARD_H
#define FERRY_TEST_GUARD_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint8_t *guard_base;
static size_t guard_page;

/* Copies p[0..n) so that it ends at the guard page; returns the copy. n is
 * at most one page. */
static inline const uint8_t *guarded(const void *p, size_t n)
{
	if (!guard_base) {
		guard_page = (size_t)sysconf(_SC_PAGESIZE);
		guard_base = mmap(NULL, 2 * guard_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED || mprotect(guard_base + guard_page, guard_page, PROT_NONE))
			abort();
	}
	if (n > guard_page)
		abort();
	memcpy(guard_base + guard_page - n, p, n);
	return guard_base + guard_page - n;
}
#endif

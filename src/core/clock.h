/* Monotonic and wall clocks in milliseconds. */
#ifndef FERRY_CORE_CLOCK_H
#define FERRY_CORE_CLOCK_H
#include <stddef.h>
#include <stdint.h>

uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);
/* Formats the current wall-clock time as HAProxy's %t ("23/Nov/2026:19:46:49.123")
 * into buf (at least 32 bytes). */
void clock_fmt_haproxy(char *buf, size_t len);

#endif

/* A rate counter shared by every thread, as HAProxy's freq_ctr over a
 * one-second period (core/counters.h's freq_ctr is the same arithmetic over
 * any period, for writers the caller serialises: stick tables): the events of the current period, those of the one
 * before, and the start of the current one. Its reading weighs the
 * previous period by what is left of the current one, so the rate slides
 * instead of jumping each second.
 *
 * Used to limit (rate-limit sessions, maxconnrate, maxsessrate): unlike the
 * per-thread statistics blocks of core/counters.h, a limit needs one count
 * all threads add to, so it is written with atomics (one locked add per
 * event). Times are the monotonic milliseconds of the caller's loop, taken
 * modulo 2^32: only differences are used. */
#ifndef FERRY_CORE_RATECTR_H
#define FERRY_CORE_RATECTR_H
#include <stdint.h>

struct rate_ctr {
	uint32_t tick;   /* start of the current period (ms); bit 0 set while one thread rotates */
	uint32_t cur;    /* events in the current period */
	uint32_t prev;   /* events in the one before */
};

/* Counts inc events at now_ms; returns the count of the current period. */
uint32_t rate_ctr_add(struct rate_ctr *c, uint64_t now_ms, uint32_t inc);
/* The rate (events a second) at now_ms. */
uint32_t rate_ctr_read(const struct rate_ctr *c, uint64_t now_ms);
/* How many more events may happen at now_ms without passing freq a second,
 * pend more being already on their way; 0 when the limit is reached. */
uint32_t rate_ctr_remain(const struct rate_ctr *c, uint64_t now_ms, uint32_t freq, uint32_t pend);
/* Milliseconds to wait before the next event keeps under freq a second:
 * 0 when one may happen now, else at least 1 (HAProxy's next_event_delay). */
uint32_t rate_ctr_delay(const struct rate_ctr *c, uint64_t now_ms, uint32_t freq, uint32_t pend);

#endif

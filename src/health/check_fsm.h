/* HAProxy's rise/fall health counter as a pure function.
 * health h lives in [0, rise+fall-1]; the server is UP iff h >= rise.
 * A success adds one and, once UP, jumps to the top; a failure takes one
 * away and, once below rise, drops to 0. A server starts at h = rise: UP,
 * and the first failure takes it DOWN. */
#ifndef FERRY_HEALTH_CHECK_FSM_H
#define FERRY_HEALTH_CHECK_FSM_H
#include <stdint.h>

struct check_fsm {
	int health;
	int rise, fall;
};

enum fsm_change { FSM_SAME = 0, FSM_WENT_UP = 1, FSM_WENT_DOWN = -1 };

void check_fsm_init(struct check_fsm *f, int rise, int fall);
enum fsm_change check_fsm_result(struct check_fsm *f, int ok);
static inline int check_fsm_up(const struct check_fsm *f)
{
	return f->health >= f->rise;
}
/* on-error after error-limit errors seen by traffic (observe), mode one of
 * config's SRV_ONERR_*: fastinter changes nothing; fail-check is one
 * failure; sudden-death first brings an UP server down to one failure
 * from DOWN (h = rise + 1), then fails once; mark-down sets h = rise, then
 * fails once: DOWN. As HAProxy's __health_adjust. */
enum fsm_change check_fsm_observed(struct check_fsm *f, int mode);
/* The delay before the next check: inter when fully up, downinter when
 * fully down, fastinter while changing state (including before the first
 * result, since a server starts at h = rise). */
int64_t check_fsm_interval(const struct check_fsm *f, int64_t inter,
			   int64_t fastinter, int64_t downinter);

#endif

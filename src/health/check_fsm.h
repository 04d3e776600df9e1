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
/* The delay before the next check: inter when fully up, downinter when
 * fully down, fastinter while changing state (including before the first
 * result, since a server starts at h = rise). */
int64_t check_fsm_interval(const struct check_fsm *f, int64_t inter,
			   int64_t fastinter, int64_t downinter);

#endif

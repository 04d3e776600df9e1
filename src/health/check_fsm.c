#include "health/check_fsm.h"

#include "config/model.h"

void check_fsm_init(struct check_fsm *f, int rise, int fall)
{
	f->rise = rise > 0 ? rise : 1;
	f->fall = fall > 0 ? fall : 1;
	f->health = f->rise;
}

enum fsm_change check_fsm_result(struct check_fsm *f, int ok)
{
	int top = f->rise + f->fall - 1;
	int was_up = check_fsm_up(f);

	if (ok) {
		if (f->health < top)
			f->health++;
		if (f->health >= f->rise)
			f->health = top;
		return !was_up && check_fsm_up(f) ? FSM_WENT_UP : FSM_SAME;
	}
	if (f->health > 0)
		f->health--;
	if (f->health < f->rise)
		f->health = 0; /* also when already DOWN and part-way up again */
	return was_up && !check_fsm_up(f) ? FSM_WENT_DOWN : FSM_SAME;
}

enum fsm_change check_fsm_observed(struct check_fsm *f, int mode)
{
	int was_up = check_fsm_up(f);
	enum fsm_change ch;

	switch (mode) {
	case SRV_ONERR_FASTINTER:
		return FSM_SAME;
	case SRV_ONERR_SUDDEN_DEATH:
		if (f->health > f->rise)
			f->health = f->rise + 1;
		break;
	case SRV_ONERR_MARK_DOWN:
		f->health = f->rise;
		break;
	default:
		break;
	}
	ch = check_fsm_result(f, 0);
	return was_up ? ch : FSM_SAME; /* mark-down lifts h to rise first: DOWN already is no news */
}

int64_t check_fsm_interval(const struct check_fsm *f, int64_t inter,
			   int64_t fastinter, int64_t downinter)
{
	if (f->health == 0)
		return downinter;
	if (f->health == f->rise + f->fall - 1)
		return inter;
	return fastinter;
}

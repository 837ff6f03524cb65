/*
 * deadline: points in CLOCK_MONOTONIC time for the limits on one DNS
 * query (dns), one SPF evaluation (spf) and one message (msgauth), so that
 * a clock set back or forward moves none of them. Header only.
 */
#ifndef AM_DEADLINE_H
#define AM_DEADLINE_H

#include <stdbool.h>
#include <time.h>

/* *ts = now + seconds (seconds >= 0; the cast truncates the whole part). */
static inline void
deadline_in(struct timespec *ts, double seconds)
{
	time_t whole = (time_t)seconds;

	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += whole;
	ts->tv_nsec += (long)((seconds - (double)whole) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* True when a is earlier than b. */
static inline bool
deadline_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* True once ts has come. */
static inline bool
deadline_passed(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return !deadline_before(&now, ts);
}

#endif /* AM_DEADLINE_H */

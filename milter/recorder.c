/* recorder: the aggregate-report writer thread. See recorder.h. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "log.h"
#include "recorder.h"
#include "store.h"

#define LOG_EVERY 60 /* seconds between two "dropped" lines */

struct recorder {
	char           *spec;
	pthread_t       tid;
	pthread_mutex_t lock;
	pthread_cond_t  wake;
	/* The queue: a ring of row copies. Under lock. */
	struct report_row **ring;
	unsigned            cap, head, count;
	bool                stopping;
	struct timespec     stop_by; /* CLOCK_MONOTONIC */
	struct recorder_stats st;    /* under lock */
};

bool
recorder_push(struct recorder *r, const struct report_row *row)
{
	struct report_row *copy = malloc(sizeof(*copy));
	bool               ok;

	if (copy != NULL)
		memcpy(copy, row, sizeof(*copy));
	pthread_mutex_lock(&r->lock);
	ok = copy != NULL && r->count < r->cap && !r->stopping;
	if (ok) {
		r->ring[(r->head + r->count) % r->cap] = copy;
		r->count++;
		r->st.pushed++;
		if (r->count == 1)
			pthread_cond_signal(&r->wake);
	} else
		r->st.dropped_full++;
	pthread_mutex_unlock(&r->lock);
	if (!ok)
		free(copy);
	return ok;
}

/* A row's identity in the store: every byte but `when`, whose UTC day
 * stands in for it (rows are zeroed before they are filled, so equal rows
 * are equal bytes). */
static void
row_key(struct report_row *row)
{
	row->when = report_day(row->when);
}

static uint64_t
row_hash(const struct report_row *row)
{
	const unsigned char *p = (const unsigned char *)row;
	uint64_t             h = 1469598103934665603ULL;
	size_t               i;

	for (i = 0; i < sizeof(*row); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* Folds identical rows of batch[0..n) into the first of each: returns the
 * number of distinct rows, moved to the front, their counts in counts. */
static size_t
fold(struct report_row **batch, size_t n, uint64_t *counts)
{
	enum { SLOTS = 2 * RECORDER_BATCH };
	int    slot[SLOTS];
	size_t i, k = 0;

	for (i = 0; i < SLOTS; i++)
		slot[i] = -1;
	for (i = 0; i < n; i++) {
		size_t j;

		row_key(batch[i]);
		j = (size_t)(row_hash(batch[i]) % SLOTS);
		while (slot[j] >= 0 &&
		       memcmp(batch[slot[j]], batch[i], sizeof(**batch)) != 0)
			j = (j + 1) % SLOTS;
		if (slot[j] >= 0) {
			counts[slot[j]]++;
			free(batch[i]);
			continue;
		}
		slot[j] = (int)k;
		batch[k] = batch[i];
		counts[k++] = 1;
	}
	return k;
}

/* One line a minute at most for drops, with the totals since start. */
static void
log_drops(struct recorder *r, time_t *last, uint64_t *last_dropped)
{
	struct recorder_stats st;
	time_t                now = time(NULL);

	recorder_stats(r, &st);
	if (st.dropped_full + st.dropped_store == *last_dropped ||
	    now - *last < LOG_EVERY)
		return;
	log_msg(LOG_L_WARNING,
	    "reports: %llu rows dropped since start (%llu queue full, %llu "
	    "store failed); %llu written",
	    (unsigned long long)(st.dropped_full + st.dropped_store),
	    (unsigned long long)st.dropped_full,
	    (unsigned long long)st.dropped_store,
	    (unsigned long long)st.written);
	*last = now;
	*last_dropped = st.dropped_full + st.dropped_store;
}

static void *
writer(void *arg)
{
	struct recorder   *r = arg;
	struct store      *s = NULL;
	struct report_row *batch[RECORDER_BATCH];
	struct report_row *rows = malloc(RECORDER_BATCH * sizeof(*rows));
	uint64_t           counts[RECORDER_BATCH], last_dropped = 0, sum;
	time_t             next_open = 0, last_log = 0, last_err = 0;
	struct am_err      err;
	size_t             n, k, i;

	if (rows == NULL) /* every batch is then dropped, and counted */
		log_msg(LOG_L_ERR, "reports: out of memory: nothing recorded");
	for (;;) {
		struct timespec until;
		bool            stop;

		pthread_mutex_lock(&r->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		while (r->count == 0 && !r->stopping)
			if (pthread_cond_timedwait(&r->wake, &r->lock,
				&until) == ETIMEDOUT)
				break;
		for (n = 0; n < RECORDER_BATCH && r->count > 0; n++) {
			batch[n] = r->ring[r->head];
			r->head = (r->head + 1) % r->cap;
			r->count--;
		}
		stop = r->stopping &&
		       (r->count == 0 || deadline_passed(&r->stop_by));
		pthread_mutex_unlock(&r->lock);

		if (n > 0 && s == NULL && time(NULL) >= next_open) {
			if ((s = store_open(r->spec, &err)) == NULL) {
				next_open = time(NULL) + RECORDER_RETRY;
				if (time(NULL) - last_err >= LOG_EVERY) {
					log_msg(LOG_L_ERR, "reports: %s",
					    err.msg);
					last_err = time(NULL);
				}
			} else if (last_err != 0)
				log_msg(LOG_L_NOTICE,
				    "reports: the store answers again");
		}
		if (n > 0) {
			k = fold(batch, n, counts);
			for (i = 0, sum = 0; i < k; i++) {
				if (rows != NULL)
					rows[i] = *batch[i];
				free(batch[i]);
				sum += counts[i];
			}
			if (s != NULL && rows != NULL &&
			    store_add(s, rows, counts, k, &err) == 0) {
				pthread_mutex_lock(&r->lock);
				r->st.written += sum;
				pthread_mutex_unlock(&r->lock);
			} else {
				pthread_mutex_lock(&r->lock);
				r->st.dropped_store += sum;
				pthread_mutex_unlock(&r->lock);
				if (s != NULL &&
				    time(NULL) - last_err >= LOG_EVERY) {
					log_msg(LOG_L_ERR, "reports: %s",
					    err.msg);
					last_err = time(NULL);
				}
				/* SQLite: busy or full, try the same handle
				 * again; PostgreSQL resets by itself. */
			}
		}
		log_drops(r, &last_log, &last_dropped);
		if (stop)
			break;
	}
	/* What the deadline left in the queue is dropped, and counted. */
	pthread_mutex_lock(&r->lock);
	while (r->count > 0) {
		free(r->ring[r->head]);
		r->head = (r->head + 1) % r->cap;
		r->count--;
		r->st.dropped_full++;
	}
	pthread_mutex_unlock(&r->lock);
	store_close(s);
	free(rows);
	return NULL;
}

struct recorder *
recorder_start(const char *spec, unsigned capacity, struct am_err *err)
{
	struct recorder *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->spec = strdup(spec)) == NULL ||
	    (r->ring = calloc(capacity, sizeof(*r->ring))) == NULL) {
		if (r != NULL)
			free(r->spec);
		free(r);
		am_err_set(err, "reports: out of memory");
		return NULL;
	}
	r->cap = capacity;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	if (pthread_create(&r->tid, NULL, writer, r) != 0) {
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		free(r->ring);
		free(r->spec);
		free(r);
		am_err_set(err, "reports: cannot start the writer thread");
		return NULL;
	}
	return r;
}

void
recorder_stop(struct recorder *r, unsigned timeout_ms)
{
	struct recorder_stats st;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	deadline_in(&r->stop_by, timeout_ms / 1000.0);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->tid, NULL);
	recorder_stats(r, &st);
	log_msg(LOG_L_INFO,
	    "reports: writer stopped: %llu rows written, %llu dropped",
	    (unsigned long long)st.written,
	    (unsigned long long)(st.dropped_full + st.dropped_store));
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r->ring);
	free(r->spec);
	free(r);
}

void
recorder_stats(struct recorder *r, struct recorder_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->st;
	pthread_mutex_unlock(&r->lock);
}

/*
 * recorder: the daemon's aggregate-report writer. Callbacks hand it a row
 * (recorder_push: a copy into a bounded queue under a mutex held for a
 * pointer store, never across I/O); one writer thread takes the queue in
 * batches, counts identical rows of a batch once, and writes them to the
 * store in one transaction.
 *
 * Mail never waits for the store: a full queue drops the row, a store
 * that is down, locked, full or unwritable drops the batch; both are
 * counted and logged at most once a minute, and writing resumes by itself
 * (the writer opens the store again every RECORDER_RETRY seconds until it
 * works).
 */
#ifndef AM_RECORDER_H
#define AM_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "report.h"

#define RECORDER_BATCH 512 /* rows per transaction, at most */
#define RECORDER_RETRY 5   /* seconds between attempts to open the store */

struct recorder;

struct recorder_stats {
	uint64_t pushed;       /* rows accepted into the queue */
	uint64_t written;      /* rows (messages) now in the store */
	uint64_t dropped_full; /* queue full or no memory */
	uint64_t dropped_store; /* the store failed */
};

/* Starts the writer thread for store spec with a queue of capacity rows.
 * The store is opened by the thread, so a store that is down does not
 * stop start-up. NULL with err set only when the thread cannot start. */
struct recorder *recorder_start(
    const char *spec, unsigned capacity, struct am_err *err);
/* Queues a copy of row; false when it was dropped (and counted). */
bool recorder_push(struct recorder *, const struct report_row *row);
/* Writes what is queued (for at most timeout_ms more), stops the thread,
 * logs the totals and frees. NULL ok. */
void recorder_stop(struct recorder *, unsigned timeout_ms);
void recorder_stats(struct recorder *, struct recorder_stats *out);

#endif /* AM_RECORDER_H */

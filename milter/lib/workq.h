/*
 * workq: a small process-wide pool of worker threads for work that must
 * run beside the SMTP dialogue (SPF at MAIL FROM: its lookups depend on
 * each other, so they cannot simply be started and collected later).
 * Threads are made on demand up to WORKQ_MAX_THREADS and then reused;
 * past that, jobs wait their turn.
 *
 * A job is the caller's memory: it must stay valid until workq_wait()
 * returns for it.
 */
#ifndef AM_WORKQ_H
#define AM_WORKQ_H

#include <stdbool.h>

/* One per concurrent SMTP transaction is enough; 128 covers the MTA's
 * default of 100 smtpd processes. */
#define WORKQ_MAX_THREADS 128

struct workq_job {
	void (*fn)(void *arg);
	void *arg;
	/* private */
	struct workq_job *next;
	bool              queued;
	bool              done;
};

/* Queues job->fn(job->arg). Returns 0, or -1 when no thread could be made
 * and none exists (then the caller runs fn itself). */
int workq_submit(struct workq_job *);
/* Waits until the job has run. A zeroed job never submitted returns at
 * once. */
void workq_wait(struct workq_job *);

#endif /* AM_WORKQ_H */

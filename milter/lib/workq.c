#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "workq.h"

static pthread_mutex_t   wq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t    wq_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t    wq_done = PTHREAD_COND_INITIALIZER;
static struct workq_job *wq_head, *wq_tail;
static unsigned int      wq_threads, wq_idle;

static void *
workq_thread(void *unused)
{
	struct workq_job *job;

	(void)unused;
	pthread_mutex_lock(&wq_lock);
	for (;;) {
		while (wq_head == NULL) {
			wq_idle++;
			pthread_cond_wait(&wq_work, &wq_lock);
			wq_idle--;
		}
		job = wq_head;
		wq_head = job->next;
		if (wq_head == NULL)
			wq_tail = NULL;
		pthread_mutex_unlock(&wq_lock);
		job->fn(job->arg);
		pthread_mutex_lock(&wq_lock);
		job->done = true;
		pthread_cond_broadcast(&wq_done);
	}
	return NULL;
}

int
workq_submit(struct workq_job *job)
{
	pthread_t      tid;
	pthread_attr_t attr;
	sigset_t       all, old;
	int            rc = 0;

	job->next = NULL;
	job->done = false;
	job->queued = true;
	pthread_mutex_lock(&wq_lock);
	if (wq_idle == 0 && wq_threads < WORKQ_MAX_THREADS) {
		/* Workers take no signals: the daemon's main thread does. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&tid, &attr, workq_thread, NULL) == 0)
			wq_threads++;
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (wq_threads == 0) {
		job->queued = false;
		rc = -1;
	} else {
		if (wq_tail != NULL)
			wq_tail->next = job;
		else
			wq_head = job;
		wq_tail = job;
		pthread_cond_signal(&wq_work);
	}
	pthread_mutex_unlock(&wq_lock);
	return rc;
}

void
workq_wait(struct workq_job *job)
{
	if (!job->queued)
		return;
	pthread_mutex_lock(&wq_lock);
	while (!job->done)
		pthread_cond_wait(&wq_done, &wq_lock);
	job->queued = false;
	pthread_mutex_unlock(&wq_lock);
}

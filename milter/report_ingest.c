/*
 * report_ingest: authmilter-report ingest (see report_ingest.h). The
 * parsing is report_parse's; this file reads the mails (standard input,
 * a maildir, an mbox), stores, quarantines and logs.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "report_ingest.h"
#include "report_parse.h"
#include "store.h"
#include "str.h"

struct ingest {
	const struct am_conf      *conf;
	struct store              *st;
	struct report_parse_params params;
	struct report_parse        rp;
	int64_t                    now;
	unsigned                   seq; /* quarantine names */
	unsigned long              mails, stored, dups, none, bad;
};

/* Lines go to syslog and to stderr ("authmilter-report: ..."). */
static void
sink(enum log_level level, const char *line, void *arg)
{
	(void)arg;
	syslog((int)level, "%s", line);
	fprintf(stderr, "authmilter-report: %s\n", line);
}

/* Keeps the mail in the quarantine directory as NAME.eml, with
 * NAME.reason; the name goes to name. */
static int
quarantine(struct ingest *in, const char *p, size_t n, const char *reason,
    char *name, size_t namesize)
{
	const char *dir = in->conf->reports.quarantine;
	char        path[4096];
	int         fd, k;
	size_t      off;
	ssize_t     w;
	const char *ext[2] = {".eml", ".reason"};
	const char *data[2] = {p, reason};
	size_t      len[2] = {n, strlen(reason)};
	size_t      i;

	k = snprintf(name, namesize, "%" PRId64 ".%ld.%u", in->now,
	    (long)getpid(), in->seq++);
	if (k < 0 || (size_t)k >= namesize)
		return -1;
	for (i = 0; i < 2; i++) {
		k = snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext[i]);
		if (k < 0 || (size_t)k >= sizeof(path)) {
			log_msg(LOG_L_ERR, "reports.quarantine: path too long");
			return -1;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno == ENOENT && i == 0 &&
		    mkdir(dir, 0750) == 0)
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    0640);
		if (fd < 0) {
			log_msg(LOG_L_ERR, "reports.quarantine: %s: %s", path,
			    strerror(errno));
			return -1;
		}
		for (off = 0; off < len[i];) {
			w = write(fd, data[i] + off, len[i] - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		if ((i == 1 && write(fd, "\n", 1) != 1) || off < len[i]) {
			close(fd);
			log_msg(LOG_L_ERR,
			    "reports.quarantine: %s: write failed", path);
			return -1;
		}
		if (close(fd) != 0) {
			log_msg(LOG_L_ERR, "reports.quarantine: %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
put_row(void *arg, const struct report_row *row, uint64_t count)
{
	struct ingest *in = arg;
	struct am_err  err;

	if (store_rx_put(in->st, row, count, &err) < 0) {
		log_msg(LOG_L_ERR, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* One mail. 0: handled (whatever it held); -1: the store or the
 * quarantine failed, try again later. */
static int
one_mail(struct ingest *in, const char *p, size_t n, const char *label)
{
	struct report_parse    *rp = &in->rp;
	struct store_rx_report *rep = &rp->rep;
	struct am_err           err = {""};
	char                    name[96];
	bool                    dup = false;
	int                     st, rc;

	in->mails++;
	st = report_parse_mail(p, n, &in->params, rp, &err);
	if (st < 0) {
		log_msg(LOG_L_ERR, "%s: %s", label, err.msg);
		return -1;
	}
	if (st == REPORT_PARSE_NONE) {
		in->none++;
		log_msg(LOG_L_INFO, "%s: not a report: %s", label, rp->reason);
		return 0;
	}
	if (st == REPORT_PARSE_BAD) {
		if (quarantine(in, p, n, rp->reason, name, sizeof(name)) < 0)
			return -1;
		in->bad++;
		log_msg(LOG_L_WARNING,
		    "%s: malformed report (%s): kept as %s/%s.eml", label,
		    rp->reason, in->conf->reports.quarantine, name);
		return 0;
	}
	rep->received = in->now;
	if (store_rx_begin(in->st, rep, &dup, &err) < 0) {
		log_msg(LOG_L_ERR, "%s: %s", label, err.msg);
		return -1;
	}
	if (dup) {
		in->dups++;
		log_msg(LOG_L_INFO,
		    "%s: duplicate report org=\"%s\" report_id=\"%s\" "
		    "domain=%s: already stored",
		    label, rep->org, rep->report_id, rep->pol.domain);
		return 0;
	}
	rc = report_parse_rows(rp, &in->params, put_row, in, &err);
	if (rc != 0 || store_rx_commit(in->st, &err) < 0) {
		if (rc < 0 && err.msg[0] != '\0')
			log_msg(LOG_L_ERR, "%s: %s", label, err.msg);
		store_rx_abort(in->st);
		return -1;
	}
	in->stored++;
	log_msg(LOG_L_INFO,
	    "%s: stored report org=\"%s\" report_id=\"%s\" domain=%s "
	    "begin=%" PRId64 " end=%" PRId64 " records=%" PRIu64
	    " messages=%" PRIu64 " form=%s",
	    label, rep->org, rep->report_id, rep->pol.domain, rep->begin,
	    rep->end, rp->records, rp->messages, rp->form);
	return 0;
}

/* Reads fd to its end, keeping at most max bytes in b (the rest is read
 * and dropped, so that the MTA's pipe is drained); *total gets the size. */
static int
read_all(int fd, struct buf *b, size_t max, size_t *total)
{
	char    chunk[65536];
	ssize_t r;
	size_t  keep;

	*total = 0;
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		keep = b->len < max ? max - b->len : 0;
		if (keep > (size_t)r)
			keep = (size_t)r;
		if (keep > 0 && buf_append(b, chunk, keep) < 0)
			return -1;
		*total += (size_t)r;
	}
}

/* A mail of total bytes of which b holds the first max_mail + 1: one past
 * the limit is enough for the parser to refuse it. */
static int
one_fd(struct ingest *in, int fd, const char *label)
{
	struct buf b;
	size_t     total;
	int        rc;

	buf_init(&b, in->params.max_mail + 1);
	if (read_all(fd, &b, in->params.max_mail + 1, &total) < 0) {
		log_msg(LOG_L_ERR, "%s: read: %s", label, strerror(errno));
		buf_free(&b);
		return -1;
	}
	rc = one_mail(in, b.data != NULL ? b.data : "", b.len, label);
	buf_free(&b);
	return rc;
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* A maildir: new/ then cur/, each in name order. */
static int
maildir(struct ingest *in, const char *path)
{
	static const char *const subs[] = {"new", "cur"};
	struct dirent          **ent;
	char                     dir[4096], file[4096 + 256];
	size_t                   s;
	int                      n, i, fd, rc = 0, found = 0;

	for (s = 0; s < 2 && rc == 0; s++) {
		snprintf(dir, sizeof(dir), "%s/%s", path, subs[s]);
		if ((n = scandir(dir, &ent, skip_dot, alphasort)) < 0)
			continue;
		found++;
		for (i = 0; i < n; i++) {
			snprintf(
			    file, sizeof(file), "%s/%s", dir, ent[i]->d_name);
			if (rc == 0) {
				if ((fd = open(file, O_RDONLY | O_CLOEXEC)) <
				    0) {
					log_msg(LOG_L_ERR, "%s: %s", file,
					    strerror(errno));
					rc = -1;
				} else {
					rc = one_fd(in, fd, file);
					close(fd);
				}
			}
			free(ent[i]);
		}
		free(ent);
	}
	if (found == 0) {
		log_msg(LOG_L_ERR, "%s: not a maildir (no new/ or cur/)", path);
		return -2;
	}
	return rc;
}

/* An mbox: a message starts at a line "From " (the separator, dropped);
 * ">From " lines (any number of '>') lose one '>' (mboxrd). */
static int
mbox_one(struct ingest *in, const char *p, size_t n, unsigned long k,
    const char *path)
{
	struct buf  b;
	const char *end = p + n, *e, *q;
	char        label[4200];
	int         rc;

	buf_init(&b, in->params.max_mail + 1);
	for (q = p; q < end; q = e) {
		e = memchr(q, '\n', (size_t)(end - q));
		e = e != NULL ? e + 1 : end;
		if (e - q >= 6 && q[0] == '>') {
			const char *g = q;

			while (g < e && *g == '>')
				g++;
			if (e - g >= 5 && memcmp(g, "From ", 5) == 0)
				q++;
		}
		if (b.len < in->params.max_mail + 1 &&
		    buf_append(&b, q,
			(size_t)(e - q) < in->params.max_mail + 1 - b.len
			    ? (size_t)(e - q)
			    : in->params.max_mail + 1 - b.len) < 0) {
			buf_free(&b);
			log_msg(LOG_L_ERR, "%s: out of memory", path);
			return -1;
		}
	}
	snprintf(label, sizeof(label), "%s: message %lu", path, k);
	rc = one_mail(in, b.data != NULL ? b.data : "", b.len, label);
	buf_free(&b);
	return rc;
}

static int
mbox(struct ingest *in, const char *path, int fd, size_t size)
{
	const char   *m, *p, *end, *start = NULL, *next;
	unsigned long k = 0;
	int           rc = 0;

	if (size == 0)
		return 0;
	if ((m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0)) ==
	    MAP_FAILED) {
		log_msg(LOG_L_ERR, "%s: mmap: %s", path, strerror(errno));
		return -2;
	}
	end = m + size;
	if (size < 5 || memcmp(m, "From ", 5) != 0) {
		log_msg(LOG_L_ERR, "%s: not an mbox (no \"From \" line first)",
		    path);
		munmap((void *)(uintptr_t)m, size);
		return -2;
	}
	for (p = m; p < end && rc == 0; p = next) {
		next = memchr(p, '\n', (size_t)(end - p));
		next = next != NULL ? next + 1 : end;
		if (end - p >= 5 && memcmp(p, "From ", 5) == 0) {
			if (start != NULL)
				rc = mbox_one(
				    in, start, (size_t)(p - start), ++k, path);
			start = next;
		}
	}
	if (rc == 0 && start != NULL)
		rc = mbox_one(in, start, (size_t)(end - start), ++k, path);
	munmap((void *)(uintptr_t)m, size);
	return rc;
}

int
report_ingest(const char *conf_file, const char *path, int64_t now)
{
	struct ingest   in = {.now = now};
	struct am_conf *conf;
	struct am_err   err;
	struct stat     sb;
	int             rc, fd = -1;

	openlog("authmilter-report", LOG_PID, LOG_MAIL);
	log_set_sink(sink, NULL);
	if ((conf = conf_load(conf_file, &err)) == NULL) {
		log_msg(LOG_L_ERR, "%s", err.msg);
		return INGEST_EX_TEMPFAIL;
	}
	closelog();
	openlog("authmilter-report", LOG_PID, conf->syslog_facility);
	in.conf = conf;
	if (!conf->reports.enabled) {
		log_msg(LOG_L_ERR,
		    "%s has no reports group: no store to ingest into",
		    conf_file);
		conf_unref(conf);
		return INGEST_EX_TEMPFAIL;
	}
	if ((in.st = store_open(conf->reports.store, &err)) == NULL) {
		log_msg(LOG_L_ERR, "%s", err.msg);
		conf_unref(conf);
		return INGEST_EX_TEMPFAIL;
	}
	in.params.max_mail = REPORT_PARSE_MAIL_MAX;
	report_parse_init(&in.rp);
	if (path == NULL) {
		rc = one_fd(&in, 0, "stdin");
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
		   fstat(fd, &sb) < 0) {
		log_msg(LOG_L_ERR, "%s: %s", path, strerror(errno));
		rc = -2;
	} else if (S_ISDIR(sb.st_mode)) {
		rc = maildir(&in, path);
	} else if (S_ISREG(sb.st_mode)) {
		rc = mbox(&in, path, fd, (size_t)sb.st_size);
	} else {
		log_msg(LOG_L_ERR, "%s: neither a maildir nor an mbox", path);
		rc = -2;
	}
	if (fd >= 0)
		close(fd);
	if (path != NULL && rc != -2)
		log_msg(LOG_L_INFO,
		    "ingest: %lu mails: %lu stored, %lu duplicates, %lu "
		    "without a report, %lu quarantined%s",
		    in.mails, in.stored, in.dups, in.none, in.bad,
		    rc < 0 ? "; stopped: try again later" : "");
	report_parse_free(&in.rp);
	store_close(in.st);
	conf_unref(conf);
	return rc == 0 ? 0 : rc == -2 ? 1 : INGEST_EX_TEMPFAIL;
}

/*
 * authmilter-report: the aggregate-report store from the command line.
 *
 *   authmilter-report [-c CONF] list [--unsent]
 *	One line per period (UTC day, policy domain):
 *	"DAY DOMAIN messages=N rows=N p=P rua=RUA state=unsent|sent@EPOCH"
 *   authmilter-report [-c CONF] send [--dry-run DIR] [--now EPOCH]
 *	For each unsent period of a finished UTC day with a usable rua,
 *	builds the RFC 9990 report, signs the mail with the signing-table row
 *	of reports.from, hands it to reports.sendmail and marks the period
 *	sent, at most reports.max_per_minute a minute. With --dry-run it
 *	writes the report to DIR as the mail would carry it instead:
 *	FILE.xml.gz (FILE = receiver!domain!begin!end!id) and the whole
 *	signed message as FILE.eml; nothing is marked sent.
 *   authmilter-report [-c CONF] expire --days N [--now EPOCH]
 *	Deletes the periods (and their rows) that ended more than N days
 *	before today (UTC) and prints "expired N periods".
 *   authmilter-report [-c CONF] ingest [--now EPOCH] [PATH]
 *	Stores the aggregate reports other receivers send us: one mail on
 *	standard input, or a maildir or mbox PATH (report_ingest.h; its
 *	exit status is its own: 0, or 75 to have the MTA try again).
 *   authmilter-report [-c CONF] summary DOMAIN [--days N] [--json]
 *	    [--now EPOCH]
 *   authmilter-report [-c CONF] html DOMAIN [--days N] [--now EPOCH]
 *	What the aggregate reports received about DOMAIN (ingest) say over
 *	the last N UTC days (default 30), with a verdict (rx_summary.h): as
 *	text, JSON or one HTML page, on standard output. The sources worth
 *	naming get a PTR lookup and a check against DOMAIN's own SPF record.
 *
 * CONF is the daemon's configuration (default CONF_DEFAULT_FILE); its
 * reports group names the store. Exit status: 0 done, 1 the store or the
 * configuration failed, 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "dkim_sign.h"
#include "dmarc.h"
#include "dns.h"
#include "hdr.h"
#include "ipaddr.h"
#include "msgauth.h"
#include "report.h"
#include "report_ingest.h"
#include "report_xml.h"
#include "rx_summary.h"
#include "spf.h"
#include "store.h"
#include "str.h"

#define MAX_DEST 8 /* rua destinations used per report */
/* How long sendmail(1) has to take one report. */
#define HANDOFF_SECONDS 60

extern char **environ;

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fputs("usage: authmilter-report [-c CONF] list [--unsent]\n"
	      "       authmilter-report [-c CONF] send [--dry-run DIR] "
	      "[--now EPOCH]\n"
	      "       authmilter-report [-c CONF] expire --days N "
	      "[--now EPOCH]\n"
	      "       authmilter-report [-c CONF] ingest [--now EPOCH] "
	      "[PATH]\n"
	      "       authmilter-report [-c CONF] summary DOMAIN [--days N] "
	      "[--json] [--now EPOCH]\n"
	      "       authmilter-report [-c CONF] html DOMAIN [--days N] "
	      "[--now EPOCH]\n",
	    stderr);
	exit(2);
}

/* A non-negative decimal integer, whole; -1 otherwise. */
static long long
number(const char *s)
{
	char     *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : v;
}

static int
print_period(void *arg, const struct store_period *p)
{
	time_t    t = (time_t)p->day;
	struct tm tm;
	char      day[16];

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	printf("%s %s messages=%llu rows=%llu p=%s rua=%s ", day, p->pol.domain,
	    (unsigned long long)p->messages, (unsigned long long)p->rows,
	    report_policy_str(p->pol.p),
	    p->pol.rua[0] != '\0' ? p->pol.rua : "-");
	if (p->sent)
		printf("state=sent@%lld\n", (long long)p->sent_at);
	else
		printf("state=unsent\n");
	return 0;
}

struct send {
	const struct msgauth_ctx *ctx; /* the signing keys' states, dns */
	const struct am_conf     *conf;
	struct store             *st;
	struct dns               *dns;
	const char               *dir; /* --dry-run; NULL: hand to sendmail */
	int64_t                   now;
	struct timespec           last; /* the last hand-off (pacing) */
	bool                      handed;
	unsigned                  made, skipped, failed;
};

struct dests {
	size_t n;
	char   addr[MAX_DEST][REPORT_RUA_MAX + 1];
};

/* The usable destinations of rua, into d and to ("a@x, b@y"): mailto
 * URIs, the "!size" suffix dropped, not blocklisted, external ones
 * authorized. Returns how many. */
static size_t
destinations(struct send *s, const struct report_policy_pub *pol,
    struct dests *d, struct buf *to)
{
	const char   *p = pol->rua;
	struct dmarc *dm = NULL; /* the walks, when a host is not the domain */
	size_t        n = 0;

	while (*p != '\0' && n < MAX_DEST) {
		const char *e = strchr(p, ','), *u = p;
		size_t      len = e != NULL ? (size_t)(e - p) : strlen(p);
		char        uri[REPORT_RUA_MAX + 1], *bang, *dom;
		const char *why = NULL;

		p += len + (e != NULL);
		str_trim(&u, &len); /* RFC 9989: WSP around each URI */
		memcpy(uri, u, len);
		uri[len] = '\0';
		if ((bang = strchr(uri, '!')) != NULL)
			*bang = '\0';
		if (!str_ieq(uri, 7, "mailto:"))
			why = "not a mailto URI";
		else if ((dom = strrchr(uri + 7, '@')) == NULL ||
			 dom == uri + 7 || !dns_name_valid(dom + 1) ||
			 strpbrk(uri + 7, " %?\"<>") != NULL)
			why = "not a plain address";
		else if (conf_report_blocked(s->conf, uri + 7))
			why = "on reports.blocklist";
		else if ((dm == NULL &&
			     (dm = dmarc_new(s->dns, NULL)) == NULL) ||
			 dmarc_report_dest(dm, pol->domain, dom + 1) ==
			     DMARC_DEST_EXTERNAL)
			why = "external, and no _report._dmarc authorization";
		if (why != NULL) {
			fprintf(stderr, "%s: destination %s left out: %s\n",
			    pol->domain, uri, why);
			continue;
		}
		if ((n > 0 && buf_append_str(to, ", ") < 0) ||
		    buf_append_str(to, uri + 7) < 0)
			break;
		memcpy(d->addr[n++], uri + 7, strlen(uri + 7) + 1);
	}
	dmarc_free(dm);
	return d->n = n;
}

struct rows_arg {
	struct report_xml *x;
	uint64_t           left;     /* records still allowed */
	uint64_t           added;    /* records written */
	uint64_t           messages; /* their counts' sum */
	bool               full;     /* the size ceiling came first */
	int                rc;
	struct am_err      err;
};

static int
add_row(void *arg, const struct report_row *row, uint64_t count)
{
	struct rows_arg *a = arg;

	if (a->left == 0)
		return 1;
	if (!report_xml_room(a->x, REPORT_XML_RECORD_MAX)) {
		a->full = true;
		return 1;
	}
	a->left--;
	if (report_xml_add(a->x, row, count, &a->err) < 0)
		return a->rc = -1;
	a->added++;
	a->messages += count;
	return 0;
}

/* The period's XML into xml, with at most limit records, the largest
 * counts first (store_rows()). When the size ceiling stops it first,
 * ra->full is set and xml is left as it was: the caller builds again with
 * fewer records, saying so in the report's error. */
static int
build_xml(struct send *s, const struct store_period *p,
    const struct report_meta *meta, uint64_t limit, struct rows_arg *ra,
    struct buf *xml)
{
	*ra = (struct rows_arg){.left = limit};
	if ((ra->x = report_xml_begin(meta, &p->pol, &ra->err)) == NULL)
		return -1;
	report_xml_set_max(ra->x, (size_t)s->conf->reports.max_kbytes * 1024);
	if (store_rows(s->st, p->day, p->pol.domain, add_row, ra, &ra->err) <
		0 ||
	    ra->rc < 0 || ra->full) {
		report_xml_free(ra->x);
		return ra->full ? 0 : -1;
	}
	return report_xml_end(ra->x, xml, &ra->err);
}

static int
write_file(
    const char *dir, const char *name, const char *ext, const struct buf *b)
{
	char  path[4096];
	FILE *fp;
	int   n = snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);

	bool ok;

	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "authmilter-report: %s: path too long\n", dir);
		return -1;
	}
	if ((fp = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "authmilter-report: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	ok = fwrite(b->data, 1, b->len, fp) == b->len;
	if (fclose(fp) != 0 || !ok) {
		fprintf(stderr, "authmilter-report: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

/* out = p[0..len) with each LF made CRLF (the SMTP form). */
static int
crlf(const char *p, size_t len, struct buf *out)
{
	size_t i;

	buf_reset(out);
	for (i = 0; i < len; i++)
		if ((p[i] == '\n' && buf_append_char(out, '\r') < 0) ||
		    buf_append_char(out, p[i]) < 0)
			return -1;
	return 0;
}

/* Signs mail (report_mail()'s, LF line ends) with the signing-table row of
 * reports.from, as the daemon signs (msgauth_sign_setup()), the body in
 * its SMTP form (CRLF), and puts the DKIM-Signature fields on top. A
 * report must pass DMARC at its receiver (RFC 9990 2.1), so no row is an
 * error. */
static int
sign_mail(const struct msgauth_ctx *ctx, int64_t now, struct buf *mail,
    struct am_err *err)
{
	const struct am_conf        *c = msgauth_ctx_conf(ctx);
	const struct conf_sign_rule *rule = conf_sign_match(c, c->reports.from);
	struct dkim_sign_params      params;
	struct dkim_sign_key         keys[CONF_MAX_ROW_KEYS];
	struct dkim_sign            *ds;
	struct hdr_list             *h;
	struct buf                   tmp, out;
	const char                  *p = mail->data, *hend, *field, *f;
	size_t                       i, n, nkeys;
	bool                         ok = true;
	int                          rc = -1;

	if (rule == NULL) {
		am_err_set(err,
		    "reports.from %s has no signing-table row, "
		    "and an unsigned report fails DMARC",
		    c->reports.from);
		return -1;
	}
	if ((hend = strstr(p, "\n\n")) == NULL) {
		am_err_set(err, "the mail has no body");
		return -1;
	}
	if ((nkeys = msgauth_sign_setup(
		 ctx, rule, (time_t)now, &params, keys)) == 0) {
		am_err_set(err,
		    "no published key for %s (publish_check): an unsigned "
		    "report fails DMARC",
		    rule->from);
		return -1;
	}
	h = hdr_list_new();
	ds = dkim_sign_new(&params, keys, nkeys);
	buf_init(&tmp, HDR_MAX_BYTES);
	buf_init(&out, 2 * REPORT_XML_MAX);
	if (h == NULL || ds == NULL) {
		am_err_set(err, "out of memory");
		goto out;
	}
	/* The header: a field runs to the next line not starting with WSP. */
	for (field = f = p; f <= hend; f = strchr(f, '\n') + 1)
		if (f != field && f[0] != ' ' && f[0] != '\t') {
			if (crlf(field, (size_t)(f - 1 - field), &tmp) < 0 ||
			    hdr_list_add_raw(h, tmp.data, tmp.len) != 0) {
				am_err_set(
				    err, "the mail's header cannot be signed");
				goto out;
			}
			field = f;
		}
	if (dkim_sign_eoh(ds, err) < 0)
		goto out;
	/* The body in its SMTP form, in chunks. */
	for (p = hend + 2; *p != '\0'; p += n) {
		n = strnlen(p, 32 * 1024);
		if (crlf(p, n, &tmp) < 0) {
			am_err_set(err, "out of memory");
			goto out;
		}
		if (dkim_sign_body(ds, tmp.data, tmp.len, err) < 0)
			goto out;
	}
	if (dkim_sign_eom(ds, h, err) < 0)
		goto out;
	/* Each field with its folds back to LF, then the mail. */
	for (i = 0; i < dkim_sign_count(ds) && ok; i++) {
		for (f = dkim_sign_field(ds, i); *f != '\0' && ok; f++)
			ok = *f == '\r' || buf_append_char(&out, *f) == 0;
		ok = ok && buf_append_char(&out, '\n') == 0;
	}
	if (!ok || buf_append(&out, mail->data, mail->len) < 0) {
		am_err_set(err, "the signed mail is too large");
		goto out;
	}
	buf_free(mail);
	*mail = out;
	buf_init(&out, 0);
	rc = 0;
out:
	dkim_sign_free(ds);
	hdr_list_free(h);
	buf_free(&tmp);
	buf_free(&out);
	return rc;
}

/* At most reports.max_per_minute hand-offs a minute: waits until 60/N
 * seconds have passed since the last one. */
static void
pace(struct send *s)
{
	double          gap = 60.0 / s->conf->reports.max_per_minute;
	struct timespec t = s->last;

	if (s->handed) {
		t.tv_sec += (time_t)gap;
		t.tv_nsec += (long)((gap - (double)(time_t)gap) * 1e9);
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(
			   CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
			;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->last);
	s->handed = true;
}

/* Hands mail to sendmail(1) as "SENDMAIL -oi -f FROM -- RCPT...", the
 * mail on its standard input; no shell. It has HANDOFF_SECONDS to read
 * the mail and exit; 0 when it exited 0. */
static int
hand_off(char *sendmail, char *from, struct dests *d, const struct buf *mail,
    struct am_err *err)
{
	static char                oi[] = "-oi", f[] = "-f", end_opts[] = "--";
	char                      *argv[6 + MAX_DEST];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          sa;
	sigset_t                   def;
	struct timespec            end, t;
	size_t                     i, off = 0;
	pid_t                      pid;
	int                        pfd[2], st = 0, r;

	argv[0] = sendmail;
	argv[1] = oi;
	argv[2] = f;
	argv[3] = from;
	argv[4] = end_opts;
	for (i = 0; i < d->n; i++)
		argv[5 + i] = d->addr[i];
	argv[5 + i] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		am_err_set(err, "pipe: %s", strerror(errno));
		return -1;
	}
	/* SIGPIPE is ignored here (a write to a sendmail that quit fails with
	 * EPIPE); sendmail gets it back. */
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_init(&sa);
	posix_spawnattr_setsigdefault(&sa, &def);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	r = posix_spawn(&pid, sendmail, &fa, &sa, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(pfd[0]);
	if (r != 0) {
		close(pfd[1]);
		am_err_set(err, "%s: %s", sendmail, strerror(r));
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += HANDOFF_SECONDS;
	fcntl(pfd[1], F_SETFL, O_NONBLOCK);
	while (off < mail->len) {
		struct pollfd pf = {.fd = pfd[1], .events = POLLOUT};
		ssize_t       w;
		long          ms;

		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (end.tv_sec - t.tv_sec) * 1000 +
		     (end.tv_nsec - t.tv_nsec) / 1000000;
		if (ms <= 0)
			break;
		if ((r = poll(&pf, 1, (int)ms)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if ((w = write(pfd[1], mail->data + off, mail->len - off)) > 0)
			off += (size_t)w;
		else if (errno != EINTR && errno != EAGAIN)
			break; /* EPIPE: it quit */
	}
	close(pfd[1]);
	/* Then its exit, by the same deadline. */
	while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec > end.tv_sec ||
		    (t.tv_sec == end.tv_sec && t.tv_nsec >= end.tv_nsec)) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			am_err_set(err, "%s took more than %d s: killed",
			    sendmail, HANDOFF_SECONDS);
			return -1;
		}
		poll(NULL, 0, 20);
	}
	if (r < 0)
		am_err_set(err, "%s: %s", sendmail, strerror(errno));
	else if (WIFSIGNALED(st))
		am_err_set(
		    err, "%s was killed by signal %d", sendmail, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0)
		am_err_set(
		    err, "%s exited with status %d", sendmail, WEXITSTATUS(st));
	else if (off < mail->len)
		am_err_set(
		    err, "%s exited before reading the whole mail", sendmail);
	else
		return 0;
	return -1;
}

static int
send_period(void *arg, const struct store_period *p)
{
	struct send          *s = arg;
	const struct am_conf *c = s->conf;
	char                  id[STORE_ID_MAX + 1], error[128];
	const char           *why;
	uint64_t              limit;
	int                   tries;
	struct buf            to, xml, gz, fname, subj, mail;
	struct report_meta    meta = {0};
	struct rows_arg       ra = {0};
	struct report_mail_in in = {0};
	struct dests          d;
	size_t                stem;
	int                   rc = -1;

	if (p->messages < c->reports.min_messages) {
		s->skipped++;
		return 0;
	}
	buf_init(&to, 4096);
	buf_init(&xml, REPORT_XML_MAX);
	buf_init(&gz, REPORT_XML_MAX);
	buf_init(&fname, 1024);
	buf_init(&subj, 1024);
	buf_init(&mail, 2 * REPORT_XML_MAX);
	if (destinations(s, &p->pol, &d, &to) == 0) {
		fprintf(stderr, "%s: no usable rua destination: no report\n",
		    p->pol.domain);
		s->skipped++;
		rc = 0;
		goto out;
	}
	if (store_report_id(s->st, p->day, p->pol.domain, id, &ra.err) < 0)
		goto fail;
	meta.org_name = c->reports.org_name;
	meta.email = c->reports.from;
	meta.extra_contact_info = c->reports.extra_contact_info;
	meta.report_id = id;
	meta.begin = p->day;
	meta.end = p->day + 86399;
	/* At most max_rows records, and fewer when the document would pass
	 * its ceiling; the report says how many were left out, and why. */
	limit = c->reports.max_rows;
	why = "reports.max_rows";
	for (tries = 0;; tries++) {
		meta.error = NULL;
		if (p->rows > limit) {
			snprintf(error, sizeof(error),
			    "%llu of %llu records left out (%s)",
			    (unsigned long long)(p->rows - limit),
			    (unsigned long long)p->rows, why);
			meta.error = error;
		}
		if (build_xml(s, p, &meta, limit, &ra, &xml) < 0)
			goto fail;
		if (!ra.full)
			break;
		if (tries == 8 || ra.added == 0) {
			am_err_set(&ra.err,
			    "not one record fits reports.max_kbytes (%u)",
			    c->reports.max_kbytes);
			goto fail;
		}
		limit = ra.added < limit ? ra.added : limit - 1;
		why = "reports.max_kbytes";
	}
	if (report_gzip(&xml, &gz, &ra.err) < 0)
		goto fail;
	if (report_file_name(c->reports.receiver, p->pol.domain, meta.begin,
		meta.end, id, &fname) < 0 ||
	    report_subject(p->pol.domain, c->reports.receiver, id, &subj) < 0) {
		am_err_set(&ra.err, "a name does not fit RFC 9990's grammar");
		goto fail;
	}
	in.from = c->reports.from;
	in.to = buf_cstr(&to);
	in.subject = buf_cstr(&subj);
	in.file_name = buf_cstr(&fname);
	in.message_id_domain = c->reports.receiver;
	in.text = "This is a DMARC aggregate report (RFC 9990) in the attached "
		  "file.\n";
	in.date = s->now;
	in.gz = &gz;
	if (report_mail(&in, &mail, &ra.err) < 0 ||
	    sign_mail(s->ctx, s->now, &mail, &ra.err) < 0)
		goto fail;
	stem = fname.len - strlen(".xml.gz");
	if (s->dir != NULL) {
		if (write_file(s->dir, buf_cstr(&fname), "", &gz) < 0)
			goto fail_quiet;
		fname.data[stem] = '\0';
		if (write_file(s->dir, fname.data, ".eml", &mail) < 0)
			goto fail_quiet;
	} else {
		/* Exactly once: marked sent only after sendmail took it. A
		 * crash in between sends it again, with the same report id
		 * and file name, which receivers take as the same report. */
		pace(s);
		if (hand_off(c->reports.sendmail, c->reports.from, &d, &mail,
			&ra.err) < 0) {
			fprintf(stderr,
			    "authmilter-report: %s: not sent: %s; the next "
			    "run tries again\n",
			    p->pol.domain, ra.err.msg);
			goto fail_quiet;
		}
		if (store_mark_sent(s->st, p->day, p->pol.domain, buf_cstr(&to),
			s->now, &ra.err) < 0) {
			fprintf(stderr,
			    "authmilter-report: %s: sent, but not marked sent "
			    "(%s): the next run sends it again, with the same "
			    "report id\n",
			    p->pol.domain, ra.err.msg);
			goto fail_quiet;
		}
		fname.data[stem] = '\0';
	}
	printf("%s.xml.gz %llu messages, %llu records -> %s\n", fname.data,
	    (unsigned long long)ra.messages, (unsigned long long)ra.added,
	    buf_cstr(&to));
	s->made++;
	rc = 0;
	goto out;
fail:
	fprintf(
	    stderr, "authmilter-report: %s: %s\n", p->pol.domain, ra.err.msg);
fail_quiet:
	s->failed++;
	rc = 0; /* the next period still gets its report */
out:
	buf_free(&to);
	buf_free(&xml);
	buf_free(&gz);
	buf_free(&fname);
	buf_free(&subj);
	buf_free(&mail);
	return rc;
}

/* dkim.sign.publish_check, as the daemon at start: a report is signed
 * only with keys whose record is published. */
static void
send_pub_note(
    void *arg, const struct conf_key *k, enum msgauth_pub st, const char *why)
{
	(void)arg;
	if (st != MSGAUTH_PUB_OK)
		fprintf(stderr,
		    "authmilter-report: DKIM key %s (s=%s d=%s): not signing "
		    "with it: %s\n",
		    k->name, k->selector, k->domain, why);
}

static int
cmd_send(struct am_conf *conf, struct store *st, const char *dir, int64_t now)
{
	struct send s = {.conf = conf, .st = st, .dir = dir, .now = now};
	struct msgauth_ctx *ctx;
	struct am_err       err;
	int                 rc;

	if ((ctx = msgauth_ctx_new(conf, NULL, &err)) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
		return -1;
	}
	if (msgauth_publish_checked(ctx))
		(void)msgauth_publish_check(ctx, send_pub_note, NULL);
	s.ctx = ctx;
	s.dns = msgauth_ctx_dns(ctx);
	/* Finished UTC days only: the current day is still being recorded. */
	rc = store_periods(st, report_day(now), true, send_period, &s, &err);
	msgauth_ctx_unref(ctx);
	if (rc != 0) {
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
		return -1;
	}
	printf("%u reports, %u periods skipped, %u failed\n", s.made, s.skipped,
	    s.failed);
	return s.failed > 0 ? -1 : 0;
}

/* summary and html: the DNS questions about the sources that matter, all
 * of them within RX_DNS_SECONDS (past it, a source stays unchecked or
 * without a name), each SPF check within RX_SPF_SECONDS. */
#define RX_DNS_SECONDS  60
#define RX_SPF_SECONDS  5.0
#define RX_DEFAULT_DAYS 30

struct rx_cli {
	struct dns        *dns;
	struct spf_query  *spf;
	const char        *domain;
	struct timespec    end; /* CLOCK_MONOTONIC */
	struct rx_summary *s;
	int                rc;
	struct am_err      err;
};

static bool
rx_cli_late(const struct rx_cli *c)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec >= c->end.tv_sec;
}

/* Does DOMAIN's own SPF record authorize ip? RFC 7208 check_host() with
 * DOMAIN as the MAIL FROM domain, as a receiver would for our mail. */
static enum rx_spf
rx_cli_spf(void *arg, const char *ip)
{
	struct rx_cli *c = arg;
	struct ipaddr  a;
	char           sender[REPORT_NAME_MAX + 16];

	if (c->spf == NULL || !ipaddr_parse(&a, ip) || rx_cli_late(c))
		return RX_SPF_UNCHECKED;
	snprintf(sender, sizeof(sender), "postmaster@%s", c->domain);
	switch (spf_check_host(c->spf, &a, c->domain, sender, NULL)) {
	case SPF_PASS:
		return RX_SPF_AUTHORIZED;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
	case SPF_NONE:
		return RX_SPF_NOT_AUTHORIZED;
	default: /* temperror, permerror: no answer */
		return RX_SPF_UNCHECKED;
	}
}

/* The first PTR name of ip (not forward-confirmed: it only helps a
 * reader recognize the source; dns_rdata_parse() let only printable
 * ASCII through). */
static bool
rx_cli_ptr(void *arg, const char *ip, char *out, size_t size)
{
	struct rx_cli     *c = arg;
	struct ipaddr      a;
	struct dns_answer *ans;
	char               name[80];
	bool               ok;

	if (!ipaddr_parse(&a, ip) || rx_cli_late(c))
		return false;
	ipaddr_reverse_name(&a, name, sizeof(name));
	if ((ans = dns_lookup(c->dns, name, DNS_T_PTR)) == NULL)
		return false;
	ok = ans->status == DNS_OK && ans->n > 0 && ans->rr[0].data[0] != '\0';
	if (ok)
		str_lcpy(out, ans->rr[0].data, size);
	dns_answer_free(ans);
	return ok;
}

/* store_rx_rows() -> rx_summary_add(): the one place that knows both. */
static int
rx_cli_row(void *arg, const struct store_rx_report *rep,
    const struct report_row *row, uint64_t count)
{
	struct rx_cli *c = arg;
	struct rx_meta m = {.org = rep->org,
	    .report_id = rep->report_id,
	    .begin = rep->begin,
	    .end = rep->end,
	    .pol = &rep->pol};

	if (rx_summary_add(c->s, &m, row, count, &c->err) < 0)
		return c->rc = -1;
	return 0;
}

static int
cmd_summary(const struct am_conf *conf, struct store *st, const char *domain,
    long long days, int64_t now, const char *format)
{
	struct dns_params        dp = {.unbound_conf = conf->dns.unbound_conf,
		   .trust_anchor = conf->dns.trust_anchor,
		   .timeout = conf->dns.timeout};
	struct spf_params        sp = {.timeout = RX_SPF_SECONDS, .now = now};
	struct rx_summary_params p = {.domain = domain,
	    .since = report_day(now) - (days - 1) * 86400,
	    .now = now,
	    .spf_auth = rx_cli_spf,
	    .ptr_name = rx_cli_ptr};
	struct rx_cli            c = {.domain = domain};
	struct buf               out;
	int                      rc = -1;

	buf_init(&out, 64 * 1024 * 1024);
	p.cb_arg = &c;
	if ((c.s = rx_summary_new(&p)) == NULL) {
		fprintf(stderr, "authmilter-report: out of memory\n");
		return -1;
	}
	rc = store_rx_rows(st, domain, p.since, rx_cli_row, &c, &c.err);
	if (rc != 0 || c.rc != 0)
		goto fail;
	if ((c.dns = dns_new(&dp, &c.err)) == NULL)
		goto fail;
	c.spf = spf_query_new(c.dns, &sp);
	clock_gettime(CLOCK_MONOTONIC, &c.end);
	c.end.tv_sec += RX_DNS_SECONDS;
	if (rx_summary_finish(c.s, &c.err) < 0)
		goto fail;
	if (strcmp(format, "html") == 0)
		rc = rx_summary_html(c.s, &out);
	else if (strcmp(format, "json") == 0)
		rc = rx_summary_json(c.s, &out);
	else
		rc = rx_summary_text(c.s, &out);
	if (rc < 0) {
		am_err_set(&c.err, "the summary is larger than 64 MB");
		goto fail;
	}
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0) {
		am_err_set(&c.err, "standard output: %s", strerror(errno));
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "authmilter-report: %s: %s\n", domain, c.err.msg);
	rc = -1;
out:
	spf_query_free(c.spf);
	dns_free(c.dns);
	rx_summary_free(c.s);
	buf_free(&out);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"unsent", no_argument, NULL, 'u'},
	    {"days", required_argument, NULL, 'd'},
	    {"now", required_argument, NULL, 'n'},
	    {"dry-run", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	const char *file = CONF_DEFAULT_FILE, *cmd, *dry = NULL, *dom = NULL;
	char        domain[REPORT_NAME_MAX + 1] = "";
	bool        unsent = false, json = false, rx;
	long long   days = -1, now = (long long)time(NULL);
	struct am_conf *conf;
	struct store   *st;
	struct am_err   err;
	uint64_t        n = 0;
	int             c, rc;

	/* Options before the command (-c) and after it. */
	while ((c = getopt_long(argc, argv, "+c:", opts, NULL)) != -1) {
		if (c != 'c')
			usage();
		file = optarg;
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind];
	optind++;
	/* summary/html DOMAIN [options]: getopt stops at the first operand
	 * (the "+" above set that order for every later call), so DOMAIN is
	 * taken before the options, or as the last argument after them. */
	rx = strcmp(cmd, "summary") == 0 || strcmp(cmd, "html") == 0;
	if (rx && optind < argc && argv[optind][0] != '-')
		dom = argv[optind++];
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'u':
			unsent = true;
			break;
		case 'd':
			if ((days = number(optarg)) < 0 || days > 100000)
				usage();
			break;
		case 'n':
			if ((now = number(optarg)) < 0)
				usage();
			break;
		case 'r':
			dry = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			usage();
		}
	}
	if (strcmp(cmd, "ingest") == 0) {
		if (optind + 1 < argc || unsent || days >= 0 || dry != NULL ||
		    json)
			usage();
		return report_ingest(
		    file, optind < argc ? argv[optind] : NULL, now);
	}
	if (rx && dom == NULL && optind == argc - 1)
		dom = argv[optind++];
	if (rx) {
		/* A host name (LDH, and '_'), compared in lower case. */
		if (optind != argc || dom == NULL || !dns_name_valid(dom) ||
		    dom[strspn(dom,
			"abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")] != '\0' ||
		    str_lcpy(domain, dom, sizeof(domain)) >= sizeof(domain) ||
		    unsent ||
		    (days >= 0 && (days < 1 || days >= RX_MAX_DAYS)) ||
		    (json && strcmp(cmd, "summary") != 0))
			usage();
		str_lower(domain);
		if (domain[strlen(domain) - 1] == '.')
			domain[strlen(domain) - 1] = '\0';
		if (days < 0)
			days = RX_DEFAULT_DAYS;
	} else if (optind != argc || json ||
		   (strcmp(cmd, "list") != 0 && strcmp(cmd, "expire") != 0 &&
		       strcmp(cmd, "send") != 0))
		usage();
	else if (strcmp(cmd, "expire") == 0 ? days < 0 || unsent : days >= 0)
		usage();
	if (dry != NULL && strcmp(cmd, "send") != 0)
		usage();
	signal(SIGPIPE, SIG_IGN); /* hand_off() sees EPIPE instead */

	if ((conf = conf_load(file, &err)) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
		return 1;
	}
	if (!conf->reports.enabled) {
		fprintf(stderr,
		    "authmilter-report: %s has no reports group: nothing is "
		    "recorded\n",
		    file);
		conf_unref(conf);
		return 1;
	}
	if ((st = store_open(conf->reports.store, &err)) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
		conf_unref(conf);
		return 1;
	}
	if (strcmp(cmd, "list") == 0)
		rc = store_periods(st, 0, unsent, print_period, NULL, &err);
	else if (strcmp(cmd, "send") == 0) {
		rc = cmd_send(conf, st, dry, now);
		err.msg[0] = '\0';
	} else if (rx) {
		rc = cmd_summary(conf, st, domain, days, now,
		    strcmp(cmd, "html") == 0 ? "html"
		    : json                   ? "json"
					     : "text");
		err.msg[0] = '\0';
	} else {
		rc = store_expire(st, report_day(now) - days * 86400, &n, &err);
		if (rc == 0)
			printf("expired %llu periods\n", (unsigned long long)n);
	}
	if (rc != 0 && err.msg[0] != '\0')
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
	store_close(st);
	conf_unref(conf);
	return rc != 0 ? 1 : 0;
}

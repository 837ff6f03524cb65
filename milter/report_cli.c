/*
 * authmilter-report: the aggregate-report store from the command line.
 *
 *   authmilter-report [-c CONF] list [--unsent]
 *	One line per period (UTC day, policy domain):
 *	"DAY DOMAIN messages=N rows=N p=P rua=RUA state=unsent|sent@EPOCH"
 *   authmilter-report [-c CONF] send --dry-run DIR [--now EPOCH]
 *	For each unsent period of a finished UTC day with a usable rua,
 *	builds the RFC 9990 report and writes it to DIR as the mail would
 *	carry it: FILE.xml.gz (FILE = receiver!domain!begin!end!id) and the
 *	whole message as FILE.eml. Nothing is marked sent. Handing reports
 *	to sendmail(1) is not built yet: without --dry-run send refuses.
 *   authmilter-report [-c CONF] expire --days N [--now EPOCH]
 *	Deletes the periods (and their rows) that ended more than N days
 *	before today (UTC) and prints "expired N periods".
 *
 * CONF is the daemon's configuration (default CONF_DEFAULT_FILE); its
 * reports group names the store. Exit status: 0 done, 1 the store or the
 * configuration failed, 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "dns.h"
#include "report.h"
#include "report_xml.h"
#include "store.h"
#include "str.h"

#define MAX_DEST 8 /* rua destinations used per report */

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fputs("usage: authmilter-report [-c CONF] list [--unsent]\n"
	      "       authmilter-report [-c CONF] send --dry-run DIR "
	      "[--now EPOCH]\n"
	      "       authmilter-report [-c CONF] expire --days N "
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
	printf("%s %s messages=%llu rows=%llu p=%s rua=%s ", day,
	    p->pol.domain, (unsigned long long)p->messages,
	    (unsigned long long)p->rows, report_policy_str(p->pol.p),
	    p->pol.rua[0] != '\0' ? p->pol.rua : "-");
	if (p->sent)
		printf("state=sent@%lld\n", (long long)p->sent_at);
	else
		printf("state=unsent\n");
	return 0;
}

struct send {
	const struct am_conf *conf;
	struct store         *st;
	struct dns           *dns;
	const char           *dir;
	int64_t               now;
	unsigned              made, skipped, failed;
};

/* True when an authorization record for an external destination exists:
 * a TXT at <policy-domain>._report._dmarc.<dest> starting with v=DMARC1
 * (RFC 9990 4). A name past DNS limits is no authorization. */
static bool
external_ok(struct send *s, const char *policy, const char *dest)
{
	char                name[512];
	struct dns_answer  *a;
	bool                ok = false;
	size_t              i;
	int                 n;

	n = snprintf(name, sizeof(name), "%s._report._dmarc.%s", policy, dest);
	if (n < 0 || n > 253 || !dns_name_valid(name))
		return false;
	if ((a = dns_lookup(s->dns, name, DNS_T_TXT)) == NULL)
		return false;
	for (i = 0; a->status == DNS_OK && i < a->n && !ok; i++)
		ok = a->rr[i].len >= 8 &&
		     str_ieq(a->rr[i].data, 8, "v=DMARC1") &&
		     (a->rr[i].len == 8 || a->rr[i].data[8] == ';' ||
			 a->rr[i].data[8] == ' ' || a->rr[i].data[8] == '\t');
	dns_answer_free(a);
	return ok;
}

/* The usable destinations of rua into to ("a@x, b@y"): mailto URIs, the
 * "!size" suffix dropped, not blocklisted, external ones authorized.
 * Returns how many. */
static size_t
destinations(struct send *s, const struct report_policy_pub *pol,
    struct buf *to)
{
	const char *p = pol->rua;
	size_t      n = 0;

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
		else if ((dom = strrchr(uri + 7, '@')) == NULL || dom == uri + 7 ||
			 !dns_name_valid(dom + 1) || strpbrk(uri + 7, " %?\"<>") != NULL)
			why = "not a plain address";
		else if (conf_report_blocked(s->conf, uri + 7))
			why = "on reports.blocklist";
		else if (!str_domain_under(dom + 1, pol->domain) &&
			 !str_domain_under(pol->domain, dom + 1) &&
			 !external_ok(s, pol->domain, dom + 1))
			why = "external, and no _report._dmarc authorization";
		if (why != NULL) {
			fprintf(stderr, "%s: destination %s left out: %s\n",
			    pol->domain, uri, why);
			continue;
		}
		if ((n > 0 && buf_append_str(to, ", ") < 0) ||
		    buf_append_str(to, uri + 7) < 0)
			break;
		n++;
	}
	return n;
}

struct rows_arg {
	struct report_xml *x;
	uint64_t           left; /* records still allowed (max_rows) */
	int                rc;
	struct am_err      err;
};

static int
add_row(void *arg, const struct report_row *row, uint64_t count)
{
	struct rows_arg *a = arg;

	if (a->left == 0)
		return 0;
	a->left--;
	if (report_xml_add(a->x, row, count, &a->err) < 0)
		return a->rc = -1;
	return 0;
}

static int
write_file(const char *dir, const char *name, const char *ext,
    const struct buf *b)
{
	char  path[4096];
	FILE *fp;
	int   n = snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);

	bool  ok;

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

static int
send_period(void *arg, const struct store_period *p)
{
	struct send          *s = arg;
	const struct am_conf *c = s->conf;
	char                  id[STORE_ID_MAX + 1], error[96] = "";
	struct buf            to, xml, gz, fname, subj, mail;
	struct report_meta    meta = {0};
	struct rows_arg       ra = {0};
	struct report_mail_in in = {0};
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
	if (destinations(s, &p->pol, &to) == 0) {
		fprintf(stderr, "%s: no usable rua destination: no report\n",
		    p->pol.domain);
		s->skipped++;
		rc = 0;
		goto out;
	}
	if (store_report_id(s->st, p->day, p->pol.domain, id, &ra.err) < 0)
		goto fail;
	if (p->rows > c->reports.max_rows)
		snprintf(error, sizeof(error),
		    "%llu of %llu records left out (reports.max_rows)",
		    (unsigned long long)(p->rows - c->reports.max_rows),
		    (unsigned long long)p->rows);
	meta.org_name = c->reports.org_name;
	meta.email = c->reports.from;
	meta.extra_contact_info = c->reports.extra_contact_info;
	meta.report_id = id;
	meta.error = error[0] != '\0' ? error : NULL;
	meta.begin = p->day;
	meta.end = p->day + 86399;
	if ((ra.x = report_xml_begin(&meta, &p->pol, &ra.err)) == NULL)
		goto fail;
	ra.left = c->reports.max_rows;
	if (store_rows(s->st, p->day, p->pol.domain, add_row, &ra, &ra.err) <
		0 ||
	    ra.rc < 0) {
		report_xml_free(ra.x);
		goto fail;
	}
	if (report_xml_end(ra.x, &xml, &ra.err) < 0 ||
	    report_gzip(&xml, &gz, &ra.err) < 0)
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
	in.text = "This is a DMARC aggregate report (RFC 9990) in the attached file.\n";
	in.date = s->now;
	in.gz = &gz;
	if (report_mail(&in, &mail, &ra.err) < 0)
		goto fail;
	stem = fname.len - strlen(".xml.gz");
	if (write_file(s->dir, buf_cstr(&fname), "", &gz) < 0)
		goto fail_quiet;
	fname.data[stem] = '\0';
	if (write_file(s->dir, fname.data, ".eml", &mail) < 0)
		goto fail_quiet;
	printf("%s.xml.gz %llu messages, %llu records -> %s\n", fname.data,
	    (unsigned long long)p->messages,
	    (unsigned long long)(p->rows < c->reports.max_rows
		    ? p->rows : c->reports.max_rows),
	    buf_cstr(&to));
	s->made++;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "authmilter-report: %s: %s\n", p->pol.domain,
	    ra.err.msg);
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

static int
cmd_send(const struct am_conf *conf, struct store *st, const char *dir,
    int64_t now)
{
	struct dns_params dp = {.unbound_conf = conf->dns.unbound_conf,
	    .trust_anchor = conf->dns.trust_anchor,
	    .timeout = conf->dns.timeout};
	struct send       s = {.conf = conf, .st = st, .dir = dir, .now = now};
	struct am_err     err;
	int               rc;

	if ((s.dns = dns_new(&dp, &err)) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
		return -1;
	}
	/* Finished UTC days only: the current day is still being recorded. */
	rc = store_periods(st, report_day(now), true, send_period, &s, &err);
	dns_free(s.dns);
	if (rc != 0) {
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
		return -1;
	}
	printf("%u reports, %u periods skipped, %u failed\n", s.made,
	    s.skipped, s.failed);
	return s.failed > 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"unsent", no_argument, NULL, 'u'},
	    {"days", required_argument, NULL, 'd'},
	    {"now", required_argument, NULL, 'n'},
	    {"dry-run", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
	const char     *file = CONF_DEFAULT_FILE, *cmd, *dry = NULL;
	bool            unsent = false;
	long long       days = -1, now = (long long)time(NULL);
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
		default:
			usage();
		}
	}
	if (optind != argc ||
	    (strcmp(cmd, "list") != 0 && strcmp(cmd, "expire") != 0 &&
		strcmp(cmd, "send") != 0))
		usage();
	if (strcmp(cmd, "expire") == 0 ? days < 0 || unsent : days >= 0)
		usage();
	if ((dry != NULL) != (strcmp(cmd, "send") == 0))
		usage();

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
	} else {
		rc = store_expire(
		    st, report_day(now) - days * 86400, &n, &err);
		if (rc == 0)
			printf("expired %llu periods\n", (unsigned long long)n);
	}
	if (rc != 0 && err.msg[0] != '\0')
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
	store_close(st);
	conf_unref(conf);
	return rc != 0 ? 1 : 0;
}

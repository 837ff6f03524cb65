/*
 * authmilter-report: the aggregate-report store from the command line.
 *
 *   authmilter-report [-c CONF] list [--unsent]
 *	One line per period (UTC day, policy domain):
 *	"DAY DOMAIN messages=N rows=N p=P rua=RUA state=unsent|sent@EPOCH"
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

#include "conf.h"
#include "report.h"
#include "store.h"

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fputs("usage: authmilter-report [-c CONF] list [--unsent]\n"
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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"unsent", no_argument, NULL, 'u'},
	    {"days", required_argument, NULL, 'd'},
	    {"now", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
	const char     *file = CONF_DEFAULT_FILE, *cmd;
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
		default:
			usage();
		}
	}
	if (optind != argc || (strcmp(cmd, "list") != 0 &&
				  strcmp(cmd, "expire") != 0))
		usage();
	if (strcmp(cmd, "expire") == 0 ? days < 0 || unsent : days >= 0)
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
	st = store_open(conf->reports.store, &err);
	conf_unref(conf);
	if (st == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
		return 1;
	}
	if (strcmp(cmd, "list") == 0)
		rc = store_periods(st, 0, unsent, print_period, NULL, &err);
	else {
		rc = store_expire(
		    st, report_day(now) - days * 86400, &n, &err);
		if (rc == 0)
			printf("expired %llu periods\n", (unsigned long long)n);
	}
	if (rc != 0)
		fprintf(stderr, "authmilter-report: %s\n", err.msg);
	store_close(st);
	return rc != 0 ? 1 : 0;
}

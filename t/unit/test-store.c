/*
 * Unit tests for the report store. The same cases run on each back end:
 *
 *	test-store sqlite:/tmp/dir/store.db
 *	test-store postgresql:///authmilter?host=/tmp/sock
 *
 * (t/unit/store.sh runs both.) Each case starts from an empty store: the
 * tables are dropped and the store opened again. For PostgreSQL,
 * STORE_PG_STOP and STORE_PG_START hold shell commands that stop and start
 * the server, for the reconnection case. STORE_BENCH_MESSAGES sets the
 * size of the load case (default 100000 messages from 1,000 sources).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "test.h"

#define DAY  86400
#define DAY0 ((int64_t)1767225600) /* 2026-01-01T00:00:00Z */
#define MAXP 16
#define MAXR 16

static const char *spec;
static bool        is_sqlite;
static char        sqlite_path[4096];

/* ---- helpers ---- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
make_row(struct report_row *r, const char *domain, int64_t when, const char *ip)
{
	memset(r, 0, sizeof(*r));
	r->when = when;
	snprintf(r->pol.domain, sizeof(r->pol.domain), "%s", domain);
	r->pol.p = REPORT_POLICY_REJECT;
	r->pol.sp = REPORT_POLICY_QUARANTINE;
	r->pol.np = REPORT_POLICY_NONE;
	r->pol.adkim_strict = true;
	r->pol.psd = REPORT_PSD_N;
	snprintf(r->pol.fo, sizeof(r->pol.fo), "1:d");
	snprintf(r->pol.rua, sizeof(r->pol.rua), "mailto:rua@%s", domain);
	snprintf(r->source_ip, sizeof(r->source_ip), "%s", ip);
	r->disposition = REPORT_DIS_PASS;
	r->dkim_aligned = true;
	r->reasons = REPORT_REASON_MAILING_LIST | REPORT_REASON_OTHER;
	snprintf(r->header_from, sizeof(r->header_from), "%s", domain);
	snprintf(
	    r->envelope_from, sizeof(r->envelope_from), "bounce.%s", domain);
	snprintf(r->envelope_to, sizeof(r->envelope_to), "example.net");
	r->ndkim = 2;
	snprintf(r->dkim[0].domain, sizeof(r->dkim[0].domain), "%s", domain);
	snprintf(r->dkim[0].selector, sizeof(r->dkim[0].selector), "s1");
	r->dkim[0].result = REPORT_AUTH_PASS;
	snprintf(r->dkim[1].domain, sizeof(r->dkim[1].domain), "esp.example");
	snprintf(r->dkim[1].selector, sizeof(r->dkim[1].selector), "k_2-x");
	r->dkim[1].result = REPORT_AUTH_TEMPERROR;
	r->has_spf = true;
	snprintf(r->spf_domain, sizeof(r->spf_domain), "bounce.%s", domain);
	r->spf_result = REPORT_AUTH_SOFTFAIL;
}

struct plist {
	size_t              n;
	struct store_period p[MAXP];
};

static int
collect_period(void *arg, const struct store_period *p)
{
	struct plist *l = arg;

	if (l->n < MAXP)
		l->p[l->n] = *p;
	l->n++;
	return 0;
}

struct rlist {
	size_t            n;
	struct report_row r[MAXR];
	uint64_t          count[MAXR];
};

static int
collect_row(void *arg, const struct report_row *r, uint64_t count)
{
	struct rlist *l = arg;

	if (l->n < MAXR) {
		l->r[l->n] = *r;
		l->count[l->n] = count;
	}
	l->n++;
	return 0;
}

static int
stop_walk(void *arg, const struct store_period *p)
{
	(void)p;
	(*(int *)arg)++;
	return 7;
}

/* Sends each period from inside the walk, as authmilter-report does:
 * the callback lists the rows and marks the period sent on the same
 * handle. */
struct reenter {
	struct store *st;
	int           calls, failed;
	uint64_t      rows;
};

static int
count_row(void *arg, const struct report_row *r, uint64_t count)
{
	(void)r;
	*(uint64_t *)arg += count;
	return 0;
}

static int
send_period(void *arg, const struct store_period *p)
{
	struct reenter *re = arg;
	struct am_err   err = {""};
	char            id[STORE_ID_MAX + 1];

	re->calls++;
	if (store_rows(re->st, p->day, p->pol.domain, count_row, &re->rows,
		&err) != 0 ||
	    store_report_id(re->st, p->day, p->pol.domain, id, &err) != 0 ||
	    store_mark_sent(
		re->st, p->day, p->pol.domain, "x", p->day + DAY, &err) != 0) {
		printf("  in the walk: %s\n", err.msg);
		re->failed++;
	}
	return 0;
}

static int
periods(struct store *st, int64_t before, bool unsent, struct plist *l)
{
	struct am_err err = {""};
	int           rc;

	memset(l, 0, sizeof(*l));
	rc = store_periods(st, before, unsent, collect_period, l, &err);
	if (rc != 0)
		printf("  store_periods: %s\n", err.msg);
	return rc;
}

static int
rows(struct store *st, int64_t day, const char *domain, struct rlist *l)
{
	struct am_err err = {""};
	int           rc;

	memset(l, 0, sizeof(*l));
	rc = store_rows(st, day, domain, collect_row, l, &err);
	if (rc != 0)
		printf("  store_rows: %s\n", err.msg);
	return rc;
}

static const char *const drop_sql[] = {"DROP TABLE IF EXISTS rx_rows",
    "DROP TABLE IF EXISTS rx_reports", "DROP TABLE IF EXISTS report_rows",
    "DROP TABLE IF EXISTS periods", "DROP TABLE IF EXISTS meta",
    "DROP TABLE IF EXISTS extra"};

/* Drops the tables and leaves the store closed. It opens the store with
 * enough empty steps for any version a case leaves behind. */
static void
wipe(void)
{
	static const char *const      nothing[] = {NULL};
	static struct store_migration skip[100];
	struct am_err                 err = {""};
	struct store                 *st;
	size_t                        i;

	for (i = 0; i < 100; i++)
		skip[i].sql = nothing;
	st = store_open_steps(spec, skip, 100, &err);

	if (st == NULL) {
		printf("  store_open: %s\n", err.msg);
		return;
	}
	for (i = 0; i < sizeof(drop_sql) / sizeof(drop_sql[0]); i++)
		if (store_exec_sql(st, drop_sql[i], &err) < 0)
			printf("  %s: %s\n", drop_sql[i], err.msg);
	store_close(st);
}

/* An empty store at the current schema. */
static struct store *
fresh(void)
{
	struct am_err err = {""};
	struct store *st;

	wipe();
	if ((st = store_open(spec, &err)) == NULL)
		printf("  store_open: %s\n", err.msg);
	return st;
}

static int
add1(struct store *st, const struct report_row *r, uint64_t count)
{
	struct am_err err = {""};
	int           rc = store_add(st, r, &count, 1, &err);

	if (rc != 0)
		printf("  store_add: %s\n", err.msg);
	return rc;
}

/* ---- cases ---- */

static void
test_version(void)
{
	struct store *st;
	int64_t       v = -1;
	struct am_err err = {""};

	t_case("schema: version 2 stored");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, STORE_SCHEMA);
	t_assert_int_eq(v, 2);
	store_close(st);
}

static void
test_aggregate(void)
{
	struct report_row r[5];
	uint64_t          counts[5] = {1, 1, 1, 5, 2};
	struct store     *st;
	struct plist      pl;
	struct rlist      rl;
	struct am_err     err = {""};
	size_t            i, j;

	t_case("add: identical tuples counted, distinct rows separate");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	/* Three identical but for the time, then two others: the fourth
	 * differs in its source, the fifth only in one DKIM selector. */
	make_row(&r[0], "example.org", DAY0 + 10, "192.0.2.1");
	make_row(&r[1], "example.org", DAY0 + 3600, "192.0.2.1");
	make_row(&r[2], "example.org", DAY0 + DAY - 1, "192.0.2.1");
	make_row(&r[3], "example.org", DAY0 + 20, "192.0.2.2");
	make_row(&r[4], "example.org", DAY0 + 30, "192.0.2.1");
	r[4].dkim[1].selector[0] = 'K';
	t_assert_int_eq(store_add(st, r, counts, 5, &err), 0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_int_eq(pl.p[0].day, DAY0);
	t_assert_str_eq(pl.p[0].pol.domain, "example.org");
	t_assert_int_eq(pl.p[0].messages, 10);
	t_assert_int_eq(pl.p[0].rows, 3);
	t_assert_str_eq(pl.p[0].report_id, "");
	t_assert(!pl.p[0].sent);

	t_case("add: a second batch adds to the counts");
	t_assert_int_eq(store_add(st, r, NULL, 4, &err), 0);
	t_assert_int_eq(add1(st, &r[4], 0), 0); /* count 0: nothing */
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.p[0].messages, 14);
	t_assert_int_eq(pl.p[0].rows, 3);
	t_assert_int_eq(rows(st, DAY0, "example.org", &rl), 0);
	t_assert_int_eq(rl.n, 3);
	{
		uint64_t got[3] = {0, 0, 0};

		for (i = 0; i < rl.n && i < 3; i++) {
			if (strcmp(rl.r[i].source_ip, "192.0.2.2") == 0)
				got[1] = rl.count[i];
			else if (rl.r[i].dkim[1].selector[0] == 'K')
				got[2] = rl.count[i];
			else
				got[0] = rl.count[i];
		}
		t_assert_int_eq(got[0], 6);
		t_assert_int_eq(got[1], 6);
		t_assert_int_eq(got[2], 2);
	}

	t_case("rows: every field comes back");
	for (i = 0; i < rl.n && i < 3; i++) {
		struct report_row want;

		if (strcmp(rl.r[i].source_ip, "192.0.2.2") != 0)
			continue;
		make_row(&want, "example.org", DAY0, "192.0.2.2");
		t_assert_int_eq(rl.r[i].when, DAY0);
		/* Byte-equal: the row is a plain value and make_row() starts
		 * from zero, as store_rows() does. */
		t_assert(
		    memcmp(&rl.r[i].pol, &want.pol, sizeof(want.pol)) == 0);
		t_assert_str_eq(rl.r[i].header_from, want.header_from);
		t_assert_str_eq(rl.r[i].envelope_from, want.envelope_from);
		t_assert_str_eq(rl.r[i].envelope_to, want.envelope_to);
		t_assert_str_eq(rl.r[i].spf_domain, want.spf_domain);
		t_assert_int_eq(rl.r[i].spf_result, REPORT_AUTH_SOFTFAIL);
		t_assert(rl.r[i].has_spf && rl.r[i].dkim_aligned &&
			 !rl.r[i].spf_aligned);
		t_assert_int_eq(rl.r[i].disposition, REPORT_DIS_PASS);
		t_assert_int_eq(rl.r[i].reasons,
		    REPORT_REASON_MAILING_LIST | REPORT_REASON_OTHER);
		t_assert_int_eq(rl.r[i].ndkim, 2);
		for (j = 0; j < 2; j++) {
			t_assert_str_eq(
			    rl.r[i].dkim[j].domain, want.dkim[j].domain);
			t_assert_str_eq(
			    rl.r[i].dkim[j].selector, want.dkim[j].selector);
			t_assert_int_eq(
			    rl.r[i].dkim[j].result, want.dkim[j].result);
		}
		t_assert(memcmp(&rl.r[i], &want, sizeof(want)) == 0);
	}

	t_case("rows: an unknown period has none");
	t_assert_int_eq(rows(st, DAY0, "example.com", &rl), 0);
	t_assert_int_eq(rl.n, 0);
	store_close(st);
}

static void
test_midnight(void)
{
	struct report_row r[2];
	struct store     *st;
	struct plist      pl;
	struct am_err     err = {""};

	t_case("add: a row each side of UTC midnight: two periods");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r[0], "example.org", DAY0 + DAY - 1, "192.0.2.1");
	make_row(&r[1], "example.org", DAY0 + DAY, "192.0.2.1");
	t_assert_int_eq(store_add(st, r, NULL, 2, &err), 0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 2);
	t_assert_int_eq(pl.p[0].day, DAY0);
	t_assert_int_eq(pl.p[1].day, DAY0 + DAY);
	t_assert_int_eq(pl.p[0].messages, 1);
	t_assert_int_eq(pl.p[1].messages, 1);
	store_close(st);
}

static void
test_periods(void)
{
	struct report_row r;
	struct store     *st;
	struct plist      pl;
	struct am_err     err = {""};
	int               calls = 0;

	t_case("periods: (day, domain) order, before, unsent_only");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r, "b.example", DAY0 + DAY + 5, "192.0.2.1");
	add1(st, &r, 1);
	make_row(&r, "a.example", DAY0 + DAY + 5, "192.0.2.1");
	add1(st, &r, 1);
	make_row(&r, "z.example", DAY0 + 5, "192.0.2.1");
	add1(st, &r, 1);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 3);
	t_assert_str_eq(pl.p[0].pol.domain, "z.example");
	t_assert_str_eq(pl.p[1].pol.domain, "a.example");
	t_assert_str_eq(pl.p[2].pol.domain, "b.example");
	t_assert_int_eq(periods(st, DAY0 + DAY, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_str_eq(pl.p[0].pol.domain, "z.example");
	t_assert_int_eq(store_mark_sent(st, DAY0 + DAY, "a.example",
			    "mailto:x@a.example", DAY0 + 2 * DAY, &err),
	    0);
	t_assert_int_eq(periods(st, 0, true, &pl), 0);
	t_assert_int_eq(pl.n, 2);
	t_assert_str_eq(pl.p[0].pol.domain, "z.example");
	t_assert_str_eq(pl.p[1].pol.domain, "b.example");
	t_assert_int_eq(periods(st, DAY0 + DAY, true, &pl), 0);
	t_assert_int_eq(pl.n, 1);

	t_case("periods: a callback's non-zero stops the walk");
	t_assert_int_eq(
	    store_periods(st, 0, false, stop_walk, &calls, &err), 7);
	t_assert_int_eq(calls, 1);

	t_case("periods: the callback may use the store");
	{
		struct reenter re = {st, 0, 0, 0};

		t_assert_int_eq(
		    store_periods(st, 0, true, send_period, &re, &err), 0);
		t_assert_int_eq(re.calls, 2);
		t_assert_int_eq(re.failed, 0);
		t_assert_int_eq(re.rows, 2);
		t_assert_int_eq(periods(st, 0, true, &pl), 0);
		t_assert_int_eq(pl.n, 0);
	}

	t_case("periods: the policy is the last row's");
	make_row(&r, "b.example", DAY0 + DAY + 6, "192.0.2.9");
	r.pol.p = REPORT_POLICY_NONE;
	r.pol.testing = true;
	snprintf(r.pol.rua, sizeof(r.pol.rua), "mailto:new@b.example");
	add1(st, &r, 1);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 3);
	t_assert_int_eq(pl.p[2].pol.p, REPORT_POLICY_NONE);
	t_assert(pl.p[2].pol.testing);
	t_assert_str_eq(pl.p[2].pol.rua, "mailto:new@b.example");
	t_assert_int_eq(pl.p[2].pol.sp, REPORT_POLICY_QUARANTINE);
	t_assert_int_eq(pl.p[2].messages, 2);
	{
		/* Within one batch too: the later row wins. */
		struct report_row two[2];

		make_row(&two[0], "c.example", DAY0 + 7, "192.0.2.1");
		make_row(&two[1], "c.example", DAY0 + 8, "192.0.2.2");
		two[0].pol.p = REPORT_POLICY_QUARANTINE;
		two[1].pol.p = REPORT_POLICY_NONE;
		t_assert_int_eq(store_add(st, two, NULL, 2, &err), 0);
		t_assert_int_eq(periods(st, DAY0 + 1, false, &pl), 0);
		t_assert_int_eq(pl.n, 2);
		t_assert_str_eq(pl.p[0].pol.domain, "c.example");
		t_assert_int_eq(pl.p[0].pol.p, REPORT_POLICY_NONE);
	}
	store_close(st);
}

static bool
alnum24(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9')))
			return false;
	return i == 24;
}

static void
test_report_id(void)
{
	struct report_row r;
	struct store     *st, *st2;
	struct plist      pl;
	struct am_err     err = {""};
	char              a[STORE_ID_MAX + 1], b[STORE_ID_MAX + 1];
	char              c[STORE_ID_MAX + 1], d[STORE_ID_MAX + 1];

	t_case("report id: random, stable across calls");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r, "example.org", DAY0 + 5, "192.0.2.1");
	add1(st, &r, 1);
	make_row(&r, "example.com", DAY0 + 5, "192.0.2.1");
	add1(st, &r, 1);
	t_assert_int_eq(store_report_id(st, DAY0, "example.org", a, &err), 0);
	t_assert(alnum24(a));
	t_assert_int_eq(store_report_id(st, DAY0, "example.org", b, &err), 0);
	t_assert_str_eq(b, a);
	t_assert_int_eq(store_report_id(st, DAY0, "example.com", c, &err), 0);
	t_assert(alnum24(c) && strcmp(a, c) != 0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 2);
	t_assert_str_eq(pl.p[0].report_id, c);
	t_assert_str_eq(pl.p[1].report_id, a);

	t_case("report id: stable across close and reopen, and handles");
	st2 = store_open(spec, &err);
	t_assert(st2 != NULL);
	if (st2 != NULL) {
		t_assert_int_eq(
		    store_report_id(st2, DAY0, "example.org", d, &err), 0);
		t_assert_str_eq(d, a);
		store_close(st2);
	}
	store_close(st);
	st = store_open(spec, &err);
	t_assert(st != NULL);
	if (st == NULL)
		return;
	t_assert_int_eq(store_report_id(st, DAY0, "example.org", d, &err), 0);
	t_assert_str_eq(d, a);

	t_case("report id: no period, no id");
	t_assert_int_eq(
	    store_report_id(st, DAY0 + DAY, "example.org", d, &err), -1);
	t_assert(strstr(err.msg, "no period") != NULL);
	t_assert_str_eq(d, "");
	store_close(st);
}

static void
test_mark_sent(void)
{
	struct report_row r;
	struct store     *st;
	struct plist      pl;
	struct am_err     err = {""};

	t_case("mark_sent: once, then refused");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r, "example.org", DAY0 + 5, "192.0.2.1");
	add1(st, &r, 1);
	t_assert_int_eq(store_mark_sent(st, DAY0, "example.org",
			    "mailto:a@example.org,mailto:b@example.net",
			    DAY0 + DAY + 3600, &err),
	    0);
	t_assert_int_eq(store_mark_sent(st, DAY0, "example.org",
			    "mailto:c@example.org", DAY0 + DAY + 7200, &err),
	    -1);
	t_assert(strstr(err.msg, "already sent") != NULL);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert(pl.p[0].sent);
	t_assert_int_eq(pl.p[0].sent_at, DAY0 + DAY + 3600);
	t_assert_str_eq(
	    pl.p[0].sent_to, "mailto:a@example.org,mailto:b@example.net");

	t_case("mark_sent: no such period");
	t_assert_int_eq(
	    store_mark_sent(st, DAY0, "example.com", "x", DAY0 + DAY, &err),
	    -1);
	t_assert(strstr(err.msg, "no period") != NULL);
	store_close(st);
}

static void
test_expire(void)
{
	struct report_row r;
	struct store     *st;
	struct plist      pl;
	struct rlist      rl;
	struct am_err     err = {""};
	uint64_t          n = 99;
	int               i;

	t_case("expire: periods and rows before the day go");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	for (i = 0; i < 4; i++) {
		make_row(&r, "example.org", DAY0 + i * DAY + 5, "192.0.2.1");
		add1(st, &r, 3);
		make_row(&r, "example.com", DAY0 + i * DAY + 5, "192.0.2.1");
		add1(st, &r, 1);
	}
	t_assert_int_eq(
	    store_mark_sent(st, DAY0, "example.org", "x", DAY0 + DAY, &err), 0);
	t_assert_int_eq(store_expire(st, DAY0 + 2 * DAY, &n, &err), 0);
	t_assert_int_eq(n, 4);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 4);
	t_assert_int_eq(pl.p[0].day, DAY0 + 2 * DAY);
	t_assert_int_eq(rows(st, DAY0 + DAY, "example.org", &rl), 0);
	t_assert_int_eq(rl.n, 0);
	t_assert_int_eq(rows(st, DAY0 + 2 * DAY, "example.org", &rl), 0);
	t_assert_int_eq(rl.n, 1);
	t_assert_int_eq(rl.count[0], 3);
	t_assert_int_eq(store_expire(st, DAY0 + 2 * DAY, &n, &err), 0);
	t_assert_int_eq(n, 0);
	t_assert_int_eq(store_expire(st, DAY0 + 10 * DAY, NULL, &err), 0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 0);
	store_close(st);
}

static const char *const fake_2_3[] = {"CREATE TABLE extra (x INTEGER)",
    "INSERT INTO extra (x) VALUES (42)", NULL};
static const char *const bad_2_3[] = {
    "CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL", NULL};

static void
test_migration(void)
{
	struct store_migration steps[3];
	struct report_row      r;
	struct store          *st;
	struct plist           pl;
	struct am_err          err = {""};
	int64_t                v = -1;

	t_case("schema: a newer store is refused");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	t_assert_int_eq(store_exec_sql(st,
			    "UPDATE meta SET value = '3' WHERE key = "
			    "'schema_version'",
			    &err),
	    0);
	store_close(st);
	st = store_open(spec, &err);
	t_assert(st == NULL);
	t_assert(strstr(err.msg, "newer") != NULL);
	store_close(st);

	t_case("schema: migration 2 -> 3 keeps the data");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r, "example.org", DAY0 + 5, "192.0.2.1");
	add1(st, &r, 4);
	store_close(st);
	steps[0] = store_migrations[0];
	steps[1] = store_migrations[1];
	steps[2].sql = fake_2_3;
	st = store_open_steps(spec, steps, 3, &err);
	t_assert(st != NULL);
	if (st == NULL) {
		printf("  %s\n", err.msg);
		return;
	}
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, 3);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_int_eq(pl.p[0].messages, 4);
	/* The step's table is there. */
	t_assert_int_eq(
	    store_exec_sql(st, "DELETE FROM extra WHERE x = 42", &err), 0);
	store_close(st);
	/* Opening it again at version 3 runs no step. */
	st = store_open_steps(spec, steps, 3, &err);
	t_assert(st != NULL);
	store_close(st);
	st = store_open(spec, &err);
	t_assert(st == NULL);
	t_assert(strstr(err.msg, "newer") != NULL);

	t_case("schema: a failing step leaves the store as it was");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	store_close(st);
	steps[2].sql = bad_2_3;
	st = store_open_steps(spec, steps, 3, &err);
	t_assert(st == NULL);
	t_assert(strstr(err.msg, "migration to schema version 3") != NULL);
	st = store_open(spec, &err);
	t_assert(st != NULL);
	if (st == NULL)
		return;
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, 2);
	/* The step's first statement was rolled back with the rest. */
	t_assert_int_eq(
	    store_exec_sql(st, "CREATE TABLE extra (x INTEGER)", &err), 0);
	store_close(st);

	t_case("schema: a version 0 store (no tables) is migrated");
	wipe();
	st = store_open_steps(spec, steps, 0, &err); /* meta only, v0 */
	t_assert(st != NULL);
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, 0);
	store_close(st);
	st = store_open(spec, &err);
	t_assert(st != NULL);
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, 2);
	make_row(&r, "example.org", DAY0 + 5, "192.0.2.1");
	t_assert_int_eq(add1(st, &r, 1), 0);
	store_close(st);
}

/* ---- received reports ---- */

static void
make_rx(struct store_rx_report *rep, const char *org, const char *id,
    const char *domain, int64_t begin)
{
	memset(rep, 0, sizeof(*rep));
	snprintf(rep->org, sizeof(rep->org), "%s", org);
	snprintf(rep->report_id, sizeof(rep->report_id), "%s", id);
	snprintf(rep->email, sizeof(rep->email), "noreply@%s", org);
	rep->begin = begin;
	rep->end = begin + DAY - 1;
	snprintf(rep->pol.domain, sizeof(rep->pol.domain), "%s", domain);
	rep->pol.p = REPORT_POLICY_QUARANTINE;
	rep->pol.sp = REPORT_POLICY_NONE;
	rep->pol.aspf_strict = true;
	rep->pol.testing = true;
	snprintf(rep->pol.fo, sizeof(rep->pol.fo), "1");
	rep->received = begin + 2 * DAY;
}

#define MAXRX 32
struct rxlist {
	size_t                 n;
	struct store_rx_report rep[MAXRX];
	struct report_row      r[MAXRX];
	uint64_t               count[MAXRX];
	int                    stop_at; /* 0: never; else at that call */
};

static int
collect_rx(void *arg, const struct store_rx_report *rep,
    const struct report_row *r, uint64_t count)
{
	struct rxlist *l = arg;

	if (l->n < MAXRX) {
		l->rep[l->n] = *rep;
		l->r[l->n] = *r;
		l->count[l->n] = count;
	}
	l->n++;
	return l->stop_at != 0 && (int)l->n == l->stop_at ? 9 : 0;
}

static int
rx_rows(struct store *st, const char *domain, int64_t since, struct rxlist *l)
{
	struct am_err err = {""};
	int           stop = l->stop_at, rc;

	memset(l, 0, sizeof(*l));
	l->stop_at = stop;
	rc = store_rx_rows(st, domain, since, collect_rx, l, &err);
	if (rc < 0)
		printf("  store_rx_rows: %s\n", err.msg);
	return rc;
}

static int
rx_add(struct store *st, const struct store_rx_report *rep,
    const struct report_row *r, const uint64_t *counts, size_t n, bool *dup)
{
	struct am_err err = {""};
	int           rc = store_rx_add(st, rep, r, counts, n, dup, &err);

	if (rc != 0)
		printf("  store_rx_add: %s\n", err.msg);
	return rc;
}

static void
test_rx(void)
{
	struct store_rx_report rep, rep2;
	struct report_row      r[3];
	uint64_t               counts[3] = {5, 1, 2}, big[2] = {1, UINT64_MAX};
	struct rxlist          l = {0};
	struct store          *st;
	struct am_err          err = {""};
	bool                   dup = true;
	char                   id[STORE_RX_ID_MAX + 2];

	t_case("rx: a report and its records come back, in order");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_rx(&rep, "Receiver A", "r-1@a.example", "example.org", DAY0);
	make_row(&r[0], "ignored.example", 1, "192.0.2.9");
	make_row(&r[1], "ignored.example", 2, "192.0.2.1");
	make_row(&r[2], "ignored.example", 3, "2001:db8::5");
	r[1].disposition = REPORT_DIS_REJECT;
	r[1].ndkim = 0;
	r[2].has_spf = false;
	r[2].spf_domain[0] = '\0';
	t_assert_int_eq(rx_add(st, &rep, r, counts, 3, &dup), 0);
	t_assert(!dup);
	t_assert_int_eq(rx_rows(st, "example.org", 0, &l), 0);
	t_assert_int_eq(l.n, 3);
	t_assert_str_eq(l.r[0].source_ip, "192.0.2.9");
	t_assert_str_eq(l.r[1].source_ip, "192.0.2.1");
	t_assert_str_eq(l.r[2].source_ip, "2001:db8::5");
	t_assert_int_eq(l.count[0], 5);
	t_assert_int_eq(l.count[1], 1);
	t_assert_int_eq(l.count[2], 2);
	t_assert_str_eq(l.rep[0].org, "Receiver A");
	t_assert_str_eq(l.rep[0].report_id, "r-1@a.example");
	t_assert_str_eq(l.rep[0].email, "noreply@Receiver A");
	t_assert_int_eq(l.rep[0].begin, DAY0);
	t_assert_int_eq(l.rep[0].end, DAY0 + DAY - 1);
	t_assert_int_eq(l.rep[0].received, DAY0 + 2 * DAY);
	t_assert_str_eq(l.rep[0].pol.domain, "example.org");
	t_assert_int_eq(l.rep[0].pol.p, REPORT_POLICY_QUARANTINE);
	t_assert_int_eq(l.rep[0].pol.sp, REPORT_POLICY_NONE);
	t_assert_int_eq(l.rep[0].pol.np, REPORT_POLICY_UNSPEC);
	t_assert(l.rep[0].pol.aspf_strict && !l.rep[0].pol.adkim_strict);
	t_assert(l.rep[0].pol.testing);
	t_assert_str_eq(l.rep[0].pol.fo, "1");
	/* The row: the report's begin and policy, its own fields. */
	t_assert_int_eq(l.r[0].when, DAY0);
	t_assert_str_eq(l.r[0].pol.domain, "example.org");
	t_assert_str_eq(l.r[0].header_from, "ignored.example");
	t_assert_str_eq(l.r[0].envelope_from, "bounce.ignored.example");
	t_assert_int_eq(l.r[0].ndkim, 2);
	t_assert_str_eq(l.r[0].dkim[1].selector, "k_2-x");
	t_assert_int_eq(l.r[0].dkim[1].result, REPORT_AUTH_TEMPERROR);
	t_assert_int_eq(
	    l.r[0].reasons, REPORT_REASON_MAILING_LIST | REPORT_REASON_OTHER);
	t_assert_int_eq(l.r[0].spf_result, REPORT_AUTH_SOFTFAIL);
	t_assert_int_eq(l.r[1].disposition, REPORT_DIS_REJECT);
	t_assert_int_eq(l.r[1].ndkim, 0);
	t_assert(!l.r[2].has_spf);

	t_case("rx: the same (org, report_id) again is a duplicate");
	make_row(&r[0], "x.example", 1, "198.51.100.1");
	t_assert_int_eq(rx_add(st, &rep, r, NULL, 1, &dup), 0);
	t_assert(dup);
	t_assert_int_eq(rx_rows(st, "example.org", 0, &l), 0);
	t_assert_int_eq(l.n, 3);
	t_assert_str_eq(l.r[0].source_ip, "192.0.2.9");

	t_case("rx: the same report_id from another org is not");
	make_rx(&rep2, "Receiver B", "r-1@a.example", "example.org", DAY0);
	t_assert_int_eq(rx_add(st, &rep2, r, NULL, 1, &dup), 0);
	t_assert(!dup);
	t_assert_int_eq(rx_rows(st, "example.org", 0, &l), 0);
	t_assert_int_eq(l.n, 4);
	t_assert_str_eq(l.rep[3].org, "Receiver B");
	t_assert_int_eq(l.count[3], 1);

	t_case("rx: (begin, org, report_id) order, since, exact domain");
	make_rx(&rep2, "Receiver A", "r-0", "example.org", DAY0 - DAY);
	t_assert_int_eq(rx_add(st, &rep2, r, NULL, 1, &dup), 0);
	make_rx(&rep2, "Receiver A", "r-2", "example.org", DAY0);
	t_assert_int_eq(rx_add(st, &rep2, r, NULL, 1, &dup), 0);
	make_rx(&rep2, "Receiver A", "r-3", "sub.example.org", DAY0);
	t_assert_int_eq(rx_add(st, &rep2, r, NULL, 1, &dup), 0);
	t_assert_int_eq(rx_rows(st, "example.org", 0, &l), 0);
	t_assert_int_eq(l.n, 6);
	t_assert_str_eq(l.rep[0].report_id, "r-0");
	t_assert_str_eq(l.rep[1].report_id, "r-1@a.example");
	t_assert_str_eq(l.rep[4].report_id, "r-2");
	t_assert_str_eq(l.rep[5].org, "Receiver B");
	/* since: r-0 ends at DAY0 - 1. */
	t_assert_int_eq(rx_rows(st, "example.org", DAY0 - 1, &l), 0);
	t_assert_int_eq(l.n, 6);
	t_assert_int_eq(rx_rows(st, "example.org", DAY0, &l), 0);
	t_assert_int_eq(l.n, 5);
	t_assert_str_eq(l.rep[0].report_id, "r-1@a.example");
	t_assert_int_eq(rx_rows(st, "sub.example.org", 0, &l), 0);
	t_assert_int_eq(l.n, 1);
	t_assert_int_eq(rx_rows(st, "EXAMPLE.ORG", 0, &l), 0);
	t_assert_int_eq(l.n, 0);
	t_assert_int_eq(rx_rows(st, "nothing.example", 0, &l), 0);
	t_assert_int_eq(l.n, 0);

	t_case("rx: a callback's non-zero stops the walk");
	l.stop_at = 2;
	t_assert_int_eq(rx_rows(st, "example.org", 0, &l), 9);
	t_assert_int_eq(l.n, 2);
	l.stop_at = 0;

	t_case("rx: refused reports add nothing");
	make_rx(&rep2, "Receiver C", "", "example.org", DAY0);
	t_assert_int_eq(store_rx_add(st, &rep2, r, NULL, 1, &dup, &err), -1);
	t_assert(strstr(err.msg, "report_id") != NULL);
	make_rx(&rep2, "Receiver C", "a\tb", "example.org", DAY0);
	t_assert_int_eq(store_rx_add(st, &rep2, r, NULL, 1, &dup, &err), -1);
	t_assert(strstr(err.msg, "printable") != NULL);
	make_rx(&rep2, "", "c-1", "example.org", DAY0);
	t_assert_int_eq(store_rx_add(st, &rep2, r, NULL, 1, &dup, &err), -1);
	make_rx(&rep2, "Receiver C", "c-1", "", DAY0);
	t_assert_int_eq(store_rx_add(st, &rep2, r, NULL, 1, &dup, &err), -1);
	make_rx(&rep2, "Receiver C", "c-1", "example.org", DAY0);
	rep2.end = rep2.begin - 1;
	t_assert_int_eq(store_rx_add(st, &rep2, r, NULL, 1, &dup, &err), -1);
	make_rx(&rep2, "Receiver C", "c-1", "example.org", DAY0);
	t_assert_int_eq(store_rx_add(st, &rep2, r, big, 2, &dup, &err), -1);
	t_assert(strstr(err.msg, "count") != NULL);
	t_assert_int_eq(rx_rows(st, "example.org", 0, &l), 0);
	t_assert_int_eq(l.n, 6);
	/* The failed add left nothing behind: the same report goes in. */
	t_assert_int_eq(rx_add(st, &rep2, r, big, 1, &dup), 0);
	t_assert(!dup);
	t_assert_int_eq(rx_rows(st, "example.org", 0, &l), 0);
	t_assert_int_eq(l.n, 7);

	t_case("rx: a report_id of STORE_RX_ID_MAX characters is kept whole");
	memset(id, 'i', STORE_RX_ID_MAX);
	id[STORE_RX_ID_MAX] = '\0';
	make_rx(&rep2, "Receiver D", id, "long.example", DAY0);
	t_assert_int_eq(rx_add(st, &rep2, r, NULL, 1, &dup), 0);
	t_assert_int_eq(rx_rows(st, "long.example", 0, &l), 0);
	t_assert_int_eq(l.n, 1);
	t_assert_int_eq(strlen(l.rep[0].report_id), STORE_RX_ID_MAX);
	/* One longer does not fit the struct: unterminated is refused. */
	memset(rep2.report_id, 'j', sizeof(rep2.report_id));
	t_assert_int_eq(store_rx_add(st, &rep2, r, NULL, 1, &dup, &err), -1);

	t_case("rx: begin/put/abort adds nothing; begin/put/commit adds");
	make_rx(&rep2, "Receiver E", "e-1", "steps.example", DAY0);
	t_assert_int_eq(store_rx_begin(st, &rep2, &dup, &err), 0);
	t_assert(!dup);
	t_assert_int_eq(store_rx_put(st, &r[0], 3, &err), 0);
	store_rx_abort(st);
	t_assert_int_eq(rx_rows(st, "steps.example", 0, &l), 0);
	t_assert_int_eq(l.n, 0);
	t_assert_int_eq(store_rx_put(st, &r[0], 3, &err), -1);
	t_assert_int_eq(store_rx_begin(st, &rep2, &dup, &err), 0);
	t_assert(!dup);
	t_assert_int_eq(store_rx_put(st, &r[0], 3, &err), 0);
	t_assert_int_eq(store_rx_put(st, &r[1], 4, &err), 0);
	t_assert_int_eq(store_rx_commit(st, &err), 0);
	t_assert_int_eq(rx_rows(st, "steps.example", 0, &l), 0);
	t_assert_int_eq(l.n, 2);
	t_assert_int_eq(l.count[0] + l.count[1], 7);
	/* And the handle is usable for the rest afterwards. */
	t_assert_int_eq(add1(st, &r[0], 1), 0);
	store_close(st);

	t_case("rx: an open report is rolled back by store_close");
	st = store_open(spec, &err);
	t_assert(st != NULL);
	if (st == NULL)
		return;
	make_rx(&rep2, "Receiver F", "f-1", "close.example", DAY0);
	t_assert_int_eq(store_rx_begin(st, &rep2, &dup, &err), 0);
	t_assert_int_eq(store_rx_put(st, &r[0], 1, &err), 0);
	store_close(st);
	st = store_open(spec, &err);
	t_assert(st != NULL);
	if (st == NULL)
		return;
	t_assert_int_eq(rx_rows(st, "close.example", 0, &l), 0);
	t_assert_int_eq(l.n, 0);
	store_close(st);
}

/* Schema version 1 as released (store.c's schema_0_1 when STORE_SCHEMA
 * was 1), to test the migration of a store made by that code. */
static const char *const v1_sql[] = {
    "CREATE TABLE periods (day BIGINT NOT NULL, domain TEXT NOT NULL, "
    "p INTEGER NOT NULL, sp INTEGER NOT NULL, np INTEGER NOT NULL, "
    "adkim INTEGER NOT NULL, aspf INTEGER NOT NULL, testing INTEGER NOT "
    "NULL, psd INTEGER NOT NULL, fo TEXT NOT NULL, rua TEXT NOT NULL, "
    "report_id TEXT, sent_at BIGINT, sent_to TEXT, "
    "PRIMARY KEY (day, domain))",
    "CREATE TABLE report_rows (day BIGINT NOT NULL, domain TEXT NOT NULL, "
    "rowkey TEXT NOT NULL, source_ip TEXT NOT NULL, header_from TEXT NOT "
    "NULL, envelope_from TEXT NOT NULL, envelope_to TEXT NOT NULL, "
    "disposition INTEGER NOT NULL, dkim_aligned INTEGER NOT NULL, "
    "spf_aligned INTEGER NOT NULL, reasons INTEGER NOT NULL, dkim TEXT NOT "
    "NULL, spf_domain TEXT NOT NULL, spf_result INTEGER NOT NULL, has_spf "
    "INTEGER NOT NULL, count BIGINT NOT NULL, "
    "PRIMARY KEY (day, domain, rowkey))",
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
    /* A period as version 1 wrote it: 2026-01-01, sent. */
    "INSERT INTO periods VALUES (1767225600, 'old.example', 3, 0, 0, 0, 0, "
    "0, 0, '', 'mailto:d@old.example', 'abc', 1767400000, 'd@old.example')",
    "INSERT INTO report_rows VALUES (1767225600, 'old.example', 'k1', "
    "'192.0.2.7', 'old.example', '', '', 3, 0, 0, 0, 'old.example s1 "
    "fail', 'old.example', 2, 1, 17)",
    NULL};

static void
test_migrate_v1(void)
{
	static const char *const nothing[] = {NULL};
	struct store_migration   none[1] = {{nothing}};
	struct store_rx_report   rep;
	struct report_row        r;
	struct store            *st;
	struct plist             pl;
	struct rlist             rl;
	struct rxlist            l = {0};
	struct am_err            err = {""};
	int64_t                  v = -1;
	size_t                   i;
	bool                     dup = true;

	t_case("schema: a version 1 store migrates to 2, its data kept");
	wipe();
	st = store_open_steps(spec, none, 0, &err); /* meta only */
	t_assert(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; v1_sql[i] != NULL; i++)
		if (store_exec_sql(st, v1_sql[i], &err) < 0) {
			printf("  %s\n", err.msg);
			t_assert(false);
		}
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, 1);
	store_close(st);
	st = store_open(spec, &err);
	t_assert(st != NULL);
	if (st == NULL) {
		printf("  %s\n", err.msg);
		return;
	}
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, 2);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_str_eq(pl.p[0].pol.domain, "old.example");
	t_assert(pl.p[0].sent);
	t_assert_str_eq(pl.p[0].report_id, "abc");
	t_assert_int_eq(pl.p[0].messages, 17);
	t_assert_int_eq(rows(st, DAY0, "old.example", &rl), 0);
	t_assert_int_eq(rl.n, 1);
	t_assert_str_eq(rl.r[0].source_ip, "192.0.2.7");
	t_assert_int_eq(rl.r[0].dkim[0].result, REPORT_AUTH_FAIL);
	/* The new tables are there. */
	make_rx(&rep, "Receiver", "m-1", "old.example", DAY0);
	make_row(&r, "old.example", DAY0, "192.0.2.8");
	t_assert_int_eq(rx_add(st, &rep, &r, NULL, 1, &dup), 0);
	t_assert(!dup);
	t_assert_int_eq(rx_rows(st, "old.example", 0, &l), 0);
	t_assert_int_eq(l.n, 1);
	store_close(st);

	t_case("schema: a failing 1 -> 2 migration leaves version 1");
	wipe();
	st = store_open_steps(spec, none, 0, &err);
	t_assert(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; v1_sql[i] != NULL; i++)
		store_exec_sql(st, v1_sql[i], &err);
	/* A table in the way of the migration's second table. */
	t_assert_int_eq(
	    store_exec_sql(st, "CREATE TABLE rx_rows (x INTEGER)", &err), 0);
	store_close(st);
	st = store_open(spec, &err);
	t_assert(st == NULL);
	t_assert(strstr(err.msg, "migration to schema version 2") != NULL);
	st = store_open_steps(spec, store_migrations, 1, &err);
	t_assert(st != NULL);
	if (st == NULL)
		return;
	t_assert_int_eq(store_schema_version(st, &v, &err), 0);
	t_assert_int_eq(v, 1);
	/* rx_reports, made first, was rolled back with the rest. */
	t_assert_int_eq(
	    store_exec_sql(st, "CREATE TABLE rx_reports (x INTEGER)", &err), 0);
	store_close(st);
}

static void
test_weird_text(void)
{
	struct report_row r;
	struct store     *st;
	struct rlist      rl;
	struct am_err     err = {""};

	t_case("add: bytes outside printable ASCII are stored as '?'");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r, "example.org", DAY0 + 5, "192.0.2.1");
	snprintf(r.header_from, sizeof(r.header_from), "ex\x80\xff\x01.org");
	snprintf(r.dkim[0].selector, sizeof(r.dkim[0].selector), "s\xe9l;%% x");
	t_assert_int_eq(store_add(st, &r, NULL, 1, &err), 0);
	t_assert_int_eq(rows(st, DAY0, "example.org", &rl), 0);
	t_assert_int_eq(rl.n, 1);
	t_assert_str_eq(rl.r[0].header_from, "ex???.org");
	/* The DKIM column is escaped, not replaced. */
	t_assert_str_eq(rl.r[0].dkim[0].selector, "s\xe9l;% x");

	t_case("add: a row without a policy domain fails the call");
	r.pol.domain[0] = '\0';
	t_assert_int_eq(store_add(st, &r, NULL, 1, &err), -1);
	t_assert(strstr(err.msg, "policy domain") != NULL);
	store_close(st);
}

/* ---- the DKIM column codec ---- */

/* Field by field: the decoder writes names up to their NUL only, and
 * struct padding is never written. */
static bool
dkim_eq(const struct report_dkim *a, const struct report_dkim *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(a[i].domain, b[i].domain) != 0 ||
		    strcmp(a[i].selector, b[i].selector) != 0 ||
		    a[i].result != b[i].result)
			return false;
	return true;
}

static void
test_dkim_codec(void)
{
	struct report_dkim in[REPORT_MAX_DKIM + 2], out[REPORT_MAX_DKIM];
	char               text[STORE_DKIM_TEXT_MAX + 1];
	struct am_err      err = {""};
	size_t             i, j, n;
	int                len;

	t_case("dkim codec: plain round trip");
	memset(in, 0, sizeof(in));
	snprintf(in[0].domain, sizeof(in[0].domain), "example.org");
	snprintf(in[0].selector, sizeof(in[0].selector), "s1");
	in[0].result = REPORT_AUTH_PASS;
	snprintf(in[1].domain, sizeof(in[1].domain), "a-b_c.example");
	snprintf(in[1].selector, sizeof(in[1].selector), "k");
	in[1].result = REPORT_AUTH_PERMERROR;
	len = store_dkim_encode(in, 2, text, sizeof(text));
	t_assert_str_eq(text, "example.org s1 pass;a-b_c.example k permerror");
	t_assert_int_eq(len, (int)strlen(text));
	t_assert_int_eq(
	    store_dkim_decode(text, strlen(text), out, &n, &err), 0);
	t_assert_int_eq(n, 2);
	t_assert(dkim_eq(in, out, 2));

	t_case("dkim codec: none is empty");
	t_assert_int_eq(store_dkim_encode(in, 0, text, sizeof(text)), 0);
	t_assert_str_eq(text, "");
	t_assert_int_eq(store_dkim_decode("", 0, out, &n, &err), 0);
	t_assert_int_eq(n, 0);

	t_case("dkim codec: escapes");
	memset(in, 0, sizeof(in));
	snprintf(in[0].domain, sizeof(in[0].domain), "a b;c%%d\x01\xff");
	in[0].result = REPORT_AUTH_NONE;
	store_dkim_encode(in, 1, text, sizeof(text));
	t_assert_str_eq(text, "a%20b%3Bc%25d%01%FF  none");
	t_assert_int_eq(
	    store_dkim_decode(text, strlen(text), out, &n, &err), 0);
	t_assert_int_eq(n, 1);
	t_assert_str_eq(out[0].domain, in[0].domain);
	t_assert_str_eq(out[0].selector, "");

	t_case("dkim codec: full fields of every byte, extra results dropped");
	memset(in, 0, sizeof(in));
	for (i = 0; i < REPORT_MAX_DKIM + 2; i++) {
		for (j = 0; j < REPORT_NAME_MAX; j++)
			in[i].domain[j] = (char)(1 + (i * 31 + j) % 255);
		for (j = 0; j < REPORT_SEL_MAX; j++)
			in[i].selector[j] = (char)(1 + (i * 7 + j * 3) % 255);
		in[i].result = (enum report_auth)(i % 8);
	}
	len = store_dkim_encode(in, REPORT_MAX_DKIM + 2, text, sizeof(text));
	t_assert(len > 0 && (size_t)len <= STORE_DKIM_TEXT_MAX);
	t_assert_int_eq(store_dkim_decode(text, (size_t)len, out, &n, &err), 0);
	t_assert_int_eq(n, REPORT_MAX_DKIM);
	t_assert(dkim_eq(in, out, REPORT_MAX_DKIM));
	t_assert_int_eq(store_dkim_encode(in, REPORT_MAX_DKIM, text, 100), -1);

	t_case("dkim codec: an unterminated name is read to its array's end");
	memset(in[0].domain, 'a', sizeof(in[0].domain));
	memset(in[0].selector, 'b', sizeof(in[0].selector));
	len = store_dkim_encode(in, 1, text, sizeof(text));
	t_assert_int_eq(
	    len, (int)(sizeof(in[0].domain) + sizeof(in[0].selector) + 2 +
		       strlen(report_auth_str(in[0].result))));
	/* ... and that is one byte too long for the decoder. */
	t_assert_int_eq(
	    store_dkim_decode(text, (size_t)len, out, &n, &err), -1);
	t_assert(out[0].domain[sizeof(out[0].domain) - 1] == '\0');
}

static const struct {
	const char *name, *text;
} dkim_bad[] = {
    {"two fields", "a pass"},
    {"four fields", "a b c pass"},
    {"empty entry at the end", "a b pass;"},
    {"empty entry in the middle", "a b pass;;a b pass"},
    {"only a separator", ";"},
    {"short escape", "a%4 b pass"},
    {"short escape at the end of a field", "a% b pass"},
    {"bad hex", "%G0 b pass"},
    {"escaped NUL", "a%00 b pass"},
    {"raw byte outside the set", "a\x01 b pass"},
    {"raw high byte", "a\xc3\xa9 b pass"},
    {"raw percent-free colon", "a:b s pass"},
    {"unknown result", "a b bogus"},
    {"result case", "a b PASS"},
    {"result too long", "a b passpasspasspasspass"},
    {"empty result", "a b "},
    {"nine results",
	"a b pass;a b pass;a b pass;a b pass;a b pass;a b pass;a b pass;"
	"a b pass;a b pass"},
};

static void
test_dkim_reject(void)
{
	struct report_dkim out[REPORT_MAX_DKIM];
	char               big[1024];
	struct am_err      err;
	size_t             i, n;

	for (i = 0; i < sizeof(dkim_bad) / sizeof(dkim_bad[0]); i++) {
		t_casef("dkim codec rejects: %s", dkim_bad[i].name);
		n = 99;
		err.msg[0] = '\0';
		t_assert_int_eq(store_dkim_decode(dkim_bad[i].text,
				    strlen(dkim_bad[i].text), out, &n, &err),
		    -1);
		t_assert_int_eq(n, 0);
		t_assert(strncmp(err.msg, "store: dkim", 11) == 0);
	}

	t_case("dkim codec rejects: a 254-byte domain");
	memset(big, 'a', REPORT_NAME_MAX + 1);
	strcpy(big + REPORT_NAME_MAX + 1, " s pass");
	t_assert_int_eq(store_dkim_decode(big, strlen(big), out, &n, &err), -1);
	/* One byte less is the longest that fits. */
	strcpy(big + REPORT_NAME_MAX, " s pass");
	t_assert_int_eq(store_dkim_decode(big, strlen(big), out, &n, &err), 0);
	t_assert_int_eq(strlen(out[0].domain), REPORT_NAME_MAX);

	t_case("dkim codec rejects: a 64-byte selector, escaped");
	strcpy(big, "d ");
	for (i = 0; i < REPORT_SEL_MAX + 1; i++)
		strcat(big, "%41");
	strcat(big, " pass");
	t_assert_int_eq(store_dkim_decode(big, strlen(big), out, &n, &err), -1);

	/* Found by fuzz-store-dkim: an error after the first byte of a
	 * field left the name unterminated. */
	t_case("dkim codec: names terminated after an error mid-field");
	memset(out, 0x55, sizeof(out));
	t_assert_int_eq(
	    store_dkim_decode("a%2\xd8 b pass", 11, out, &n, &err), -1);
	t_assert(memchr(out[0].domain, '\0', sizeof(out[0].domain)) != NULL);
	memset(out, 0x55, sizeof(out));
	t_assert_int_eq(
	    store_dkim_decode("a b pass;cd e\x01 pass", 19, out, &n, &err), -1);
	t_assert(
	    memchr(out[1].selector, '\0', sizeof(out[1].selector)) != NULL);

	t_case("dkim codec: a NUL inside the text is a byte outside the set");
	t_assert_int_eq(
	    store_dkim_decode("a\0b s pass", 10, out, &n, &err), -1);
	t_assert_int_eq(store_dkim_decode("a b pass\0", 9, out, &n, &err), -1);
}

/* ---- spec and open errors ---- */

static void
test_spec(void)
{
	struct am_err err = {""};
	struct store *st;

	t_case("spec: what is valid");
	t_assert(store_spec_valid("sqlite:/var/lib/authmilter/reports.db"));
	t_assert(store_spec_valid("postgresql://u@/db?host=/run/pg"));
	t_assert(store_spec_valid("postgres://u@localhost/db"));
	t_assert(!store_spec_valid("sqlite:reports.db"));
	t_assert(!store_spec_valid("sqlite:"));
	t_assert(!store_spec_valid("sqlite:/"));
	t_assert(!store_spec_valid("mysql://u@/db"));
	t_assert(!store_spec_valid(""));
	t_assert(!store_spec_valid(NULL));

	t_case("spec: an unknown back end, no password echoed");
	st = store_open("mysql://u:secret@host/db", &err);
	t_assert(st == NULL);
	t_assert_str_eq(err.msg,
	    "reports.store: unknown back end \"mysql\" (want sqlite:/path or "
	    "postgresql://...)");

	t_case("spec: a relative SQLite path");
	st = store_open("sqlite:reports.db", &err);
	t_assert(st == NULL);
	t_assert(strstr(err.msg, "absolute path") != NULL);
}

/* ---- SQLite only ---- */

static void
sqlite_dir(char *dir, size_t size)
{
	char *slash;

	snprintf(dir, size, "%s", sqlite_path);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
}

static void
test_sqlite_files(void)
{
	char          dir[4096], path[4200], s[4300];
	struct am_err err = {""};
	struct store *st;
	struct stat   sb;
	mode_t        old;

	sqlite_dir(dir, sizeof(dir));

	t_case("sqlite: the file is created with mode 0640");
	snprintf(path, sizeof(path), "%s/mode.db", dir);
	unlink(path);
	snprintf(s, sizeof(s), "sqlite:%s", path);
	old = umask(022);
	st = store_open(s, &err);
	umask(old);
	t_assert(st != NULL);
	t_assert_int_eq(stat(path, &sb), 0);
	t_assert_int_eq(sb.st_mode & 07777, 0640);
	store_close(st);

	t_case("sqlite: a missing directory is an error");
	snprintf(s, sizeof(s), "sqlite:%s/no/such/dir/x.db", dir);
	st = store_open(s, &err);
	t_assert(st == NULL);
	t_assert(strstr(err.msg, "cannot open") != NULL);

	t_case("sqlite: an unwritable directory is an error");
	if (geteuid() == 0) {
		/* Root writes anywhere a mode allows nothing; /proc takes no
		 * new files from anyone. */
		snprintf(s, sizeof(s), "sqlite:/proc/am-store-test.db");
	} else {
		snprintf(path, sizeof(path), "%s/ro", dir);
		mkdir(path, 0500);
		chmod(path, 0500);
		snprintf(s, sizeof(s), "sqlite:%s/ro/x.db", dir);
	}
	st = store_open(s, &err);
	t_assert(st == NULL);
	t_assert(strstr(err.msg, "cannot open") != NULL);
	store_close(st);
}

static void
test_sqlite_locked(void)
{
	struct report_row r;
	struct store     *st;
	struct plist      pl;
	struct am_err     err = {""};
	sqlite3          *db = NULL;
	double            t0, dt;

	t_case("sqlite: a locked store fails within the busy timeout");
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r, "example.org", DAY0 + 5, "192.0.2.1");
	t_assert_int_eq(sqlite3_open(sqlite_path, &db), SQLITE_OK);
	t_assert_int_eq(
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	t0 = now();
	t_assert_int_eq(store_add(st, &r, NULL, 1, &err), -1);
	dt = now() - t0;
	t_assert(strstr(err.msg, "locked") != NULL);
	t_assert(dt >= 0.15 && dt < 2.0);
	printf("  store_add failed after %.3f s: %s\n", dt, err.msg);

	t_case("sqlite: and succeeds once the lock is released");
	t_assert_int_eq(
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	t_assert_int_eq(store_add(st, &r, NULL, 1, &err), 0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_int_eq(pl.p[0].messages, 1);

	t_case("sqlite: a reader does not block the writer (WAL)");
	t_assert_int_eq(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM periods",
			    NULL, NULL, NULL),
	    SQLITE_OK);
	t_assert_int_eq(store_add(st, &r, NULL, 1, &err), 0);
	t_assert_int_eq(
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	store_close(st);
}

/* ---- PostgreSQL only ---- */

static void
test_pg_restart(void)
{
	const char       *stop = getenv("STORE_PG_STOP");
	const char       *start = getenv("STORE_PG_START");
	struct report_row r;
	struct store     *st;
	struct plist      pl;
	struct am_err     err = {""};

	t_case("postgresql: store_add fails while the server is down");
	if (stop == NULL || start == NULL) {
		t_skip("STORE_PG_STOP and STORE_PG_START not set");
		return;
	}
	if ((st = fresh()) == NULL) {
		t_assert(st != NULL);
		return;
	}
	make_row(&r, "example.org", DAY0 + 5, "192.0.2.1");
	t_assert_int_eq(add1(st, &r, 1), 0);
	t_assert_int_eq(system(stop), 0);
	t_assert_int_eq(store_add(st, &r, NULL, 1, &err), -1);
	printf("  while down: %s\n", err.msg);
	t_assert_int_eq(store_add(st, &r, NULL, 1, &err), -1);

	t_case("postgresql: and succeeds on the same handle once it is back");
	t_assert_int_eq(system(start), 0);
	t_assert_int_eq(add1(st, &r, 1), 0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_int_eq(pl.p[0].messages, 2);

	t_case("postgresql: a restart between calls is not an error");
	t_assert_int_eq(system(stop), 0);
	t_assert_int_eq(system(start), 0);
	t_assert_int_eq(add1(st, &r, 1), 0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_int_eq(pl.p[0].messages, 3);
	store_close(st);
}

/* ---- load ---- */

static void
test_load(void)
{
	const char        *e = getenv("STORE_BENCH_MESSAGES");
	long               total = e ? atol(e) : 100000, done = 0, i;
	size_t             batch = 500, k;
	struct report_row *r;
	struct store      *st;
	struct plist       pl;
	struct am_err      err = {""};
	char               ip[REPORT_IP_MAX + 1];
	double             t0, dt;

	t_casef("load: %ld messages from 1,000 sources, batches of %zu", total,
	    batch);
	if ((st = fresh()) == NULL || (r = calloc(batch, sizeof(*r))) == NULL) {
		t_assert(false);
		store_close(st);
		return;
	}
	t0 = now();
	while (done < total) {
		for (k = 0; k < batch && done + (long)k < total; k++) {
			/* Sources in turn: each batch is 500 distinct rows,
			 * nothing merges before the store. */
			i = (done + (long)k) % 1000;
			snprintf(
			    ip, sizeof(ip), "198.51.%ld.%ld", i / 250, i % 250);
			make_row(&r[k], "example.org",
			    DAY0 + (done + (long)k) % DAY, ip);
		}
		if (store_add(st, r, NULL, k, &err) != 0) {
			printf("  store_add: %s\n", err.msg);
			t_assert(false);
			break;
		}
		done += (long)k;
	}
	dt = now() - t0;
	printf("  %ld messages in %.2f s (%.0f/s)\n", done, dt,
	    dt > 0 ? (double)done / dt : 0.0);
	t_assert_int_eq(periods(st, 0, false, &pl), 0);
	t_assert_int_eq(pl.n, 1);
	t_assert_int_eq(pl.p[0].messages, total);
	t_assert_int_eq(pl.p[0].rows, total < 1000 ? total : 1000);
	free(r);
	store_close(st);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test-store SPEC\n");
		return 2;
	}
	spec = argv[1];
	is_sqlite = strncmp(spec, "sqlite:", 7) == 0;
	if (is_sqlite)
		snprintf(sqlite_path, sizeof(sqlite_path), "%s", spec + 7);
	printf("# back end: %s\n", is_sqlite ? "sqlite" : "postgresql");

	test_dkim_codec();
	test_dkim_reject();
	test_spec();
	test_version();
	test_aggregate();
	test_midnight();
	test_periods();
	test_report_id();
	test_mark_sent();
	test_expire();
	test_migration();
	test_weird_text();
	test_rx();
	test_migrate_v1();
	if (is_sqlite) {
		test_sqlite_files();
		test_sqlite_locked();
	} else {
		test_pg_restart();
	}
	test_load();
	return t_done();
}

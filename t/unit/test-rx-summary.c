/*
 * test-rx-summary: the summary of received aggregate reports, with exact
 * counts, rates and verdict texts for crafted inputs, the writers'
 * escaping of hostile strings, and the limits (source cap, SPF questions,
 * count saturation, a full output buffer).
 *
 * With a directory as argv[1] it also writes there what the scripts
 * check with other tools: NAME.json for each case (t/unit/rx-summary.sh
 * parses them with Python's json), and page.html, page.json, page.txt of
 * one fixed input (t/integration/rx-html.sh renders the page in headless
 * Chromium and compares the chart with the JSON).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "report.h"
#include "rx_summary.h"
#include "test.h"

#define D0  1767225600 /* 2026-01-01 00:00:00 UTC */
#define DAY 86400

static const char *outdir;

/* The fake resolver: a table of IPs our SPF record authorizes (or not)
 * and of PTR names; every question is counted. */
struct fake {
	const char *auth[8];
	const char *notauth[8];
	const char *ptr[8][2];
	unsigned    spf_calls, ptr_calls;
};

static enum rx_spf
fake_spf(void *arg, const char *ip)
{
	struct fake *f = arg;
	size_t       i;

	f->spf_calls++;
	for (i = 0; i < 8; i++) {
		if (f->auth[i] != NULL && strcmp(f->auth[i], ip) == 0)
			return RX_SPF_AUTHORIZED;
		if (f->notauth[i] != NULL && strcmp(f->notauth[i], ip) == 0)
			return RX_SPF_NOT_AUTHORIZED;
	}
	return RX_SPF_UNCHECKED;
}

static bool
fake_ptr(void *arg, const char *ip, char *out, size_t size)
{
	struct fake *f = arg;
	size_t       i;

	f->ptr_calls++;
	for (i = 0; i < 8; i++)
		if (f->ptr[i][0] != NULL && strcmp(f->ptr[i][0], ip) == 0) {
			snprintf(out, size, "%s", f->ptr[i][1]);
			return true;
		}
	return false;
}

static struct rx_summary *
new20(struct fake *f)
{
	struct rx_summary_params p = {
	    .domain = "example.com",
	    .since = D0,
	    .now = D0 + 19 * DAY + 3600,
	    .spf_auth = f != NULL ? fake_spf : NULL,
	    .ptr_name = f != NULL ? fake_ptr : NULL,
	    .cb_arg = f,
	};
	return rx_summary_new(&p);
}

static struct report_policy_pub
pol(enum report_policy p)
{
	struct report_policy_pub x;

	memset(&x, 0, sizeof(x));
	strcpy(x.domain, "example.com");
	x.p = p;
	return x;
}

/* Adds count messages from ip in org's report of day d. */
static void
add(struct rx_summary *s, const char *org, int d,
    const struct report_policy_pub *pp, const char *ip, bool dkim, bool spf,
    enum report_disposition dis, uint64_t count)
{
	struct report_row r;
	struct rx_meta    m = {.org = org,
	       .report_id = "id",
	       .begin = D0 + (int64_t)d * DAY,
	       .end = D0 + (int64_t)d * DAY + DAY - 1,
	       .pol = pp};
	struct am_err     err;

	memset(&r, 0, sizeof(r));
	snprintf(r.source_ip, sizeof(r.source_ip), "%s", ip);
	r.dkim_aligned = dkim;
	r.spf_aligned = spf;
	r.disposition = dis;
	t_assert_int_eq(rx_summary_add(s, &m, &r, count, &err), 0);
}

static void
finish(struct rx_summary *s)
{
	struct am_err err;

	t_assert_int_eq(rx_summary_finish(s, &err), 0);
}

/* Writes s's JSON as outdir/NAME.json (for rx-summary.sh). */
static void
save(const struct rx_summary *s, const char *name, const char *ext)
{
	struct buf b;
	char       path[4096];
	FILE      *fp;
	int        rc;

	buf_init(&b, 64 * 1024 * 1024);
	if (strcmp(ext, "html") == 0)
		rc = rx_summary_html(s, &b);
	else if (strcmp(ext, "txt") == 0)
		rc = rx_summary_text(s, &b);
	else
		rc = rx_summary_json(s, &b);
	t_assert_int_eq(rc, 0);
	if (outdir != NULL) {
		snprintf(path, sizeof(path), "%s/%s.%s", outdir, name, ext);
		if ((fp = fopen(path, "w")) == NULL) {
			t_assert(!"cannot write the output file");
		} else {
			fwrite(b.data, 1, b.len, fp);
			fclose(fp);
		}
	}
	buf_free(&b);
}

static bool
contains(const struct buf *b, const char *s)
{
	return b->data != NULL && strstr(b->data, s) != NULL;
}

static void
test_all_pass(void)
{
	struct report_policy_pub q = pol(REPORT_POLICY_QUARANTINE),
				 n = pol(REPORT_POLICY_NONE);
	const struct rx_result *r;
	struct rx_summary      *s;
	int                     d;

	t_case("all pass, 14 days at p=quarantine: ready for reject");
	s = new20(NULL);
	for (d = 0; d < 14; d++)
		add(s, "Receiver A", d, &q, "192.0.2.1", true, true,
		    REPORT_DIS_NONE, 100);
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->total, 1400);
	t_assert_int_eq(r->pass, 1400);
	t_assert_int_eq(r->reports, 14);
	t_assert_int_eq(r->norgs, 1);
	t_assert_int_eq(r->ndays, 20);
	t_assert_int_eq(r->covered_days, 14);
	t_assert_int_eq(r->enforced_days, 14);
	t_assert_int_eq(r->days[0].pass, 100);
	t_assert_int_eq(r->days[13].pass, 100);
	t_assert_int_eq(r->days[14].pass, 0);
	t_assert(!r->days[14].covered);
	t_assert_int_eq(r->nsources, 1);
	t_assert_int_eq(r->nfailing_all, 0);
	t_assert_int_eq(r->state, RX_READY_REJECT);
	t_assert_int_eq(r->nblocking, 0);
	t_assert_int_eq(r->nreasons, 1);
	t_assert_str_eq(r->reasons[0],
	    "DMARC pass rate 100.00% of 1400 messages over 14 days of "
	    "reports, 14 at p=quarantine or p=reject");
	save(s, "all-pass", "json");
	rx_summary_free(s);

	t_case("all pass at p=none: ready for quarantine, not yet reject");
	s = new20(NULL);
	for (d = 0; d < 14; d++)
		add(s, "Receiver A", d, &n, "192.0.2.1", true, true,
		    REPORT_DIS_NONE, 100);
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->state, RX_READY_QUARANTINE);
	t_assert_int_eq(r->enforced_days, 0);
	t_assert_int_eq(r->nblocking, 1);
	t_assert_int_eq(r->nreasons, 2);
	t_assert_str_eq(r->reasons[0],
	    "only 0 days of reports at p=quarantine or p=reject (at least 14 "
	    "needed before reject)");
	rx_summary_free(s);

	t_case("a policy with t=y does not count as enforced");
	q.testing = true;
	s = new20(NULL);
	for (d = 0; d < 14; d++)
		add(s, "Receiver A", d, &q, "192.0.2.1", true, true,
		    REPORT_DIS_NONE, 100);
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->enforced_days, 0);
	t_assert_int_eq(r->state, RX_READY_QUARANTINE);
	rx_summary_free(s);
}

static void
test_authorized_blocks(void)
{
	struct report_policy_pub n = pol(REPORT_POLICY_NONE);
	struct fake              f = {
			 .auth = {"192.0.2.3"}, .ptr = {{"192.0.2.2", "mail.example.net"}}};
	const struct rx_result *r;
	struct rx_summary      *s;
	int                     d;

	t_case("sources authorized by our SPF, not DKIM-aligned, block");
	s = new20(&f);
	for (d = 0; d < 14; d++) {
		add(s, "Receiver A", d, &n, "192.0.2.1", true, true,
		    REPORT_DIS_NONE, 1000);
		/* SPF-aligned: receivers saw our SPF pass. */
		add(s, "Receiver A", d, &n, "192.0.2.2", false, true,
		    REPORT_DIS_NONE, 10);
		/* Not aligned at all, but our SPF record authorizes it. */
		add(s, "Receiver A", d, &n, "192.0.2.3", false, false,
		    REPORT_DIS_NONE, 5);
	}
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->total, 14210);
	t_assert_int_eq(r->pass, 14140);
	t_assert_int_eq(r->dkim_aligned, 14000);
	t_assert_int_eq(r->spf_aligned, 14140);
	/* Only the source without SPF-aligned mail is asked about. */
	t_assert_int_eq(f.spf_calls, 1);
	t_assert_int_eq(r->nfailing_all, 2);
	t_assert_str_eq(r->failing[0]->ip, "192.0.2.2");
	t_assert_str_eq(r->failing[0]->ptr, "mail.example.net");
	t_assert_int_eq(r->failing[0]->cls, RX_CLASS_AUTHORIZED);
	t_assert_str_eq(r->failing[1]->ip, "192.0.2.3");
	t_assert_int_eq(r->failing[1]->spf, RX_SPF_AUTHORIZED);
	t_assert_int_eq(r->failing[1]->cls, RX_CLASS_AUTHORIZED);
	t_assert_int_eq(r->state, RX_NOT_READY);
	t_assert_int_eq(r->nblocking, 1);
	t_assert_int_eq(r->nreasons, 2);
	t_assert_str_eq(r->reasons[0],
	    "2 sources, 1.47% of mail, authorized by your SPF record but not "
	    "DKIM-aligned: fix their signing: 192.0.2.2 (mail.example.net), "
	    "192.0.2.3");
	t_assert_str_eq(r->reasons[1],
	    "DMARC pass rate 99.50% of 14210 messages over 14 days of "
	    "reports, 0 at p=quarantine or p=reject");
	save(s, "authorized", "json");
	rx_summary_free(s);
}

static void
test_forwarder(void)
{
	struct report_policy_pub q = pol(REPORT_POLICY_QUARANTINE);
	struct fake              f = {
			 .notauth = {"198.51.100.7", "203.0.113.9", "198.51.100.8"},
			 .ptr = {{"198.51.100.7", "fwd.example.org"}}};
	const struct rx_result *r;
	struct rx_summary      *s;
	int                     d;

	t_case("a forwarder is named and does not block");
	s = new20(&f);
	for (d = 0; d < 14; d++) {
		add(s, "Receiver A", d, &q, "192.0.2.1", true, true,
		    REPORT_DIS_NONE, 1000);
		add(s, "Receiver B", d, &q, "198.51.100.7", true, false,
		    REPORT_DIS_NONE, 20);
		add(s, "Receiver B", d, &q, "203.0.113.9", false, false,
		    REPORT_DIS_QUARANTINE, 1);
	}
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->total, 14294);
	t_assert_int_eq(r->pass, 14280);
	t_assert_int_eq(r->reports, 28);
	t_assert_int_eq(r->norgs, 2);
	t_assert_int_eq(r->dispositions[REPORT_DIS_NONE], 14280);
	t_assert_int_eq(r->dispositions[REPORT_DIS_QUARANTINE], 14);
	t_assert_int_eq(f.spf_calls, 2);
	t_assert_int_eq(r->state, RX_READY_REJECT);
	t_assert_int_eq(r->nblocking, 0);
	t_assert_int_eq(r->nreasons, 3);
	t_assert_str_eq(r->reasons[0],
	    "DMARC pass rate 99.90% of 14294 messages over 14 days of "
	    "reports, 14 at p=quarantine or p=reject");
	t_assert_str_eq(r->reasons[1],
	    "1 source, 1.95% of mail, forwarders (not authorized by your SPF "
	    "record, DKIM-aligned): they do not block: 198.51.100.7 "
	    "(fwd.example.org)");
	t_assert_str_eq(r->reasons[2],
	    "1 source, 0.09% of mail, neither authorized by your SPF record "
	    "nor DKIM-aligned (spoofed, or senders still to set up): "
	    "203.0.113.9");
	/* The fully DKIM-aligned forwarder is not a failing source. */
	t_assert_int_eq(r->nfailing_all, 1);
	t_assert_str_eq(r->failing[0]->ip, "203.0.113.9");
	t_assert_int_eq(r->failing[0]->cls, RX_CLASS_UNAUTHORIZED);
	t_assert_int_eq(r->nlisted, 3);
	t_assert_str_eq(r->sources[1]->ip, "198.51.100.7");
	t_assert_int_eq(r->sources[1]->cls, RX_CLASS_FORWARDER);
	t_assert_int_eq(r->sources[1]->norgs, 1);
	t_assert_str_eq(r->sources[1]->orgs[0], "Receiver B");
	save(s, "forwarder", "json");
	save(s, "forwarder", "txt");
	rx_summary_free(s);

	t_case("a mailing list (DKIM sometimes broken, SPF never) is a "
	       "forwarder");
	f.spf_calls = 0;
	s = new20(&f);
	for (d = 0; d < 14; d++) {
		add(s, "Receiver A", d, &q, "192.0.2.1", true, true,
		    REPORT_DIS_NONE, 1000);
		add(s, "Receiver A", d, &q, "198.51.100.8", true, false,
		    REPORT_DIS_NONE, 3);
		add(s, "Receiver A", d, &q, "198.51.100.8", false, false,
		    REPORT_DIS_NONE, 1);
	}
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->nfailing_all, 1);
	t_assert_int_eq(r->failing[0]->cls, RX_CLASS_FORWARDER);
	t_assert_int_eq(r->state, RX_READY_REJECT);
	t_assert_str_eq(r->reasons[1],
	    "1 source, 0.39% of mail, forwarders (not authorized by your SPF "
	    "record, DKIM-aligned): they do not block: 198.51.100.8");
	rx_summary_free(s);
}

static void
test_rates(void)
{
	struct report_policy_pub n = pol(REPORT_POLICY_NONE);
	const struct rx_result  *r;
	struct rx_summary       *s;

	t_case("rates, dispositions, IPv6 text forms, too few days");
	s = new20(NULL);
	add(s, "Receiver A", 0, &n, "192.0.2.1", true, false, REPORT_DIS_NONE,
	    97);
	add(s, "Receiver A", 0, &n, "192.0.2.9", false, false,
	    REPORT_DIS_REJECT, 3);
	add(s, "Receiver B", 1, &n, "192.0.2.1", false, true, REPORT_DIS_NONE,
	    100);
	add(s, "Receiver B", 1, &n, "2001:DB8::1", false, false,
	    REPORT_DIS_QUARANTINE, 50);
	add(s, "Receiver A", 1, &n, "2001:db8:0::1", false, false,
	    REPORT_DIS_QUARANTINE, 50);
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->total, 300);
	t_assert_int_eq(r->pass, 197);
	t_assert_int_eq(r->dkim_aligned, 97);
	t_assert_int_eq(r->spf_aligned, 100);
	t_assert_int_eq(r->dispositions[REPORT_DIS_NONE], 197);
	t_assert_int_eq(r->dispositions[REPORT_DIS_QUARANTINE], 100);
	t_assert_int_eq(r->dispositions[REPORT_DIS_REJECT], 3);
	t_assert_int_eq(r->reports, 3);
	t_assert_int_eq(r->norgs, 2);
	t_assert_int_eq(r->nsources, 3);
	t_assert_int_eq(r->days[0].pass, 97);
	t_assert_int_eq(r->days[0].fail, 3);
	t_assert_int_eq(r->days[1].pass, 100);
	t_assert_int_eq(r->days[1].fail, 100);
	t_assert_str_eq(r->sources[0]->ip, "192.0.2.1");
	t_assert_str_eq(r->sources[1]->ip, "2001:db8::1");
	t_assert_int_eq(r->sources[1]->messages, 100);
	t_assert_int_eq(r->sources[1]->norgs, 2);
	t_assert_int_eq(r->state, RX_NOT_READY);
	t_assert_int_eq(r->nblocking, 3);
	t_assert_int_eq(r->nreasons, 5);
	t_assert_str_eq(
	    r->reasons[0], "only 2 days of reports (at least 14 needed)");
	t_assert_str_eq(
	    r->reasons[1], "DMARC pass rate 65.66% is below 98.00%");
	t_assert_str_eq(r->reasons[2],
	    "1 source, 33.33% of mail, authorized by your SPF record but not "
	    "DKIM-aligned: fix their signing: 192.0.2.1");
	t_assert_str_eq(r->reasons[4],
	    "2 sources, 34.33% of mail, not DKIM-aligned and not checked "
	    "against your SPF record: 2001:db8::1, 192.0.2.9");
	save(s, "rates", "json");
	save(s, "rates", "txt");
	rx_summary_free(s);

	t_case("a date range ending at midnight covers one day");
	s = new20(NULL);
	{
		struct report_row r0;
		struct rx_meta    m = {.org = "R",
		       .begin = D0 + 2 * DAY,
		       .end = D0 + 3 * DAY,
		       .pol = &n};

		memset(&r0, 0, sizeof(r0));
		strcpy(r0.source_ip, "192.0.2.1");
		r0.dkim_aligned = true;
		t_assert_int_eq(rx_summary_add(s, &m, &r0, 5, NULL), 0);
	}
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->covered_days, 1);
	t_assert(r->days[2].covered);
	t_assert(!r->days[3].covered);
	rx_summary_free(s);

	t_case("counts saturate at 2^64 - 1");
	s = new20(NULL);
	add(s, "R", 0, &n, "192.0.2.1", true, true, REPORT_DIS_NONE,
	    UINT64_MAX);
	add(s, "R", 0, &n, "192.0.2.1", true, true, REPORT_DIS_NONE,
	    UINT64_MAX);
	add(s, "R", 0, &n, "192.0.2.2", false, false, REPORT_DIS_NONE, 1);
	finish(s);
	r = rx_summary_result(s);
	t_assert(r->total == UINT64_MAX);
	t_assert(r->pass == UINT64_MAX);
	t_assert(r->sources[0]->messages == UINT64_MAX);
	t_assert_int_eq(r->nblocking, 1);
	t_assert_str_eq(
	    r->reasons[0], "only 1 day of reports (at least 14 needed)");
	t_assert_str_eq(r->reasons[1],
	    "DMARC pass rate 100.00% of 18446744073709551615 messages over 1 "
	    "day of reports, 0 at p=quarantine or p=reject");
	save(s, "saturated", "json");
	rx_summary_free(s);

	t_case("no reports: no data");
	s = new20(NULL);
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->state, RX_NO_DATA);
	t_assert_int_eq(r->nreasons, 1);
	t_assert_str_eq(r->reasons[0],
	    "no aggregate reports about example.com in the period");
	save(s, "empty", "json");
	rx_summary_free(s);
}

static void
test_limits(void)
{
	struct report_policy_pub n = pol(REPORT_POLICY_NONE);
	struct fake f = {.notauth = {"192.0.2.1", "192.0.2.2", "192.0.2.3"}};
	struct rx_summary_params p = {.domain = "example.com",
	    .since = D0,
	    .now = D0 + DAY,
	    .max_sources = 2,
	    .max_checked = 2,
	    .spf_auth = fake_spf,
	    .ptr_name = fake_ptr,
	    .cb_arg = &f};
	const struct rx_result  *r;
	struct rx_summary       *s;
	struct buf               b;

	t_case("past max_sources: one (other sources) bucket");
	s = rx_summary_new(&p);
	add(s, "R", 0, &n, "192.0.2.1", false, false, REPORT_DIS_NONE, 30);
	add(s, "R", 0, &n, "192.0.2.2", false, false, REPORT_DIS_NONE, 20);
	add(s, "R", 0, &n, "192.0.2.3", false, false, REPORT_DIS_NONE, 10);
	add(s, "R", 0, &n, "192.0.2.4", false, false, REPORT_DIS_NONE, 5);
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->total, 65);
	t_assert_int_eq(r->nsources, 3);
	t_assert(r->sources[2]->other);
	t_assert_int_eq(r->sources[2]->messages, 15);
	t_assert_int_eq(r->sources[2]->cls, RX_CLASS_UNCHECKED);
	/* The bucket is never given to the callbacks. */
	t_assert_int_eq(f.spf_calls, 2);
	t_assert_int_eq(f.ptr_calls, 2);
	t_assert_str_eq(r->reasons[r->nreasons - 1],
	    "15 messages from sources past the limit of 2 sources are counted "
	    "together as (other sources)");
	rx_summary_free(s);

	t_case("at most max_checked SPF questions");
	f.spf_calls = 0;
	p.max_sources = 0;
	s = rx_summary_new(&p);
	add(s, "R", 0, &n, "192.0.2.1", false, false, REPORT_DIS_NONE, 30);
	add(s, "R", 0, &n, "192.0.2.2", false, false, REPORT_DIS_NONE, 20);
	add(s, "R", 0, &n, "192.0.2.3", false, false, REPORT_DIS_NONE, 10);
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(f.spf_calls, 2);
	t_assert_int_eq(r->failing[0]->cls, RX_CLASS_UNAUTHORIZED);
	t_assert_int_eq(r->failing[2]->spf, RX_SPF_UNCHECKED);
	t_assert_int_eq(r->failing[2]->cls, RX_CLASS_UNCHECKED);

	t_case("a full buffer: -1 and nothing half-written");
	buf_init(&b, 600);
	buf_append_str(&b, "before");
	t_assert_int_eq(rx_summary_html(s, &b), -1);
	t_assert_str_eq(buf_cstr(&b), "before");
	t_assert_int_eq(rx_summary_json(s, &b), -1);
	t_assert_str_eq(buf_cstr(&b), "before");
	buf_free(&b);
	t_assert_int_eq(
	    rx_summary_add(s, &(struct rx_meta){.org = "R"},
		&(struct report_row){.dkim_aligned = true}, 1, NULL),
	    -1);
	rx_summary_free(s);

	t_case("a period longer than RX_MAX_DAYS, or reversed, is refused");
	p.now = D0 + (int64_t)RX_MAX_DAYS * DAY;
	t_assert(rx_summary_new(&p) == NULL);
	p.now = D0 - 1;
	t_assert(rx_summary_new(&p) == NULL);
}

static const struct {
	const char *name, *in, *json, *html;
} esc[] = {
    {"plain", "mail.example.net", "\"mail.example.net\"", "mail.example.net"},
    {"quotes and backslash", "a\"b\\c'", "\"a\\\"b\\\\c'\"",
	"a&quot;b\\c&#39;"},
    {"markup", "<b>&amp;</b>", "\"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e\"",
	"&lt;b&gt;&amp;amp;&lt;/b&gt;"},
    {"controls", "a\x01\n\x7f", "\"a\\u0001\\u000a\\u007f\"",
	"a&#xfffd;&#xfffd;&#xfffd;"},
    {"UTF-8", "\xc3\xa9\xe2\x82\xac", "\"\\u00e9\\u20ac\"", "&#xe9;&#x20ac;"},
    {"astral", "\xf0\x9f\x98\x80", "\"\\ud83d\\ude00\"", "&#x1f600;"},
    {"invalid bytes", "\xff\xc0\xaf", "\"\\ufffd\\ufffd\\ufffd\"",
	"&#xfffd;&#xfffd;&#xfffd;"},
    {"surrogate", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"",
	"&#xfffd;&#xfffd;&#xfffd;"},
    {"cut sequence", "a\xe2\x82", "\"a\\ufffd\\ufffd\"", "a&#xfffd;&#xfffd;"},
    {"bidi override",
	"a\xe2\x80\xae"
	"b",
	"\"a\\u202eb\"", "a&#xfffd;b"},
    {"C1 control", "\xc2\x85", "\"\\u0085\"", "&#xfffd;"},
};

static void
test_escaping(void)
{
	struct report_policy_pub n = pol(REPORT_POLICY_NONE);
	const char              *org = "<script>alert(\"x\")</script>&'";
	const char              *ip = "\"><img src=x onerror=alert(1)>";
	struct rx_summary       *s;
	struct buf               b;
	size_t                   i;

	for (i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		t_casef("escaping: %s", esc[i].name);
		buf_init(&b, 0);
		t_assert_int_eq(
		    rx_json_str(&b, esc[i].in, strlen(esc[i].in)), 0);
		t_assert_str_eq(buf_cstr(&b), esc[i].json);
		buf_reset(&b);
		t_assert_int_eq(
		    rx_html_str(&b, esc[i].in, strlen(esc[i].in)), 0);
		t_assert_str_eq(buf_cstr(&b), esc[i].html);
		buf_free(&b);
	}

	t_case("a hostile org name and source IP are escaped everywhere");
	s = new20(NULL);
	add(s, org, 0, &n, ip, false, false, REPORT_DIS_NONE, 7);
	add(s,
	    "\xe2\x80\xae"
	    "evil\x01",
	    0, &n, "192.0.2.1", true, true, REPORT_DIS_NONE, 1);
	finish(s);
	buf_init(&b, 0);
	t_assert_int_eq(rx_summary_html(s, &b), 0);
	t_assert(!contains(&b, "<script"));
	t_assert(!contains(&b, "<img"));
	t_assert(!contains(&b, "\xe2\x80\xae"));
	t_assert(
	    contains(&b, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
			 "&amp;&#39;"));
	t_assert(contains(&b, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
	t_assert(contains(&b, "&#xfffd;evil&#xfffd;"));
	buf_reset(&b);
	t_assert_int_eq(rx_summary_json(s, &b), 0);
	t_assert(contains(&b, "\"\\u003cscript\\u003ealert(\\\"x\\\")"
			      "\\u003c/script\\u003e\\u0026'\""));
	t_assert(contains(&b, "\"ip\":\"\\\"\\u003e\\u003cimg src=x "
			      "onerror=alert(1)\\u003e\""));
	for (i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] >= 0x7f ||
		    ((unsigned char)b.data[i] < 0x20 && b.data[i] != '\n'))
			break;
	t_assert_int_eq(i, b.len); /* JSON output is printable ASCII */
	buf_reset(&b);
	t_assert_int_eq(rx_summary_text(s, &b), 0);
	t_assert(contains(&b, "seen by <script>alert(\"x\")</script>&'"));
	t_assert(contains(&b, "seen by ???evil?"));
	buf_free(&b);
	save(s, "hostile", "json");
	rx_summary_free(s);
}

/* The fixed input of the browser test: 16 days of reports whose volume
 * grows, a few failures, a forwarder and a hostile org name. */
static void
test_page(void)
{
	struct report_policy_pub q = pol(REPORT_POLICY_QUARANTINE);
	struct fake             f = {.notauth = {"198.51.100.7", "203.0.113.9"},
			.ptr = {{"198.51.100.7", "fwd.example.org"},
			    {"192.0.2.1", "mx1.example.com"}}};
	const struct rx_result *r;
	struct rx_summary      *s;
	int                     d;

	t_case("the browser test's page");
	s = new20(&f);
	for (d = 0; d < 16; d++) {
		add(s, "Receiver A", d, &q, "192.0.2.1", true, true,
		    REPORT_DIS_NONE, 100 + 10 * (uint64_t)d);
		add(s, "<script>alert(1)</script>", d, &q, "198.51.100.7", true,
		    false, REPORT_DIS_NONE, 5);
		add(s, "Receiver B", d, &q, "203.0.113.9", false, false,
		    REPORT_DIS_REJECT, (uint64_t)(d % 3));
	}
	finish(s);
	r = rx_summary_result(s);
	t_assert_int_eq(r->total, 16 * 100 + 10 * 120 + 16 * 5 + 15);
	t_assert_int_eq(r->days[15].pass, 255);
	t_assert_int_eq(r->days[14].fail, 2);
	save(s, "page", "html");
	save(s, "page", "json");
	save(s, "page", "txt");
	rx_summary_free(s);
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		outdir = argv[1];
	test_all_pass();
	test_authorized_blocks();
	test_forwarder();
	test_rates();
	test_limits();
	test_escaping();
	test_page();
	return t_done();
}

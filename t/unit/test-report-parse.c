/*
 * Unit tests for report_parse: received aggregate reports, from the mail
 * to the records. The documents are built here (RFC 9990 and RFC 7489
 * forms), wrapped in gzip and MIME by the test; zip forms, whole mails and
 * the round trip through authmilter-report are in
 * t/integration/reports-ingest.sh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "buf.h"
#include "report_parse.h"
#include "test.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char rec9990[] =
    "<record><row><source_ip>192.0.2.123</source_ip><count>123</count>"
    "<policy_evaluated><disposition>pass</disposition><dkim>pass</dkim>"
    "<spf>fail</spf></policy_evaluated></row><identifiers>"
    "<envelope_from>Example.COM</envelope_from><header_from>example.com"
    "</header_from></identifiers><auth_results><dkim><domain>example.com"
    "</domain><selector>abc123</selector><result>pass</result></dkim><spf>"
    "<domain>example.com</domain><result>fail</result></spf></auth_results>"
    "</record>";

/* An RFC 9990 report with n copies of rec9990 and extra (after the
 * policy) into out. */
static void
doc9990(struct buf *out, const char *meta, const char *policy, size_t n)
{
	size_t i;

	buf_reset(out);
	buf_printf(out,
	    "<?xml version=\"1.0\"?>\n<feedback "
	    "xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"><version>1.0</version>"
	    "<report_metadata>%s</report_metadata><policy_published>%s"
	    "</policy_published>",
	    meta != NULL ? meta
			 : "<org_name>Sample Reporter</org_name><email>"
			   "r@example-reporter.com</email><report_id>3v98abbp"
			   "</report_id><date_range><begin>302832000</begin>"
			   "<end>302918399</end></date_range>",
	    policy != NULL ? policy
			   : "<domain>Example.com</domain><p>quarantine</p>"
			     "<sp>none</sp><np>reject</np><testing>n</testing>"
			     "<discovery_method>treewalk</discovery_method>");
	for (i = 0; i < n; i++)
		buf_append_str(out, rec9990);
	buf_append_str(out, "</feedback>\n");
}

/* RFC 7489: no namespace, pct, several SPF results with scope. */
static const char doc7489[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback>\n"
    "  <report_metadata>\n    <org_name>google.com</org_name>\n"
    "    <email>noreply-dmarc-support@google.com</email>\n"
    "    <extra_contact_info>https://support.google.com/a/answer/2466580"
    "</extra_contact_info>\n    <report_id>1234567890123456789</report_id>\n"
    "    <date_range><begin>1767225600</begin><end>1767311999</end>"
    "</date_range>\n  </report_metadata>\n  <policy_published>\n"
    "    <domain>example.org</domain><adkim>s</adkim><aspf>r</aspf>"
    "<p>reject</p><sp>reject</sp><pct>100</pct>\n  </policy_published>\n"
    "  <record>\n    <row><source_ip>2001:db8::1</source_ip><count>7</count>"
    "<policy_evaluated><disposition>reject</disposition><dkim>fail</dkim>"
    "<spf>fail</spf><reason><type>forwarded</type></reason><reason><type>"
    "mailing_list</type><comment>x</comment></reason></policy_evaluated>"
    "</row>\n    <identifiers><header_from>example.org</header_from>"
    "</identifiers>\n    <auth_results><spf><domain>helo.example.net"
    "</domain><scope>helo</scope><result>pass</result></spf><spf><domain>"
    "bounce.example.net</domain><scope>mfrom</scope><result>softfail"
    "</result></spf><dkim><domain>example.net</domain><result>neutral"
    "</result></dkim></auth_results>\n  </record>\n  <record>\n"
    "    <row><source_ip>198.51.100.2</source_ip><count>2</count>"
    "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
    "<spf>pass</spf></policy_evaluated></row>\n    <identifiers>"
    "<header_from>example.org</header_from></identifiers>\n"
    "    <auth_results><spf><domain>helo.example.org</domain><scope>helo"
    "</scope><result>none</result></spf></auth_results>\n  </record>\n"
    "</feedback>\n";

struct got {
	size_t            n;
	struct report_row r[4];
	uint64_t          count[4];
	uint64_t          sum;
};

static int
collect(void *arg, const struct report_row *r, uint64_t count)
{
	struct got *g = arg;

	if (g->n < NELEM(g->r)) {
		g->r[g->n] = *r;
		g->count[g->n] = count;
	}
	g->n++;
	g->sum += count;
	return 0;
}

static int
stop2(void *arg, const struct report_row *r, uint64_t count)
{
	(void)r;
	(void)count;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static int
parse_doc(const char *p, size_t n, const struct report_parse_params *params,
    struct report_parse *rp)
{
	struct am_err err = {""};
	int           st = report_parse_doc(p, n, params, rp, &err);

	if (st < 0)
		printf("  report_parse_doc: %s\n", err.msg);
	if (st == REPORT_PARSE_BAD)
		printf("  reason: %s\n", rp->reason);
	return st;
}

static int
parse_mail(const char *p, size_t n, struct report_parse *rp)
{
	struct am_err err = {""};
	int           st = report_parse_mail(p, n, NULL, rp, &err);

	if (st < 0)
		printf("  report_parse_mail: %s\n", err.msg);
	return st;
}

static void
gzip_buf(const char *p, size_t n, struct buf *out)
{
	z_stream z;
	uLong    bound;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
	bound = deflateBound(&z, (uLong)n);
	buf_reset(out);
	out->max = bound + 1;
	buf_append(out, "", 0);
	/* Grow to bound, then deflate into it. */
	while (out->cap < bound + 1 && buf_append_char(out, 0) == 0)
		;
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->data;
	z.avail_out = (uInt)bound;
	deflate(&z, Z_FINISH);
	out->len = z.total_out;
	deflateEnd(&z);
}

static void
b64(const char *p, size_t n, struct buf *out)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t   i, col = 0;
	uint32_t v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)(unsigned char)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)p[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)p[i + 2];
		buf_append_char(out, abc[v >> 18 & 63]);
		buf_append_char(out, abc[v >> 12 & 63]);
		buf_append_char(out, i + 1 < n ? abc[v >> 6 & 63] : '=');
		buf_append_char(out, i + 2 < n ? abc[v & 63] : '=');
		if ((col += 4) == 76) {
			buf_append_str(out, "\r\n");
			col = 0;
		}
	}
	buf_append_str(out, "\r\n");
}

/* A report mail: a text part and the attachment (ctype, cte). */
static void
mail(struct buf *out, const char *ctype, const char *name, const char *cte,
    const char *body, size_t n)
{
	buf_reset(out);
	buf_append_str(out,
	    "From: noreply@reporter.example\r\nTo: dmarc@example.com\r\n"
	    "Subject: Report Domain: example.com Submitter: r Report-ID: x\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n"
	    "\tboundary=\"=_b1\"\r\n\r\npreamble\r\n--=_b1\r\nContent-Type: "
	    "text/plain\r\n\r\nA report.\r\n--=_b1\r\n");
	buf_printf(out, "Content-Type: %s", ctype);
	if (name != NULL)
		buf_printf(out, ";\r\n name=\"%s\"", name);
	buf_printf(out,
	    "\r\nContent-Transfer-Encoding: %s\r\nContent-Disposition: "
	    "attachment\r\n\r\n",
	    cte);
	if (strcmp(cte, "base64") == 0)
		b64(body, n, out);
	else {
		buf_append(out, body, n);
		buf_append_str(out, "\r\n");
	}
	buf_append_str(out, "--=_b1--\r\n");
}

static void
test_9990(void)
{
	struct report_parse rp;
	struct buf          d;
	struct got          g = {0};
	struct am_err       err = {""};
	int                 calls = 0;

	report_parse_init(&rp);
	buf_init(&d, 0);
	t_case("xml: RFC 9990 report, metadata and policy");
	doc9990(&d, NULL, NULL, 1);
	t_assert_int_eq(parse_doc(d.data, d.len, NULL, &rp), REPORT_PARSE_OK);
	t_assert_int_eq(rp.version, 2);
	t_assert_str_eq(rp.form, "xml");
	t_assert_str_eq(rp.rep.org, "Sample Reporter");
	t_assert_str_eq(rp.rep.email, "r@example-reporter.com");
	t_assert_str_eq(rp.rep.report_id, "3v98abbp");
	t_assert_int_eq(rp.rep.begin, 302832000);
	t_assert_int_eq(rp.rep.end, 302918399);
	t_assert_str_eq(rp.rep.pol.domain, "example.com");
	t_assert_int_eq(rp.rep.pol.p, REPORT_POLICY_QUARANTINE);
	t_assert_int_eq(rp.rep.pol.sp, REPORT_POLICY_NONE);
	t_assert_int_eq(rp.rep.pol.np, REPORT_POLICY_REJECT);
	t_assert(!rp.rep.pol.testing);
	t_assert_int_eq(rp.records, 1);
	t_assert_int_eq(rp.messages, 123);

	t_case("xml: RFC 9990 record fields");
	t_assert_int_eq(report_parse_rows(&rp, NULL, collect, &g, &err), 0);
	t_assert_int_eq(g.n, 1);
	t_assert_int_eq(g.count[0], 123);
	t_assert_int_eq(g.r[0].when, 302832000);
	t_assert_str_eq(g.r[0].pol.domain, "example.com");
	t_assert_str_eq(g.r[0].source_ip, "192.0.2.123");
	t_assert_int_eq(g.r[0].disposition, REPORT_DIS_PASS);
	t_assert(g.r[0].dkim_aligned && !g.r[0].spf_aligned);
	t_assert_str_eq(g.r[0].header_from, "example.com");
	t_assert_str_eq(g.r[0].envelope_from, "example.com");
	t_assert_int_eq(g.r[0].ndkim, 1);
	t_assert_str_eq(g.r[0].dkim[0].domain, "example.com");
	t_assert_str_eq(g.r[0].dkim[0].selector, "abc123");
	t_assert_int_eq(g.r[0].dkim[0].result, REPORT_AUTH_PASS);
	t_assert(g.r[0].has_spf);
	t_assert_str_eq(g.r[0].spf_domain, "example.com");
	t_assert_int_eq(g.r[0].spf_result, REPORT_AUTH_FAIL);

	t_case("xml: the rows pass runs again, and stops on non-zero");
	doc9990(&d, NULL, NULL, 3);
	t_assert_int_eq(parse_doc(d.data, d.len, NULL, &rp), REPORT_PARSE_OK);
	t_assert_int_eq(rp.records, 3);
	t_assert_int_eq(rp.messages, 369);
	memset(&g, 0, sizeof(g));
	t_assert_int_eq(report_parse_rows(&rp, NULL, collect, &g, &err), 0);
	t_assert_int_eq(g.n, 3);
	t_assert_int_eq(report_parse_rows(&rp, NULL, stop2, &calls, &err), 42);
	t_assert_int_eq(calls, 2);
	buf_free(&d);
	report_parse_free(&rp);
}

static void
test_7489(void)
{
	struct report_parse rp;
	struct got          g = {0};
	struct am_err       err = {""};

	report_parse_init(&rp);
	t_case("xml: RFC 7489 report (no namespace, pct)");
	t_assert_int_eq(
	    parse_doc(doc7489, strlen(doc7489), NULL, &rp), REPORT_PARSE_OK);
	t_assert_int_eq(rp.version, 1);
	t_assert_str_eq(rp.rep.org, "google.com");
	t_assert_str_eq(rp.rep.report_id, "1234567890123456789");
	t_assert_str_eq(rp.rep.pol.domain, "example.org");
	t_assert(rp.rep.pol.adkim_strict && !rp.rep.pol.aspf_strict);
	t_assert_int_eq(rp.rep.pol.np, REPORT_POLICY_UNSPEC);
	t_assert_int_eq(rp.records, 2);
	t_assert_int_eq(rp.messages, 9);
	t_assert_int_eq(report_parse_rows(&rp, NULL, collect, &g, &err), 0);
	t_assert_int_eq(g.n, 2);

	t_case("xml: RFC 7489 several SPF results: the mfrom one is kept");
	t_assert(g.r[0].has_spf);
	t_assert_str_eq(g.r[0].spf_domain, "bounce.example.net");
	t_assert_int_eq(g.r[0].spf_result, REPORT_AUTH_SOFTFAIL);
	t_assert_int_eq(g.r[0].ndkim, 1);
	t_assert_str_eq(g.r[0].dkim[0].selector, "");
	t_assert_int_eq(g.r[0].dkim[0].result, REPORT_AUTH_NEUTRAL);
	t_assert_int_eq(g.r[0].disposition, REPORT_DIS_REJECT);

	t_case("xml: RFC 7489 reasons: forwarded is other, mailing_list kept");
	t_assert_int_eq(
	    g.r[0].reasons, REPORT_REASON_OTHER | REPORT_REASON_MAILING_LIST);

	t_case("xml: RFC 7489 only a helo SPF result: the first is kept");
	t_assert(g.r[1].has_spf);
	t_assert_str_eq(g.r[1].spf_domain, "helo.example.org");
	t_assert_int_eq(g.r[1].spf_result, REPORT_AUTH_NONE);
	t_assert_int_eq(g.r[1].ndkim, 0);
	report_parse_free(&rp);
}

static const char meta_ok[] =
    "<org_name>O</org_name><email>e@o</email><report_id>id1</report_id>"
    "<date_range><begin>10</begin><end>20</end></date_range>";

/* Documents that are refused, with a word of the reason. */
static const struct {
	const char *name, *meta, *policy, *why;
	size_t      nrec;
} bad_docs[] = {
    {"no org_name",
	"<email>e</email><report_id>x</report_id><date_range>"
	"<begin>1</begin><end>2</end></date_range>",
	NULL, "org_name", 1},
    {"no report_id",
	"<org_name>O</org_name><date_range><begin>1</begin>"
	"<end>2</end></date_range>",
	NULL, "report_id", 1},
    {"empty report_id",
	"<org_name>O</org_name><report_id> </report_id>"
	"<date_range><begin>1</begin><end>2</end>"
	"</date_range>",
	NULL, "report_id", 1},
    {"report_id not ASCII",
	"<org_name>O</org_name><report_id>\xc3\xa9"
	"</report_id><date_range><begin>1</begin><end>2"
	"</end></date_range>",
	NULL, "printable", 1},
    {"no date_range", "<org_name>O</org_name><report_id>x</report_id>", NULL,
	"date_range", 1},
    {"begin not a number",
	"<org_name>O</org_name><report_id>x</report_id>"
	"<date_range><begin>-1</begin><end>2</end>"
	"</date_range>",
	NULL, "begin", 1},
    {"end before begin",
	"<org_name>O</org_name><report_id>x</report_id>"
	"<date_range><begin>5</begin><end>2</end>"
	"</date_range>",
	NULL, "ends before", 1},
    {"begin past int64",
	"<org_name>O</org_name><report_id>x</report_id>"
	"<date_range><begin>9223372036854775808</begin><end>"
	"2</end></date_range>",
	NULL, "begin", 1},
    {"no policy domain", meta_ok, "<p>none</p>", "policy_published domain", 1},
    {"unknown p", meta_ok, "<domain>d.example</domain><p>maybe</p>",
	"policy_published p", 1},
    {"no record", meta_ok, NULL, "no record", 0},
};

static void
test_bad(void)
{
	struct report_parse rp;
	struct buf          d;
	size_t              i;
	char                rid[600];
	static const char  *bad_xml[][2] = {
	     {"not well-formed", "<feedback><report_metadata>"},
	     {"root not feedback", "<report/>"},
	     {"a DTD", "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY a "
			"\"aaaa\">]><feedback>&a;</feedback>"},
	     {"billion laughs",
		 "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		  "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
		  "]><feedback><x>&lol3;</x></feedback>"},
	     {"external entity", "<?xml version=\"1.0\"?><!DOCTYPE f [<!ENTITY "
				  "x SYSTEM \"file:///etc/passwd\">]><feedback>"
				  "&x;</feedback>"},
	     {"garbage", "\x01\x02\x03 not xml at all"},
        };
	static const char *why_xml[] = {
	    "xml", "feedback", "DTD", "DTD", "DTD", "xml"};

	report_parse_init(&rp);
	buf_init(&d, 0);
	for (i = 0; i < NELEM(bad_docs); i++) {
		t_casef("xml refused: %s", bad_docs[i].name);
		doc9990(
		    &d, bad_docs[i].meta, bad_docs[i].policy, bad_docs[i].nrec);
		t_assert_int_eq(
		    parse_doc(d.data, d.len, NULL, &rp), REPORT_PARSE_BAD);
		t_assert(strstr(rp.reason, bad_docs[i].why) != NULL);
	}
	for (i = 0; i < NELEM(bad_xml); i++) {
		t_casef("xml refused: %s", bad_xml[i][0]);
		t_assert_int_eq(
		    parse_doc(bad_xml[i][1], strlen(bad_xml[i][1]), NULL, &rp),
		    REPORT_PARSE_BAD);
		t_assert(strstr(rp.reason, why_xml[i]) != NULL);
	}

	t_case("xml refused: a NUL byte inside (CVE-2020-12460 class)");
	doc9990(&d, NULL, NULL, 1);
	memcpy(strstr(d.data, "Sample"), "Sam\0le", 6);
	t_assert_int_eq(parse_doc(d.data, d.len, NULL, &rp), REPORT_PARSE_BAD);
	t_assert(strstr(rp.reason, "xml") != NULL);

	t_case("xml refused: report_id of 256 bytes; 255 accepted");
	memset(rid, 'a', sizeof(rid));
	snprintf(rid, sizeof(rid),
	    "<org_name>O</org_name><report_id>%.*s</report_id><date_range>"
	    "<begin>1</begin><end>2</end></date_range>",
	    256,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaa");
	doc9990(&d, rid, NULL, 1);
	t_assert_int_eq(parse_doc(d.data, d.len, NULL, &rp), REPORT_PARSE_BAD);
	t_assert(strstr(rp.reason, "report_id of 256") != NULL);
	snprintf(rid, sizeof(rid),
	    "<org_name>O</org_name><report_id>%.*s</report_id><date_range>"
	    "<begin>1</begin><end>2</end></date_range>",
	    255,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaa");
	doc9990(&d, rid, NULL, 1);
	t_assert_int_eq(parse_doc(d.data, d.len, NULL, &rp), REPORT_PARSE_OK);
	t_assert_int_eq(strlen(rp.rep.report_id), 255);

	t_case("xml: a long org_name is cut to STORE_RX_ORG_MAX");
	snprintf(rid, sizeof(rid),
	    "<org_name>%.*s</org_name><report_id>x</report_id><date_range>"
	    "<begin>1</begin><end>2</end></date_range>",
	    260,
	    "ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
	    "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
	    "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
	    "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
	    "oooooooooooooooooooo");
	doc9990(&d, rid, NULL, 1);
	t_assert_int_eq(parse_doc(d.data, d.len, NULL, &rp), REPORT_PARSE_OK);
	t_assert_int_eq(strlen(rp.rep.org), STORE_RX_ORG_MAX);
	buf_free(&d);
	report_parse_free(&rp);
}

static void
test_limits(void)
{
	struct report_parse        rp;
	struct report_parse_params small = {.max_rows = 3, .max_depth = 6};
	struct buf                 d, gz, deep;
	char                      *zeros;
	size_t                     i;

	report_parse_init(&rp);
	buf_init(&d, 0);
	buf_init(&gz, 0);
	buf_init(&deep, 0);
	t_case("limits: max_rows records pass, one more is refused");
	doc9990(&d, NULL, NULL, 3);
	t_assert_int_eq(parse_doc(d.data, d.len, &small, &rp), REPORT_PARSE_OK);
	doc9990(&d, NULL, NULL, 4);
	t_assert_int_eq(
	    parse_doc(d.data, d.len, &small, &rp), REPORT_PARSE_BAD);
	t_assert(strstr(rp.reason, "more than 3 records") != NULL);

	t_case("limits: nesting past max_depth is refused");
	buf_append_str(&deep, "<feedback>");
	for (i = 0; i < 10; i++)
		buf_append_str(&deep, "<extension>");
	t_assert_int_eq(
	    parse_doc(deep.data, deep.len, &small, &rp), REPORT_PARSE_BAD);
	t_assert(strstr(rp.reason, "deeper than 6") != NULL);
	buf_reset(&deep);
	buf_append_str(&deep, "<feedback>");
	for (i = 0; i < 300; i++)
		buf_append_str(&deep, "<x>");
	t_assert_int_eq(
	    parse_doc(deep.data, deep.len, NULL, &rp), REPORT_PARSE_BAD);
	t_assert(strstr(rp.reason, "deeper than 16") != NULL);

	t_case("limits: gzip of a report is read");
	doc9990(&d, NULL, NULL, 2);
	gzip_buf(d.data, d.len, &gz);
	t_assert_int_eq(parse_doc(gz.data, gz.len, NULL, &rp), REPORT_PARSE_OK);
	t_assert_str_eq(rp.form, "gzip");
	t_assert_int_eq(rp.messages, 246);

	t_case("limits: a truncated gzip is refused");
	t_assert_int_eq(
	    parse_doc(gz.data, gz.len / 2, NULL, &rp), REPORT_PARSE_BAD);
	t_assert(strstr(rp.reason, "gzip") != NULL);

	t_case("limits: a gzip bomb stops at max_xml");
	zeros = calloc(1, 8 * 1024 * 1024);
	t_assert(zeros != NULL);
	if (zeros != NULL) {
		struct report_parse_params one = {.max_xml = 1024 * 1024};

		gzip_buf(zeros, 8 * 1024 * 1024, &gz);
		t_assert(gz.len < 16 * 1024);
		t_assert_int_eq(
		    parse_doc(gz.data, gz.len, &one, &rp), REPORT_PARSE_BAD);
		t_assert(strstr(rp.reason, "more than 1048576 bytes") != NULL);
		t_assert(rp.xml.len <= 1024 * 1024);
		free(zeros);
	}
	buf_free(&d);
	buf_free(&gz);
	buf_free(&deep);
	report_parse_free(&rp);
}

static void
test_mime(void)
{
	static const struct {
		const char *name, *ctype, *fname, *cte;
		bool        gz;
		int         want;
	} forms[] = {
	    {"application/gzip, base64", "application/gzip",
		"r!example.com!1!2.xml.gz", "base64", true, REPORT_PARSE_OK},
	    {"application/x-gzip, base64", "application/x-gzip", NULL, "base64",
		true, REPORT_PARSE_OK},
	    {"octet-stream named .xml.gz", "application/octet-stream",
		"r.xml.gz", "base64", true, REPORT_PARSE_OK},
	    {"octet-stream unnamed, gzip inside", "application/octet-stream",
		NULL, "base64", true, REPORT_PARSE_OK},
	    {"octet-stream named .pdf: no report", "application/octet-stream",
		"r.pdf", "base64", true, REPORT_PARSE_NONE},
	    {"text/xml, 7bit", "text/xml", NULL, "7bit", false,
		REPORT_PARSE_OK},
	    {"application/xml, quoted-printable", "application/xml", NULL,
		"quoted-printable", false, REPORT_PARSE_OK},
	    {"text/plain only: no report", "text/plain", NULL, "7bit", false,
		REPORT_PARSE_NONE},
	};
	struct report_parse rp;
	struct buf          d, gz, m;
	size_t              i;
	const char         *body;
	size_t              blen;
	static const char   whole[] =
	    "From: a@b\nSubject: x\nContent-Type: text/xml\n\n"
	    "<feedback><report_metadata><org_name>W</org_name><report_id>w1"
	    "</report_id><date_range><begin>1</begin><end>2</end>"
	    "</date_range></report_metadata><policy_published><domain>"
	    "w.example</domain></policy_published><record><row><source_ip>"
	    "192.0.2.1</source_ip><count>4</count><policy_evaluated>"
	    "<disposition>none</disposition><dkim>fail</dkim><spf>fail</spf>"
	    "</policy_evaluated></row><identifiers><header_from>w.example"
	    "</header_from></identifiers><auth_results/></record></feedback>\n";

	report_parse_init(&rp);
	buf_init(&d, 0);
	buf_init(&gz, 0);
	buf_init(&m, 4 * 1024 * 1024);
	doc9990(&d, NULL, NULL, 2);
	gzip_buf(d.data, d.len, &gz);
	for (i = 0; i < NELEM(forms); i++) {
		t_casef("mime: %s", forms[i].name);
		body = forms[i].gz ? gz.data : d.data;
		blen = forms[i].gz ? gz.len : d.len;
		mail(&m, forms[i].ctype, forms[i].fname, forms[i].cte, body,
		    blen);
		t_assert_int_eq(parse_mail(m.data, m.len, &rp), forms[i].want);
		if (forms[i].want == REPORT_PARSE_OK)
			t_assert_int_eq(rp.messages, 246);
	}

	t_case("mime: the report as the whole body");
	t_assert_int_eq(parse_mail(whole, strlen(whole), &rp), REPORT_PARSE_OK);
	t_assert_str_eq(rp.rep.org, "W");
	t_assert_int_eq(rp.messages, 4);

	t_case("mime: a NUL in the header and garbage are no report");
	t_assert_int_eq(
	    parse_mail("From: a\0b\nContent-Type: text/plain\n\nx", 36, &rp),
	    REPORT_PARSE_NONE);
	t_assert_int_eq(
	    parse_mail("\xff\xfe\0\0garbage", 11, &rp), REPORT_PARSE_NONE);
	t_assert_int_eq(parse_mail("", 0, &rp), REPORT_PARSE_NONE);

	t_case("mime: a mail larger than max_mail is refused");
	{
		struct report_parse_params tiny = {.max_mail = 10};
		struct am_err              err = {""};

		t_assert_int_eq(
		    report_parse_mail(whole, strlen(whole), &tiny, &rp, &err),
		    REPORT_PARSE_BAD);
		t_assert(strstr(rp.reason, "larger than 10") != NULL);
	}

	t_case("mime: multiparts nested past the depth are not walked");
	buf_reset(&m);
	buf_append_str(&m, "Content-Type: multipart/mixed; boundary=b0\n\n");
	for (i = 1; i < 12; i++)
		buf_printf(&m,
		    "--b%zu\nContent-Type: multipart/mixed; "
		    "boundary=b%zu\n\n",
		    i - 1, i);
	buf_printf(
	    &m, "--b11\nContent-Type: text/xml\n\n%s\n--b11--\n", d.data);
	t_assert_int_eq(parse_mail(m.data, m.len, &rp), REPORT_PARSE_NONE);
	buf_free(&d);
	buf_free(&gz);
	buf_free(&m);
	report_parse_free(&rp);
}

int
main(void)
{
	test_9990();
	test_7489();
	test_bad();
	test_limits();
	test_mime();
	return t_done();
}

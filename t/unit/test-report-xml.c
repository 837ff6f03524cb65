/*
 * test-report-xml: the RFC 9990 report writer, gzip, file name, Subject
 * and mail. Every document made is parsed back with libxml2 and checked
 * with XPath (values and element order), and written as NAME.xml into the
 * directory given as argv[1], where t/unit/report-xml.sh validates each
 * one against the RFC's schema with xmllint. The mail of the mail case is
 * written there too (mail.eml, mail.gz) for the script's second parser.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <zlib.h>

#include "buf.h"
#include "err.h"
#include "report.h"
#include "report_xml.h"
#include "test.h"

#define NS "urn:ietf:params:xml:ns:dmarc-2.0"

/* The ceiling of the buffers that hold whole reports. */
#define BIG (64 * 1024 * 1024)

static const char *outdir;
static size_t      nwritten;

static struct report_meta
meta0(void)
{
	struct report_meta m = {
	    .org_name = "Example Receiver",
	    .email = "dmarc-reports@mail.receiver.example",
	    .report_id = "abc123",
	    .begin = 1013662812,
	    .end = 1013749130,
	};
	return m;
}

static struct report_policy_pub
pol0(void)
{
	struct report_policy_pub p;

	memset(&p, 0, sizeof(p));
	strcpy(p.domain, "example.com");
	p.p = REPORT_POLICY_QUARANTINE;
	return p;
}

static struct report_row
row0(void)
{
	struct report_row r;

	memset(&r, 0, sizeof(r));
	strcpy(r.source_ip, "192.0.2.1");
	r.disposition = REPORT_DIS_PASS;
	r.dkim_aligned = true;
	strcpy(r.header_from, "example.com");
	strcpy(r.envelope_from, "bounce.example.com");
	r.ndkim = 1;
	strcpy(r.dkim[0].domain, "example.com");
	strcpy(r.dkim[0].selector, "sel1");
	r.dkim[0].result = REPORT_AUTH_PASS;
	r.has_spf = true;
	strcpy(r.spf_domain, "bounce.example.com");
	r.spf_result = REPORT_AUTH_SOFTFAIL;
	return r;
}

/* Writes the document for the shell script's schema check. */
static void
save(const char *name, const char *ext, const struct buf *b)
{
	char  path[4096];
	FILE *f;

	if (outdir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.%s", outdir, name, ext);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
		t_check(false, __FILE__, __LINE__, path);
		return;
	}
	if (strcmp(ext, "xml") == 0)
		nwritten++;
}

/* One report of n rows; 0 or -1 as report_xml_end() says. */
static int
build(const char *name, const struct report_meta *m,
    const struct report_policy_pub *p, const struct report_row *rows, size_t n,
    struct buf *out)
{
	struct report_xml *x;
	struct am_err      err;
	size_t             i;

	buf_init(out, BIG);
	if ((x = report_xml_begin(m, p, &err)) == NULL) {
		printf("  begin: %s\n", err.msg);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (report_xml_add(x, &rows[i], i + 1, &err) < 0) {
			printf("  add: %s\n", err.msg);
			report_xml_free(x);
			return -1;
		}
	if (report_xml_end(x, out, &err) < 0) {
		printf("  end: %s\n", err.msg);
		return -1;
	}
	save(name, "xml", out);
	return 0;
}

/* Parsed documents and XPath over them, with "d" for the namespace. */
struct doc {
	xmlDocPtr          doc;
	xmlXPathContextPtr ctx;
	char               str[4096];
};

static bool
doc_open(struct doc *d, const struct buf *b)
{
	d->ctx = NULL;
	/* No recovery: a document libxml2 finds ill-formed fails here. */
	d->doc = xmlReadMemory(
	    b->data, (int)b->len, "report.xml", NULL, XML_PARSE_NONET);
	if (d->doc == NULL)
		return false;
	if ((d->ctx = xmlXPathNewContext(d->doc)) == NULL ||
	    xmlXPathRegisterNs(
		d->ctx, (const xmlChar *)"d", (const xmlChar *)NS) != 0)
		return false;
	return true;
}

static void
doc_close(struct doc *d)
{
	if (d->ctx != NULL)
		xmlXPathFreeContext(d->ctx);
	if (d->doc != NULL)
		xmlFreeDoc(d->doc);
	d->ctx = NULL;
	d->doc = NULL;
}

/* The string value of an XPath expression ("string(...)", "count(...)"). */
static const char *
xp(struct doc *d, const char *expr)
{
	xmlXPathObjectPtr o;
	xmlChar          *s;

	d->str[0] = '\0';
	if (d->ctx == NULL)
		return "(no document)";
	o = xmlXPathEvalExpression((const xmlChar *)expr, d->ctx);
	if (o == NULL)
		return "(bad xpath)";
	s = xmlXPathCastToString(o);
	snprintf(d->str, sizeof(d->str), "%s", s ? (const char *)s : "");
	xmlFree(s);
	xmlXPathFreeObject(o);
	return d->str;
}

/* The local names of the element children of the first node expr
 * selects, comma-separated, with a check that each is in our namespace. */
static const char *
kids(struct doc *d, const char *expr)
{
	xmlXPathObjectPtr o;
	xmlNodePtr        n;
	size_t            len = 0;

	d->str[0] = '\0';
	if (d->ctx == NULL)
		return "(no document)";
	o = xmlXPathEvalExpression((const xmlChar *)expr, d->ctx);
	if (o == NULL || o->nodesetval == NULL || o->nodesetval->nodeNr == 0) {
		xmlXPathFreeObject(o);
		return "(no node)";
	}
	for (n = o->nodesetval->nodeTab[0]->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (n->ns == NULL || strcmp((const char *)n->ns->href, NS) != 0)
			len += (size_t)snprintf(d->str + len,
			    sizeof(d->str) - len, "%s", "(no ns)");
		len += (size_t)snprintf(d->str + len, sizeof(d->str) - len,
		    "%s%s", len ? "," : "", (const char *)n->name);
		if (len >= sizeof(d->str))
			break;
	}
	xmlXPathFreeObject(o);
	return d->str;
}

static const char golden_one_row[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n"
    "  <version>1.0</version>\n"
    "  <report_metadata>\n"
    "    <org_name>Example Receiver</org_name>\n"
    "    <email>dmarc-reports@mail.receiver.example</email>\n"
    "    <report_id>abc123</report_id>\n"
    "    <date_range>\n"
    "      <begin>1013662812</begin>\n"
    "      <end>1013749130</end>\n"
    "    </date_range>\n"
    "    <generator>authmilter " PACKAGE_VERSION "</generator>\n"
    "  </report_metadata>\n"
    "  <policy_published>\n"
    "    <domain>example.com</domain>\n"
    "    <p>quarantine</p>\n"
    "    <adkim>r</adkim>\n"
    "    <aspf>r</aspf>\n"
    "    <discovery_method>treewalk</discovery_method>\n"
    "    <testing>n</testing>\n"
    "  </policy_published>\n"
    "  <record>\n"
    "    <row>\n"
    "      <source_ip>192.0.2.1</source_ip>\n"
    "      <count>1</count>\n"
    "      <policy_evaluated>\n"
    "        <disposition>pass</disposition>\n"
    "        <dkim>pass</dkim>\n"
    "        <spf>fail</spf>\n"
    "      </policy_evaluated>\n"
    "    </row>\n"
    "    <identifiers>\n"
    "      <header_from>example.com</header_from>\n"
    "      <envelope_from>bounce.example.com</envelope_from>\n"
    "    </identifiers>\n"
    "    <auth_results>\n"
    "      <dkim>\n"
    "        <domain>example.com</domain>\n"
    "        <selector>sel1</selector>\n"
    "        <result>pass</result>\n"
    "      </dkim>\n"
    "      <spf>\n"
    "        <domain>bounce.example.com</domain>\n"
    "        <scope>mfrom</scope>\n"
    "        <result>softfail</result>\n"
    "      </spf>\n"
    "    </auth_results>\n"
    "  </record>\n"
    "</feedback>\n";

static void
test_zero_rows(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_xml       *x;
	struct am_err            err;
	struct buf               out;

	t_case("xml: a report without records fails, out untouched");
	buf_init(&out, 0);
	buf_append_str(&out, "keep");
	x = report_xml_begin(&m, &p, &err);
	t_assert(x != NULL);
	t_assert_int_eq(report_xml_end(x, &out, &err), -1);
	t_assert_str_eq(err.msg, "report: no records");
	t_assert_str_eq(buf_cstr(&out), "keep");
	buf_free(&out);
}

static void
test_one_row(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_row        r = row0();
	struct buf               out;
	struct doc               d;

	t_case("xml: one row, the whole document byte for byte");
	t_assert_int_eq(build("one-row", &m, &p, &r, 1, &out), 0);
	t_assert_str_eq(buf_cstr(&out), golden_one_row);

	t_case("xml: one row, parsed back: order and values");
	t_assert(doc_open(&d, &out));
	t_assert_str_eq(kids(&d, "/d:feedback"),
	    "version,report_metadata,policy_published,record");
	t_assert_str_eq(kids(&d, "/d:feedback/d:report_metadata"),
	    "org_name,email,report_id,date_range,generator");
	t_assert_str_eq(kids(&d, "//d:date_range"), "begin,end");
	t_assert_str_eq(kids(&d, "//d:record"), "row,identifiers,auth_results");
	t_assert_str_eq(
	    kids(&d, "//d:row"), "source_ip,count,policy_evaluated");
	t_assert_str_eq(
	    kids(&d, "//d:policy_evaluated"), "disposition,dkim,spf");
	t_assert_str_eq(
	    kids(&d, "//d:identifiers"), "header_from,envelope_from");
	t_assert_str_eq(kids(&d, "//d:auth_results"), "dkim,spf");
	t_assert_str_eq(
	    kids(&d, "//d:auth_results/d:dkim"), "domain,selector,result");
	t_assert_str_eq(
	    kids(&d, "//d:auth_results/d:spf"), "domain,scope,result");
	t_assert_str_eq(xp(&d, "string(//d:report_id)"), "abc123");
	t_assert_str_eq(xp(&d, "string(//d:source_ip)"), "192.0.2.1");
	t_assert_str_eq(xp(&d, "count(//d:pct)"), "0");
	doc_close(&d);
	buf_free(&out);
}

static void
test_meta_optional(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_row        r = row0();
	struct buf               out;
	struct doc               d;

	t_case("xml: extra_contact_info, error and generator set");
	m.extra_contact_info = "https://receiver.example/dmarc";
	m.error = "multiple DMARC records at _dmarc.example.com";
	m.generator = "Test Generator 9";
	t_assert_int_eq(build("meta-all", &m, &p, &r, 1, &out), 0);
	t_assert(doc_open(&d, &out));
	t_assert_str_eq(kids(&d, "//d:report_metadata"),
	    "org_name,email,extra_contact_info,report_id,date_range,error,"
	    "generator");
	t_assert_str_eq(xp(&d, "string(//d:extra_contact_info)"),
	    "https://receiver.example/dmarc");
	t_assert_str_eq(xp(&d, "string(//d:error)"),
	    "multiple DMARC records at _dmarc.example.com");
	t_assert_str_eq(xp(&d, "string(//d:generator)"), "Test Generator 9");
	doc_close(&d);
	buf_free(&out);
}

static const struct {
	const char *name;
	size_t      ndkim;
	bool        spf;
	const char *kids;
} auth_cases[] = {
    {"dkim0-nospf", 0, false, ""},
    {"dkim0-spf", 0, true, "spf"},
    {"dkim1-nospf", 1, false, "dkim"},
    {"dkim1-spf", 1, true, "dkim,spf"},
    {"dkim3-nospf", 3, false, "dkim,dkim,dkim"},
    {"dkim3-spf", 3, true, "dkim,dkim,dkim,spf"},
    {"dkim8-spf", 8, true, "dkim,dkim,dkim,dkim,dkim,dkim,dkim,dkim,spf"},
};

static void
test_auth_results(void)
{
	static const enum report_auth res[] = {REPORT_AUTH_PASS,
	    REPORT_AUTH_FAIL, REPORT_AUTH_NONE, REPORT_AUTH_POLICY,
	    REPORT_AUTH_NEUTRAL, REPORT_AUTH_TEMPERROR, REPORT_AUTH_PERMERROR,
	    REPORT_AUTH_PASS};
	static const char *const resname[] = {"pass", "fail", "none", "policy",
	    "neutral", "temperror", "permerror", "pass"};
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct buf               out;
	struct doc               d;
	size_t                   i, k;
	char                     q[256], want[96];

	for (i = 0; i < sizeof(auth_cases) / sizeof(auth_cases[0]); i++) {
		struct report_row r = row0();

		t_casef("xml: auth_results %s", auth_cases[i].name);
		r.ndkim = auth_cases[i].ndkim;
		for (k = 0; k < r.ndkim; k++) {
			snprintf(r.dkim[k].domain, sizeof(r.dkim[k].domain),
			    "d%zu.example", k);
			snprintf(r.dkim[k].selector, sizeof(r.dkim[k].selector),
			    "s%zu", k);
			r.dkim[k].result = res[k];
		}
		r.has_spf = auth_cases[i].spf;
		t_assert_int_eq(
		    build(auth_cases[i].name, &m, &p, &r, 1, &out), 0);
		t_assert(doc_open(&d, &out));
		t_assert_str_eq(
		    kids(&d, "//d:auth_results"), auth_cases[i].kids);
		for (k = 0; k < r.ndkim; k++) {
			snprintf(q, sizeof(q),
			    "concat(//d:auth_results/d:dkim[%zu]/d:domain,"
			    "'/',//d:auth_results/d:dkim[%zu]/d:selector,'/',"
			    "//d:auth_results/d:dkim[%zu]/d:result)",
			    k + 1, k + 1, k + 1);
			snprintf(want, sizeof(want), "d%zu.example/s%zu/%s", k,
			    k, resname[k]);
			t_assert_str_eq(xp(&d, q), want);
		}
		if (r.has_spf)
			t_assert_str_eq(xp(&d, "concat(//d:auth_results/d:spf/"
					       "d:domain,'/',//d:auth_results/"
					       "d:spf/d:result)"),
			    "bounce.example.com/softfail");
		doc_close(&d);
		buf_free(&out);
	}
}

static void
test_spf_results(void)
{
	static const char *const names[] = {"none", "pass", "fail", "softfail",
	    "policy", "neutral", "temperror", "permerror"};
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_row        rows[8];
	struct buf               out;
	struct doc               d;
	char                     q[96];
	unsigned                 i;

	t_case("xml: every SPF result, in record order");
	for (i = 0; i < 8; i++) {
		rows[i] = row0();
		rows[i].spf_result = (enum report_auth)i;
	}
	t_assert_int_eq(build("spf-results", &m, &p, rows, 8, &out), 0);
	t_assert(doc_open(&d, &out));
	for (i = 0; i < 8; i++) {
		snprintf(q, sizeof(q), "string(//d:record[%u]//d:spf/d:result)",
		    i + 1);
		t_assert_str_eq(xp(&d, q), names[i]);
		snprintf(
		    q, sizeof(q), "string(//d:record[%u]//d:count)", i + 1);
		t_assert_int_eq(atoi(xp(&d, q)), i + 1);
	}
	doc_close(&d);
	buf_free(&out);
}

static const struct {
	const char *name;
	unsigned    reasons;
	const char *types; /* the type of each reason, in order */
} reason_cases[] = {
    {"none", 0, ""},
    {"policy_test_mode", REPORT_REASON_POLICY_TEST_MODE, "policy_test_mode"},
    {"local_policy", REPORT_REASON_LOCAL_POLICY, "local_policy"},
    {"trusted_forwarder", REPORT_REASON_TRUSTED_FORWARDER, "trusted_forwarder"},
    {"mailing_list", REPORT_REASON_MAILING_LIST, "mailing_list"},
    {"other", REPORT_REASON_OTHER, "other"},
    {"two", REPORT_REASON_OTHER | REPORT_REASON_LOCAL_POLICY,
	"local_policy,other"},
    {"all", REPORT_REASON_ALL,
	"policy_test_mode,local_policy,trusted_forwarder,mailing_list,other"},
};

static void
test_reasons(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct buf               out;
	struct doc               d;
	char                     name[64], got[256], q[96];
	size_t                   i, k, n;

	for (i = 0; i < sizeof(reason_cases) / sizeof(reason_cases[0]); i++) {
		struct report_row r = row0();

		t_casef("xml: reason %s", reason_cases[i].name);
		r.reasons = reason_cases[i].reasons;
		r.disposition = REPORT_DIS_NONE;
		r.dkim_aligned = false;
		snprintf(name, sizeof(name), "reason-%s", reason_cases[i].name);
		t_assert_int_eq(build(name, &m, &p, &r, 1, &out), 0);
		t_assert(doc_open(&d, &out));
		n = (size_t)atoi(xp(&d, "count(//d:reason)"));
		got[0] = '\0';
		for (k = 0; k < n; k++) {
			snprintf(q, sizeof(q), "string(//d:reason[%zu]/d:type)",
			    k + 1);
			if (k > 0)
				strcat(got, ",");
			strcat(got, xp(&d, q));
			snprintf(q, sizeof(q), "//d:reason[%zu]", k + 1);
			t_assert_str_eq(kids(&d, q), "type");
		}
		t_assert_str_eq(got, reason_cases[i].types);
		/* Reasons follow spf inside policy_evaluated. */
		snprintf(q, sizeof(q), "%.*s",
		    (int)strcspn(reason_cases[i].types, ","),
		    reason_cases[i].types);
		t_assert_str_eq(xp(&d, "string(//d:policy_evaluated/d:*[4]/"
				       "d:type)"),
		    q);
		t_assert_str_eq(
		    xp(&d, "string(//d:policy_evaluated/d:dkim)"), "fail");
		doc_close(&d);
		buf_free(&out);
	}
}

static void
test_dispositions(void)
{
	static const char *const names[] = {
	    "none", "pass", "quarantine", "reject"};
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct buf               out;
	struct doc               d;
	char                     name[64];
	unsigned                 i;

	for (i = 0; i < 4; i++) {
		struct report_row r = row0();

		t_casef("xml: disposition %s", names[i]);
		r.disposition = (enum report_disposition)i;
		r.spf_aligned = i % 2 == 0;
		snprintf(name, sizeof(name), "disposition-%s", names[i]);
		t_assert_int_eq(build(name, &m, &p, &r, 1, &out), 0);
		t_assert(doc_open(&d, &out));
		t_assert_str_eq(xp(&d, "string(//d:disposition)"), names[i]);
		t_assert_str_eq(xp(&d, "string(//d:policy_evaluated/d:spf)"),
		    i % 2 == 0 ? "pass" : "fail");
		doc_close(&d);
		buf_free(&out);
	}
}

static const struct {
	const char        *name;
	enum report_policy p, sp, np;
	bool               adkim_s, aspf_s, testing;
	const char        *fo;
	const char        *kids;
	const char        *values; /* concat of p,sp,np,adkim,aspf,fo,testing */
} pol_cases[] = {
    {"p-only", REPORT_POLICY_REJECT, 0, 0, false, false, false, "",
	"domain,p,adkim,aspf,discovery_method,testing", "reject|||r|r||n"},
    {"p-unspec", REPORT_POLICY_UNSPEC, 0, 0, false, false, false, "",
	"domain,p,adkim,aspf,discovery_method,testing", "none|||r|r||n"},
    {"p-sp", REPORT_POLICY_NONE, REPORT_POLICY_QUARANTINE, 0, true, false,
	false, "", "domain,p,sp,adkim,aspf,discovery_method,testing",
	"none|quarantine||s|r||n"},
    {"p-np", REPORT_POLICY_QUARANTINE, 0, REPORT_POLICY_REJECT, false, true,
	false, "", "domain,p,np,adkim,aspf,discovery_method,testing",
	"quarantine||reject|r|s||n"},
    {"p-sp-np-fo-testing", REPORT_POLICY_REJECT, REPORT_POLICY_NONE,
	REPORT_POLICY_QUARANTINE, true, true, true, "1:d",
	"domain,p,sp,np,adkim,aspf,discovery_method,fo,testing",
	"reject|none|quarantine|s|s|1:d|y"},
    {"testing-y", REPORT_POLICY_NONE, 0, 0, false, false, true, "0",
	"domain,p,adkim,aspf,discovery_method,fo,testing", "none|||r|r|0|y"},
};

static void
test_policy_published(void)
{
	struct report_meta m = meta0();
	struct report_row  r = row0();
	struct buf         out;
	struct doc         d;
	char               name[64];
	size_t             i;

	for (i = 0; i < sizeof(pol_cases) / sizeof(pol_cases[0]); i++) {
		struct report_policy_pub p = pol0();

		t_casef("xml: policy_published %s", pol_cases[i].name);
		p.p = pol_cases[i].p;
		p.sp = pol_cases[i].sp;
		p.np = pol_cases[i].np;
		p.adkim_strict = pol_cases[i].adkim_s;
		p.aspf_strict = pol_cases[i].aspf_s;
		p.testing = pol_cases[i].testing;
		strcpy(p.fo, pol_cases[i].fo);
		strcpy(p.rua, "mailto:ignored@example.com");
		snprintf(name, sizeof(name), "policy-%s", pol_cases[i].name);
		t_assert_int_eq(build(name, &m, &p, &r, 1, &out), 0);
		t_assert(doc_open(&d, &out));
		t_assert_str_eq(
		    kids(&d, "//d:policy_published"), pol_cases[i].kids);
		t_assert_str_eq(xp(&d, "concat(//d:p,'|',//d:sp,'|',//d:np,'|',"
				       "//d:adkim,'|',//d:aspf,'|',//d:fo,'|',"
				       "//d:testing)"),
		    pol_cases[i].values);
		t_assert_str_eq(
		    xp(&d, "string(//d:discovery_method)"), "treewalk");
		t_assert(strstr(buf_cstr(&out), "rua") == NULL);
		doc_close(&d);
		buf_free(&out);
	}
}

static void
test_identifiers(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_row        r = row0();
	struct buf               out;
	struct doc               d;

	t_case("xml: identifiers without envelope_from, with envelope_to");
	r.envelope_from[0] = '\0';
	strcpy(r.envelope_to, "rcpt.example.net");
	t_assert_int_eq(build("identifiers-to", &m, &p, &r, 1, &out), 0);
	t_assert(doc_open(&d, &out));
	t_assert_str_eq(kids(&d, "//d:identifiers"), "header_from,envelope_to");
	t_assert_str_eq(xp(&d, "string(//d:envelope_to)"), "rcpt.example.net");
	doc_close(&d);
	buf_free(&out);

	t_case("xml: identifiers with both envelope names");
	r = row0();
	strcpy(r.envelope_to, "rcpt.example.net");
	t_assert_int_eq(build("identifiers-both", &m, &p, &r, 1, &out), 0);
	t_assert(doc_open(&d, &out));
	t_assert_str_eq(kids(&d, "//d:identifiers"),
	    "header_from,envelope_from,envelope_to");
	doc_close(&d);
	buf_free(&out);

	t_case("xml: IPv6 source");
	r = row0();
	strcpy(r.source_ip, "2001:db8::1");
	t_assert_int_eq(build("ipv6", &m, &p, &r, 1, &out), 0);
	t_assert(doc_open(&d, &out));
	t_assert_str_eq(xp(&d, "string(//d:source_ip)"), "2001:db8::1");
	doc_close(&d);
	buf_free(&out);
}

static void
test_many_rows(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_row       *rows;
	struct buf               out;
	struct doc               d;
	size_t                   i, n = 10000;

	t_case("xml: 10,000 rows");
	if ((rows = calloc(n, sizeof(*rows))) == NULL) {
		t_assert(rows != NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		rows[i] = row0();
		snprintf(rows[i].source_ip, sizeof(rows[i].source_ip),
		    "10.%zu.%zu.%zu", i >> 16, (i >> 8) & 255, i & 255);
		rows[i].ndkim = i % 4;
		rows[i].has_spf = i % 3 != 0;
	}
	/* The ceiling of out: the document is a few MB. */
	t_assert_int_eq(build("rows-10000", &m, &p, rows, n, &out), 0);
	t_assert(out.len > 3000000);
	t_assert(doc_open(&d, &out));
	t_assert_str_eq(xp(&d, "count(/d:feedback/d:record)"), "10000");
	/* Counts are i + 1 (build()): 10000 * 10001 / 2. */
	t_assert_str_eq(xp(&d, "sum(//d:count)"), "50005000");
	t_assert_str_eq(
	    xp(&d, "string(/d:feedback/d:record[10000]//d:source_ip)"),
	    "10.0.39.15");
	t_assert_str_eq(xp(&d, "count(//d:auth_results/d:spf)"), "6666");
	t_assert_str_eq(xp(&d, "count(//d:auth_results/d:dkim)"), "15000");
	doc_close(&d);
	buf_free(&out);
	free(rows);
}

static const struct {
	const char *name;
	const char *in;
	const char *want;     /* the text read back, meta (UTF-8) rules */
	const char *want_row; /* the same in a row field (ASCII rules) */
} hostile[] = {
    {"markup", "<a href=\"x\">&amp;'</a>", "<a href=\"x\">&amp;'</a>",
	"<a href=\"x\">&amp;'</a>"},
    {"cdata-end", "]]><![CDATA[", "]]><![CDATA[", "]]><![CDATA["},
    {"controls", "a\001b\tc\nd\re\033[31m\177", "a?b?c?d?e?[31m?",
	"a?b?c?d?e?[31m?"},
    {"latin1", "caf\xe9", "caf?", "caf?"},
    {"utf8-ok", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf?? ??? ????"},
    {"overlong", "\xc0\xaf\xe0\x80\xaf", "?????", "?????"},
    {"surrogate", "\xed\xa0\x80", "???", "???"},
    {"fffe", "\xef\xbf\xbe\xef\xbf\xbf", "??????", "??????"},
    {"c1", "\xc2\x85\xc2\x9f", "????", "????"},
    {"too-big", "\xf4\x90\x80\x80\xf5\x80", "??????", "??????"},
    {"truncated", "ok\xe2\x82", "ok??", "ok??"},
    {"lone-cont", "\x80\xbfx", "??x", "??x"},
    {"bad-then-good", "\xe2\xc3\xa9", "?\xc3\xa9", "???"},
};

static void
test_hostile(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct buf               out;
	struct doc               d;
	char                     name[64];
	size_t                   i;

	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct report_row r = row0();

		t_casef("xml: hostile text %s", hostile[i].name);
		m.org_name = hostile[i].in;
		m.error = hostile[i].in;
		strcpy(r.header_from, hostile[i].in);
		strcpy(r.dkim[0].selector, hostile[i].in);
		strcpy(r.spf_domain, hostile[i].in);
		strcpy(r.source_ip, hostile[i].in);
		strcpy(p.fo, "1\n<");
		snprintf(name, sizeof(name), "hostile-%s", hostile[i].name);
		t_assert_int_eq(build(name, &m, &p, &r, 1, &out), 0);
		/* The strict parse fails on anything ill-formed. */
		t_assert(doc_open(&d, &out));
		t_assert_str_eq(
		    xp(&d, "string(//d:org_name)"), hostile[i].want);
		t_assert_str_eq(xp(&d, "string(//d:error)"), hostile[i].want);
		t_assert_str_eq(
		    xp(&d, "string(//d:header_from)"), hostile[i].want_row);
		t_assert_str_eq(
		    xp(&d, "string(//d:dkim/d:selector)"), hostile[i].want_row);
		t_assert_str_eq(
		    xp(&d, "string(//d:auth_results/d:spf/d:domain)"),
		    hostile[i].want_row);
		t_assert_str_eq(
		    xp(&d, "string(//d:source_ip)"), hostile[i].want_row);
		t_assert_str_eq(xp(&d, "string(//d:fo)"), "1?<");
		t_assert(strstr(buf_cstr(&out), "<a href") == NULL);
		t_assert(strstr(buf_cstr(&out), "]]><!") == NULL);
		doc_close(&d);
		buf_free(&out);
	}

	t_case("xml: row fields without a NUL are cut at their size");
	{
		struct report_row r = row0();
		char              want[REPORT_NAME_MAX + 1];

		memset(r.header_from, 'a', sizeof(r.header_from));
		memset(r.dkim[0].selector, 's', sizeof(r.dkim[0].selector));
		memset(want, 'a', REPORT_NAME_MAX);
		want[REPORT_NAME_MAX] = '\0';
		m = meta0();
		p = pol0();
		t_assert_int_eq(
		    build("hostile-no-nul", &m, &p, &r, 1, &out), 0);
		t_assert(doc_open(&d, &out));
		t_assert_str_eq(xp(&d, "string(//d:header_from)"), want);
		want[REPORT_SEL_MAX] = '\0';
		memset(want, 's', REPORT_SEL_MAX);
		t_assert_str_eq(xp(&d, "string(//d:selector)"), want);
		doc_close(&d);
		buf_free(&out);
	}
}

static void
test_bad_rows(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_xml       *x;
	struct report_row        r;
	struct am_err            err;
	struct buf               out;
	struct doc               d;

	t_case("xml: rows the schema cannot hold are refused, writer usable");
	x = report_xml_begin(&m, &p, &err);
	t_assert(x != NULL);
	r = row0();
	t_assert_int_eq(report_xml_add(x, &r, 0, &err), -1);
	t_assert_str_eq(err.msg, "report: a record with count 0");
	r.disposition = (enum report_disposition)4;
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), -1);
	t_assert_str_eq(err.msg, "report: disposition 4 out of range");
	r = row0();
	r.reasons = 0x20;
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), -1);
	t_assert_str_eq(err.msg, "report: unknown reason bits 0x20");
	r = row0();
	r.ndkim = REPORT_MAX_DKIM + 1;
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), -1);
	t_assert_str_eq(err.msg, "report: 9 DKIM results (at most 8)");
	r = row0();
	r.dkim[0].result = REPORT_AUTH_SOFTFAIL;
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), -1);
	t_assert_str_eq(err.msg, "report: DKIM result 3 invalid");
	r.dkim[0].result = (enum report_auth)8;
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), -1);
	r = row0();
	r.spf_result = (enum report_auth)8;
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), -1);
	t_assert_str_eq(err.msg, "report: SPF result 8 invalid");
	r.has_spf = false; /* the result is not looked at without SPF */
	t_assert_int_eq(report_xml_add(x, &r, 7, &err), 0);
	buf_init(&out, 0);
	t_assert_int_eq(report_xml_end(x, &out, &err), 0);
	save("bad-rows-skipped", "xml", &out);
	t_assert(doc_open(&d, &out));
	t_assert_str_eq(xp(&d, "count(//d:record)"), "1");
	t_assert_str_eq(xp(&d, "string(//d:count)"), "7");
	t_assert_str_eq(kids(&d, "//d:auth_results"), "dkim");
	doc_close(&d);
	buf_free(&out);
}

static void
test_bad_begin(void)
{
	struct report_meta       m;
	struct report_policy_pub p;
	struct am_err            err;
	static const char        id65[] = "0123456789012345678901234567890123"
					  "4567890123456789012345678901234";
	static const char        id64[] = "0123456789012345678901234567890123"
					  "456789012345678901234567890123";
	struct report_xml       *x;

	t_case("xml: begin refuses bad metadata");
	m = meta0();
	p = pol0();
	m.org_name = NULL;
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	t_assert_str_eq(err.msg, "report: org_name and email are required");
	m = meta0();
	m.email = "";
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	m = meta0();
	m.report_id = "abc-123";
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	t_assert_str_eq(err.msg, "report: report id is not [A-Za-z0-9]{1,64}");
	m.report_id = "";
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	m.report_id = NULL;
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	m.report_id = id65;
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	m.report_id = id64;
	x = report_xml_begin(&m, &p, &err);
	t_assert(x != NULL);
	report_xml_free(x);
	m = meta0();
	m.end = m.begin - 1;
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	t_assert_str_eq(
	    err.msg, "report: bad date range 1013662812..1013662811");
	m = meta0();
	m.begin = -1;
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	m = meta0();
	p.domain[0] = '\0';
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	t_assert_str_eq(err.msg, "report: no policy domain");
	p = pol0();
	p.sp = (enum report_policy)4;
	t_assert(report_xml_begin(&m, &p, &err) == NULL);
	t_assert_str_eq(err.msg, "report: policy value out of range");
	report_xml_free(NULL);
}

static void
test_ceilings(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_row        r = row0();
	struct report_xml       *x;
	struct am_err            err;
	struct buf               out;
	int                      i, rc = 0;

	t_case("xml: the document's ceiling stops add and end");
	x = report_xml_begin(&m, &p, &err);
	t_assert(x != NULL);
	report_xml_set_max(x, 4000);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = report_xml_add(x, &r, 1, &err);
	t_assert_int_eq(rc, -1);
	t_assert(i > 1 && i < 10);
	t_assert_str_eq(err.msg, "report: larger than 4000 bytes");
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), -1);
	t_assert_str_eq(err.msg, "report: the writer failed earlier");
	buf_init(&out, 0);
	t_assert_int_eq(report_xml_end(x, &out, &err), -1);
	t_assert_int_eq(out.len, 0);

	t_case("xml: out's ceiling fails end, out untouched");
	x = report_xml_begin(&m, &p, &err);
	t_assert(x != NULL);
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), 0);
	buf_init(&out, 1000);
	buf_append_str(&out, "prefix");
	t_assert_int_eq(report_xml_end(x, &out, &err), -1);
	t_assert_str_eq(buf_cstr(&out), "prefix");
	t_assert(strncmp(err.msg, "report: ", 8) == 0 &&
		 strstr(err.msg, "bytes do not fit the output") != NULL);
	buf_free(&out);

	t_case("xml: end appends after what out holds");
	x = report_xml_begin(&m, &p, &err);
	t_assert(x != NULL);
	t_assert_int_eq(report_xml_add(x, &r, 1, &err), 0);
	buf_init(&out, 0);
	buf_append_str(&out, "prefix");
	t_assert_int_eq(report_xml_end(x, &out, &err), 0);
	t_assert(strncmp(buf_cstr(&out), "prefix<?xml ", 12) == 0);
	t_assert_int_eq(out.len, strlen("prefix") + strlen(golden_one_row));
	buf_free(&out);
}

/* Inflates a whole gzip stream; -1 on any zlib complaint or junk after. */
static int
gunzip(const struct buf *in, struct buf *out)
{
	unsigned char chunk[4096];
	z_stream      z;
	int           zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in->data;
	z.avail_in = (uInt)in->len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			inflateEnd(&z);
			return -1;
		}
		if (buf_append(out, chunk, sizeof(chunk) - z.avail_out) < 0) {
			inflateEnd(&z);
			return -1;
		}
	} while (zr != Z_STREAM_END);
	zr = z.avail_in == 0 ? 0 : -1;
	inflateEnd(&z);
	return zr;
}

static void
test_gzip(void)
{
	struct report_meta         m = meta0();
	struct report_policy_pub   p = pol0();
	struct report_row         *rows;
	struct buf                 xml, gz, gz2, back, small;
	struct am_err              err;
	size_t                     i, n = 3000;
	static const unsigned char head[10] = {
	    0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3};

	t_case("gzip: round trip of a 3,000-row report, exact bytes");
	rows = calloc(n, sizeof(*rows));
	t_assert(rows != NULL);
	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		rows[i] = row0();
		snprintf(rows[i].source_ip, sizeof(rows[i].source_ip),
		    "198.51.100.%zu", i % 256);
	}
	t_assert_int_eq(build("gzip-3000", &m, &p, rows, n, &xml), 0);
	free(rows);
	buf_init(&gz, 0);
	buf_init(&gz2, 0);
	buf_init(&back, BIG);
	t_assert_int_eq(report_gzip(&xml, &gz, &err), 0);
	t_assert(gz.len > 18 && gz.len < xml.len / 10);
	t_assert(gz.len >= 10 && memcmp(gz.data, head, 10) == 0);
	t_assert_int_eq(gunzip(&gz, &back), 0);
	t_assert_int_eq(back.len, xml.len);
	t_assert(
	    back.len == xml.len && memcmp(back.data, xml.data, xml.len) == 0);
	save("gzip-3000", "xml.gz", &gz);

	t_case("gzip: the same input gives the same bytes");
	t_assert_int_eq(report_gzip(&xml, &gz2, &err), 0);
	t_assert(gz.len == gz2.len && memcmp(gz.data, gz2.data, gz.len) == 0);

	t_case("gzip: appends to out");
	buf_reset(&gz2);
	buf_append_str(&gz2, "xy");
	t_assert_int_eq(report_gzip(&xml, &gz2, &err), 0);
	t_assert(gz2.len == gz.len + 2 && memcmp(gz2.data, "xy", 2) == 0 &&
		 memcmp(gz2.data + 2, gz.data, gz.len) == 0);

	t_case("gzip: out's ceiling fails, out untouched");
	buf_init(&small, 64);
	buf_append_str(&small, "ab");
	t_assert_int_eq(report_gzip(&xml, &small, &err), -1);
	t_assert_str_eq(err.msg, "gzip: output too large");
	t_assert_str_eq(buf_cstr(&small), "ab");
	buf_free(&small);

	t_case("gzip: empty input");
	buf_reset(&gz);
	buf_reset(&back);
	buf_free(&xml);
	t_assert_int_eq(report_gzip(&xml, &gz, &err), 0);
	t_assert_int_eq(gunzip(&gz, &back), 0);
	t_assert_int_eq(back.len, 0);
	buf_free(&gz);
	buf_free(&gz2);
	buf_free(&back);
}

static const struct {
	const char *name;
	const char *receiver, *domain;
	int64_t     begin, end;
	const char *id;
	const char *want; /* NULL: refused */
} fname_cases[] = {
    {"rfc example", "mail.receiver.example", "example.com", 1013662812,
	1013749130, "abc123",
	"mail.receiver.example!example.com!1013662812!1013749130!abc123."
	"xml.gz"},
    {"underscore hyphen digits", "mx-1.r_x.example", "9.example", 0, 0, "Z",
	"mx-1.r_x.example!9.example!0!0!Z.xml.gz"},
    {"bang in receiver", "a!b.example", "example.com", 1, 2, "x", NULL},
    {"slash in domain", "r.example", "../etc", 1, 2, "x", NULL},
    {"space in domain", "r.example", "example .com", 1, 2, "x", NULL},
    {"empty label", "r..example", "example.com", 1, 2, "x", NULL},
    {"leading dot", ".r.example", "example.com", 1, 2, "x", NULL},
    {"trailing dot", "r.example.", "example.com", 1, 2, "x", NULL},
    {"empty receiver", "", "example.com", 1, 2, "x", NULL},
    {"null domain", "r.example", NULL, 1, 2, "x", NULL},
    {"8-bit domain", "r.example", "ex\xc3\xa4mple.com", 1, 2, "x", NULL},
    {"label of 64",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"example",
	"example.com", 1, 2, "x", NULL},
    {"label of 63",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"example",
	"example.com", 1, 2, "x",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"example!example.com!1!2!x.xml.gz"},
    {"negative begin", "r.example", "example.com", -1, 2, "x", NULL},
    {"end before begin", "r.example", "example.com", 3, 2, "x", NULL},
    {"id with hyphen", "r.example", "example.com", 1, 2, "a-b", NULL},
    {"id with dot", "r.example", "example.com", 1, 2, "a.b", NULL},
    {"id with at", "r.example", "example.com", 1, 2, "a@b", NULL},
    {"empty id", "r.example", "example.com", 1, 2, "", NULL},
    {"id 65 chars", "r.example", "example.com", 1, 2,
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	NULL},
};

static void
test_names(void)
{
	struct buf out;
	size_t     i;
	char       big[300];

	for (i = 0; i < sizeof(fname_cases) / sizeof(fname_cases[0]); i++) {
		t_casef("file name: %s", fname_cases[i].name);
		buf_init(&out, 0);
		buf_append_str(&out, ">");
		t_assert_int_eq(
		    report_file_name(fname_cases[i].receiver,
			fname_cases[i].domain, fname_cases[i].begin,
			fname_cases[i].end, fname_cases[i].id, &out),
		    fname_cases[i].want ? 0 : -1);
		if (fname_cases[i].want != NULL)
			t_assert_str_eq(
			    buf_cstr(&out) + 1, fname_cases[i].want);
		else
			t_assert_str_eq(buf_cstr(&out), ">");
		buf_free(&out);
	}

	t_case("file name: a 253-character name is allowed, 254 is not");
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	memset(big, 'a', sizeof(big));
	big[63] = big[127] = big[191] = '.';
	big[253] = '\0';
	buf_init(&out, 0);
	t_assert_int_eq(
	    report_file_name(big, "example.com", 1, 2, "x", &out), 0);
	big[253] = 'a';
	big[254] = '\0';
	t_assert_int_eq(
	    report_file_name(big, "example.com", 1, 2, "x", &out), -1);
	buf_free(&out);

	t_case("file name: out's ceiling");
	buf_init(&out, 10);
	t_assert_int_eq(
	    report_file_name("r.example", "example.com", 1, 2, "x", &out), -1);
	t_assert_int_eq(out.len, 0);
	buf_free(&out);

	t_case("subject: RFC 9990 3.2, exact");
	buf_init(&out, 0);
	t_assert_int_eq(report_subject("example.com", "mail.receiver.example",
			    "abc123", &out),
	    0);
	t_assert_str_eq(buf_cstr(&out), "Report Domain: example.com "
					"Submitter: mail.receiver.example "
					"Report-ID: abc123");
	buf_free(&out);

	t_case("subject: refuses what the grammar cannot hold");
	buf_init(&out, 0);
	t_assert_int_eq(
	    report_subject("example.com\r\nBcc: x", "r.example", "a", &out),
	    -1);
	t_assert_int_eq(
	    report_subject("example.com", "r example", "a", &out), -1);
	t_assert_int_eq(
	    report_subject("example.com", "r.example", "<a@b>", &out), -1);
	t_assert_int_eq(
	    report_subject("example.com", "r.example", "", &out), -1);
	t_assert_int_eq(report_subject(NULL, "r.example", "a", &out), -1);
	t_assert_int_eq(out.len, 0);
	buf_free(&out);
}

/* Base64 back to bytes (RFC 4648 alphabet, LF between lines); -1 on any
 * other character, a line over 76, or bad padding. */
static int
unbase64(const char *p, size_t n, struct buf *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long     v = 0;
	size_t            i, q = 0, col = 0, pad = 0;
	const char       *c;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			col = 0;
			continue;
		}
		if (++col > 76)
			return -1;
		if (p[i] == '=') {
			pad++;
			v <<= 6;
		} else if (pad > 0 || (c = strchr(b64, p[i])) == NULL ||
			   p[i] == '\0') {
			return -1;
		} else {
			v = v << 6 | (unsigned long)(c - b64);
		}
		if (++q == 4) {
			unsigned char o[3] = {(unsigned char)(v >> 16),
			    (unsigned char)(v >> 8), (unsigned char)v};
			if (pad > 2 || buf_append(out, o, 3 - pad) < 0)
				return -1;
			q = 0;
			v = 0;
		}
	}
	return q == 0 ? 0 : -1;
}

static const char golden_mail[] =
    "From: DMARC reports <dmarc-reports@mail.receiver.example>\n"
    "To: dmarc@example.com\n"
    "Subject: Report Domain: example.com Submitter: mail.receiver.example\n"
    " Report-ID: abc123\n"
    "Date: Thu, 03 Dec 2026 07:17:26 +0000\n"
    "Message-ID: <abc123.1796282246.11d34233998106e3@mail.receiver.example>\n"
    "MIME-Version: 1.0\n"
    "Auto-Submitted: auto-generated\n"
    "Content-Type: multipart/mixed;\n"
    " boundary=\"=_am_d6c08e861519b96e_0\"\n"
    "\n"
    "--=_am_d6c08e861519b96e_0\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "This is a DMARC aggregate report for example.com.\n"
    "--=_am_d6c08e861519b96e_0\n"
    "Content-Type: application/gzip;\n"
    " name=\"mail.receiver.example!example.com!1013662812!1013749130!"
    "abc123.xml.gz\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment;\n"
    " filename=\"mail.receiver.example!example.com!1013662812!1013749130!"
    "abc123.xml.gz\"\n"
    "\n"
    "aGVsbG8=\n"
    "--=_am_d6c08e861519b96e_0--\n";

static struct report_mail_in
mail0(const struct buf *gz)
{
	struct report_mail_in in = {
	    .from = "DMARC reports <dmarc-reports@mail.receiver.example>",
	    .to = "dmarc@example.com",
	    .subject = "Report Domain: example.com Submitter: "
		       "mail.receiver.example Report-ID: abc123",
	    .file_name = "mail.receiver.example!example.com!1013662812!"
			 "1013749130!abc123.xml.gz",
	    .message_id_domain = "mail.receiver.example",
	    .text = "This is a DMARC aggregate report for example.com.\n",
	    .date = 1796282246,
	    .gz = gz,
	};
	return in;
}

/* Where the body of the attachment starts and ends in a mail. */
static bool
attachment(const struct buf *mail, const char **p, size_t *n)
{
	const char *s = buf_cstr(mail), *a, *e;

	if ((a = strstr(s, "Content-Disposition: attachment;")) == NULL ||
	    (a = strstr(a, "\n\n")) == NULL ||
	    (e = strstr(a + 2, "\n--=_am_")) == NULL)
		return false;
	*p = a + 2;
	*n = (size_t)(e - (a + 2));
	return true;
}

static void
test_mail(void)
{
	struct report_meta       m = meta0();
	struct report_policy_pub p = pol0();
	struct report_row        r = row0();
	struct report_mail_in    in;
	struct buf               gz, xml, mail, mail2, dec;
	struct am_err            err;
	const char              *a = NULL, *line;
	size_t                   an = 0, len;
	char                     long_to[1100];
	bool                     ok;

	t_case("mail: the whole message byte for byte");
	buf_init(&gz, 0);
	buf_append_str(&gz, "hello");
	in = mail0(&gz);
	buf_init(&mail, 0);
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert_str_eq(buf_cstr(&mail), golden_mail);
	buf_free(&mail);

	t_case("mail: a real report; base64 decodes to the gzip bytes");
	t_assert_int_eq(build("mail", &m, &p, &r, 1, &xml), 0);
	buf_reset(&gz);
	t_assert_int_eq(report_gzip(&xml, &gz, &err), 0);
	in = mail0(&gz);
	buf_init(&mail, 0);
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strncmp(buf_cstr(&mail), golden_mail, 500) == 0);
	t_assert(attachment(&mail, &a, &an));
	buf_init(&dec, 0);
	t_assert_int_eq(unbase64(a, an, &dec), 0);
	t_assert(dec.len == gz.len && memcmp(dec.data, gz.data, gz.len) == 0);
	/* 76-character lines, the last one shorter or equal. */
	ok = true;
	for (line = a; line < a + an;) {
		const char *nl = memchr(line, '\n', (size_t)(a + an - line));

		len = nl ? (size_t)(nl - line) : (size_t)(a + an - line);
		if (len > 76 || (nl != NULL && nl + 1 < a + an && len != 76))
			ok = false;
		line += len + 1;
	}
	t_assert(ok);
	save("mail", "eml", &mail);
	save("mail", "gz", &gz);

	t_case("mail: the same report gives the same message");
	buf_init(&mail2, 0);
	t_assert_int_eq(report_mail(&in, &mail2, &err), 0);
	t_assert_str_eq(buf_cstr(&mail2), buf_cstr(&mail));
	buf_free(&mail2);

	t_case("mail: same id, another domain: another Message-ID");
	in.file_name = "mail.receiver.example!example.org!1013662812!"
		       "1013749130!abc123.xml.gz";
	buf_init(&mail2, 0);
	t_assert_int_eq(report_mail(&in, &mail2, &err), 0);
	t_assert(strstr(buf_cstr(&mail2),
		     "\nMessage-ID: <abc123.1796282246.f73291f4345d7950@"
		     "mail.receiver.example>\n") != NULL);
	buf_free(&mail2);
	buf_free(&mail);
	buf_free(&dec);

	t_case("mail: no text part");
	in = mail0(&gz);
	in.text = NULL;
	buf_init(&mail, 0);
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strstr(buf_cstr(&mail), "text/plain") == NULL);
	t_assert(
	    strstr(buf_cstr(&mail), "\n\n--=_am_d6c08e861519b96e_0\n"
				    "Content-Type: application/gzip;") != NULL);
	buf_free(&mail);

	t_case("mail: text without a final LF, and empty text");
	in = mail0(&gz);
	in.text = "no newline";
	buf_init(&mail, 0);
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strstr(buf_cstr(&mail), "\n\nno newline\n--=_am_") != NULL);
	buf_reset(&mail);
	in.text = "";
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strstr(buf_cstr(&mail), "7bit\n\n--=_am_") != NULL);
	buf_free(&mail);

	t_case("mail: a text holding the boundary gets another one");
	in = mail0(&gz);
	in.text = "--=_am_d6c08e861519b96e_0\n";
	buf_init(&mail, 0);
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strstr(buf_cstr(&mail),
		     " boundary=\"=_am_d6c08e861519b96e_1\"") != NULL);
	t_assert(
	    strstr(buf_cstr(&mail), "\n--=_am_d6c08e861519b96e_1--\n") != NULL);
	buf_free(&mail);

	t_case("mail: Date at the edges");
	in = mail0(&gz);
	in.date = 0;
	buf_init(&mail, 0);
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strstr(buf_cstr(&mail),
		     "\nDate: Thu, 01 Jan 1970 00:00:00 +0000\n") != NULL);
	buf_reset(&mail);
	in.date = 253402300799LL;
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strstr(buf_cstr(&mail),
		     "\nDate: Fri, 31 Dec 9999 23:59:59 +0000\n") != NULL);
	buf_reset(&mail);
	in.date = 253402300800LL;
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_str_eq(err.msg, "report mail: date out of range");
	in.date = -1;
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_int_eq(mail.len, 0);
	buf_free(&mail);

	t_case("mail: CR, LF and 8-bit bytes never reach a header");
	buf_init(&mail, 0);
	in = mail0(&gz);
	in.from = "a@b.example\nBcc: victim@example.net";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_str_eq(err.msg, "report mail: From, To and Subject must be "
				 "printable ASCII, not empty");
	in = mail0(&gz);
	in.to = "dmarc@example.com\r";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in = mail0(&gz);
	in.to = "dm\tarc@example.com";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in = mail0(&gz);
	in.subject = "Report \xc3\xa4";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in = mail0(&gz);
	in.subject = "";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in = mail0(&gz);
	in.message_id_domain = "x>\n<y";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_str_eq(err.msg, "report mail: bad Message-ID domain");
	in = mail0(&gz);
	in.file_name = "a.example!b.example!1!2!x\".xml.gz";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_str_eq(err.msg, "report mail: bad file name");
	in.file_name = "a.example!b.example!1!2!x.xml";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in.file_name = "a.example!b.example!1!x.xml.gz";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in.file_name = "a.example!b.example!1!2!.xml.gz";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in.file_name = NULL;
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in = mail0(&gz);
	in.text = "line\r\nCRLF";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_str_eq(err.msg, "report mail: the text must be us-ascii "
				 "with lines of 998 or less");
	in.text = "caf\xc3\xa9";
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	in = mail0(&gz);
	in.gz = NULL;
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_str_eq(err.msg, "report mail: no attachment");
	t_assert_int_eq(report_mail(NULL, &mail, &err), -1);
	t_assert_int_eq(mail.len, 0);

	t_case("mail: lines over 998 fail; 998 in the text is fine");
	memset(long_to, 'a', sizeof(long_to));
	long_to[1099] = '\0';
	in = mail0(&gz);
	in.to = long_to;
	buf_append_str(&mail, "keep");
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_str_eq(buf_cstr(&mail), "keep");
	in = mail0(&gz);
	long_to[999] = '\0';
	in.text = long_to;
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	long_to[998] = '\0';
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	buf_free(&mail);

	t_case("mail: long values fold at spaces, unfold unchanged");
	in = mail0(&gz);
	in.to = "a-very-long-address-for-reports@reports.example.com, "
		"another-long-address-for-reports@example.net, "
		"third@example.org";
	buf_init(&mail, 0);
	t_assert_int_eq(report_mail(&in, &mail, &err), 0);
	t_assert(strstr(buf_cstr(&mail),
		     "\nTo: a-very-long-address-for-reports@reports.example."
		     "com,\n another-long-address-for-reports@example.net, "
		     "third@example.org\n") != NULL);
	buf_free(&mail);

	t_case("mail: out's ceiling");
	buf_init(&mail, 200);
	in = mail0(&gz);
	t_assert_int_eq(report_mail(&in, &mail, &err), -1);
	t_assert_int_eq(mail.len, 0);
	buf_free(&mail);

	buf_free(&gz);
	buf_free(&xml);
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		outdir = argv[1];
	xmlInitParser();

	test_zero_rows();
	test_one_row();
	test_meta_optional();
	test_auth_results();
	test_spf_results();
	test_reasons();
	test_dispositions();
	test_policy_published();
	test_identifiers();
	test_many_rows();
	test_hostile();
	test_bad_rows();
	test_bad_begin();
	test_ceilings();
	test_gzip();
	test_names();
	test_mail();

	if (outdir != NULL) {
		t_case("xml: documents written for the schema check");
		t_assert(nwritten >= 40);
		printf("  %zu documents in %s\n", nwritten, outdir);
	}
	xmlCleanupParser();
	return t_done();
}

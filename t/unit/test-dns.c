/*
 * Unit tests for dns: rdata parsing and name checks (no network), then
 * lookups through libunbound against the loopback server t/unit/dns.sh
 * starts with t/data/dns/zone.json.
 *
 *	test-dns DNS_CONF [DNS_LOG [REFUSE_CONF]]
 *
 * REFUSE_CONF is DNS_CONF plus a local zone "refuse.test." of type refuse.
 * SEC_CONF serves the DNSSEC-signed zone sec.test. (bad.sec.test's record
 * altered after signing); SEC_TA is its trust anchor (a DS record).
 */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "test.h"

static const char *conf_path, *log_path, *refuse_conf, *sec_conf, *sec_ta;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether the server's query log has a line for name (lower case). */
static bool
log_has(const char *name)
{
	FILE  *f;
	char   line[1024];
	size_t n = strlen(name);
	bool   found = false;

	if (log_path == NULL || (f = fopen(log_path, "r")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ' ')
			found = true;
	fclose(f);
	return found;
}

/* Whether the answer holds a record equal to (p, n) (any order: libunbound
 * may rotate an RRset). */
static bool
has_rr(const struct dns_answer *a, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->rr[i].len == n && memcmp(a->rr[i].data, p, n) == 0)
			return true;
	return false;
}

static bool
has_str(const struct dns_answer *a, const char *s)
{
	return has_rr(a, s, strlen(s));
}

/*
 * Rdata parsing.
 */

struct rdata_case {
	const char   *name;
	enum dns_type type;
	const char   *rdata; /* bytes */
	size_t        len;
	int           want; /* 0 or -1 */
	const char   *text; /* the data wanted (len textlen) */
	size_t        textlen;
	unsigned      pref;
};

#define R(s) s, sizeof(s) - 1

static const struct rdata_case rdata_cases[] = {
    {"A: 4 bytes", DNS_T_A, R("\300\000\002\001"), 0, R("\300\000\002\001"), 0},
    {"A: 3 bytes refused", DNS_T_A, R("\300\000\002"), -1, NULL, 0, 0},
    {"A: 5 bytes refused", DNS_T_A, R("\300\000\002\001\001"), -1, NULL, 0, 0},
    {"AAAA: 16 bytes", DNS_T_AAAA,
	R(" \001\015\270\000\000\000\000\000\000\000\000\000\000\000\001"), 0,
	R(" \001\015\270\000\000\000\000\000\000\000\000\000\000\000\001"), 0},
    {"AAAA: 4 bytes refused", DNS_T_AAAA, R("\300\000\002\001"), -1, NULL, 0,
	0},
    {"TXT: strings joined", DNS_T_TXT, R("\007v=spf1 \004-all"), 0,
	R("v=spf1 -all"), 0},
    {"TXT: NUL byte is data", DNS_T_TXT, R("\003a\000b"), 0, R("a\000b"), 0},
    {"TXT: empty string", DNS_T_TXT, R("\000"), 0, R(""), 0},
    {"TXT: no string refused", DNS_T_TXT, "", 0, -1, NULL, 0, 0},
    {"TXT: length past the end refused", DNS_T_TXT, R("\003ab"), -1, NULL, 0,
	0},
    {"TXT: second length past the end", DNS_T_TXT, R("\001a\005a"), -1, NULL, 0,
	0},
    {"MX: preference and name", DNS_T_MX,
	R("\000\012\004mail\007example\003com\000"), 0, R("mail.example.com"),
	10},
    {"MX: null MX is the root", DNS_T_MX, R("\000\000\000"), 0, R(""), 0},
    {"MX: high preference", DNS_T_MX, R("\377\376\001a\000"), 0, R("a"), 65534},
    {"MX: no name refused", DNS_T_MX, R("\000\012"), -1, NULL, 0, 0},
    {"MX: unterminated name refused", DNS_T_MX, R("\000\012\001a"), -1, NULL, 0,
	0},
    {"MX: label past the end refused", DNS_T_MX, R("\000\012\005ab"), -1, NULL,
	0, 0},
    {"MX: trailing bytes refused", DNS_T_MX, R("\000\012\001a\000x"), -1, NULL,
	0, 0},
    {"MX: compression pointer refused", DNS_T_MX, R("\000\012\300\014"), -1,
	NULL, 0, 0},
    {"MX: '.' inside a label refused", DNS_T_MX, R("\000\012\003a.b\001c\000"),
	-1, NULL, 0, 0},
    {"MX: space inside a label refused", DNS_T_MX, R("\000\012\003a b\000"), -1,
	NULL, 0, 0},
    {"MX: control byte refused", DNS_T_MX, R("\000\012\001\012\000"), -1, NULL,
	0, 0},
    {"MX: NUL inside a label refused", DNS_T_MX, R("\000\012\002a\000\000"), -1,
	NULL, 0, 0},
    {"MX: 8-bit byte refused", DNS_T_MX, R("\000\012\001\351\000"), -1, NULL, 0,
	0},
    {"PTR: name", DNS_T_PTR, R("\004host\007example\003com\000"), 0,
	R("host.example.com"), 0},
    {"PTR: underscore and hyphen kept", DNS_T_PTR, R("\004_a-b\001c\000"), 0,
	R("_a-b.c"), 0},
    {"PTR: empty rdata refused", DNS_T_PTR, "", 0, -1, NULL, 0, 0},
    {"unknown type refused", (enum dns_type)99, R("\001a"), -1, NULL, 0, 0},
};

static void
test_rdata_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(rdata_cases) / sizeof(rdata_cases[0]); i++) {
		const struct rdata_case *c = &rdata_cases[i];
		struct dns_rr            rr = {.data = NULL};
		int                      r;

		t_case(c->name);
		r = dns_rdata_parse(
		    c->type, (const unsigned char *)c->rdata, c->len, &rr);
		t_assert_int_eq(r, c->want);
		if (r == 0 && c->text != NULL) {
			t_assert_int_eq(rr.len, c->textlen);
			t_assert(rr.len == c->textlen &&
				 memcmp(rr.data, c->text, c->textlen) == 0);
			t_assert_int_eq(rr.data[rr.len], '\0');
			t_assert_int_eq(rr.pref, c->pref);
		}
		if (r != 0)
			t_assert(rr.data == NULL);
		free(rr.data);
	}
}

/* Builds a wire name of nlabels labels of lablen 'a's, plus the root. */
static size_t
make_wire(unsigned char *w, size_t nlabels, size_t lablen)
{
	size_t i, o = 0;

	for (i = 0; i < nlabels; i++) {
		w[o++] = (unsigned char)lablen;
		memset(w + o, 'a', lablen);
		o += lablen;
	}
	w[o++] = 0;
	return o;
}

static void
test_rdata_limits(void)
{
	unsigned char w[600];
	struct dns_rr rr = {.data = NULL};
	unsigned char txt[256 * 3];
	size_t        n, i;

	t_case("PTR: 255-octet name (the maximum) accepted");
	/* 4 labels of 63 = 256 octets with the root: one over. 3 of 63 and one
	 * of 61: 64 * 3 + 62 + 1 = 255. */
	n = make_wire(w, 3, 63);
	n--; /* drop the root, add a 61-octet label */
	w[n++] = 61;
	memset(w + n, 'b', 61);
	n += 61;
	w[n++] = 0;
	t_assert_int_eq(n, 255);
	t_assert_int_eq(dns_rdata_parse(DNS_T_PTR, w, n, &rr), 0);
	t_assert_int_eq(rr.len, 253);
	free(rr.data);
	rr.data = NULL;

	t_case("PTR: 256-octet name refused");
	n = make_wire(w, 4, 63);
	t_assert_int_eq(n, 257);
	t_assert_int_eq(dns_rdata_parse(DNS_T_PTR, w, n, &rr), -1);
	n = make_wire(w, 3, 63);
	n--;
	w[n++] = 62;
	memset(w + n, 'b', 62);
	n += 62;
	w[n++] = 0;
	t_assert_int_eq(n, 256);
	t_assert_int_eq(dns_rdata_parse(DNS_T_PTR, w, n, &rr), -1);

	t_case("PTR: 64-octet label refused");
	n = make_wire(w, 1, 64);
	t_assert_int_eq(dns_rdata_parse(DNS_T_PTR, w, n, &rr), -1);
	n = make_wire(w, 1, 63);
	t_assert_int_eq(dns_rdata_parse(DNS_T_PTR, w, n, &rr), 0);
	t_assert_int_eq(rr.len, 63);
	free(rr.data);
	rr.data = NULL;

	t_case("TXT: three 255-octet strings joined");
	for (i = 0, n = 0; i < 3; i++) {
		txt[n++] = 255;
		memset(txt + n, 'a' + (int)i, 255);
		n += 255;
	}
	t_assert_int_eq(dns_rdata_parse(DNS_T_TXT, txt, n, &rr), 0);
	t_assert_int_eq(rr.len, 765);
	t_assert(rr.len == 765 && rr.data[0] == 'a' && rr.data[255] == 'b' &&
		 rr.data[764] == 'c');
	free(rr.data);
	rr.data = NULL;
	t_assert_int_eq(dns_rdata_parse(DNS_T_TXT, txt, n - 1, &rr), -1);
}

/* dns_txt_string() gives the strings as published, past the join. */
static void
test_txt_strings(void)
{
	static const char w[] = "\007v=spf1 \000\004-all";
	struct dns_rr rr = {.data = NULL}, plain = {.data = "one", .len = 3};
	const char   *s;
	size_t        len;

	t_case("TXT: the strings as published, an empty one included");
	t_assert_int_eq(dns_rdata_parse(DNS_T_TXT, (const unsigned char *)w,
			    sizeof(w) - 1, &rr),
	    0);
	t_assert_str_eq(rr.data, "v=spf1 -all");
	t_assert(dns_txt_string(&rr, 0, &s, &len) && len == 7 &&
		 memcmp(s, "v=spf1 ", 7) == 0);
	t_assert(dns_txt_string(&rr, 1, &s, &len) && len == 0);
	t_assert(dns_txt_string(&rr, 2, &s, &len) && len == 4 &&
		 memcmp(s, "-all", 4) == 0);
	t_assert(!dns_txt_string(&rr, 3, &s, &len));
	free(rr.data);

	t_case("TXT: a record made without its rdata is one string");
	t_assert(
	    dns_txt_string(&plain, 0, &s, &len) && len == 3 && s == plain.data);
	t_assert(!dns_txt_string(&plain, 1, &s, &len));
}

struct name_case {
	const char *name;
	bool        valid;
};

static void
test_names(void)
{
	static char             n253[300], n254[300], lab64[80], lab63[80];
	static struct name_case cases[] = {
	    {"example.com", true},
	    {"example.com.", true},
	    {"a", true},
	    {"", false},
	    {".", false},
	    {"a..b", false},
	    {".a", false},
	    {"a.b..", false},
	    {n253, true},
	    {n254, false},
	    {lab63, true},
	    {lab64, false},
	};
	size_t i;

	/* 253 octets: 63 + 1 + 63 + 1 + 63 + 1 + 61. */
	memset(n253, 'a', 253);
	n253[63] = n253[127] = n253[191] = '.';
	n253[253] = '\0';
	memcpy(n254, n253, 253);
	n254[253] = 'a';
	n254[254] = '\0';
	memset(lab63, 'b', 63);
	strcpy(lab63 + 63, ".test");
	memset(lab64, 'b', 64);
	strcpy(lab64 + 64, ".test");

	t_case("dns_name_valid: lengths and labels (RFC 1035 2.3.4)");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!t_assert_int_eq(
			dns_name_valid(cases[i].name), cases[i].valid))
			printf("  name: \"%s\"\n", cases[i].name);
	t_case("dns_name_valid: 253 octets with a trailing dot");
	n253[253] = '.';
	n253[254] = '\0';
	t_assert(dns_name_valid(n253));
	n253[253] = '\0';

	t_case("dns_status_str");
	t_assert_str_eq(dns_status_str(DNS_OK), "ok");
	t_assert_str_eq(dns_status_str(DNS_NXDOMAIN), "nxdomain");
	t_assert_str_eq(dns_status_str(DNS_NODATA), "nodata");
	t_assert_str_eq(dns_status_str(DNS_TEMPFAIL), "tempfail");
	t_assert_str_eq(dns_status_str(DNS_BADNAME), "badname");
}

/*
 * Set-up.
 */

static void
test_new_errors(void)
{
	struct dns_params p = {.unbound_conf = "/nonexistent/am-dns.conf"};
	struct am_err     err = {.msg = ""};
	struct dns       *d;

	t_case("dns_new: missing unbound config names the file");
	d = dns_new(&p, &err);
	t_assert(d == NULL);
	t_assert(strstr(err.msg, "/nonexistent/am-dns.conf") != NULL);
	t_assert(strstr(err.msg, "No such file") != NULL);
	dns_free(d);

	t_case("dns_new: missing trust anchor names the file");
	p.unbound_conf = conf_path;
	p.trust_anchor = "/nonexistent/root.key";
	err.msg[0] = '\0';
	d = dns_new(&p, &err);
	t_assert(d == NULL);
	t_assert(strstr(err.msg, "/nonexistent/root.key") != NULL);
	dns_free(d);

	t_case("dns_new: an unreadable trust anchor fails at start");
	{
		char  path[] = "/tmp/am-test-dns-ta.XXXXXX";
		int   fd = mkstemp(path);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

		t_assert(f != NULL);
		if (f != NULL) {
			fputs("garbage, not a DS or DNSKEY record\n", f);
			fclose(f);
			p.unbound_conf = NULL;
			p.trust_anchor = path;
			err.msg[0] = '\0';
			d = dns_new(&p, &err);
			t_assert(d == NULL);
			t_assert(strstr(err.msg, "set-up") != NULL);
			dns_free(d);
			unlink(path);
		}
		p.trust_anchor = NULL;
	}

	t_case("dns_new: the system resolver sets up (no query sent)");
	err.msg[0] = '\0';
	d = dns_new(NULL, &err);
	t_assert(d != NULL);
	if (d == NULL)
		printf("  err: %s\n", err.msg);
	else
		t_assert_int_eq(dns_queries_started(d), 0);
	dns_free(d);
}

/*
 * Lookups against the zone.
 */

static void
test_answers(struct dns *d)
{
	struct dns_answer *a;
	char               addr[INET6_ADDRSTRLEN];
	size_t             i;
	bool               ok;

	t_case("A: both addresses");
	a = dns_lookup(d, "a.test", DNS_T_A);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 2);
	t_assert(has_rr(a, "\xc0\x00\x02\x01", 4));
	t_assert(has_rr(a, "\xc0\x00\x02\x02", 4));
	t_assert_str_eq(a->why, "");
	t_assert(!a->secure && !a->bogus && !a->truncated);
	dns_answer_free(a);

	t_case("AAAA: one address, trailing dot accepted");
	a = dns_lookup(d, "a.test.", DNS_T_AAAA);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1) {
		t_assert_int_eq(a->rr[0].len, 16);
		inet_ntop(AF_INET6, a->rr[0].data, addr, sizeof(addr));
		t_assert_str_eq(addr, "2001:db8::1");
	}
	dns_answer_free(a);

	t_case("A: upper case name");
	a = dns_lookup(d, "A.TEST", DNS_T_A);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 2);
	dns_answer_free(a);

	t_case("MX: preferences and exchanges");
	a = dns_lookup(d, "mx.test", DNS_T_MX);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 2);
	ok = a->n == 2;
	for (i = 0; ok && i < a->n; i++)
		if (strcmp(a->rr[i].data, "mail1.test") == 0)
			ok = a->rr[i].pref == 10 && a->rr[i].len == 10;
		else if (strcmp(a->rr[i].data, "mail2.example.com") == 0)
			ok = a->rr[i].pref == 20 && a->rr[i].len == 17;
		else
			ok = false;
	t_assert(ok);
	dns_answer_free(a);

	t_case("MX: null MX (RFC 7505) is the root, \"\"");
	a = dns_lookup(d, "nullmx.test", DNS_T_MX);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1) {
		t_assert_str_eq(a->rr[0].data, "");
		t_assert_int_eq(a->rr[0].len, 0);
		t_assert_int_eq(a->rr[0].pref, 0);
	}
	dns_answer_free(a);

	t_case("PTR: reverse name of 192.0.2.1");
	a = dns_lookup(d, "1.2.0.192.in-addr.arpa", DNS_T_PTR);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1)
		t_assert_str_eq(a->rr[0].data, "host.example.com");
	dns_answer_free(a);

	t_case("TXT: a multi-string record is joined, its strings kept");
	/* The second lookup is answered from the cache's copy. */
	for (i = 0; i < 2; i++) {
		const char *s;
		size_t      len;

		a = dns_lookup(d, "txt.test", DNS_T_TXT);
		t_assert_int_eq(a->status, DNS_OK);
		t_assert_int_eq(a->n, 1);
		if (a->n == 1) {
			t_assert_str_eq(a->rr[0].data, "v=spf1 -all");
			t_assert(dns_txt_string(&a->rr[0], 1, &s, &len) &&
				 len == 4 && memcmp(s, "-all", 4) == 0);
			t_assert(!dns_txt_string(&a->rr[0], 2, &s, &len));
		}
		dns_answer_free(a);
	}

	t_case("TXT: 255 + 255 + 10 octets joined");
	a = dns_lookup(d, "long.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1) {
		t_assert_int_eq(a->rr[0].len, 520);
		t_assert(a->rr[0].len == 520 && a->rr[0].data[254] == 'x' &&
			 a->rr[0].data[255] == 'y' &&
			 a->rr[0].data[510] == 'z');
	}
	dns_answer_free(a);

	t_case("TXT: a 600-octet value (3 strings, over TCP) arrives whole");
	a = dns_lookup(d, "split.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1) {
		t_assert_int_eq(a->rr[0].len, 600);
		t_assert_int_eq(strspn(a->rr[0].data, "k"), 600);
	}
	dns_answer_free(a);

	t_case("TXT: one empty string is an empty record");
	a = dns_lookup(d, "empty.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1)
		t_assert_int_eq(a->rr[0].len, 0);
	dns_answer_free(a);

	t_case("TXT: several records all returned");
	a = dns_lookup(d, "multi.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 3);
	t_assert(has_str(a, "one") && has_str(a, "two") && has_str(a, "three"));
	dns_answer_free(a);

	t_case("TXT: an embedded NUL keeps its length");
	a = dns_lookup(d, "nul.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1) {
		t_assert_int_eq(a->rr[0].len, 3);
		t_assert(memcmp(a->rr[0].data, "a\0b", 4) == 0);
	}
	dns_answer_free(a);

	t_case("TXT: a CNAME is followed");
	a = dns_lookup(d, "cname.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, 1);
	if (a->n == 1)
		t_assert_str_eq(a->rr[0].data, "v=spf1 -all");
	dns_answer_free(a);

	t_case("TXT: '$' and '@' in a name reach the server literally");
	a = dns_lookup(d, "odd$name@x.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert(a->n == 1 && has_str(a, "odd"));
	dns_answer_free(a);

	t_case("TXT: 70 records cut at DNS_MAX_RRS, truncated set");
	a = dns_lookup(d, "big.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_OK);
	t_assert_int_eq(a->n, DNS_MAX_RRS);
	t_assert(a->truncated);
	dns_answer_free(a);

	t_case("NXDOMAIN: no such name");
	a = dns_lookup(d, "nosuch.test", DNS_T_A);
	t_assert_int_eq(a->status, DNS_NXDOMAIN);
	t_assert_int_eq(a->n, 0);
	t_assert(a->rr == NULL);
	t_assert_str_eq(a->why, "");
	dns_answer_free(a);

	t_case("NODATA: the name has an A record, no TXT");
	a = dns_lookup(d, "only-a.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_NODATA);
	t_assert_int_eq(a->n, 0);
	dns_answer_free(a);

	t_case("NODATA: empty non-terminal");
	a = dns_lookup(d, "ent.test", DNS_T_A);
	t_assert_int_eq(a->status, DNS_NODATA);
	dns_answer_free(a);
	a = dns_lookup(d, "nosuch.ent.test", DNS_T_A);
	t_assert_int_eq(a->status, DNS_NXDOMAIN);
	dns_answer_free(a);

	t_case("SERVFAIL: TEMPFAIL, why SERVFAIL");
	a = dns_lookup(d, "servfail.test", DNS_T_TXT);
	t_assert_int_eq(a->status, DNS_TEMPFAIL);
	t_assert_str_eq(a->why, "SERVFAIL");
	t_assert_int_eq(a->n, 0);
	dns_answer_free(a);

	t_case("REFUSED upstream: TEMPFAIL (libunbound says SERVFAIL)");
	/* libunbound tries the next server on REFUSED, then gives up with
	 * SERVFAIL; a REFUSED answer of its own is tested below. */
	a = dns_lookup(d, "refused.test", DNS_T_A);
	t_assert_int_eq(a->status, DNS_TEMPFAIL);
	t_assert_str_eq(a->why, "SERVFAIL");
	dns_answer_free(a);
}

static void
test_refused(void)
{
	struct dns_params  p = {.unbound_conf = refuse_conf};
	struct dns        *d;
	struct dns_answer *a;

	t_case("REFUSED: TEMPFAIL, why REFUSED");
	if (refuse_conf == NULL) {
		t_assert(!"REFUSE_CONF not given");
		return;
	}
	d = dns_new(&p, NULL);
	if (!t_assert(d != NULL))
		return;
	a = dns_lookup(d, "refuse.test", DNS_T_A);
	t_assert_int_eq(a->status, DNS_TEMPFAIL);
	t_assert_str_eq(a->why, "REFUSED");
	dns_answer_free(a);
	dns_free(d);
}

static void
test_badname(struct dns *d)
{
	char                     name[300], lab[100];
	struct dns_query        *q;
	unsigned long            before = dns_queries_started(d);
	const struct dns_answer *a;

	/* 254 octets: "toolong" + 247 more, labels of at most 63. */
	t_case("BADNAME: 254-octet name, nothing sent");
	memset(name, 'a', 254);
	memcpy(name, "toolong", 7);
	name[63] = name[127] = name[191] = '.';
	name[254] = '\0';
	q = dns_start(d, name, DNS_T_TXT);
	t_assert(q != NULL && dns_done(q));
	a = dns_wait(q);
	t_assert_int_eq(a->status, DNS_BADNAME);
	t_assert_int_eq(a->n, 0);
	t_assert_str_eq(dns_query_name(q), name);
	dns_query_free(q);

	t_case("BADNAME: 64-octet label, nothing sent");
	memset(lab, 'b', 64);
	memcpy(lab, "labeltoolong", 12);
	strcpy(lab + 64, ".test");
	q = dns_start(d, lab, DNS_T_A);
	a = dns_wait(q);
	t_assert_int_eq(a->status, DNS_BADNAME);
	dns_query_free(q);

	t_case("BADNAME: empty label");
	q = dns_start(d, "a..test", DNS_T_A);
	t_assert_int_eq(dns_wait(q)->status, DNS_BADNAME);
	dns_query_free(q);

	t_case("BADNAME: no query counted or logged");
	t_assert_int_eq(dns_queries_started(d), before);
	if (log_path != NULL) {
		t_assert(!log_has("toolong"));
		t_assert(!log_has("labeltoolong"));
		t_assert(!log_has("a..test"));
		/* The log is read: a name that was sent is in it. */
		t_assert(log_has("a.test"));
	}
}

static void
test_prefetch(struct dns *d)
{
	struct dns_query *q[20];
	char              name[32], want[8];
	unsigned long     before = dns_queries_started(d);
	size_t            i;
	int               good = 0;

	t_case("prefetch: 20 queries started, then collected");
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "c%zu.test", i);
		q[i] = dns_start(d, name, DNS_T_TXT);
	}
	t_assert_int_eq(dns_queries_started(d), before + 20);
	for (i = 0; i < 20; i++) {
		const struct dns_answer *a = dns_wait(q[i]);

		snprintf(want, sizeof(want), "c%zu", i);
		if (a->status == DNS_OK && a->n == 1 &&
		    strcmp(a->rr[0].data, want) == 0)
			good++;
		dns_query_free(q[i]);
	}
	t_assert_int_eq(good, 20);
}

#define CONC_THREADS 8
#define CONC_LOOKUPS 200

struct conc {
	struct dns *d;
	int         seed;
	atomic_int *bad;
};

static void *
conc_thread(void *arg)
{
	struct conc *c = arg;
	char         name[32], want[8];
	int          i, k;

	for (i = 0; i < CONC_LOOKUPS; i++) {
		struct dns_answer *a;

		k = (c->seed * 7 + i * 13) % 20;
		snprintf(name, sizeof(name), "c%d.test", k);
		snprintf(want, sizeof(want), "c%d", k);
		if (i % 10 == 9) { /* some negative answers too */
			snprintf(name, sizeof(name), "nx%d.test", k);
			a = dns_lookup(c->d, name, DNS_T_TXT);
			if (a == NULL || a->status != DNS_NXDOMAIN)
				atomic_fetch_add(c->bad, 1);
		} else {
			a = dns_lookup(c->d, name, DNS_T_TXT);
			if (a == NULL || a->status != DNS_OK || a->n != 1 ||
			    strcmp(a->rr[0].data, want) != 0)
				atomic_fetch_add(c->bad, 1);
		}
		dns_answer_free(a);
	}
	return NULL;
}

static void
test_concurrency(struct dns *d, const char *how)
{
	pthread_t   th[CONC_THREADS];
	struct conc c[CONC_THREADS];
	atomic_int  bad;
	int         i, started = 0;

	t_casef("concurrency: 8 threads x 200 lookups, all exact (%s)", how);
	atomic_init(&bad, 0);
	for (i = 0; i < CONC_THREADS; i++) {
		c[i].d = d;
		c[i].seed = i;
		c[i].bad = &bad;
		if (pthread_create(&th[i], NULL, conc_thread, &c[i]) == 0)
			started++;
	}
	t_assert_int_eq(started, CONC_THREADS);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	t_assert_int_eq(atomic_load(&bad), 0);
}

/* Each thread abandons a query to a silent server (ub_cancel from its own
 * thread while the dispatcher delivers other answers) and collects another
 * one, whose answer must be exact. */
static void *
abandon_thread(void *arg)
{
	struct conc *c = arg;
	char         name[32], want[8];
	int          i, k;

	for (i = 0; i < 50; i++) {
		struct dns_query        *s, *q;
		const struct dns_answer *a;

		k = (c->seed * 7 + i * 13) % 20;
		if (i % 2)
			snprintf(name, sizeof(name), "r%d-%d.c%d.test", c->seed,
			    i, k);
		else
			snprintf(name, sizeof(name), "c%d.test", k);
		s = dns_start(c->d, "silent.test", DNS_T_TXT);
		q = dns_start(c->d, name, DNS_T_TXT);
		dns_query_free(s);
		snprintf(want, sizeof(want), "c%d", k);
		a = dns_wait(q);
		if (i % 2 ? a->status != DNS_NXDOMAIN
			  : (a->status != DNS_OK || a->n != 1 ||
				strcmp(a->rr[0].data, want) != 0))
			atomic_fetch_add(c->bad, 1);
		dns_query_free(q);
	}
	return NULL;
}

static void
test_abandon_threads(void)
{
	struct dns_params p = {
	    .unbound_conf = conf_path, .timeout = 2.0, .nocache = true};
	struct dns *d = dns_new(&p, NULL);
	pthread_t   th[CONC_THREADS];
	struct conc c[CONC_THREADS];
	atomic_int  bad;
	int         i, started = 0;

	t_case("abandon: 8 threads x 50 abandoned silent queries, answers "
	       "exact");
	if (!t_assert(d != NULL))
		return;
	atomic_init(&bad, 0);
	for (i = 0; i < CONC_THREADS; i++) {
		c[i].d = d;
		c[i].seed = i;
		c[i].bad = &bad;
		if (pthread_create(&th[i], NULL, abandon_thread, &c[i]) == 0)
			started++;
	}
	t_assert_int_eq(started, CONC_THREADS);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	t_assert_int_eq(atomic_load(&bad), 0);
	t_assert_int_eq(dns_queries_started(d), 2 * 50 * CONC_THREADS);
	dns_free(d);
}

static void
test_timeout(void)
{
	struct dns_params p = {.unbound_conf = conf_path, .timeout = 1.0};
	struct dns       *d = dns_new(&p, NULL);
	struct dns_query *q, *q2;
	const struct dns_answer *a;
	double                   t0, el;

	t_case("timeout: a silent server gives TEMPFAIL \"timeout\" in ~1 s");
	if (!t_assert(d != NULL))
		return;
	t0 = now();
	q = dns_start(d, "silent.test", DNS_T_TXT);
	t_assert(!dns_done(q));
	a = dns_wait(q);
	el = now() - t0;
	t_assert_int_eq(a->status, DNS_TEMPFAIL);
	t_assert_str_eq(a->why, "timeout");
	t_assert(el >= 0.9 && el <= 3.0);
	if (el < 0.9 || el > 3.0)
		printf("  elapsed %.3f s\n", el);
	t_assert(dns_done(q));
	/* A second wait gives the same answer at once. */
	t0 = now();
	t_assert(dns_wait(q) == a);
	t_assert(now() - t0 < 0.1);
	dns_query_free(q);

	t_case("timeout: other names still answer on the same resolver");
	a = NULL;
	q = dns_start(d, "txt.test", DNS_T_TXT);
	a = dns_wait(q);
	t_assert_int_eq(a->status, DNS_OK);
	dns_query_free(q);

	t_case("abandon: free a query in flight, then the resolver");
	q = dns_start(d, "silent.test", DNS_T_A);
	q2 = dns_start(d, "silent.test", DNS_T_MX);
	t_assert(!dns_done(q));
	dns_query_free(q);
	/* q2 is waited for (timeout, cancelled), then freed. */
	t_assert_str_eq(dns_wait(q2)->why, "timeout");
	dns_query_free(q2);
	dns_free(d);
}

static void
after(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)seconds;
	ts->tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* dns_waiter_wait() wakes for the first completion of any attached query,
 * sleeps to the caller's deadline when nothing completes, and turns a
 * query's own deadline into a completion ("timeout"). */
static void
test_waiter(void)
{
	/* The silent query's own deadline is 3 s away, far past the cases
	 * before it even on a loaded machine. */
	struct dns_params  p = {.unbound_conf = conf_path, .timeout = 3.0};
	struct dns        *d = dns_new(&p, NULL);
	struct dns_waiter *w;
	struct dns_query  *qs, *qa;
	struct timespec    dl;
	double             t0, ts, el;

	t_case("waiter: an answer wakes it while another query is silent");
	if (!t_assert(d != NULL))
		return;
	if (!t_assert((w = dns_waiter_new(d)) != NULL)) {
		dns_free(d);
		return;
	}
	ts = now();
	qs = dns_start(d, "silent.test", DNS_T_TXT);
	qa = dns_start(d, "txt.test", DNS_T_TXT);
	dns_query_notify(qs, w);
	dns_query_notify(qa, w);
	t0 = now();
	after(&dl, 5.0);
	/* At least one wait, even when the answer came before the first
	 * check: that wait takes the completion, which would otherwise wake
	 * the next case at once. */
	do
		(void)dns_waiter_wait(w, &dl);
	while (!dns_done(qa) && now() - t0 < 5.0);
	el = now() - t0;
	t_assert(dns_done(qa) && dns_wait(qa)->status == DNS_OK);
	t_assert(!dns_done(qs));
	t_assert(el < 0.5);

	t_case("waiter: nothing new, so it sleeps to the caller's deadline");
	t0 = now();
	after(&dl, 0.3);
	t_assert(!dns_waiter_wait(w, &dl));
	el = now() - t0;
	t_assert(el >= 0.29 && el < 1.0);
	if (el < 0.29 || el >= 1.0)
		printf("  slept %.3f s\n", el);

	t_case("waiter: a query's own deadline is a completion (timeout)");
	after(&dl, 6.0);
	t_assert(dns_waiter_wait(w, &dl));
	el = now() - ts;
	t_assert(dns_done(qs));
	t_assert_str_eq(dns_wait(qs)->why, "timeout");
	t_assert(el >= 2.9 && el < 4.5);
	if (el < 2.9 || el >= 4.5)
		printf("  woke %.3f s after the query started\n", el);

	t_case("waiter: nothing left to wait for returns at once");
	t0 = now();
	t_assert(!dns_waiter_wait(w, NULL));
	t_assert(now() - t0 < 0.1);

	t_case("waiter: a query done before it is attached counts at once");
	dns_query_free(qa);
	qa = dns_start(d, "txt.test", DNS_T_TXT); /* the answer cache */
	dns_query_notify(qa, w);
	t0 = now();
	after(&dl, 2.0);
	t_assert(dns_waiter_wait(w, &dl));
	t_assert(now() - t0 < 0.1);
	dns_query_free(qa);
	dns_query_free(qs);
	dns_waiter_free(w);
	dns_free(d);
}

/* DNSSEC status: secure with the trust anchor, bogus (a TEMPFAIL) for a
 * record whose signature fails, neither without an anchor. */
static void
test_dnssec(void)
{
	struct dns_params p = {
	    .unbound_conf = sec_conf, .trust_anchor = sec_ta};
	struct dns        *d;
	struct dns_answer *a;
	int                i;

	t_case("dnssec: the test zone and anchor are there");
	if (!t_assert(sec_conf != NULL && sec_ta != NULL))
		return;
	d = dns_new(&p, NULL);
	if (!t_assert(d != NULL))
		return;
	/* The second lookup comes from the answer cache: same status. */
	for (i = 0; i < 2; i++) {
		t_casef("dnssec: a signed answer is secure (%s)",
		    i == 0 ? "libunbound" : "answer cache");
		a = dns_lookup(d, "txt.sec.test", DNS_T_TXT);
		if (t_assert(a != NULL)) {
			t_assert_int_eq(a->status, DNS_OK);
			t_assert(a->secure);
			t_assert(!a->bogus);
			t_assert(a->n == 1 &&
				 strcmp(a->rr[0].data, "v=spf1 -all") == 0);
		}
		dns_answer_free(a);
	}
	t_assert_int_eq(dns_cache_hits(d), 1);

	t_case("dnssec: a signed NXDOMAIN is secure");
	a = dns_lookup(d, "nx.sec.test", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_NXDOMAIN && a->secure);
	dns_answer_free(a);

	t_case("dnssec: a record whose signature fails is a bogus TEMPFAIL");
	a = dns_lookup(d, "bad.sec.test", DNS_T_TXT);
	if (t_assert(a != NULL)) {
		t_assert_int_eq(a->status, DNS_TEMPFAIL);
		t_assert(a->bogus);
		t_assert(!a->secure);
		t_assert_str_eq(a->why, "DNSSEC bogus");
		t_assert_int_eq(a->n, 0);
	}
	dns_answer_free(a);
	dns_free(d);

	t_case("dnssec: without a trust anchor, the same answers are insecure");
	p.trust_anchor = NULL;
	if (!t_assert((d = dns_new(&p, NULL)) != NULL))
		return;
	a = dns_lookup(d, "bad.sec.test", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_OK && !a->secure && !a->bogus);
	dns_answer_free(a);
	a = dns_lookup(d, "txt.sec.test", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_OK && !a->secure);
	dns_answer_free(a);
	dns_free(d);
}

/* The answer cache in front of libunbound: what it keeps and for how
 * long, on a resolver of its own so the counts start at 0. */
static void
test_cache(void)
{
	struct dns_params  p = {.unbound_conf = conf_path, .timeout = 2.0};
	struct dns        *d = dns_new(&p, NULL);
	struct dns_answer *a;
	struct dns_query  *q;
	const struct dns_answer *qa;
	struct timespec          two = {2, 200000000};

	t_case("cache: a second lookup is answered without libunbound");
	if (!t_assert(d != NULL))
		return;
	dns_answer_free(dns_lookup(d, "multi.test", DNS_T_TXT));
	a = dns_lookup(d, "multi.test", DNS_T_TXT);
	t_assert_int_eq(dns_queries_started(d), 1);
	t_assert_int_eq(dns_cache_hits(d), 1);
	if (t_assert(a != NULL && a->status == DNS_OK && a->n == 3)) {
		t_assert(has_rr(a, "one", 3));
		t_assert(has_rr(a, "two", 3));
		t_assert(has_rr(a, "three", 5));
		t_assert_str_eq(a->why, "");
	}
	dns_answer_free(a);

	t_case("cache: a hit is done inside dns_start()");
	q = dns_start(d, "multi.test", DNS_T_TXT);
	t_assert(dns_done(q));
	qa = dns_wait(q);
	t_assert_int_eq(qa->status, DNS_OK);
	t_assert_int_eq(qa->n, 3);
	dns_query_free(q);
	t_assert_int_eq(dns_queries_started(d), 1);

	t_case("cache: case and a trailing dot make the same key");
	a = dns_lookup(d, "MULTI.Test.", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_OK && a->n == 3);
	dns_answer_free(a);
	t_assert_int_eq(dns_queries_started(d), 1);
	t_assert_int_eq(dns_cache_hits(d), 3);

	t_case("cache: the type is part of the key");
	a = dns_lookup(d, "multi.test", DNS_T_A);
	t_assert(a != NULL && a->status == DNS_NODATA);
	dns_answer_free(a);
	t_assert_int_eq(dns_queries_started(d), 2);

	t_case("cache: NXDOMAIN and NODATA are kept");
	dns_answer_free(dns_lookup(d, "nx-cache.test", DNS_T_TXT));
	a = dns_lookup(d, "nx-cache.test", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_NXDOMAIN && a->n == 0);
	dns_answer_free(a);
	a = dns_lookup(d, "multi.test", DNS_T_A);
	t_assert(a != NULL && a->status == DNS_NODATA);
	dns_answer_free(a);
	t_assert_int_eq(dns_queries_started(d), 3);
	t_assert_int_eq(dns_cache_hits(d), 5);

	t_case("cache: a SERVFAIL is not kept");
	dns_answer_free(dns_lookup(d, "servfail.test", DNS_T_TXT));
	a = dns_lookup(d, "servfail.test", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_TEMPFAIL);
	dns_answer_free(a);
	t_assert_int_eq(dns_queries_started(d), 5);
	t_assert_int_eq(dns_cache_hits(d), 5);

	t_case("cache: a TTL of 0 is not kept");
	dns_answer_free(dns_lookup(d, "ttl0.test", DNS_T_TXT));
	a = dns_lookup(d, "ttl0.test", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_OK && a->n == 1);
	dns_answer_free(a);
	t_assert_int_eq(dns_queries_started(d), 7);

	t_case("cache: an answer is kept for its TTL, not longer");
	dns_answer_free(dns_lookup(d, "ttl1.test", DNS_T_TXT));
	nanosleep(&two, NULL);
	a = dns_lookup(d, "ttl1.test", DNS_T_TXT);
	t_assert(a != NULL && a->status == DNS_OK && a->n == 1);
	dns_answer_free(a);
	t_assert_int_eq(dns_queries_started(d), 9);
	t_assert_int_eq(dns_cache_hits(d), 5);

	t_case("cache: an answer over 8 KiB stored is not kept");
	dns_answer_free(dns_lookup(d, "many.test", DNS_T_TXT));
	dns_answer_free(dns_lookup(d, "many.test", DNS_T_TXT));
	t_assert_int_eq(dns_queries_started(d), 11);
	dns_free(d);

	t_case("cache: off with nocache");
	p.nocache = true;
	if (!t_assert((d = dns_new(&p, NULL)) != NULL))
		return;
	dns_answer_free(dns_lookup(d, "multi.test", DNS_T_TXT));
	dns_answer_free(dns_lookup(d, "multi.test", DNS_T_TXT));
	t_assert_int_eq(dns_queries_started(d), 2);
	t_assert_int_eq(dns_cache_hits(d), 0);
	dns_free(d);
}

/* Frees queries at every stage of their life, so the callback and the
 * owner race for them; ASan and valgrind watch. */
static void
test_abandon_race(void)
{
	/* Every lookup must reach libunbound for the race to happen. */
	struct dns_params p = {
	    .unbound_conf = conf_path, .timeout = 0.2, .nocache = true};
	struct dns              *d = dns_new(&p, NULL);
	struct dns_query        *q[60];
	char                     name[32];
	size_t                   i;
	struct timespec          ts = {0, 1000000};
	const struct dns_answer *a;
	char                     want[16];
	int                      bad;

	t_case("abandon: 60 queries freed while answers arrive");
	if (!t_assert(d != NULL))
		return;
	for (i = 0; i < 60; i++) {
		if (i % 3 == 0)
			snprintf(name, sizeof(name), "silent.test");
		else
			snprintf(
			    name, sizeof(name), "r%zu.c%zu.test", i, i % 20);
		q[i] = dns_start(d, name, DNS_T_TXT);
		if (i % 4 == 0)
			nanosleep(&ts, NULL);
		if (i % 2 == 1) {
			dns_query_free(q[i]);
			q[i] = NULL;
		}
	}
	bad = 0;
	for (i = 0; i < 60; i++) {
		if (q[i] != NULL && i % 6 == 0) {
			/* Kept silent queries time out, and say so. */
			a = dns_wait(q[i]);
			if (a->status != DNS_TEMPFAIL ||
			    strcmp(a->why, "timeout") != 0)
				bad++;
		} else if (q[i] != NULL && i % 4 == 0) {
			/* rN.cK.test is below cK.test, not in the zone. */
			a = dns_wait(q[i]);
			if (a->status != DNS_NXDOMAIN || a->n != 0)
				bad++;
		}
		dns_query_free(q[i]);
	}
	t_assert_int_eq(bad, 0);
	t_assert_int_eq(dns_queries_started(d), 60);
	dns_free(d);

	t_case("abandon: 3000 cached answers raced by dns_query_free");
	bad = 0;
	/* Cached answers come back within microseconds, so some frees land
	 * while the callback runs: then the callback frees the query. */
	d = dns_new(&p, NULL);
	if (!t_assert(d != NULL))
		return;
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "c%zu.test", i);
		dns_answer_free(dns_lookup(d, name, DNS_T_TXT));
	}
	for (i = 0; i < 3000; i++) {
		volatile unsigned spin;
		struct dns_query *r;

		snprintf(name, sizeof(name), "c%zu.test", i % 20);
		r = dns_start(d, name, DNS_T_TXT);
		for (spin = 0; spin < (i * 7919) % 20000; spin++)
			;
		if (i % 10 == 0) {
			/* Among the abandoned ones, answers stay exact. */
			snprintf(want, sizeof(want), "c%zu", i % 20);
			a = dns_wait(r);
			if (a->status != DNS_OK || a->n != 1 ||
			    strcmp(a->rr[0].data, want) != 0)
				bad++;
		}
		dns_query_free(r);
	}
	t_assert_int_eq(bad, 0);
	t_assert_int_eq(dns_queries_started(d), 3020);
	dns_free(d);

	t_case("abandon: dns_free right after abandoning a silent query");
	d = dns_new(&p, NULL);
	if (!t_assert(d != NULL))
		return;
	dns_query_free(dns_start(d, "silent.test", DNS_T_TXT));
	dns_free(d);
}

/* Our libunbound defaults (dns.c ctx_defaults: a flood of silent servers
 * jammed the 16 ports libunbound has by default), and an unbound_conf that
 * sets one of them explicitly keeps its own value. */
static void
test_ub_defaults(void)
{
	struct dns_params p = {.timeout = 5.0};
	struct am_err     err = {.msg = ""};
	struct dns       *d;
	struct rlimit     rl;
	char              v[64], path[] = "/tmp/am-test-dns-ub.XXXXXX";
	unsigned long     ports = 1024;
	FILE             *f, *in;
	int               fd;

	t_case("libunbound defaults: ports, probing, the retry cap");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 4 < ports)
		ports = rl.rlim_cur / 4 < 16 ? 16 : rl.rlim_cur / 4;
	p.unbound_conf = conf_path;
	if (!t_assert((d = dns_new(&p, &err)) != NULL))
		return;
	t_assert_int_eq(dns_ub_option(d, "outgoing-range:", v, sizeof(v)), 0);
	t_assert_int_eq(strtoul(v, NULL, 10), ports);
	t_assert_int_eq(
	    dns_ub_option(d, "infra-keep-probing:", v, sizeof(v)), 0);
	t_assert_str_eq(v, "yes");
	t_assert_int_eq(
	    dns_ub_option(d, "infra-cache-max-rtt:", v, sizeof(v)), 0);
	t_assert_str_eq(v, "12000");
	t_assert_int_eq(dns_ub_option(d, "no-such-option:", v, sizeof(v)), -1);
	dns_free(d);

	t_case("libunbound defaults: the admin's unbound_conf wins");
	if (!t_assert((fd = mkstemp(path)) >= 0))
		return;
	f = fdopen(fd, "w");
	if ((in = fopen(conf_path, "r")) != NULL) {
		char line[1024];

		while (fgets(line, sizeof(line), in) != NULL) {
			fputs(line, f);
			if (strncmp(line, "server:", 7) == 0)
				fputs("\toutgoing-range: 77\n"
				      "\tinfra-keep-probing: no\n",
				    f);
		}
		fclose(in);
	}
	fclose(f);
	p.unbound_conf = path;
	d = dns_new(&p, &err);
	unlink(path);
	if (!t_assert(d != NULL))
		return;
	t_assert_int_eq(dns_ub_option(d, "outgoing-range:", v, sizeof(v)), 0);
	t_assert_str_eq(v, "77");
	t_assert_int_eq(
	    dns_ub_option(d, "infra-keep-probing:", v, sizeof(v)), 0);
	t_assert_str_eq(v, "no");
	t_assert_int_eq(
	    dns_ub_option(d, "infra-cache-max-rtt:", v, sizeof(v)), 0);
	t_assert_str_eq(v, "12000");
	dns_free(d);
}

int
main(int argc, char **argv)
{
	struct dns_params p = {.timeout = 5.0};
	struct am_err     err = {.msg = ""};
	struct dns       *d;

	if (argc < 2) {
		fprintf(stderr, "usage: test-dns DNS_CONF [DNS_LOG]\n");
		return 2;
	}
	conf_path = argv[1];
	log_path = argc > 2 ? argv[2] : NULL;
	refuse_conf = argc > 3 ? argv[3] : NULL;
	sec_conf = argc > 4 ? argv[4] : NULL;
	sec_ta = argc > 5 ? argv[5] : NULL;

	test_rdata_table();
	test_rdata_limits();
	test_txt_strings();
	test_names();
	test_new_errors();

	t_case("dns_new: the test config");
	p.unbound_conf = conf_path;
	d = dns_new(&p, &err);
	if (!t_assert(d != NULL)) {
		printf("  err: %s\n", err.msg);
		return t_done();
	}
	test_answers(d);
	test_badname(d);
	test_prefetch(d);
	test_concurrency(d, "answer cache");
	dns_free(d);
	/* Again with every lookup through libunbound's threads. */
	p.nocache = true;
	if ((d = dns_new(&p, &err)) != NULL) {
		test_concurrency(d, "no answer cache");
		dns_free(d);
	} else
		t_assert(d != NULL);

	test_cache();
	test_dnssec();

	test_refused();
	test_timeout();
	test_waiter();
	test_abandon_race();
	test_abandon_threads();
	test_ub_defaults();
	return t_done();
}

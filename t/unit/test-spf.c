/*
 * Unit tests for spf (RFC 7208). Without arguments only the pure parts run
 * (record syntax, macro expansion, truncation). t/unit/spf.sh starts the
 * loopback DNS server with t/data/spf/zone.json and runs
 *	test-spf DNS_CONF [QUERY_LOG]
 * for check_host() through the real libunbound path: loops, limits,
 * long records in many strings, explanations, DNS errors. QUERY_LOG is
 * the server's log of the queries it was asked ("name TYPE" a line), for
 * the cases that count lookups.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dns.h"
#include "err.h"
#include "ipaddr.h"
#include "spf.h"
#include "str.h"
#include "test.h"

/* --- record syntax (RFC 7208 4.5, 4.6, 5, 6, 12) --- */

struct rcase {
	const char *name;
	const char *rec;
	bool        valid;
};

static const struct rcase rcases[] = {
    {"version only", "v=spf1", true},
    {"version any case", "V=SpF1 -all", true},
    {"version then text", "v=spf10", false},
    {"not spf", "v=spf2 -all", false},
    {"trailing spaces", "v=spf1 -all   ", true},
    {"two spaces between terms", "v=spf1 a  -all", true},
    {"tab separates nothing", "v=spf1 a\t-all", false},
    {"CR inside", "v=spf1 a:x.example.com\rptr -all", false},
    {"LF inside", "v=spf1 ip4:192.0.2.5\n include:x.example.com", false},
    {"all with qualifiers", "v=spf1 +all -all ~all ?all", true},
    {"all with dot", "v=spf1 -all.", false},
    {"all with arg", "v=spf1 -all:foo", false},
    {"all with cidr", "v=spf1 -all/8", false},
    {"unknown mechanism", "v=spf1 moo", false},
    {"unknown mechanism after all", "v=spf1 ip4:1.2.3.4 -all moo", false},
    {"a plain", "v=spf1 a", true},
    {"a cidr4", "v=spf1 a/24", true},
    {"a cidr6", "v=spf1 a//64", true},
    {"a dual cidr", "v=spf1 a/24//64", true},
    {"a dual cidr one slash", "v=spf1 a/24/64", false},
    {"a cidr4 33", "v=spf1 a/33", false},
    {"a cidr6 129", "v=spf1 a//129", false},
    {"a cidr leading zero", "v=spf1 a/024", false},
    {"a domain and cidr", "v=spf1 a:foo.example.com/24//64", true},
    {"a empty domain", "v=spf1 a:", false},
    {"a colon in domain", "v=spf1 a:foo:bar/baz.example.com", true},
    {"a port", "v=spf1 a:example.com:8080", false},
    {"a numeric toplabel", "v=spf1 a:abc.123", false},
    {"a single label", "v=spf1 a:museum", false},
    {"a single label dot", "v=spf1 a:museum.", false},
    {"a dash toplabel", "v=spf1 a:foo.example.xn--zckzah", true},
    {"a bad toplabel", "v=spf1 a:example.-com", false},
    {"a ends in macro", "v=spf1 a:%{d}", true},
    {"a ends in %-", "v=spf1 a:foo.%-", true},
    {"a macro then toplabel", "v=spf1 a:%{d}.com", true},
    {"a macro then no dot", "v=spf1 a:%{d}com", false},
    {"a empty labels", "v=spf1 a:mail.example...com", true},
    {"a NUL", "v=spf1 a:foo.example.com\x01", false},
    {"mx dual", "v=spf1 mx:example.com/0//0", true},
    {"ptr plain", "v=spf1 ptr", true},
    {"ptr domain", "v=spf1 ptr:example.com", true},
    {"ptr cidr", "v=spf1 ptr/0", false},
    {"ptr empty", "v=spf1 ptr:", false},
    {"include plain", "v=spf1 include:example.com", true},
    {"include no domain", "v=spf1 include", false},
    {"include empty", "v=spf1 include:", false},
    {"include cidr", "v=spf1 include:example.com/24", false},
    {"exists", "v=spf1 exists:%{ir}.sbl.example.com", true},
    {"exists no domain", "v=spf1 exists", false},
    {"exists bad macro", "v=spf1 exists:%(ir).sbl.example.com", false},
    {"ip4", "v=spf1 ip4:192.0.2.0/24", true},
    {"ip4 /0", "v=spf1 ip4:1.1.1.1/0", true},
    {"ip4 /33", "v=spf1 ip4:1.2.3.4/33", false},
    {"ip4 /032", "v=spf1 ip4:1.2.3.4/032", false},
    {"ip4 //32", "v=spf1 ip4:1.2.3.4//32", false},
    {"ip4 three parts", "v=spf1 ip4:1.2.3", false},
    {"ip4 leading zero", "v=spf1 ip4:01.2.3.4", false},
    {"ip4 256", "v=spf1 ip4:1.2.3.256", false},
    {"ip4 port", "v=spf1 ip4:1.2.3.4:8080", false},
    {"ip4 none", "v=spf1 ip4", false},
    {"ip6", "v=spf1 ip6:2001:db8::/32", true},
    {"ip6 mapped", "v=spf1 ip6:::ffff:1.2.3.4", true},
    {"ip6 /129", "v=spf1 ip6:::1/129", false},
    {"ip6 //33", "v=spf1 ip6:::1//33", false},
    {"ip6 bad", "v=spf1 ip6::CAFE::BABE", false},
    {"redirect", "v=spf1 redirect=_spf.example.com", true},
    {"redirect any case", "v=spf1 ReDiReCt=_spf.example.com", true},
    {"redirect twice", "v=spf1 redirect=a.example.com redirect=a.example.com",
	false},
    {"redirect empty", "v=spf1 redirect=", false},
    {"redirect not a domain", "v=spf1 redirect=-all", false},
    {"redirect as mechanism", "v=spf1 redirect:example.com", false},
    {"exp", "v=spf1 -all exp=explain.%{d}", true},
    {"exp twice", "v=spf1 exp=a.example.com exp=b.example.com", false},
    {"exp empty", "v=spf1 exp=", false},
    {"exp with c", "v=spf1 exp=%{c}.example.com", false},
    {"unknown modifier", "v=spf1 moo.cow-far_out=man:dog/cat", true},
    {"unknown modifier empty", "v=spf1 foo=", true},
    {"unknown modifier bad name", "v=spf1 1up=foo", false},
    {"unknown modifier no name", "v=spf1 =all", false},
    {"unknown modifier slash", "v=spf1 moo.cow/far_out=man", false},
    {"unknown modifier bad macro", "v=spf1 foo=%abc", false},
    {"modifier with qualifier", "v=spf1 -foo=bar", false},
    {"non-ASCII mechanism",
	"v=spf1 \x80"
	"a",
	false},
    {"non-ASCII domain", "v=spf1 a:\xef\xbb\xbfgarbage.example.net", false},
    {"non-ASCII all",
	"v=spf1 \x96"
	"all",
	false},
};

static void
test_records(void)
{
	size_t      i;
	const char *why;
	char        big[2048];
	size_t      n;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		t_casef("record: %s", rcases[i].name);
		t_assert_int_eq(spf_record_valid(
				    rcases[i].rec, strlen(rcases[i].rec), &why),
		    rcases[i].valid);
		if (!rcases[i].valid)
			t_assert(why != NULL);
	}

	t_case("record: NUL inside is data");
	t_assert(!spf_record_valid("v=spf1 a:x.example.com\0 -all", 27, &why));
	t_case("record: cut before the end of the version");
	t_assert(!spf_record_valid("v=spf1", 5, &why));

	t_case("record: 450+ characters, 60 ip4 terms");
	n = str_lcpy(big, "v=spf1", sizeof(big));
	for (i = 0; i < 60; i++)
		n += (size_t)snprintf(
		    big + n, sizeof(big) - n, " ip4:198.51.100.%zu", i);
	t_assert(n > 450);
	t_assert(spf_record_valid(big, n, &why));
	big[n - 1] = 'x'; /* one bad term at the very end */
	t_assert(!spf_record_valid(big, n, &why));
}

/* --- macros (RFC 7208 7) --- */

struct mcase {
	const char *name;
	const char *in;
	const char *want; /* NULL: syntax error */
	int         kind; /* 0: domain-spec, 1: explain-string */
	int         ip6;  /* 0: 192.0.2.3, 1: 2001:db8::cb01 */
};

/* RFC 7208 7.4, exactly; then our own. */
static const struct mcase mcases[] = {
    {"7.4 %{s}", "%{s}", "strong-bad@email.example.com", 0, 0},
    {"7.4 %{o}", "%{o}", "email.example.com", 0, 0},
    {"7.4 %{d}", "%{d}", "email.example.com", 0, 0},
    {"7.4 %{d4}", "%{d4}", "email.example.com", 0, 0},
    {"7.4 %{d3}", "%{d3}", "email.example.com", 0, 0},
    {"7.4 %{d2}", "%{d2}", "example.com", 0, 0},
    {"7.4 %{d1}", "%{d1}", "com", 0, 0},
    {"7.4 %{dr}", "%{dr}", "com.example.email", 0, 0},
    {"7.4 %{d2r}", "%{d2r}", "example.email", 0, 0},
    {"7.4 %{l}", "%{l}", "strong-bad", 0, 0},
    {"7.4 %{l-}", "%{l-}", "strong.bad", 0, 0},
    {"7.4 %{lr}", "%{lr}", "strong-bad", 0, 0},
    {"7.4 %{lr-}", "%{lr-}", "bad.strong", 0, 0},
    {"7.4 %{l1r-}", "%{l1r-}", "strong", 0, 0},
    {"7.4 ir v _spf d2", "%{ir}.%{v}._spf.%{d2}",
	"3.2.0.192.in-addr._spf.example.com", 0, 0},
    {"7.4 lr- lp _spf d2", "%{lr-}.lp._spf.%{d2}",
	"bad.strong.lp._spf.example.com", 0, 0},
    {"7.4 lr- lp ir v _spf d2", "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	"bad.strong.lp.3.2.0.192.in-addr._spf.example.com", 0, 0},
    {"7.4 ir v l1r- lp _spf d2", "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	"3.2.0.192.in-addr.strong.lp._spf.example.com", 0, 0},
    {"7.4 d2 trusted-domains", "%{d2}.trusted-domains.example.net",
	"example.com.trusted-domains.example.net", 0, 0},
    {"7.4 ir v _spf d2 IPv6", "%{ir}.%{v}._spf.%{d2}",
	"1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6."
	"_spf.example.com",
	0, 1},
    {"escapes %% %_ %-", "a%%b%_c%-d", "a%b c%20d", 0, 0},
    {"i IPv6", "%{i}",
	"2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1", 0,
	1},
    {"c IPv6 in exp", "%{c}", "2001:db8::cb01", 1, 1},
    {"c IPv4 in exp", "%{c}", "192.0.2.3", 1, 0},
    {"v IPv6", "%{v}", "ip6", 0, 1},
    {"r in exp", "%{r}", "mx.example.org", 1, 0},
    {"t in exp", "%{t}", "1700000000", 1, 0},
    {"h", "%{h}", "mail.example.com", 0, 0},
    {"p without PTR is unknown", "%{p}", "unknown", 0, 0},
    {"upper-case escapes", "%{L}", "strong-bad", 0, 0},
    {"upper-case S escapes @", "%{S}", "strong-bad%40email.example.com", 0, 0},
    {"several delimiters", "%{d2r.-}", "example.email", 0, 0},
    {"digits past the parts", "%{d99}", "email.example.com", 0, 0},
    {"huge digit count", "%{d99999999999999}", "email.example.com", 0, 0},
    {"explain keeps spaces", "Go away %{l} now", "Go away strong-bad now", 1,
	0},
    {"domain refuses spaces", "a b", NULL, 0, 0},
    {"c refused in domain", "%{c}", NULL, 0, 0},
    {"r refused in domain", "%{r}", NULL, 0, 0},
    {"t refused in domain", "%{t}", NULL, 0, 0},
    {"lone %", "%", NULL, 0, 0},
    {"% then letter", "%d", NULL, 0, 0},
    {"% then paren", "%(d)", NULL, 0, 0},
    {"unclosed", "%{d", NULL, 0, 0},
    {"empty macro", "%{}", NULL, 0, 0},
    {"unknown letter", "%{x}", NULL, 0, 0},
    {"zero digits", "%{d0}", NULL, 0, 0},
    {"bad delimiter", "%{d!}", NULL, 0, 0},
    {"r before digits", "%{dr2}", NULL, 0, 0},
    {"non-ASCII literal", "caf\xc3\xa9.example.com", NULL, 0, 0},
    {"control literal",
	"a\x01"
	"b",
	NULL, 1, 0},
};

static void
vars_set(struct spf_macro_vars *v, struct ipaddr *ip, int ip6)
{
	memset(v, 0, sizeof(*v));
	ipaddr_parse(ip, ip6 ? "2001:db8::cb01" : "192.0.2.3");
	v->sender = "strong-bad@email.example.com";
	v->local = "strong-bad";
	v->sender_domain = "email.example.com";
	v->domain = "email.example.com";
	v->ip = ip;
	v->helo = "mail.example.com";
	v->receiver = "mx.example.org";
	v->now = 1700000000;
}

/* The 500-octet local-part of the RFC 7208 7.3 cases: 50 labels
 * "l00xxxxxx" .. "l49xxxxxxz" (t/data/spf/zone.json has the name it
 * gives). */
static void
long_local(char out[501])
{
	size_t n = 0;
	int    i;

	for (i = 0; i < 50; i++)
		n += (size_t)snprintf(
		    out + n, 501 - n, "%sl%02dxxxxxx", i ? "." : "", i);
	out[n++] = 'z';
	out[n] = '\0';
}

/* The right-most labels of "%{l}." x 40 "lp.longl.example.test" with
 * long_local(), cut to 253 octets. */
#define LONG_L_NAME                                                            \
	"l27xxxxxx.l28xxxxxx.l29xxxxxx.l30xxxxxx.l31xxxxxx.l32xxxxxx."         \
	"l33xxxxxx.l34xxxxxx.l35xxxxxx.l36xxxxxx.l37xxxxxx.l38xxxxxx."         \
	"l39xxxxxx.l40xxxxxx.l41xxxxxx.l42xxxxxx.l43xxxxxx.l44xxxxxx."         \
	"l45xxxxxx.l46xxxxxx.l47xxxxxx.l48xxxxxx.l49xxxxxxz.lp.longl."         \
	"example.test"

static void
test_macros(void)
{
	size_t                i;
	struct spf_macro_vars v;
	struct ipaddr         ip;
	struct buf            b;
	int                   rc;

	buf_init(&b, 0);
	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *c = &mcases[i];
		enum spf_macro_kind k =
		    c->kind ? SPF_MACRO_EXPLAIN : SPF_MACRO_DOMAIN;

		t_casef("macro: %s", c->name);
		vars_set(&v, &ip, c->ip6);
		buf_reset(&b);
		rc = spf_macro_expand(c->in, strlen(c->in), k, &v, &b);
		if (c->want == NULL) {
			t_assert_int_eq(rc, 1);
			t_assert_int_eq(spf_macro_expand(c->in, strlen(c->in),
					    k, NULL, NULL),
			    1);
		} else {
			t_assert_int_eq(rc, 0);
			t_assert_str_eq(buf_cstr(&b), c->want);
			t_assert_int_eq(spf_macro_expand(c->in, strlen(c->in),
					    k, NULL, NULL),
			    0);
		}
	}

	/* Upper-case macros are URL-escaped (RFC 7208 7.3), the suite's
	 * upper-macro example. */
	t_case("macro: %{L} escapes all but unreserved");
	vars_set(&v, &ip, 0);
	v.local = "~jack&jill=up-a_b3.c";
	buf_reset(&b);
	t_assert_int_eq(
	    spf_macro_expand("l=%{L}", 6, SPF_MACRO_EXPLAIN, &v, &b), 0);
	t_assert_str_eq(buf_cstr(&b), "l=~jack%26jill%3Dup-a_b3.c");

	/* Odd local-parts: a defined value every time. */
	t_case("macro: %{l} with spaces and quotes");
	v.local = "\"Macro Error\"";
	buf_reset(&b);
	t_assert_int_eq(
	    spf_macro_expand("%{l}", 4, SPF_MACRO_EXPLAIN, &v, &b), 0);
	t_assert_str_eq(buf_cstr(&b), "\"Macro Error\"");
	t_case("macro: %{lr} of only delimiters");
	v.local = "...";
	buf_reset(&b);
	t_assert_int_eq(
	    spf_macro_expand("%{lr}", 5, SPF_MACRO_DOMAIN, &v, &b), 0);
	t_assert_str_eq(buf_cstr(&b), "...");
	t_case("macro: %{l2r+-} splits on both");
	v.local = "foo-bar+zip+quux";
	buf_reset(&b);
	t_assert_int_eq(
	    spf_macro_expand("%{l2r+-}", 8, SPF_MACRO_DOMAIN, &v, &b), 0);
	t_assert_str_eq(buf_cstr(&b), "bar.foo");
	t_case("macro: %{l} empty");
	v.local = "";
	buf_reset(&b);
	t_assert_int_eq(
	    spf_macro_expand("x%{l}y", 6, SPF_MACRO_DOMAIN, &v, &b), 0);
	t_assert_str_eq(buf_cstr(&b), "xy");
	t_case("macro: %{l} of 5000 octets is cut, output bounded");
	{
		char *big = malloc(5001);

		memset(big, 'a', 5000);
		big[5000] = '\0';
		v.local = big;
		buf_free(&b);
		buf_init(&b, 0);
		t_assert_int_eq(
		    spf_macro_expand("%{l}", 4, SPF_MACRO_DOMAIN, &v, &b), 0);
		t_assert(b.len > 0 && b.len <= 1024);
		/* A small ceiling is reported, never overrun. */
		buf_free(&b);
		buf_init(&b, 100);
		t_assert_int_eq(
		    spf_macro_expand("%{l}", 4, SPF_MACRO_DOMAIN, &v, &b), -1);
		t_assert(b.len <= 100);
		free(big);
	}

	/* RFC 7208 7.3: an expansion longer than the buffer loses labels on
	 * the left, never the whole name: what is left gives, after the 253
	 * cut, the same name as the whole expansion. */
	t_case("macro: 40 %{l} of 500 octets in a 600-octet buffer");
	{
		char       local[501], spec[300];
		struct buf whole;
		size_t     n = 0, k;

		long_local(local);
		for (k = 0; k < 40; k++)
			n += (size_t)snprintf(
			    spec + n, sizeof(spec) - n, "%%{l}.");
		n += (size_t)snprintf(
		    spec + n, sizeof(spec) - n, "lp.longl.example.test");
		vars_set(&v, &ip, 0);
		v.local = local;
		buf_init(&whole, 0);
		t_assert_int_eq(
		    spf_macro_expand(spec, n, SPF_MACRO_DOMAIN, &v, &whole), 0);
		t_assert_int_eq(whole.len, 40 * 501 + 21);
		whole.len =
		    spf_domain_truncate(whole.data, whole.len, SPF_MAX_DOMAIN);
		t_assert_str_eq(whole.data, LONG_L_NAME);
		buf_free(&whole);
		buf_free(&b);
		buf_init(&b, 600);
		t_assert_int_eq(
		    spf_macro_expand(spec, n, SPF_MACRO_DOMAIN, &v, &b), 0);
		t_assert(b.len <= 600);
		b.len = spf_domain_truncate(b.data, b.len, SPF_MAX_DOMAIN);
		t_assert_str_eq(b.data, LONG_L_NAME);

		t_case("macro: a label longer than a name, then labels");
		memset(local, 'a', 500);
		local[500] = '\0';
		buf_free(&b);
		buf_init(&b, 600);
		t_assert_int_eq(spf_macro_expand("%{l}%{l}%{l}%{l}.example.com",
				    28, SPF_MACRO_DOMAIN, &v, &b),
		    0);
		t_assert(b.len <= 600);
		b.len = spf_domain_truncate(b.data, b.len, SPF_MAX_DOMAIN);
		t_assert_str_eq(b.data, "example.com");

		t_case("macro: a last label longer than a name stays too long");
		buf_free(&b);
		buf_init(&b, 600);
		t_assert_int_eq(spf_macro_expand("x.%{l}%{l}%{l}%{l}", 18,
				    SPF_MACRO_DOMAIN, &v, &b),
		    0);
		t_assert(b.len <= 600);
		b.len = spf_domain_truncate(b.data, b.len, SPF_MAX_DOMAIN);
		t_assert(b.len > SPF_MAX_DOMAIN);
		t_assert(strspn(b.data, "a") == b.len);
	}

	/* An explain-string is cut at the ceiling, never inside a %XX escape
	 * (RFC 7208 7.3), and the rest is still checked for syntax. */
	t_case("macro: explanation cut at the ceiling");
	vars_set(&v, &ip, 0);
	v.sender = "a@b";
	buf_free(&b);
	buf_init(&b, 10);
	t_assert_int_eq(spf_macro_expand("abcdefgh%{S} and more", 21,
			    SPF_MACRO_EXPLAIN, &v, &b),
	    0);
	t_assert_str_eq(buf_cstr(&b), "abcdefgha");
	t_case("macro: explanation cut, then a literal that would fit");
	buf_reset(&b);
	t_assert_int_eq(
	    spf_macro_expand("abcdefgh%-x", 11, SPF_MACRO_EXPLAIN, &v, &b), 0);
	t_assert_str_eq(buf_cstr(&b), "abcdefgh");
	t_case("macro: explanation cut, then a syntax error");
	buf_reset(&b);
	t_assert_int_eq(spf_macro_expand(
			    "abcdefghijkl %{x}", 17, SPF_MACRO_EXPLAIN, &v, &b),
	    1);
	buf_free(&b);
}

/* --- RFC 7208 7.3 truncation --- */

static void
test_truncate(void)
{
	char   name[600];
	size_t n, i;

	t_case("truncate: short name unchanged");
	str_lcpy(name, "a.example.com", sizeof(name));
	t_assert_int_eq(spf_domain_truncate(name, strlen(name), 253), 13);
	t_assert_str_eq(name, "a.example.com");

	t_case("truncate: labels cut from the left to 253");
	n = 0;
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(
		    name + n, sizeof(name) - n, "label%02zu.", i);
	n += (size_t)snprintf(name + n, sizeof(name) - n, "example.com");
	t_assert(n > 253);
	n = spf_domain_truncate(name, n, 253);
	t_assert(n <= 253);
	t_assert_int_eq(strlen(name), n);
	/* it still ends as before and starts on a label */
	t_assert(strcmp(name + n - 11, "example.com") == 0);
	t_assert(strncmp(name, "label", 5) == 0);
	t_assert(n > 253 - 9); /* no more than needed was cut */

	t_case("truncate: trailing dot not counted");
	memset(name, 'a', 250);
	memcpy(name + 250, ".bc.", 5);
	t_assert_int_eq(spf_domain_truncate(name, 254, 253), 254);

	t_case("truncate: one huge label cannot be cut");
	memset(name, 'a', 300);
	name[300] = '\0';
	t_assert_int_eq(spf_domain_truncate(name, 300, 253), 300);
}

static void
test_strings(void)
{
	t_case("result words (RFC 8601 2.7.2)");
	t_assert_str_eq(spf_result_str(SPF_NONE), "none");
	t_assert_str_eq(spf_result_str(SPF_NEUTRAL), "neutral");
	t_assert_str_eq(spf_result_str(SPF_PASS), "pass");
	t_assert_str_eq(spf_result_str(SPF_FAIL), "fail");
	t_assert_str_eq(spf_result_str(SPF_SOFTFAIL), "softfail");
	t_assert_str_eq(spf_result_str(SPF_TEMPERROR), "temperror");
	t_assert_str_eq(spf_result_str(SPF_PERMERROR), "permerror");
}

/* --- check_host() through the loopback server --- */

struct hcase {
	const char     *name;
	const char     *ip;
	const char     *domain;
	const char     *sender; /* NULL: postmaster@domain */
	enum spf_result want;
	const char     *reason; /* substring of spf_reason(), or NULL */
	const char     *exp;    /* explanation, or NULL for none */
};

static const struct hcase hcases[] = {
    {"pass on ip4", "192.0.2.1", "simple.example.test", NULL, SPF_PASS,
	"matched ip4:192.0.2.0/24", NULL},
    {"fail with explanation", "198.51.100.1", "simple.example.test",
	"Joe.User@simple.example.test", SPF_FAIL, "matched -all",
	"Joe.User is not allowed from 198.51.100.1 for simple.example.test"},
    {"none: no domain", "192.0.2.1", "nonexistent.example.test", NULL, SPF_NONE,
	NULL, NULL},
    {"none: single label", "192.0.2.1", "localhostx", NULL, SPF_NONE,
	"invalid domain", NULL},
    /* RFC 7208 4.3 with the suite's emptylabel, toolonglabel and
     * domain-literal domains, which authmilter-check spf (like the daemon)
     * never hands to check_host() as a MAIL FROM domain. */
    {"none: empty label", "192.0.2.1", "a...example.test", NULL, SPF_NONE,
	"invalid domain", NULL},
    {"none: label of 64", "192.0.2.1",
	"a123456789012345678901234567890123456789012345678901234567890123."
	"example.test",
	NULL, SPF_NONE, "invalid domain", NULL},
    {"none: domain literal", "192.0.2.1", "[192.0.2.1]", NULL, SPF_NONE,
	"invalid domain", NULL},
    {"include loop is permerror", "198.51.100.1", "loop1.example.test", NULL,
	SPF_PERMERROR, "include loop", NULL},
    {"include loop that matches first passes", "192.0.2.7",
	"loopmatch.example.test", NULL, SPF_PASS, NULL, NULL},
    {"redirect loop is permerror", "198.51.100.1", "redir-self.example.test",
	NULL, SPF_PERMERROR, "redirect loop", NULL},
    {"redirect ping-pong is permerror", "198.51.100.1", "pp1.example.test",
	NULL, SPF_PERMERROR, "DNS lookup limit", NULL},
    {"include of none is permerror", "192.0.2.1", "inc-none.example.test", NULL,
	SPF_PERMERROR, "has no SPF record", NULL},
    {"redirect to none is permerror", "192.0.2.1", "redir-none.example.test",
	NULL, SPF_PERMERROR, "has no SPF record", NULL},
    {"three void lookups", "192.0.2.1", "voids.example.test", NULL,
	SPF_PERMERROR, "void lookup limit", NULL},
    {"11 MX names", "192.0.2.1", "mx11.example.test", NULL, SPF_PERMERROR,
	"MX names", NULL},
    {"mx match", "192.0.2.25", "mx2.example.test", NULL, SPF_PASS, NULL, NULL},
    {"11 DNS terms", "192.0.2.1", "terms11.example.test", NULL, SPF_PERMERROR,
	"DNS lookup limit", NULL},
    {"10 DNS terms", "192.0.2.1", "terms10.example.test", NULL, SPF_PASS, NULL,
	NULL},
    {"record of 1000+ chars in 15 strings, last term", "203.0.113.60",
	"long.example.test", NULL, SPF_PASS, "ip4:203.0.113.60", NULL},
    {"record of 1000+ chars in 15 strings, no match", "203.0.113.99",
	"long.example.test", NULL, SPF_SOFTFAIL, NULL, NULL},
    {"non-ASCII record is permerror", "192.0.2.1", "utf8.example.test", NULL,
	SPF_PERMERROR, NULL, NULL},
    {"two records is permerror", "192.0.2.1", "two.example.test", NULL,
	SPF_PERMERROR, "multiple SPF records", NULL},
    /* 70 TXT records, cut at DNS_MAX_RRS: RFC 7208 4.5 needs them all. */
    {"second record beyond the cut is temperror", "192.0.2.1",
	"cut.example.test", NULL, SPF_TEMPERROR, "too large to read whole",
	NULL},
    {"only record beyond the cut is temperror", "192.0.2.1",
	"cut-late.example.test", NULL, SPF_TEMPERROR, "too large to read whole",
	NULL},
    {"two records before the cut is permerror", "192.0.2.1",
	"cut-two.example.test", NULL, SPF_PERMERROR, "multiple SPF records",
	NULL},
    {"SERVFAIL is temperror", "192.0.2.1", "servfail.example.test", NULL,
	SPF_TEMPERROR, "servfail.example.test", NULL},
    {"SERVFAIL in include is temperror", "192.0.2.1",
	"inc-servfail.example.test", NULL, SPF_TEMPERROR,
	"servfail.example.test", NULL},
    {"exists with %{l} of odd local-part", "192.0.2.1", "odd.example.test",
	"a.b-c+d@odd.example.test", SPF_PASS, NULL, NULL},
    {"expansion past 253 octets is cut from the left", "192.0.2.1",
	"grow.example.test", NULL, SPF_FAIL, NULL, "cut to fit"},
    {"ptr validated", "192.0.2.80", "ptr.example.test", NULL, SPF_PASS, NULL,
	NULL},
    {"HELO identity", "192.0.2.9", "helo.example.test",
	"postmaster@helo.example.test", SPF_PASS, NULL, NULL},
};

/* Lines of the query log that are exactly "NAME A" with NAME ending in
 * suffix. */
static int
log_count_a(const char *log, const char *suffix)
{
	FILE  *f = fopen(log, "r");
	char   line[512];
	int    n = 0;
	size_t sl = strlen(suffix), ll;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		ll = strlen(line);
		if (ll > 0 && line[ll - 1] == '\n')
			line[--ll] = '\0';
		if (ll > sl + 2 && strcmp(line + ll - 2, " A") == 0 &&
		    strncmp(line + ll - 2 - sl, suffix, sl) == 0)
			n++;
	}
	fclose(f);
	return n;
}

/* params.trace: every record and finished term once, in order, with the
 * engine's own counters (authmilter-check domain prints the tree from
 * it). tr.example.test: include:tr1 (a redirect to tr2: mx with an
 * exchange without address, ip4) then a: of a name that does not exist. */
struct trace_log {
	char         line[16][160];
	unsigned int terms[16];
	size_t       n;
};

static void
trace_cb(void *arg, const struct spf_trace *e)
{
	struct trace_log *l = arg;

	if (l->n >= 16)
		return;
	if (e->kind == SPF_TRACE_RECORD)
		snprintf(l->line[l->n], sizeof(l->line[0]), "%u record %s %s",
		    e->depth, e->domain, spf_result_str(e->result));
	else
		snprintf(l->line[l->n], sizeof(l->line[0]),
		    "%u %s %.*s %s %c target=%s terms=%u voids=%u%s noaddr=%u",
		    e->depth, e->domain, (int)e->len, e->text, e->mech, e->qual,
		    e->target, e->dns_terms, e->voids,
		    e->void_lookup ? " void" : "", e->mx_noaddr);
	l->terms[l->n++] = e->dns_terms;
}

static void
test_trace(struct dns *dns)
{
	static const char *const want[] = {
	    "0 record tr.example.test pass",
	    "1 record tr1.example.test pass",
	    "0 tr.example.test include:tr1.example.test include + "
	    "target=tr1.example.test terms=1 voids=0 noaddr=0",
	    "1 record tr2.example.test pass",
	    "1 tr1.example.test redirect=tr2.example.test redirect + "
	    "target=tr2.example.test terms=2 voids=0 noaddr=0",
	    "1 tr2.example.test mx mx + target=tr2.example.test terms=3 "
	    "voids=0 noaddr=1",
	    "1 tr2.example.test ip4:192.0.2.99 ip4 + target= terms=3 voids=0 "
	    "noaddr=0",
	    "1 tr2.example.test -all all - target= terms=3 voids=0 noaddr=0",
	    "0 tr.example.test a:trh.example.test a + "
	    "target=trh.example.test terms=4 voids=1 void noaddr=0",
	    "0 tr.example.test ~all all ~ target= terms=4 voids=1 noaddr=0",
	};
	struct trace_log  l = {0};
	struct spf_params sp = {.trace = trace_cb, .trace_arg = &l};
	struct spf_query *q = spf_query_new(dns, &sp);
	struct ipaddr     ip;
	size_t            i;

	t_case("trace: records and terms in order, with the engine's counts");
	ipaddr_parse(&ip, "240.0.0.1");
	t_assert_str_eq(spf_result_str(spf_check_host(q, &ip, "tr.example.test",
			    "x@tr.example.test", NULL)),
	    "softfail");
	t_assert_int_eq(l.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < l.n && i < sizeof(want) / sizeof(want[0]); i++)
		t_assert_str_eq(l.line[i], want[i]);
	t_case("trace: the last count is spf_dns_terms()");
	t_assert(l.n > 0 && l.terms[l.n - 1] == spf_dns_terms(q));
	t_assert_int_eq(spf_void_lookups(q), 1);
	spf_query_free(q);
}

/* RFC 7208 4.6.4: of a PTR answer of more than 10 names only the first 10
 * are checked (their address records looked up); the rest are ignored. */
static void
test_ptr_limit(struct dns *dns, const char *log)
{
	struct spf_params sp = {.receiver = "mx.example.org", .now = 1};
	struct spf_query *q = spf_query_new(dns, &sp);
	struct ipaddr     ip;

	t_case("check_host: 11 PTR names, all valid: 10 address lookups");
	ipaddr_parse(&ip, "192.0.2.81");
	t_assert_str_eq(
	    spf_result_str(spf_check_host(
		q, &ip, "ptr11.example.test", "x@ptr11.example.test", NULL)),
	    "pass");
	if (log != NULL)
		t_assert_int_eq(log_count_a(log, ".ptr11.example.test"), 10);
	t_assert_int_eq(spf_dns_terms(q), 1);

	t_case("check_host: 11 PTR names, only the 11th valid: ignored");
	ipaddr_parse(&ip, "192.0.2.82");
	t_assert_str_eq(
	    spf_result_str(spf_check_host(
		q, &ip, "ptr11.example.test", "x@ptr11.example.test", NULL)),
	    "fail");
	if (log != NULL)
		t_assert_int_eq(log_count_a(log, ".ptr11.example.test"), 20);

	t_case("check_host: 11 PTR names, only the 10th valid: checked");
	ipaddr_parse(&ip, "192.0.2.83");
	t_assert_str_eq(
	    spf_result_str(spf_check_host(
		q, &ip, "ptr11.example.test", "x@ptr11.example.test", NULL)),
	    "pass");
	if (log != NULL)
		t_assert_int_eq(log_count_a(log, ".ptr11.example.test"), 30);
	spf_query_free(q);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* RFC 7208 4.6.4: one evaluation has an elapsed limit. slowchain has nine
 * a: terms with names made unique by %{l}, each answered 0.6 s late (just
 * inside the 3 s query deadline): 5.4 s without the limit. */
static void
test_time_limit(struct dns *dns)
{
	struct spf_params sp = {.receiver = "mx.example.org", .timeout = 1.5};
	struct spf_query *q = spf_query_new(dns, &sp);
	struct ipaddr     ip;
	enum spf_result   r;
	double            t0, el;

	t_case("time limit: a slow server is cut at params.timeout");
	ipaddr_parse(&ip, "192.0.2.1");
	t0 = mono();
	r = spf_check_host(q, &ip, "slowchain.example.test",
	    "u1@slowchain.example.test", NULL);
	el = mono() - t0;
	t_assert_str_eq(spf_result_str(r), "temperror");
	t_assert(
	    strncmp(spf_reason(q), "SPF time limit of 1.5 s at ", 27) == 0);
	if (!t_assert(el >= 1.45 && el < 2.3))
		printf("  elapsed %.3f s\n", el);
	/* Some terms were evaluated, not all nine. */
	t_assert(spf_dns_terms(q) >= 1 && spf_dns_terms(q) <= 4);

	t_case("time limit: without it the same chain ends in fail");
	spf_query_free(q);
	sp.timeout = 10.0;
	q = spf_query_new(dns, &sp);
	t0 = mono();
	r = spf_check_host(q, &ip, "slowchain.example.test",
	    "u2@slowchain.example.test", NULL);
	el = mono() - t0;
	t_assert_str_eq(spf_result_str(r), "fail");
	t_assert_int_eq(spf_dns_terms(q), 9);
	if (!t_assert(el >= 5.0))
		printf("  elapsed %.3f s\n", el);

	t_case("step: begin and step never wait; stop ends it at once");
	t0 = mono();
	spf_check_begin(q, &ip, "slowchain.example.test",
	    "u3@slowchain.example.test", NULL);
	t_assert(!spf_check_step(q, &r));
	t_assert_str_eq(
	    spf_result_str(spf_check_stop(q, "stopped")), "temperror");
	t_assert(spf_check_step(q, &r) && r == SPF_TEMPERROR);
	t_assert_str_eq(spf_reason(q), "stopped at slowchain.example.test");
	el = mono() - t0;
	if (!t_assert(el < 0.3))
		printf("  elapsed %.3f s\n", el);
	spf_query_free(q);
}

static void
test_hosts(const char *conf, const char *log)
{
	struct dns_params dp = {.unbound_conf = conf, .timeout = 3.0};
	struct am_err     err;
	struct dns       *dns = dns_new(&dp, &err);
	struct spf_params sp = {.receiver = "mx.example.org", .now = 1};
	struct spf_query *q;
	struct ipaddr     ip;
	size_t            i;
	char              sender[600];

	t_case("check_host: resolver");
	if (!t_assert(dns != NULL)) {
		printf("  %s\n", err.msg);
		return;
	}
	q = spf_query_new(dns, &sp);
	t_assert(q != NULL);
	for (i = 0; q && i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		const struct hcase *c = &hcases[i];
		enum spf_result     r;

		t_casef("check_host: %s", c->name);
		ipaddr_parse(&ip, c->ip);
		if (c->sender)
			str_lcpy(sender, c->sender, sizeof(sender));
		else
			snprintf(
			    sender, sizeof(sender), "postmaster@%s", c->domain);
		r = spf_check_host(
		    q, &ip, c->domain, sender, "mail.example.test");
		t_assert_str_eq(spf_result_str(r), spf_result_str(c->want));
		if (c->reason && !t_assert(strstr(spf_reason(q), c->reason)))
			printf("  reason: %s\n", spf_reason(q));
		t_assert_str_eq(spf_explanation(q), c->exp);
		t_assert(spf_dns_terms(q) <= SPF_MAX_DNS_TERMS + 1);
		t_assert(spf_void_lookups(q) <= SPF_MAX_VOID + 1);
	}
	spf_query_free(q);

	t_case("check_host: params raise the void limit");
	sp.max_void = 3;
	q = spf_query_new(dns, &sp);
	ipaddr_parse(&ip, "192.0.2.1");
	t_assert_int_eq(spf_check_host(q, &ip, "voids.example.test",
			    "x@voids.example.test", NULL),
	    SPF_NEUTRAL);
	t_assert_int_eq(spf_void_lookups(q), 3);
	spf_query_free(q);

	/* RFC 7208 7.3: "exists:%{l}." x 40 "lp.longl.example.test" with a
	 * 500-octet local-part expands to 20061 octets; the name asked is
	 * its right-most labels within 253 (which exist), not a permerror. */
	t_case("check_host: 40 %{l} of a 500-octet local-part cut from the "
	       "left");
	sp.max_void = 0;
	q = spf_query_new(dns, &sp);
	ipaddr_parse(&ip, "192.0.2.1");
	{
		char local[501];

		long_local(local);
		snprintf(
		    sender, sizeof(sender), "%s@longl.example.test", local);
	}
	t_assert_str_eq(spf_result_str(spf_check_host(
			    q, &ip, "longl.example.test", sender, NULL)),
	    "pass");
	t_assert(strncmp(spf_reason(q), "matched exists:", 15) == 0);
	t_case("check_host: 40 %{l} of a short local-part");
	t_assert_str_eq(
	    spf_result_str(spf_check_host(
		q, &ip, "longl.example.test", "ab@longl.example.test", NULL)),
	    "fail");
	spf_query_free(q);

	/* An explanation of 1100 octets (20 x "%{d} is not allowed to send
	 * this mail; ") is cut to SPF_MAX_EXPLANATION, not dropped. */
	t_case("check_host: explanation longer than 512 octets is cut");
	q = spf_query_new(dns, &sp);
	ipaddr_parse(&ip, "192.0.2.1");
	{
		struct buf want;

		buf_init(&want, 0);
		for (i = 0; i < 20; i++)
			buf_append_str(&want, "longexp.example.test is not "
					      "allowed to send this mail; ");
		t_assert_int_eq(want.len, 1100);
		want.data[SPF_MAX_EXPLANATION] = '\0';
		t_assert_str_eq(spf_result_str(spf_check_host(q, &ip,
				    "longexp.example.test",
				    "x@longexp.example.test", NULL)),
		    "fail");
		t_assert_str_eq(spf_explanation(q), want.data);
		buf_free(&want);
	}
	spf_query_free(q);
	test_ptr_limit(dns, log);
	test_trace(dns);
	test_time_limit(dns);
	dns_free(dns);
}

int
main(int argc, char **argv)
{
	test_records();
	test_macros();
	test_truncate();
	test_strings();
	if (argc >= 2)
		test_hosts(argv[1], argc >= 3 ? argv[2] : NULL);
	return t_done();
}

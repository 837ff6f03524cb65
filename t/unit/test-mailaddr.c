/* Unit tests for mailaddr: RFC 5322 address-lists (the From-header attacks
 * of OpenDMARC CVE-2019-16378 and its family first), RFC 5321 paths, and
 * the domain normal form. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mailaddr.h"
#include "test.h"

#define ANY_POS ((size_t)-1)

/* An address list renders as "local@domain_norm" per address, joined by
 * " | "; an unusable domain renders as "local@!domain-as-written". */
struct list_case {
	const char          *name;
	const char          *in;
	size_t               inlen; /* 0: strlen(in) */
	enum mailaddr_status status;
	size_t               pos; /* MAILADDR_ESYNTAX: error_pos, or ANY_POS */
	const char          *want;
};

static const struct list_case list_cases[] = {
    /* The attacks: the domain is always that of the real addr-spec. */
    {"attack: quoted display name that looks like an address",
	"\"user@bank.com\" <evil@attacker.com>", 0, MAILADDR_OK, 0,
	"evil@attacker.com"},
    {"attack: bare address as display name is a syntax error",
	"user@bank.com <evil@attacker.com>", 0, MAILADDR_ESYNTAX, 14, ""},
    {"attack: two addresses, two domains", "evil@attacker.com, user@bank.com",
	0, MAILADDR_OK, 0, "evil@attacker.com | user@bank.com"},
    {"attack: address in a trailing comment",
	"<evil@attacker.com> (user@bank.com)", 0, MAILADDR_OK, 0,
	"evil@attacker.com"},
    {"attack: address in a comment inside the angle address",
	"<evil(user@bank.com)@(x)attacker.com>", 0, MAILADDR_OK, 0,
	"evil@attacker.com"},
    {"attack: encoded word with =40 as display name",
	"=?utf-8?q?user=40bank.com?= <evil@attacker.com>", 0, MAILADDR_OK, 0,
	"evil@attacker.com"},
    {"attack: encoded word alone is not an address",
	"=?utf-8?q?user=40bank.com?=", 0, MAILADDR_ESYNTAX, 27, ""},
    {"attack: domain as display name (obs-phrase)",
	"bank.com <evil@attacker.com>", 0, MAILADDR_OK, 0, "evil@attacker.com"},
    {"attack: a domain alone is not an address", "bank.com", 0,
	MAILADDR_ESYNTAX, 8, ""},
    {"attack: quoted local-part holding an address",
	"\"user@bank.com\"@attacker.com", 0, MAILADDR_OK, 0,
	"user@bank.com@attacker.com"},
    {"attack: two angle addresses without comma",
	"<evil@attacker.com> <user@bank.com>", 0, MAILADDR_ESYNTAX, 20, ""},
    {"attack: NUL byte in display name", "user\0@bank.com <evil@attacker.com>",
	34, MAILADDR_ESYNTAX, 4, ""},
    {"attack: NUL byte in quoted string", "\"a\0b\" <evil@attacker.com>", 25,
	MAILADDR_ESYNTAX, 2, ""},
    {"attack: NUL byte in comment", "<evil@attacker.com> (a\0b)", 25,
	MAILADDR_ESYNTAX, 22, ""},
    {"attack: NUL byte after the address", "evil@attacker.com\0bank.com", 26,
	MAILADDR_ESYNTAX, 17, ""},
    {"attack: unbalanced quote", "\"user@bank.com <evil@attacker.com>", 0,
	MAILADDR_ESYNTAX, 0, ""},
    {"attack: unbalanced comment", "<evil@attacker.com> (bank.com", 0,
	MAILADDR_ESYNTAX, 20, ""},
    {"attack: unbalanced close paren", "<evil@attacker.com> bank.com)", 0,
	MAILADDR_ESYNTAX, 20, ""},
    {"attack: missing closing bracket", "Evil <evil@attacker.com", 0,
	MAILADDR_ESYNTAX, 23, ""},
    {"attack: stray closing bracket", "evil@attacker.com>", 0, MAILADDR_ESYNTAX,
	17, ""},
    {"attack: unbalanced domain literal", "evil@[1.2.3.4", 0, MAILADDR_ESYNTAX,
	5, ""},
    {"attack: two @ in an addr-spec", "user@bank.com@attacker.com", 0,
	MAILADDR_ESYNTAX, 13, ""},
    {"attack: unquoted display name with @ before angle",
	"Bank <user@bank.com> x@attacker.com", 0, MAILADDR_ESYNTAX, 21, ""},
    {"attack: backslash outside quotes", "\\\"user@bank.com", 0,
	MAILADDR_ESYNTAX, 0, ""},
    {"attack: two words as local-part", "user name@bank.com", 0,
	MAILADDR_ESYNTAX, 0, ""},

    /* Ordinary forms. */
    {"empty field", "", 0, MAILADDR_OK, 0, ""},
    {"whitespace and comment only", " \r\n\t(nobody) ", 0, MAILADDR_OK, 0, ""},
    {"bare addr-spec", " user@example.com", 0, MAILADDR_OK, 0,
	"user@example.com"},
    {"display name and angle address", " John Doe <john.doe@Example.COM>", 0,
	MAILADDR_OK, 0, "john.doe@example.com"},
    {"quoted display name with quoted-pairs",
	"\"Doe, John \\\"JD\\\"\" <jd@example.com>", 0, MAILADDR_OK, 0,
	"jd@example.com"},
    {"folded field", " John\r\n Doe\r\n\t<jd@example.com>\r\n", 0, MAILADDR_OK,
	0, "jd@example.com"},
    {"LF-only folds", " John\n <jd@example.com>", 0, MAILADDR_OK, 0,
	"jd@example.com"},
    {"nested comments", "(a (b (c) \\) d)) jd@example.com (e)", 0, MAILADDR_OK,
	0, "jd@example.com"},
    {"quoted local-part unquoted", "\"john \\\"q\\\" doe\"@example.com", 0,
	MAILADDR_OK, 0, "john \"q\" doe@example.com"},
    {"quoted local-part with fold", "\"a\r\n b\"@example.com", 0, MAILADDR_OK,
	0, "a b@example.com"},
    {"UTF-8 display name (RFC 6532)",
	"J\xc3\xbcrgen M\xc3\xbcller <jm@example.de>", 0, MAILADDR_OK, 0,
	"jm@example.de"},
    {"UTF-8 in quoted display name",
	"\"M\xc3\xbcller, J\xc3\xbcrgen\" <jm@example.de>", 0, MAILADDR_OK, 0,
	"jm@example.de"},
    {"empty quoted display name", "\"\" <a@example.com>", 0, MAILADDR_OK, 0,
	"a@example.com"},
    {"encoded-word display name",
	"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@example.dk>", 0,
	MAILADDR_OK, 0, "keld@example.dk"},
    {"three addresses", "a@x.example, B <b@y.example>, \"C\" <c@z.example>", 0,
	MAILADDR_OK, 0, "a@x.example | b@y.example | c@z.example"},
    {"domain literal is unusable", "user@[192.0.2.1]", 0, MAILADDR_OK, 0,
	"user@![192.0.2.1]"},
    {"IPv6 domain literal", "<user@[IPv6:2001:db8::1]>", 0, MAILADDR_OK, 0,
	"user@![IPv6:2001:db8::1]"},
    {"missing domain", "user@", 0, MAILADDR_ESYNTAX, 5, ""},
    {"missing local-part", "@example.com", 0, MAILADDR_ESYNTAX, 0, ""},
    {"no @ in angle address", "Name <user>", 0, MAILADDR_ESYNTAX, 10, ""},
    {"empty angle address", "<>", 0, MAILADDR_ESYNTAX, 1, ""},
    {"leading dot in display name", ".John <a@example.com>", 0,
	MAILADDR_ESYNTAX, 0, ""},
    {"semicolon outside group", "a@example.com;", 0, MAILADDR_ESYNTAX, 13, ""},
    {"control byte in atom", "a\x01@example.com", 0, MAILADDR_ESYNTAX, 1, ""},
    {"unusable domain characters", "a@exa!mple.com", 0, MAILADDR_OK, 0,
	"a@!exa!mple.com"},

    /* Domain normal form. */
    {"case folded", "a@EXAMPLE.Com", 0, MAILADDR_OK, 0, "a@example.com"},
    {"one trailing dot removed", "a@example.com.", 0, MAILADDR_OK, 0,
	"a@example.com"},
    {"two trailing dots", "a@example.com..", 0, MAILADDR_ESYNTAX, 14, ""},
    {"IDN U-label to A-label",
	"<a@b\xc3\xbc"
	"cher.example>",
	0, MAILADDR_OK, 0, "a@xn--bcher-kva.example"},
    {"IDN upper-case U-label",
	"a@B\xc3\x9c"
	"CHER.Example",
	0, MAILADDR_OK, 0, "a@xn--bcher-kva.example"},
    {"IDN invalid UTF-8 is unusable", "a@b\xff.example", 0, MAILADDR_OK, 0,
	"a@!b\xff.example"},
    {"label too long is unusable",
	"a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	".example",
	0, MAILADDR_OK, 0,
	"a@!aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"a.example"},

    /* Groups. */
    {"group with two members", "Undisclosed: a@b.example, c@d.example;", 0,
	MAILADDR_OK, 0, "a@b.example | c@d.example"},
    {"empty group", "Undisclosed recipients:;", 0, MAILADDR_OK, 0, ""},
    {"empty group with CFWS", "Undisclosed recipients: (none) ;", 0,
	MAILADDR_OK, 0, ""},
    {"group then address", "G: <a@b.example>;, c@d.example", 0, MAILADDR_OK, 0,
	"a@b.example | c@d.example"},
    {"group without semicolon", "G: a@b.example", 0, MAILADDR_ESYNTAX, 14, ""},
    {"nested group", "G: H: a@b.example;;", 0, MAILADDR_ESYNTAX, 3, ""},
    {"group without name", ": a@b.example;", 0, MAILADDR_ESYNTAX, 0, ""},
    {"address as group name", "a@bank.example: b@evil.example;", 0,
	MAILADDR_ESYNTAX, 14, ""},

    /* Obsolete forms (RFC 5322 4.4). */
    {"obs-local-part with CFWS", "john . (x) doe @ example.com", 0, MAILADDR_OK,
	0, "john.doe@example.com"},
    {"obs-local-part of quoted words", "\"a\".\"b c\"@example.com", 0,
	MAILADDR_OK, 0, "a.b c@example.com"},
    {"obs-domain with CFWS", "a@ example . (x) com", 0, MAILADDR_OK, 0,
	"a@example.com"},
    {"obs-phrase with dots", "John Q. Public <jqp@example.com>", 0, MAILADDR_OK,
	0, "jqp@example.com"},
    {"obs-route", "<@a.example,@b.example:user@c.example>", 0, MAILADDR_OK, 0,
	"user@c.example"},
    {"obs-route with empty members",
	"Name <,@a.example,,@b.example:user@c.example>", 0, MAILADDR_OK, 0,
	"user@c.example"},
    {"obs-route without colon", "<@a.example user@c.example>", 0,
	MAILADDR_ESYNTAX, 12, ""},
    {"obs-addr-list empty members", ", a@b.example, , c@d.example,", 0,
	MAILADDR_OK, 0, "a@b.example | c@d.example"},
    {"doubled dot in local-part tolerated", "a..b@example.jp", 0, MAILADDR_OK,
	0, "a..b@example.jp"},
};

static void
render(struct buf *b, const struct mailaddr_list *l)
{
	size_t i;

	buf_reset(b);
	for (i = 0; i < l->count; i++) {
		if (i > 0)
			buf_append_str(b, " | ");
		buf_printf(b, "%s@%s%s", l->addr[i].local,
		    l->addr[i].domain_norm ? "" : "!",
		    l->addr[i].domain_norm ? l->addr[i].domain_norm
					   : l->addr[i].domain);
	}
}

static void
test_list_table(void)
{
	struct mailaddr_list *l;
	struct buf            b;
	size_t                i, n;

	buf_init(&b, 0);
	for (i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		const struct list_case *c = &list_cases[i];

		t_case(c->name);
		n = c->inlen ? c->inlen : strlen(c->in);
		l = mailaddr_parse_list(c->in, n);
		if (!t_assert(l != NULL))
			continue;
		t_assert_int_eq(l->status, c->status);
		if (c->status == MAILADDR_ESYNTAX && c->pos != ANY_POS)
			t_assert_int_eq(l->error_pos, c->pos);
		render(&b, l);
		t_assert_str_eq(buf_cstr(&b), c->want);
		mailaddr_list_free(l);
	}
	buf_free(&b);
}

static void
test_list_limits(void)
{
	struct mailaddr_list *l;
	struct buf            b;
	size_t                i;

	buf_init(&b, 0);
	t_case("limit: MAILADDR_MAX addresses are fine");
	for (i = 0; i < MAILADDR_MAX; i++)
		buf_printf(&b, "%su%zu@d%zu.example", i ? ", " : "", i, i);
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_OK);
	t_assert_int_eq(l->count, MAILADDR_MAX);
	t_assert_str_eq(l->addr[MAILADDR_MAX - 1].domain_norm, "d31.example");
	mailaddr_list_free(l);

	t_case("limit: one more is too many");
	buf_printf(&b, ", x@y.example");
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_ETOOMANY);
	t_assert_int_eq(l->count, 0);
	mailaddr_list_free(l);

	t_case("limit: 1000 addresses are too many");
	buf_reset(&b);
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%su%zu@d.example", i ? ", " : "", i);
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_ETOOMANY);
	t_assert_int_eq(l->count, 0);
	mailaddr_list_free(l);

	t_case("limit: 1000 addresses in a group are too many");
	buf_reset(&b);
	buf_append_str(&b, "G:");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%su%zu@d.example", i ? ", " : "", i);
	buf_append_str(&b, ";");
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_ETOOMANY);
	mailaddr_list_free(l);

	t_case("limit: 100 KB display name");
	buf_reset(&b);
	for (i = 0; i < 100 * 1024 / 8; i++)
		buf_append_str(&b, "Abcdefg ");
	buf_append_str(&b, "<a@example.com>");
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_OK);
	t_assert_int_eq(l->count, 1);
	t_assert_str_eq(l->count ? l->addr[0].domain_norm : "", "example.com");
	mailaddr_list_free(l);

	t_case("limit: 100 KB quoted local-part");
	buf_reset(&b);
	buf_append_char(&b, '"');
	for (i = 0; i < 100 * 1024; i++)
		buf_append_char(&b, 'x');
	buf_append_str(&b, "\"@example.com");
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_OK);
	t_assert_int_eq(l->count ? strlen(l->addr[0].local) : 0, 100 * 1024);
	mailaddr_list_free(l);

	t_case("limit: comments nested 32 deep are fine");
	buf_reset(&b);
	for (i = 0; i < MAILADDR_MAX_COMMENT_DEPTH; i++)
		buf_append_char(&b, '(');
	for (i = 0; i < MAILADDR_MAX_COMMENT_DEPTH; i++)
		buf_append_char(&b, ')');
	buf_append_str(&b, "a@example.com");
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_OK);
	t_assert_int_eq(l->count, 1);
	mailaddr_list_free(l);

	t_case("limit: comments nested 33 deep are an error");
	buf_reset(&b);
	for (i = 0; i <= MAILADDR_MAX_COMMENT_DEPTH; i++)
		buf_append_char(&b, '(');
	for (i = 0; i <= MAILADDR_MAX_COMMENT_DEPTH; i++)
		buf_append_char(&b, ')');
	buf_append_str(&b, "a@example.com");
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_ESYNTAX);
	t_assert_int_eq(l->error_pos, MAILADDR_MAX_COMMENT_DEPTH);
	mailaddr_list_free(l);

	t_case("limit: comments nested 10000 deep are an error");
	buf_reset(&b);
	buf_append_str(&b, "<a@example.com> ");
	for (i = 0; i < 10000; i++)
		buf_append_char(&b, '(');
	for (i = 0; i < 10000; i++)
		buf_append_char(&b, ')');
	l = mailaddr_parse_list(b.data, b.len);
	t_assert_int_eq(l->status, MAILADDR_ESYNTAX);
	t_assert_int_eq(l->error_pos, 16 + MAILADDR_MAX_COMMENT_DEPTH);
	t_assert_int_eq(l->count, 0);
	mailaddr_list_free(l);
	buf_free(&b);
}

struct path_case {
	const char          *name;
	const char          *in;
	enum mailaddr_status status;
	const char          *local, *domain, *norm; /* norm "": unusable */
};

static const struct path_case path_cases[] = {
    {"path: angle", "<user@example.com>", MAILADDR_OK, "user", "example.com",
	"example.com"},
    {"path: bare", "user@Example.COM", MAILADDR_OK, "user", "Example.COM",
	"example.com"},
    {"path: null sender", "<>", MAILADDR_NULL, "", "", ""},
    {"path: empty is the null sender", "", MAILADDR_NULL, "", "", ""},
    {"path: source route", "<@a.example,@b.example:user@c.example>",
	MAILADDR_OK, "user", "c.example", "c.example"},
    {"path: quoted local-part", "<\"a b\"@example.com>", MAILADDR_OK, "a b",
	"example.com", "example.com"},
    {"path: quoted-pair in local-part", "<\"a\\\"b\"@example.com>", MAILADDR_OK,
	"a\"b", "example.com", "example.com"},
    {"path: trailing dot", "<u@example.com.>", MAILADDR_OK, "u", "example.com.",
	"example.com"},
    {"path: IDN",
	"<u@b\xc3\xbc"
	"cher.example>",
	MAILADDR_OK, "u",
	"b\xc3\xbc"
	"cher.example",
	"xn--bcher-kva.example"},
    {"path: address literal", "<u@[192.0.2.1]>", MAILADDR_OK, "u",
	"[192.0.2.1]", ""},
    {"path: postmaster without domain", "<Postmaster>", MAILADDR_OK,
	"Postmaster", "", ""},
    {"path: SRS local-part", "<SRS0=HHH=TT=example.org=user@fwd.example>",
	MAILADDR_OK, "SRS0=HHH=TT=example.org=user", "fwd.example",
	"fwd.example"},
    {"path: ESMTP parameter after >", "<u@example.com> SIZE=100",
	MAILADDR_ESYNTAX, "", "", ""},
    {"path: space in bare form", "u@example.com SIZE=100", MAILADDR_ESYNTAX, "",
	"", ""},
    {"path: unclosed angle", "<u@example.com", MAILADDR_ESYNTAX, "", "", ""},
    {"path: two @", "<u@bank.example@evil.example>", MAILADDR_ESYNTAX, "", "",
	""},
    {"path: display name", "Bank <u@bank.example>", MAILADDR_ESYNTAX, "", "",
	""},
    {"path: empty domain", "<u@>", MAILADDR_ESYNTAX, "", "", ""},
    {"path: empty local-part", "<@example.com>", MAILADDR_ESYNTAX, "", "", ""},
    {"path: unterminated quote", "<\"u@example.com>", MAILADDR_ESYNTAX, "", "",
	""},
    {"path: route without colon", "<@a.example,u@c.example>", MAILADDR_ESYNTAX,
	"", "", ""},
    {"path: underscore domain is unusable", "<u@a_b.example>", MAILADDR_OK, "u",
	"a_b.example", ""},
};

static void
test_path(void)
{
	struct mailaddr_path path;
	enum mailaddr_status st;
	size_t               i, where;
	char                 big[MAILADDR_PATH_LOCAL_MAX + 64];

	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];

		t_case(c->name);
		st = mailaddr_parse_path(c->in, strlen(c->in), &path, &where);
		t_assert_int_eq(st, c->status);
		if (st == MAILADDR_ESYNTAX) {
			t_assert(where <= strlen(c->in));
			continue;
		}
		t_assert_str_eq(path.local, c->local);
		t_assert_str_eq(path.domain, c->domain);
		t_assert_str_eq(path.domain_norm, c->norm);
		t_assert_int_eq(path.domain_ok, c->norm[0] != '\0');
	}

	t_case("path: NUL byte");
	st = mailaddr_parse_path("<u\0x@example.com>", 17, &path, &where);
	t_assert_int_eq(st, MAILADDR_ESYNTAX);
	t_assert_int_eq(where, 2);

	t_case("path: local-part at the limit");
	big[0] = '<';
	memset(big + 1, 'a', MAILADDR_PATH_LOCAL_MAX);
	strcpy(big + 1 + MAILADDR_PATH_LOCAL_MAX, "@example.com>");
	st = mailaddr_parse_path(big, strlen(big), &path, NULL);
	t_assert_int_eq(st, MAILADDR_OK);
	t_assert_int_eq(strlen(path.local), MAILADDR_PATH_LOCAL_MAX);

	t_case("path: local-part past the limit");
	big[0] = '<';
	memset(big + 1, 'a', MAILADDR_PATH_LOCAL_MAX + 1);
	strcpy(big + 2 + MAILADDR_PATH_LOCAL_MAX, "@example.com>");
	st = mailaddr_parse_path(big, strlen(big), &path, NULL);
	t_assert_int_eq(st, MAILADDR_ESYNTAX);
}

struct dom_case {
	const char *name, *in, *norm; /* norm NULL: unusable */
	bool        valid;            /* mailaddr_domain_valid(in) */
};

static const struct dom_case dom_cases[] = {
    {"domain: HELO name", "mail.Example.NET", "mail.example.net", true},
    {"domain: surrounding whitespace", " mail.example.net\r\n",
	"mail.example.net", false},
    {"domain: trailing dot", "example.com.", "example.com", true},
    {"domain: single label", "localhost", "localhost", true},
    {"domain: U-label",
	"b\xc3\xbc"
	"cher.example",
	"xn--bcher-kva.example", false},
    {"domain: A-label kept", "XN--BCHER-KVA.example", "xn--bcher-kva.example",
	true},
    {"domain: address literal", "[192.0.2.1]", NULL, false},
    {"domain: empty", "", NULL, false},
    {"domain: only a dot", ".", NULL, false},
    {"domain: empty label", "a..example", NULL, false},
    {"domain: leading dot", ".example.com", NULL, false},
    {"domain: leading hyphen", "-a.example", NULL, false},
    {"domain: trailing hyphen", "a-.example", NULL, false},
    {"domain: inner hyphen", "a-b.example", "a-b.example", true},
    {"domain: underscore", "_dmarc.example", NULL, false},
    {"domain: space", "a b.example", NULL, false},
    {"domain: 63-char label",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x",
	true},
    {"domain: 64-char label",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x",
	NULL, false},
    {"domain: disallowed code point", "a\xe2\x98\x83\xef\xb8\x8f.example", NULL,
	false},
};

static void
test_domain(void)
{
	char   out[MAILADDR_DOMAIN_MAX + 1], name[300];
	size_t i;
	bool   ok;

	for (i = 0; i < sizeof(dom_cases) / sizeof(dom_cases[0]); i++) {
		const struct dom_case *c = &dom_cases[i];

		t_case(c->name);
		ok = mailaddr_domain_normalize(c->in, strlen(c->in), out);
		t_assert_int_eq(ok, c->norm != NULL);
		t_assert_str_eq(out, c->norm ? c->norm : "");
		t_assert_int_eq(
		    mailaddr_domain_valid(c->in, strlen(c->in)), c->valid);
	}

	/* 253 characters: 63 * 4 labels minus one, with dots. */
	t_case("domain: 253 characters are valid, 254 are not");
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	t_assert(mailaddr_domain_valid(name, 253));
	t_assert(mailaddr_domain_normalize(name, 253, out));
	t_assert_int_eq(strlen(out), 253);
	name[253] = '.';
	t_assert(mailaddr_domain_valid(name, 254)); /* the trailing dot */
	name[253] = 'a';
	t_assert(!mailaddr_domain_valid(name, 254));
	t_assert(!mailaddr_domain_normalize(name, 254, out));
}

int
main(void)
{
	test_list_table();
	test_list_limits();
	test_path();
	test_domain();
	return t_done();
}

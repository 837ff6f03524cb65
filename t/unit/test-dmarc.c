/*
 * Unit tests for dmarc (RFC 9989). Without arguments only the pure parts
 * run (record parser, walk names, name checks). t/unit/dmarc.sh starts the
 * loopback DNS server with t/data/dmarc/zone.json and runs
 *	test-dmarc DNS_CONF DNS_LOG
 * for the evaluations through the real libunbound path; DNS_LOG is the
 * server's query log ("name TYPE" per line), used to check which names
 * were queried, in which order and how many.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"
#include "dns.h"
#include "err.h"
#include "test.h"

/* --- record parser --- */

#define U DMARC_POLICY_UNSPEC
#define N DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT

struct pcase {
	const char       *name;
	const char       *txt;
	size_t            len; /* 0: strlen(txt) */
	int               ret;
	enum dmarc_policy p, sp, np;
	bool              bad, rua, adkim_s, aspf_s, testing;
	enum dmarc_psd    psd;
};

static const struct pcase pcases[] = {
    {"minimal record", "v=DMARC1", 0, 0, U, U, U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"every tag",
	"v=DMARC1; p=reject; sp=quarantine; np=none; adkim=s; "
	"aspf=s; t=y; psd=n; rua=mailto:a@b.test; fo=1; ruf=x",
	0, 0, R, Q, N, 0, 1, 1, 1, 1, DMARC_PSD_N},
    {"WSP around = and ;, values case-insensitive",
	"v = DMARC1 ;p = Reject ;\tsp=NONE\t;", 0, 0, R, N, U, 0, 0, 0, 0, 0,
	DMARC_PSD_U},
    {"V as tag name", "V=DMARC1; p=none", 0, 0, N, U, U, 0, 0, 0, 0, 0,
	DMARC_PSD_U},
    {"trailing separator", "v=DMARC1; p=quarantine;", 0, 0, Q, U, U, 0, 0, 0, 0,
	0, DMARC_PSD_U},
    {"v not first: not DMARC", "p=reject; v=DMARC1", 0, -1, U, U, U, 0, 0, 0, 0,
	0, DMARC_PSD_U},
    {"value is case-sensitive", "v=dmarc1; p=reject", 0, -1, U, U, U, 0, 0, 0,
	0, 0, DMARC_PSD_U},
    {"DMARC10 is not DMARC1", "v=DMARC10; p=reject", 0, -1, U, U, U, 0, 0, 0, 0,
	0, DMARC_PSD_U},
    {"no separator after version", "v=DMARC1 p=reject", 0, -1, U, U, U, 0, 0, 0,
	0, 0, DMARC_PSD_U},
    {"leading space", " v=DMARC1; p=reject", 0, -1, U, U, U, 0, 0, 0, 0, 0,
	DMARC_PSD_U},
    {"empty", "", 0, -1, U, U, U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"SPF record", "v=spf1 -all", 0, -1, U, U, U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"unknown tags ignored", "v=DMARC1; foo=bar; p=reject; x_y=1; ri=5", 0, 0,
	R, U, U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"broken pieces ignored, the rest kept",
	"v=DMARC1; garbage; p1=none; p=reject; =x; 9=1; aspf=s", 0, 0, R, U, U,
	0, 0, 0, 1, 0, DMARC_PSD_U},
    {"invalid p", "v=DMARC1; p=bogus", 0, 0, U, U, U, 1, 0, 0, 0, 0,
	DMARC_PSD_U},
    {"invalid np", "v=DMARC1; p=none; np=all", 0, 0, N, U, U, 1, 0, 0, 0, 0,
	DMARC_PSD_U},
    /* A malformed p, sp or np is invalid, never absent (absent p is
     * p=none; invalid p without a valid rua is no DMARC, RFC 9989
     * 4.10.1). */
    {"p with a non-ASCII byte: invalid",
	"v=DMARC1; p=rej\xc3\xa9"
	"ct",
	0, 0, U, U, U, 1, 0, 0, 0, 0, DMARC_PSD_U},
    {"p with a non-ASCII byte and a valid rua",
	"v=DMARC1; p=rej\xc3\xa9"
	"ct; rua=mailto:a@b.test",
	0, 0, U, U, U, 1, 1, 0, 0, 0, DMARC_PSD_U},
    {"p with a control byte: invalid", "v=DMARC1; p=reject\x01", 0, 0, U, U, U,
	1, 0, 0, 0, 0, DMARC_PSD_U},
    {"empty p: invalid", "v=DMARC1; p=; sp=reject", 0, 0, U, R, U, 1, 0, 0, 0,
	0, DMARC_PSD_U},
    {"p without a value: invalid", "v=DMARC1; p ; sp=none", 0, 0, U, N, U, 1, 0,
	0, 0, 0, DMARC_PSD_U},
    {"sp of white space only: invalid", "v=DMARC1; p=reject; sp= \t", 0, 0, R,
	U, U, 1, 0, 0, 0, 0, DMARC_PSD_U},
    {"np with a non-ASCII byte: invalid",
	"v=DMARC1; p=reject; np=n\xc3\xb6"
	"ne",
	0, 0, R, U, U, 1, 0, 0, 0, 0, DMARC_PSD_U},
    {"a malformed repeat of p is ignored",
	"v=DMARC1; p=none; p=rej\xc3\xa9"
	"ct",
	0, 0, N, U, U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"a malformed other tag is ignored", "v=DMARC1; p=reject; fo=\x01", 0, 0, R,
	U, U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"missing p", "v=DMARC1; sp=reject", 0, 0, U, R, U, 0, 0, 0, 0, 0,
	DMARC_PSD_U},
    {"repeated tag: the first stays", "v=DMARC1; p=none; p=reject", 0, 0, N, U,
	U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"bad adkim/aspf fall back to relaxed", "v=DMARC1; adkim=x; aspf=S", 0, 0,
	U, U, U, 0, 0, 0, 1, 0, DMARC_PSD_U},
    {"t=y", "v=DMARC1; p=reject; t=y", 0, 0, R, U, U, 0, 0, 0, 0, 1,
	DMARC_PSD_U},
    {"legacy pct=0 is t=y", "v=DMARC1; p=reject; pct=0", 0, 0, R, U, U, 0, 0, 0,
	0, 1, DMARC_PSD_U},
    {"legacy pct=000", "v=DMARC1; pct=000", 0, 0, U, U, U, 0, 0, 0, 0, 1,
	DMARC_PSD_U},
    {"other pct ignored", "v=DMARC1; p=reject; pct=50", 0, 0, R, U, U, 0, 0, 0,
	0, 0, DMARC_PSD_U},
    {"pct=abc ignored", "v=DMARC1; pct=abc", 0, 0, U, U, U, 0, 0, 0, 0, 0,
	DMARC_PSD_U},
    {"t=n wins over pct=0", "v=DMARC1; pct=0; t=n", 0, 0, U, U, U, 0, 0, 0, 0,
	0, DMARC_PSD_U},
    {"bad t falls back, pct=0 counts", "v=DMARC1; t=maybe; pct=0", 0, 0, U, U,
	U, 0, 0, 0, 0, 1, DMARC_PSD_U},
    {"psd=y", "v=DMARC1; psd=y", 0, 0, U, U, U, 0, 0, 0, 0, 0, DMARC_PSD_Y},
    {"bad psd is u", "v=DMARC1; psd=x", 0, 0, U, U, U, 0, 0, 0, 0, 0,
	DMARC_PSD_U},
    {"rua with obsolete size", "v=DMARC1; rua=mailto:a@b.test!10m", 0, 0, U, U,
	U, 0, 1, 0, 0, 0, DMARC_PSD_U},
    {"rua: one valid URI of two", "v=DMARC1; rua=nope , mailto:a@b.test", 0, 0,
	U, U, U, 0, 1, 0, 0, 0, DMARC_PSD_U},
    {"rua without scheme", "v=DMARC1; rua=a@b.test", 0, 0, U, U, U, 0, 0, 0, 0,
	0, DMARC_PSD_U},
    {"rua with nothing after the scheme", "v=DMARC1; rua=mailto:", 0, 0, U, U,
	U, 0, 0, 0, 0, 0, DMARC_PSD_U},
    {"rua with a bad escape", "v=DMARC1; rua=mailto:a%zz@b.test", 0, 0, U, U, U,
	0, 0, 0, 0, 0, DMARC_PSD_U},
    {"rua with a bad size", "v=DMARC1; rua=mailto:a@b.test!m", 0, 0, U, U, U, 0,
	0, 0, 0, 0, DMARC_PSD_U},
    {"NUL inside p: invalid p", "v=DMARC1; p=reject\0x; sp=none", 29, 0, U, N,
	U, 1, 0, 0, 0, 0, DMARC_PSD_U},
    {"NUL after the version", "v=DMARC1\0; p=reject", 19, -1, U, U, U, 0, 0, 0,
	0, 0, DMARC_PSD_U},
};

static void
test_parse(void)
{
	struct dmarc_record r;
	size_t              i, len;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];

		t_casef("record: %s", c->name);
		len = c->len ? c->len : strlen(c->txt);
		t_assert_int_eq(dmarc_record_parse(c->txt, len, &r), c->ret);
		if (c->ret != 0)
			continue;
		t_assert_int_eq(r.p, c->p);
		t_assert_int_eq(r.sp, c->sp);
		t_assert_int_eq(r.np, c->np);
		t_assert_int_eq(r.bad_policy, c->bad);
		t_assert_int_eq(r.rua_valid, c->rua);
		t_assert_int_eq(r.adkim_strict, c->adkim_s);
		t_assert_int_eq(r.aspf_strict, c->aspf_s);
		t_assert_int_eq(r.testing, c->testing);
		t_assert_int_eq(r.psd, c->psd);
	}
}

/* pct (RFC 7489 6.3: 1*3DIGIT, 0 to 100; anything else as if absent). */
static void
test_parse_pct(void)
{
	static const struct {
		const char *name, *txt;
		int         pct;
		bool        t_y, testing;
	} rows[] = {
	    {"absent", "v=DMARC1; p=reject", -1, 0, 0},
	    {"pct=0 is testing", "v=DMARC1; pct=0", 0, 0, 1},
	    {"pct=1", "v=DMARC1; pct=1", 1, 0, 0},
	    {"pct=99", "v=DMARC1; pct=99", 99, 0, 0},
	    {"pct=100", "v=DMARC1; pct=100", 100, 0, 0},
	    {"pct=050: three digits", "v=DMARC1; pct=050", 50, 0, 0},
	    {"WSP around the value", "v=DMARC1; pct = 20 ;", 20, 0, 0},
	    {"pct=abc: absent", "v=DMARC1; pct=abc", -1, 0, 0},
	    {"pct=101: absent", "v=DMARC1; pct=101", -1, 0, 0},
	    {"pct=0000: four digits, absent", "v=DMARC1; pct=0000", -1, 0, 0},
	    {"pct=-1: absent", "v=DMARC1; pct=-1", -1, 0, 0},
	    {"pct=5.5: absent", "v=DMARC1; pct=5.5", -1, 0, 0},
	    {"pct=2x: absent", "v=DMARC1; pct=2x", -1, 0, 0},
	    {"pct twice: the first stays", "v=DMARC1; pct=20; pct=0", 20, 0, 0},
	    {"t=y with pct", "v=DMARC1; t=y; pct=100", 100, 1, 1},
	    {"t=n with pct=0: not testing", "v=DMARC1; t=n; pct=0", 0, 0, 0},
	};
	struct dmarc_record r;
	size_t              i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t_casef("record pct: %s", rows[i].name);
		t_assert_int_eq(
		    dmarc_record_parse(rows[i].txt, strlen(rows[i].txt), &r),
		    0);
		t_assert_int_eq(r.pct, rows[i].pct);
		t_assert_int_eq(r.t_y, rows[i].t_y);
		t_assert_int_eq(r.testing, rows[i].testing);
	}
}

/* rua as kept for the report writer: the valid URIs, WSP around the
 * commas dropped (RFC 9989 4.8 allows it), joined by ','. */
static void
test_parse_rua(void)
{
	static const struct {
		const char *name, *txt, *rua;
	} rows[] = {
	    {"one URI", "v=DMARC1; rua=mailto:a@x.test", "mailto:a@x.test"},
	    {"two, no WSP", "v=DMARC1; rua=mailto:a@x.test,mailto:b@x.test",
		"mailto:a@x.test,mailto:b@x.test"},
	    {"SP after the comma",
		"v=DMARC1; rua=mailto:a@x.test, mailto:b@x.test",
		"mailto:a@x.test,mailto:b@x.test"},
	    {"SP and HTAB around the comma, !size kept",
		"v=DMARC1; rua=mailto:a@x.test \t,\t mailto:b@x.test!10m; "
		"p=none",
		"mailto:a@x.test,mailto:b@x.test!10m"},
	    {"WSP around the value", "v=DMARC1; rua= \tmailto:a@x.test \t;",
		"mailto:a@x.test"},
	    {"the invalid one left out", "v=DMARC1; rua=nope , mailto:a@b.test",
		"mailto:a@b.test"},
	    {"a space inside a URI: that URI left out",
		"v=DMARC1; rua=mailto:a b@x.test, mailto:c@x.test",
		"mailto:c@x.test"},
	    {"HTAB inside a URI: that URI left out",
		"v=DMARC1; rua=mailto:a\tb@x.test,mailto:c@x.test",
		"mailto:c@x.test"},
	    {"empty elements left out",
		"v=DMARC1; rua=,mailto:a@x.test,, ,mailto:b@x.test,",
		"mailto:a@x.test,mailto:b@x.test"},
	    {"no valid URI", "v=DMARC1; rua=mailto:, nope", ""},
	    {"absent", "v=DMARC1; p=none", ""},
	};
	struct dmarc_record r;
	char                txt[1024], want[DMARC_RUA_MAX + 1];
	size_t              i, len;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t_casef("record rua: %s", rows[i].name);
		t_assert_int_eq(
		    dmarc_record_parse(rows[i].txt, strlen(rows[i].txt), &r),
		    0);
		t_assert_str_eq(r.rua, rows[i].rua);
		t_assert_int_eq(r.rua_valid, rows[i].rua[0] != '\0');
	}

	/* 20 URIs of 36 characters with ", " between them: 13 fit in
	 * DMARC_RUA_MAX (13 * 36 + 12 = 480; 14 would take 517). */
	t_casef("record rua: cut after the last whole URI that fits");
	len = (size_t)snprintf(txt, sizeof(txt), "v=DMARC1; rua=");
	want[0] = '\0';
	for (i = 0; i < 20; i++) {
		len += (size_t)snprintf(txt + len, sizeof(txt) - len,
		    "%smailto:dmarc-%02zu@reports.example.test",
		    i > 0 ? ", " : "", i);
		if (i < 13)
			snprintf(want + strlen(want),
			    sizeof(want) - strlen(want),
			    "%smailto:dmarc-%02zu@reports.example.test",
			    i > 0 ? "," : "", i);
	}
	t_assert_int_eq(dmarc_record_parse(txt, len, &r), 0);
	t_assert_int_eq(strlen(r.rua), 480);
	t_assert_str_eq(r.rua, want);
}

/* --- walk names and name checks --- */

struct wcase {
	const char *domain;
	const char *want; /* the targets joined by spaces; "" for none */
};

static const struct wcase wcases[] = {
    {"example.com", "example.com com"},
    {"com", "com"},
    /* RFC 9989 4.10, the example after the steps. */
    {"a.b.c.d.e.f.g.h.i.j.mail.example.com",
	"a.b.c.d.e.f.g.h.i.j.mail.example.com g.h.i.j.mail.example.com "
	"h.i.j.mail.example.com i.j.mail.example.com j.mail.example.com "
	"mail.example.com example.com com"},
    /* RFC 9989 5.1.8: the zone cut at b.c.d.e.f.g.example.com is never
     * queried. */
    {"mail.a.b.c.d.e.f.g.example.com",
	"mail.a.b.c.d.e.f.g.example.com c.d.e.f.g.example.com "
	"d.e.f.g.example.com e.f.g.example.com f.g.example.com "
	"g.example.com example.com com"},
    {"a.b.c.d.e.f.g.h", "a.b.c.d.e.f.g.h b.c.d.e.f.g.h c.d.e.f.g.h "
			"d.e.f.g.h e.f.g.h f.g.h g.h h"},
    {"a.b.c.d.e.f.g", "a.b.c.d.e.f.g b.c.d.e.f.g c.d.e.f.g d.e.f.g e.f.g "
		      "f.g g"},
    {"", ""},
    {"a..b", ""},
    {"example.com.", ""}, /* dmarc_walk wants the normal form */
    {".example.com", ""},
};

static void
test_walk(void)
{
	const char *out[DMARC_MAX_WALK];
	char        got[1024], big[300];
	size_t      i, k, n;

	for (i = 0; i < sizeof(wcases) / sizeof(wcases[0]); i++) {
		t_casef("walk: \"%s\"", wcases[i].domain);
		n = dmarc_walk(wcases[i].domain, out);
		got[0] = '\0';
		for (k = 0; k < n; k++) {
			if (k > 0)
				strcat(got, " ");
			strcat(got, out[k]);
		}
		t_assert_str_eq(got, wcases[i].want);
		t_assert(n <= DMARC_MAX_WALK);
	}

	t_case("walk: 127 labels still make 8 targets");
	for (i = 0; i < 127; i++) {
		big[2 * i] = 'a';
		big[2 * i + 1] = '.';
	}
	big[253] = '\0';
	t_assert_int_eq(dmarc_walk(big, out), 8);
	t_assert_str_eq(out[1], "a.a.a.a.a.a.a");
	t_assert_str_eq(out[7], "a");

	t_case("names: label and name lengths (RFC 1035 2.3.4)");
	memset(big, 'a', 63);
	strcpy(big + 63, ".test");
	t_assert(dmarc_domain_valid(big));
	memset(big, 'a', 64);
	strcpy(big + 64, ".test");
	t_assert(!dmarc_domain_valid(big));
	for (i = 0; i < 126; i++) {
		big[2 * i] = 'a';
		big[2 * i + 1] = '.';
	}
	big[251] = 'b';
	big[252] = 'c';
	big[253] = '\0'; /* 253 octets */
	t_assert(dmarc_domain_valid(big));
	big[253] = 'd';
	big[254] = '\0';
	t_assert(!dmarc_domain_valid(big));

	t_case("names: characters");
	t_assert(dmarc_domain_valid("Example.COM."));
	t_assert(dmarc_domain_valid("_dmarc.xn--bcher-kva.test"));
	t_assert(!dmarc_domain_valid("a b.test"));
	t_assert(!dmarc_domain_valid("a\\.test"));
	t_assert(!dmarc_domain_valid("b\xc3\xbc"
				     "cher.test"));
	t_assert(!dmarc_domain_valid("."));
	t_assert(!dmarc_domain_valid(""));
	t_assert(!dmarc_domain_valid("a..test"));

	t_case("strings for the A-R");
	t_assert_str_eq(dmarc_result_str(DMARC_TEMPERROR), "temperror");
	t_assert_str_eq(dmarc_result_str(DMARC_PERMERROR), "permerror");
	t_assert_str_eq(
	    dmarc_policy_str(DMARC_POLICY_QUARANTINE), "quarantine");
	t_assert_str_eq(dmarc_policy_str(DMARC_POLICY_UNSPEC), "");
}

/* --- evaluation through the loopback DNS server --- */

#define AP DMARC_AUTH_PASS
#define AT DMARC_AUTH_TEMPERROR
#define AO DMARC_AUTH_OTHER

struct ecase {
	const char            *name;
	const char            *from;
	enum dmarc_auth_result spf;
	const char            *spf_domain;
	enum dmarc_auth_result dkim;
	const char            *dkim_domain;
	bool                   dkim_testing;
	enum dmarc_result      want;
	enum dmarc_policy      policy, dis;
	bool                   testing;
	const char            *record_domain; /* NULL: not checked */
	const char            *org_domain;    /* NULL: not checked */
};

static const struct ecase ecases[] = {
    /* p, own record, alignment */
    {"own p=reject, nothing passes", "reject.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, R, R, 0, "reject.test", NULL},
    {"SPF pass, same domain", "reject.test", AP, "reject.test", AO, NULL, 0,
	DMARC_PASS, R, N, 0, "reject.test", NULL},
    {"SPF pass, relaxed: a subdomain", "reject.test", AP, "bounce.reject.test",
	AO, NULL, 0, DMARC_PASS, R, N, 0, "reject.test", "reject.test"},
    {"DKIM pass, relaxed: d= is the parent", "mail.reject.test", AO, NULL, AP,
	"reject.test", 0, DMARC_PASS, R, N, 0, "reject.test", "reject.test"},
    {"DKIM pass, d= foreign", "reject.test", AO, NULL, AP, "other.test", 0,
	DMARC_FAIL, R, R, 0, "reject.test", NULL},
    {"DKIM pass with a t=y key does not align", "reject.test", AO, NULL, AP,
	"reject.test", 1, DMARC_FAIL, R, R, 0, "reject.test", NULL},
    {"SPF fail, aligned domain", "reject.test", AO, "reject.test", AO, NULL, 0,
	DMARC_FAIL, R, R, 0, "reject.test", NULL},
    {"aligned DKIM temperror: temperror", "reject.test", AO, NULL, AT,
	"reject.test", 0, DMARC_TEMPERROR, R, N, 0, "reject.test", NULL},
    /* A temperror carries the policy that would apply: p=none and t=y
     * must not change mail handling, an unknown one may. */
    {"temperror under p=none: policy none", "pnone.test", AT, "pnone.test", AO,
	NULL, 0, DMARC_TEMPERROR, N, N, 0, "pnone.test", NULL},
    {"temperror under t=y: testing", "testing.test", AO, NULL, AT,
	"testing.test", 0, DMARC_TEMPERROR, R, N, 1, "testing.test", NULL},
    {"temperror, non-existent subdomain: np", "ghost.npr.test", AO, NULL, AT,
	"ghost.npr.test", 0, DMARC_TEMPERROR, R, N, 0, "npr.test", NULL},
    {"temperror, existing subdomain: sp", "www.npr.test", AO, NULL, AT,
	"www.npr.test", 0, DMARC_TEMPERROR, N, N, 0, "npr.test", NULL},
    {"temperror, existence test SERVFAIL: policy unknown", "slow.nxsf.test", AO,
	NULL, AT, "slow.nxsf.test", 0, DMARC_TEMPERROR, U, N, 0, "nxsf.test",
	NULL},
    {"unaligned SPF temperror: still fail", "reject.test", AT, "evil.test", AO,
	NULL, 0, DMARC_FAIL, R, R, 0, "reject.test", NULL},
    {"SERVFAIL in the identifier's walk: temperror", "reject.test", AP,
	"b.sf.reject.test", AO, NULL, 0, DMARC_TEMPERROR, R, N, 0,
	"reject.test", "reject.test"},
    {"SERVFAIL in a walk, aligned DKIM pass: pass", "reject.test", AP,
	"b.sf.reject.test", AP, "reject.test", 0, DMARC_PASS, R, N, 0,
	"reject.test", NULL},
    {"From in upper case with a trailing dot", "REJECT.Test.", AO, NULL, AO,
	NULL, 0, DMARC_FAIL, R, R, 0, "reject.test", NULL},
    /* adkim=s, aspf=s */
    {"strict: DKIM d= equal", "strict.test", AO, NULL, AP, "strict.test", 0,
	DMARC_PASS, Q, N, 0, "strict.test", NULL},
    {"strict: DKIM d= subdomain", "strict.test", AO, NULL, AP,
	"mail.strict.test", 0, DMARC_FAIL, Q, Q, 0, "strict.test", ""},
    {"strict: SPF subdomain", "strict.test", AP, "mail.strict.test", AO, NULL,
	0, DMARC_FAIL, Q, Q, 0, "strict.test", ""},
    /* sp, np */
    {"sp for an existing subdomain (A)", "a.org.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, Q, Q, 0, "org.test", "org.test"},
    {"sp for an existing subdomain (MX only)", "mx.org.test", AO, NULL, AO,
	NULL, 0, DMARC_FAIL, Q, Q, 0, "org.test", "org.test"},
    {"np for a non-existent subdomain", "ghost.org.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, N, N, 0, "org.test", "org.test"},
    {"no sp, no np: p for subdomains", "ghost.nosp.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, R, R, 0, "nosp.test", "nosp.test"},
    {"np without sp, non-existent", "ghost.np.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, R, R, 0, "np.test", NULL},
    {"np without sp, existing (AAAA): p", "www.np.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, Q, Q, 0, "np.test", NULL},
    {"existence test SERVFAIL: temperror", "slow.nxsf.test", AO, NULL, AO, NULL,
	0, DMARC_TEMPERROR, U, N, 0, "nxsf.test", NULL},
    {"np not needed on pass", "slow.nxsf.test", AO, NULL, AP, "nxsf.test", 0,
	DMARC_PASS, R, N, 0, "nxsf.test", "nxsf.test"},
    /* deep names */
    {"13 labels: record at the org", "a.b.c.d.e.f.g.h.i.j.mail.example.test",
	AO, NULL, AO, NULL, 0, DMARC_FAIL, R, R, 0, "example.test",
	"example.test"},
    {"9 labels: record at the org", "1.2.3.4.5.6.7.deep.test", AO, NULL, AO,
	NULL, 0, DMARC_FAIL, Q, Q, 0, "deep.test", "deep.test"},
    {"9 labels, relaxed DKIM at the org", "1.2.3.4.5.6.7.deep.test", AO, NULL,
	AP, "deep.test", 0, DMARC_PASS, Q, N, 0, "deep.test", "deep.test"},
    {"a record below the org is not the policy", "m.x.y.deep.test", AO, NULL,
	AO, NULL, 0, DMARC_FAIL, Q, Q, 0, "deep.test", "deep.test"},
    /* psd=y */
    {"psd=y at a TLD: org one label below", "shop.example", AO, NULL, AO, NULL,
	0, DMARC_FAIL, R, R, 0, "example", "shop.example"},
    {"psd=y at a TLD: relaxed SPF", "shop.example", AP, "mail.shop.example", AO,
	NULL, 0, DMARC_PASS, R, N, 0, "example", "shop.example"},
    {"psd=y at a TLD: a sibling does not align", "shop.example", AO, NULL, AP,
	"other.example", 0, DMARC_FAIL, R, R, 0, "example", "shop.example"},
    {"psd=y: own record below the PSD", "giant.bank.test", AP,
	"mail.giant.bank.test", AO, NULL, 0, DMARC_PASS, N, N, 0,
	"giant.bank.test", "giant.bank.test"},
    {"psd=y: other org under the PSD", "giant.bank.test", AO, NULL, AP,
	"mail.mega.bank.test", 0, DMARC_FAIL, N, N, 0, "giant.bank.test",
	"giant.bank.test"},
    {"psd=y: no org record, the PSD's sp", "nobody.bank.test", AO, NULL, AO,
	NULL, 0, DMARC_FAIL, Q, Q, 0, "bank.test", "nobody.bank.test"},
    {"psd=y: no org record, relaxed DKIM", "nobody.bank.test", AO, NULL, AP,
	"x.nobody.bank.test", 0, DMARC_PASS, Q, N, 0, "bank.test",
	"nobody.bank.test"},
    /* psd=n */
    {"psd=n: org and policy", "x.dept.corp.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, Q, Q, 0, "dept.corp.test", "dept.corp.test"},
    {"psd=n: the parent org does not align", "x.dept.corp.test", AP,
	"corp.test", AO, NULL, 0, DMARC_FAIL, Q, Q, 0, "dept.corp.test",
	"dept.corp.test"},
    {"psd=n: same org aligns", "x.dept.corp.test", AO, NULL, AP,
	"y.dept.corp.test", 0, DMARC_PASS, Q, N, 0, "dept.corp.test",
	"dept.corp.test"},
    {"psd=n: below the From's org is another org", "corp.test", AO, NULL, AP,
	"dept.corp.test", 0, DMARC_FAIL, R, R, 0, "corp.test", "corp.test"},
    /* t=y, pct */
    {"t=y: reject applied as quarantine", "testing.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, R, Q, 1, "testing.test", NULL},
    {"t=y: quarantine applied as none", "tquar.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, Q, N, 1, "tquar.test", NULL},
    {"pct=0: quarantine applied as none", "pct0.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, Q, N, 1, "pct0.test", NULL},
    {"pct=50 ignored", "pct50.test", AO, NULL, AO, NULL, 0, DMARC_FAIL, R, R, 0,
	"pct50.test", NULL},
    /* records */
    {"two DMARC records: none", "multi.test", AO, NULL, AO, NULL, 0, DMARC_NONE,
	U, N, 0, "", NULL},
    {"a DMARC and an SPF record: the DMARC one", "mixed.test", AO, NULL, AO,
	NULL, 0, DMARC_FAIL, R, R, 0, "mixed.test", NULL},
    {"two DMARC records at the parent: none", "sub.multiparent.test", AO, NULL,
	AO, NULL, 0, DMARC_NONE, U, N, 0, "", NULL},
    {"strings of a TXT record joined", "split.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, R, R, 0, "split.test", NULL},
    {"v=DMARC2: none", "v2.test", AO, NULL, AO, NULL, 0, DMARC_NONE, U, N, 0,
	"", NULL},
    {"invalid p with a valid rua: p=none", "badp.test", AO, NULL, AO, NULL, 0,
	DMARC_FAIL, N, N, 0, "badp.test", NULL},
    {"invalid p without a valid rua: no DMARC", "badpnorua.test", AO, NULL, AO,
	NULL, 0, DMARC_NONE, U, N, 0, "badpnorua.test", NULL},
    {"invalid sp without rua: no DMARC", "badsp.test", AO, NULL, AO, NULL, 0,
	DMARC_NONE, U, N, 0, "badsp.test", NULL},
    {"non-ASCII p without rua: no DMARC", "badutf8.test", AO, NULL, AO, NULL, 0,
	DMARC_NONE, U, N, 0, "badutf8.test", NULL},
    {"non-ASCII p with a valid rua: p=none", "badutf8rua.test", AO, NULL, AO,
	NULL, 0, DMARC_FAIL, N, N, 0, "badutf8rua.test", NULL},
    {"empty p without rua: no DMARC", "emptyp.test", AO, NULL, AO, NULL, 0,
	DMARC_NONE, U, N, 0, "emptyp.test", NULL},
    {"missing p: p=none", "nop.test", AO, NULL, AO, NULL, 0, DMARC_FAIL, N, N,
	0, "nop.test", NULL},
    {"missing p, adkim=s still applies", "nop.test", AO, NULL, AP,
	"mail.nop.test", 0, DMARC_FAIL, N, N, 0, "nop.test", NULL},
    {"no record anywhere: none", "norecord.test", AP, "norecord.test", AO, NULL,
	0, DMARC_NONE, U, N, 0, "", NULL},
    /* DNS errors and bad names */
    /* 70 TXT records, cut at DNS_MAX_RRS in an order libunbound may
     * rotate: one record seen may be one of two, none seen may hide one. */
    {"TXT answer cut, one DMARC record: temperror", "cut.test", AO, NULL, AO,
	NULL, 0, DMARC_TEMPERROR, U, N, 0, "", NULL},
    {"SERVFAIL at _dmarc.<From>: temperror", "servfail.test", AO, NULL, AO,
	NULL, 0, DMARC_TEMPERROR, U, N, 0, "", NULL},
    {"SERVFAIL in the policy walk: temperror", "a.sfparent.test", AO, NULL, AO,
	NULL, 0, DMARC_TEMPERROR, U, N, 0, "", NULL},
    {"empty label: permerror", "bad..test", AO, NULL, AO, NULL, 0,
	DMARC_PERMERROR, U, N, 0, "", NULL},
    {"space in the name: permerror", "a b.test", AO, NULL, AO, NULL, 0,
	DMARC_PERMERROR, U, N, 0, "", NULL},
    {"64-octet label: permerror",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"test",
	AO, NULL, AO, NULL, 0, DMARC_PERMERROR, U, N, 0, "", NULL},
};

/* Lookups made, whether the answer cache or libunbound answered them. */
static unsigned long
lookups(const struct dns *dns)
{
	return dns_queries_started(dns) + dns_cache_hits(dns);
}

static struct dns *
open_dns(const char *conf, double timeout)
{
	struct dns_params p = {.unbound_conf = conf, .timeout = timeout};
	struct am_err     err;
	struct dns       *dns = dns_new(&p, &err);

	if (dns == NULL) {
		printf("dns_new: %s\n", err.msg);
		exit(1);
	}
	return dns;
}

static void
run_case(struct dns *dns, const struct ecase *c, bool prefetch)
{
	struct dmarc          *d = dmarc_new(dns, NULL);
	struct dmarc_auth_dkim k = {.domain = c->dkim_domain,
	    .result = c->dkim,
	    .testing = c->dkim_testing};
	struct dmarc_auth      a = {.spf = c->spf,
		 .spf_domain = c->spf_domain,
		 .ndkim = c->dkim_domain != NULL,
		 .dkim = &k};
	struct dmarc_verdict   v;

	if (prefetch) {
		dmarc_prefetch(d, c->from);
		if (c->spf_domain != NULL)
			dmarc_prefetch(d, c->spf_domain);
		if (c->dkim_domain != NULL)
			dmarc_prefetch(d, c->dkim_domain);
	}
	t_assert_int_eq(dmarc_evaluate(d, c->from, &a, &v), c->want);
	t_assert_int_eq(v.result, c->want);
	if (v.result != c->want)
		printf("  reason: %s\n", v.reason);
	t_assert_int_eq(v.policy, c->policy);
	t_assert_int_eq(v.disposition, c->dis);
	if (v.result == DMARC_FAIL)
		t_assert_int_eq(v.fail_disposition, c->dis);
	t_assert_int_eq(v.testing, c->testing);
	if (c->record_domain != NULL)
		t_assert_str_eq(v.record_domain, c->record_domain);
	if (c->org_domain != NULL)
		t_assert_str_eq(v.org_domain, c->org_domain);
	t_assert(v.reason != NULL && v.reason[0] != '\0');
	t_assert(!(v.spf_aligned || v.dkim_aligned) || v.result == DMARC_PASS);
	dmarc_free(d);
}

static void
test_cases(struct dns *dns)
{
	size_t i;
	int    pf;

	/* Each case twice: collected on demand, and prefetched. */
	for (pf = 0; pf < 2; pf++)
		for (i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
			t_casef("%s: %s", pf ? "prefetched" : "on demand",
			    ecases[i].name);
			run_case(dns, &ecases[i], pf);
		}
}

/* The query log, read whole. */
static char *
log_read(const char *path)
{
	FILE  *f = fopen(path, "r");
	char  *s;
	size_t n;

	if (f == NULL)
		return strdup("");
	s = calloc(1, 1 << 20);
	n = fread(s, 1, (1 << 20) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void
log_clear(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f != NULL)
		fclose(f);
}

/* Lines of the log that end with suffix (e.g. ".example.test TXT"),
 * joined by spaces, name only. */
static size_t
log_grep(const char *log, const char *suffix, char *out, size_t outsize)
{
	const char *line = log, *nl;
	size_t      n = 0, len, sl = strlen(suffix);

	out[0] = '\0';
	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		len = (size_t)(nl - line);
		if (len < sl || memcmp(nl - sl, suffix, sl) != 0)
			continue;
		if (strlen(out) + len + 2 >= outsize)
			break;
		if (n++ > 0)
			strcat(out, " ");
		strncat(out, line, len);
	}
	return n;
}

static void
test_queries(const char *conf, const char *logpath)
{
	struct dns            *dns = open_dns(conf, 5.0);
	struct dmarc          *d;
	struct dmarc_verdict   v;
	struct dmarc_auth_dkim k = {.domain = "mail.strict.test", .result = AP};
	struct dmarc_auth      a = {.ndkim = 1, .dkim = &k};
	unsigned long          before;
	char                  *log, got[4096];

	/* A fresh resolver (empty cache) so every query reaches the log. */
	t_case("walk: the RFC 9989 4.10 example, in order, 8 queries");
	log_clear(logpath);
	d = dmarc_new(dns, NULL);
	before = lookups(dns);
	t_assert_int_eq(dmarc_evaluate(d,
			    "a.b.c.d.e.f.g.h.i.j.mail.example.test", NULL, &v),
	    DMARC_FAIL);
	t_assert_int_eq(lookups(dns) - before, 8);
	dmarc_free(d);
	log = log_read(logpath);
	t_assert_int_eq(log_grep(log, " TXT", got, sizeof(got)), 8);
	t_assert_str_eq(got,
	    "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.test TXT "
	    "_dmarc.g.h.i.j.mail.example.test TXT "
	    "_dmarc.h.i.j.mail.example.test TXT "
	    "_dmarc.i.j.mail.example.test TXT _dmarc.j.mail.example.test TXT "
	    "_dmarc.mail.example.test TXT _dmarc.example.test TXT "
	    "_dmarc.test TXT");
	/* p applies to a subdomain without np: no existence queries. */
	t_assert_int_eq(log_grep(log, " A", got, sizeof(got)), 0);
	free(log);

	t_case("walk: 22 labels prefetched, 8 queries");
	log_clear(logpath);
	d = dmarc_new(dns, NULL);
	before = lookups(dns);
	dmarc_prefetch(d, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.deep.test");
	dmarc_prefetch(d, "A.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.deep.test.");
	t_assert_int_eq(lookups(dns) - before, 8);
	t_assert_int_eq(
	    dmarc_evaluate(d,
		"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.deep.test", NULL, &v),
	    DMARC_FAIL);
	t_assert_str_eq(v.record_domain, "deep.test");
	t_assert_int_eq(lookups(dns) - before, 8);
	dmarc_free(d);
	log = log_read(logpath);
	/* _dmarc.test is in the resolver's cache by now. */
	t_assert_int_eq(log_grep(log, ".deep.test TXT", got, sizeof(got)), 7);
	t_assert(strstr(got, "_dmarc.p.q.r.s.t.deep.test TXT") != NULL);
	t_assert(strstr(got, "_dmarc.o.p.q") == NULL);
	free(log);

	t_case("np: A, AAAA and MX of the From domain, only when needed");
	log_clear(logpath);
	d = dmarc_new(dns, NULL);
	t_assert_int_eq(
	    dmarc_evaluate(d, "ghost.org.test", NULL, &v), DMARC_FAIL);
	t_assert_int_eq(v.policy, DMARC_POLICY_NONE);
	t_assert_int_eq(
	    dmarc_evaluate(d, "ghost.nosp.test", NULL, &v), DMARC_FAIL);
	dmarc_free(d);
	log = log_read(logpath);
	t_assert_int_eq(log_grep(log, "ghost.org.test A", got, sizeof(got)), 1);
	t_assert_int_eq(
	    log_grep(log, "ghost.org.test AAAA", got, sizeof(got)), 1);
	t_assert_int_eq(
	    log_grep(log, "ghost.org.test MX", got, sizeof(got)), 1);
	t_assert_int_eq(
	    log_grep(log, "ghost.nosp.test A", got, sizeof(got)), 0);
	t_assert_int_eq(
	    log_grep(log, "ghost.nosp.test MX", got, sizeof(got)), 0);
	free(log);

	t_case("shortcut: strict alignment makes no walk");
	d = dmarc_new(dns, NULL);
	before = lookups(dns);
	t_assert_int_eq(dmarc_evaluate(d, "strict.test", &a, &v), DMARC_FAIL);
	t_assert_int_eq(lookups(dns) - before, 1);
	dmarc_free(d);

	t_case("shortcut: equal names make no walk");
	d = dmarc_new(dns, NULL);
	before = lookups(dns);
	k.domain = "Reject.test";
	t_assert_int_eq(dmarc_evaluate(d, "reject.test", &a, &v), DMARC_PASS);
	t_assert(v.dkim_aligned && !v.spf_aligned);
	t_assert_int_eq(lookups(dns) - before, 1);
	dmarc_free(d);

	t_case("shortcut: a foreign identifier makes no walk");
	d = dmarc_new(dns, NULL);
	before = lookups(dns);
	k.domain = "a.b.c.other.test";
	t_assert_int_eq(dmarc_evaluate(d, "reject.test", &a, &v), DMARC_FAIL);
	/* _dmarc.reject.test, then its org walk: _dmarc.test. */
	t_assert_int_eq(lookups(dns) - before, 2);
	dmarc_free(d);

	t_case("cache: one query per name and message");
	d = dmarc_new(dns, NULL);
	before = lookups(dns);
	dmarc_prefetch(d, "reject.test");
	dmarc_prefetch(d, "reject.test");
	t_assert_int_eq(lookups(dns) - before, 2);
	a.spf = AP;
	a.spf_domain = "bounce.reject.test";
	a.ndkim = 0;
	t_assert_int_eq(dmarc_evaluate(d, "reject.test", &a, &v), DMARC_PASS);
	t_assert(v.spf_aligned);
	t_assert_int_eq(lookups(dns) - before, 3);
	t_assert_int_eq(dmarc_evaluate(d, "reject.test", &a, &v), DMARC_PASS);
	t_assert_int_eq(
	    dmarc_evaluate(d, "mail.reject.test", &a, &v), DMARC_PASS);
	t_assert_int_eq(lookups(dns) - before, 4);
	dmarc_free(d);

	t_case("prefetch: at most DMARC_MAX_PREFETCH domains");
	{
		char   dom[32];
		size_t i;

		d = dmarc_new(dns, NULL);
		before = lookups(dns);
		for (i = 0; i < DMARC_MAX_PREFETCH + 4; i++) {
			snprintf(dom, sizeof(dom), "pf%zu.test", i);
			dmarc_prefetch(d, dom);
		}
		/* _dmarc.pfN.test for each, and _dmarc.test once. */
		t_assert_int_eq(
		    lookups(dns) - before, DMARC_MAX_PREFETCH + 1);
		t_assert_int_eq(dmarc_evaluate(d, dom, NULL, &v), DMARC_NONE);
		t_assert_int_eq(
		    dmarc_evaluate(d, "reject.test", NULL, &v), DMARC_FAIL);
		dmarc_free(d);
	}

	t_case("From domains: identifier walks cannot crowd them out");
	{
		struct dmarc_auth_dkim many[12];
		struct dmarc_auth      ma = {.ndkim = 12, .dkim = many};
		char                   names[12][32], dom[32];
		size_t                 i;

		/* Twelve aligned DKIM temperrors, each needing its own walk:
		 * they may fill the shared half of the table only. */
		for (i = 0; i < 12; i++) {
			snprintf(
			    names[i], sizeof(names[i]), "a%zu.reject.test", i);
			many[i] = (struct dmarc_auth_dkim){
			    .domain = names[i], .result = AT};
		}
		d = dmarc_new(dns, NULL);
		t_assert_int_eq(
		    dmarc_evaluate(d, "reject.test", &ma, &v), DMARC_TEMPERROR);
		for (i = 1; i < DMARC_MAX_FROM_DOMAINS; i++) {
			snprintf(dom, sizeof(dom), "from%zu.test", i);
			t_assert_int_eq(
			    dmarc_evaluate(d, dom, &ma, &v), DMARC_NONE);
		}
		dmarc_free(d);
	}

	t_case("From domains: after a full prefetch, all still evaluated");
	{
		char   dom[32];
		size_t i;

		d = dmarc_new(dns, NULL);
		for (i = 0; i < DMARC_MAX_PREFETCH + 4; i++) {
			snprintf(dom, sizeof(dom), "pf%zu.test", i);
			dmarc_prefetch(d, dom);
		}
		for (i = 0; i < DMARC_MAX_FROM_DOMAINS; i++) {
			snprintf(dom, sizeof(dom), "from%zu.test", i);
			t_assert_int_eq(
			    dmarc_evaluate(d, dom, NULL, &v), DMARC_NONE);
		}
		/* One From domain more: permerror, never temperror. */
		t_assert_int_eq(dmarc_evaluate(d, "reject.test", NULL, &v),
		    DMARC_PERMERROR);
		t_assert_str_eq(
		    v.reason, "too many From domains in one message");
		t_assert_int_eq(v.policy, DMARC_POLICY_UNSPEC);
		/* A domain already known is still answered. */
		t_assert_int_eq(
		    dmarc_evaluate(d, "from1.test", NULL, &v), DMARC_NONE);
		dmarc_free(d);
	}

	t_case("verdict: a temperror says what a fail would be given");
	{
		static const struct {
			const char       *from;
			enum dmarc_policy want;
		} rows[] = {
		    {"reject.test", DMARC_POLICY_REJECT},
		    {"testing.test", DMARC_POLICY_QUARANTINE},
		    {"tquar.test", DMARC_POLICY_NONE},
		    {"pct0.test", DMARC_POLICY_NONE},
		    {"pnone.test", DMARC_POLICY_NONE},
		    {"slow.nxsf.test", DMARC_POLICY_UNSPEC},
		};
		struct dmarc_auth_dkim tk = {.result = AT};
		struct dmarc_auth      ta = {.ndkim = 1, .dkim = &tk};
		size_t                 i;

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			d = dmarc_new(dns, NULL);
			tk.domain = rows[i].from;
			t_assert_int_eq(
			    dmarc_evaluate(d, rows[i].from, &ta, &v),
			    DMARC_TEMPERROR);
			t_assert_int_eq(v.disposition, DMARC_POLICY_NONE);
			t_assert_int_eq(v.fail_disposition, rows[i].want);
			dmarc_free(d);
		}
	}

	t_case("verdict: p, sp, np as published");
	d = dmarc_new(dns, NULL);
	t_assert_int_eq(dmarc_evaluate(d, "a.org.test", NULL, &v), DMARC_FAIL);
	t_assert_int_eq(v.p, DMARC_POLICY_REJECT);
	t_assert_int_eq(v.sp, DMARC_POLICY_QUARANTINE);
	t_assert_int_eq(v.np, DMARC_POLICY_NONE);
	t_assert_int_eq(dmarc_evaluate(d, "badp.test", NULL, &v), DMARC_FAIL);
	t_assert_int_eq(v.p, DMARC_POLICY_NONE);
	t_assert_int_eq(v.sp, DMARC_POLICY_NONE);
	t_assert_int_eq(dmarc_evaluate(d, "nop.test", NULL, &v), DMARC_FAIL);
	t_assert_int_eq(v.p, DMARC_POLICY_UNSPEC);
	t_assert_int_eq(v.policy, DMARC_POLICY_NONE);
	dmarc_free(d);

	dns_free(dns);
}

/* A fixed-seed generator (splitmix64) for the sampling tests; counts its
 * calls. */
struct rng {
	uint64_t      state;
	unsigned long calls;
};

static uint32_t
rng_next(void *arg)
{
	struct rng *g = arg;
	uint64_t    z = (g->state += 0x9e3779b97f4a7c15ULL);

	g->calls++;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

#define SAMPLE_RUNS 10000

static void
test_pct(struct dns *dns)
{
	/* lo and hi: SAMPLE_RUNS * pct / 100 within 4 standard deviations
	 * (sqrt(n p (1 - p))); with a fixed seed the count is always the
	 * same, and a biased draw would still fall outside. */
	static const struct {
		const char       *from;
		enum dmarc_pct    mode;
		int               pct;
		unsigned long     lo, hi; /* messages given the policy */
		bool              draws;
		enum dmarc_policy below;
	} rows[] = {
	    {"pct0.test", DMARC_PCT_SAMPLE, 0, 0, 0, 1, DMARC_POLICY_NONE},
	    {"pct1.test", DMARC_PCT_SAMPLE, 1, 60, 140, 1, Q},
	    {"pct20.test", DMARC_PCT_SAMPLE, 20, 1840, 2160, 1, Q},
	    {"pct50.test", DMARC_PCT_SAMPLE, 50, 4800, 5200, 1, Q},
	    {"pct99.test", DMARC_PCT_SAMPLE, 99, 9860, 9940, 1, Q},
	    {"pct100.test", DMARC_PCT_SAMPLE, 100, SAMPLE_RUNS, SAMPLE_RUNS, 1,
		Q},
	    /* Invalid values are absent: the policy, no draw. */
	    {"pctabc.test", DMARC_PCT_SAMPLE, -1, SAMPLE_RUNS, SAMPLE_RUNS, 0,
		Q},
	    {"pct101.test", DMARC_PCT_SAMPLE, -1, SAMPLE_RUNS, SAMPLE_RUNS, 0,
		Q},
	    /* t=y wins over pct: one level below, no draw. */
	    {"tpct.test", DMARC_PCT_SAMPLE, 100, 0, 0, 0, Q},
	    /* "ignore": pct other than 0 changes nothing, nothing drawn. */
	    {"pct50.test", DMARC_PCT_IGNORE, 50, SAMPLE_RUNS, SAMPLE_RUNS, 0,
		Q},
	    {"pct1.test", DMARC_PCT_IGNORE, 1, SAMPLE_RUNS, SAMPLE_RUNS, 0, Q},
	    {"pct0.test", DMARC_PCT_IGNORE, 0, 0, 0, 0, DMARC_POLICY_NONE},
	};
	struct dmarc_verdict v;
	struct dmarc        *d;
	size_t               i, k;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rng          g = {.state = 20261202};
		struct dmarc_params p = {
		    .pct = rows[i].mode, .random = rng_next, .random_arg = &g};
		enum dmarc_policy policy;
		unsigned long     applied = 0, in = 0;
		bool              ok = true;

		t_casef("pct %s: %s, %d runs",
		    rows[i].mode == DMARC_PCT_SAMPLE ? "sample" : "ignore",
		    rows[i].from, SAMPLE_RUNS);
		d = dmarc_new(dns, &p);
		/* The From domain's own record: its p. */
		policy = strcmp(rows[i].from, "pct0.test") == 0
			     ? DMARC_POLICY_QUARANTINE
			     : DMARC_POLICY_REJECT;
		for (k = 0; k < SAMPLE_RUNS; k++) {
			if (dmarc_evaluate(d, rows[i].from, NULL, &v) !=
			    DMARC_FAIL) {
				ok = false;
				break;
			}
			if (v.disposition == policy)
				applied++;
			else if (v.disposition != rows[i].below)
				ok = false;
			if (v.sample == DMARC_SAMPLE_IN)
				in++;
			/* sample says what happened, exactly when drawn. */
			if ((v.sample != DMARC_SAMPLE_NONE) != rows[i].draws ||
			    (v.sample == DMARC_SAMPLE_IN) !=
				(rows[i].draws && v.disposition == policy))
				ok = false;
		}
		t_assert(ok);
		t_assert_int_eq(v.pct, rows[i].pct);
		t_assert(applied >= rows[i].lo && applied <= rows[i].hi);
		if (applied < rows[i].lo || applied > rows[i].hi)
			printf("  applied %lu of %d\n", applied, SAMPLE_RUNS);
		t_assert_int_eq(g.calls, rows[i].draws ? SAMPLE_RUNS : 0);
		t_assert_int_eq(in, rows[i].draws ? applied : 0);
		dmarc_free(d);
	}

	t_case("pct sample: a pass draws nothing");
	{
		struct rng             g = {.state = 1};
		struct dmarc_params    p = {.pct = DMARC_PCT_SAMPLE,
		       .random = rng_next,
		       .random_arg = &g};
		struct dmarc_auth_dkim dk = {
		    .domain = "pct20.test", .result = AP};
		struct dmarc_auth a = {.ndkim = 1, .dkim = &dk};

		d = dmarc_new(dns, &p);
		t_assert_int_eq(
		    dmarc_evaluate(d, "pct20.test", &a, &v), DMARC_PASS);
		t_assert_int_eq(v.sample, DMARC_SAMPLE_NONE);
		t_assert_int_eq(v.pct, 20);
		t_assert_int_eq(g.calls, 0);
		dmarc_free(d);
	}

	t_case("pct sample: the default generator draws");
	{
		struct dmarc_params p = {.pct = DMARC_PCT_SAMPLE};
		unsigned long       in = 0;

		d = dmarc_new(dns, &p);
		for (k = 0; k < 1000; k++) {
			t_assert_int_eq(
			    dmarc_evaluate(d, "pct50.test", NULL, &v),
			    DMARC_FAIL);
			in += v.sample == DMARC_SAMPLE_IN;
		}
		/* 1000 fair draws: 500 +- 4 sigma (sigma 15.8). */
		t_assert(in >= 437 && in <= 563);
		dmarc_free(d);
	}
}

static void
test_timeout(const char *conf)
{
	struct dns          *dns = open_dns(conf, 1.0);
	struct dmarc        *d = dmarc_new(dns, NULL);
	struct dmarc_verdict v;

	t_case("TIMEOUT at _dmarc.<From>: temperror");
	t_assert_int_eq(
	    dmarc_evaluate(d, "timeout.test", NULL, &v), DMARC_TEMPERROR);
	t_assert_int_eq(v.disposition, DMARC_POLICY_NONE);
	dmarc_free(d);
	dns_free(dns);
}

int
main(int argc, char **argv)
{
	struct dns *dns;

	test_parse();
	test_parse_pct();
	test_parse_rua();
	test_walk();
	if (argc >= 3) {
		test_queries(argv[1], argv[2]);
		dns = open_dns(argv[1], 5.0);
		test_cases(dns);
		test_pct(dns);
		dns_free(dns);
		test_timeout(argv[1]);
	}
	return t_done();
}

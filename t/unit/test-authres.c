/* Unit tests for authres: composing Authentication-Results values (quoting,
 * comments, folding) and parsing existing ones (authres_is_ours() for
 * forged fields, authres_parse()). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "buf.h"
#include "test.h"

#define ID "mx.example.net"

/* Every line of a value at most AUTHRES_LINE_MAX characters, the first
 * counted after "Authentication-Results:". */
static bool
lines_fit(const char *v)
{
	size_t col = 23;

	for (; *v != '\0'; v++) {
		if (*v == '\n') {
			col = 0;
			continue;
		}
		if (++col > AUTHRES_LINE_MAX)
			return false;
	}
	return true;
}

static void
test_compose(void)
{
	struct authres                  *ar;
	char                            *v;
	static const struct authres_prop spf[] = {
	    {"smtp", "mailfrom", "example.org"},
	};
	static const struct authres_prop dkim[] = {
	    {"header", "d", "example.org"},
	    {"header", "s", "sel"},
	    {"header", "b", "abc/def+"},
	};
	static const struct authres_prop dmarc[] = {
	    {"header", "from", "example.org"},
	};
	static const struct authres_prop longdkim[] = {
	    {"header", "d", "example.org"},
	    {"header", "i", "@example.org"},
	    {"header", "s", "selector2024"},
	    {"header", "a", "rsa-sha256"},
	    {"header", "b", "AbCdEfGh/+"},
	};

	t_case("compose: no results is none");
	ar = authres_new(ID);
	v = authres_value(ar);
	t_assert_str_eq(v, " mx.example.net; none");
	t_assert_int_eq(authres_count(ar), 0);
	free(v);

	t_case("compose: one result on its own line");
	t_assert_int_eq(authres_add(ar, "spf", "pass", NULL, spf, 1), 0);
	v = authres_value(ar);
	t_assert_str_eq(
	    v, " mx.example.net;\n\tspf=pass smtp.mailfrom=example.org");
	free(v);

	t_case("compose: several results, comment, quoted header.b");
	t_assert_int_eq(authres_add(ar, "dkim", "pass", NULL, dkim, 3), 0);
	t_assert_int_eq(authres_add(ar, "dmarc", "pass",
			    "p=reject sp=none dis=none", dmarc, 1),
	    0);
	t_assert_int_eq(authres_count(ar), 3);
	v = authres_value(ar);
	t_assert_str_eq(v,
	    " mx.example.net;\n"
	    "\tspf=pass smtp.mailfrom=example.org;\n"
	    "\tdkim=pass header.d=example.org header.s=sel "
	    "header.b=\"abc/def+\";\n"
	    "\tdmarc=pass (p=reject sp=none dis=none) header.from=example.org");
	free(v);

	t_case("compose: CRLF folds on request");
	v = authres_value_flags(ar, AUTHRES_CRLF);
	t_assert_str_eq(v,
	    " mx.example.net;\r\n"
	    "\tspf=pass smtp.mailfrom=example.org;\r\n"
	    "\tdkim=pass header.d=example.org header.s=sel "
	    "header.b=\"abc/def+\";\r\n"
	    "\tdmarc=pass (p=reject sp=none dis=none) header.from=example.org");
	free(v);
	authres_free(ar);

	t_case("compose: a long result folds between properties");
	ar = authres_new(ID);
	t_assert_int_eq(authres_add(ar, "dkim", "pass", NULL, longdkim, 5), 0);
	t_assert_int_eq(authres_add(ar, "spf", "none", NULL, NULL, 0), 0);
	v = authres_value(ar);
	t_assert_str_eq(v,
	    " mx.example.net;\n"
	    "\tdkim=pass header.d=example.org header.i=@example.org "
	    "header.s=selector2024\n"
	    "\theader.a=rsa-sha256 header.b=\"AbCdEfGh/+\";\n"
	    "\tspf=none");
	t_assert(lines_fit(v));
	free(v);
	authres_free(ar);

	t_case("compose: authserv-id that is not a token is quoted");
	ar = authres_new("my \"id\"");
	v = authres_value(ar);
	t_assert_str_eq(v, " \"my \\\"id\\\"\"; none");
	free(v);
	authres_free(ar);
}

struct quote_case {
	const char *name, *value, *want;
};

static const struct quote_case quote_cases[] = {
    {"value: token is bare", "example.org", "example.org"},
    {"value: address is bare", "user@example.org", "user@example.org"},
    {"value: @domain is bare", "@example.org", "@example.org"},
    {"value: SRS address is bare", "SRS0=x=y@fwd.example",
	"SRS0=x=y@fwd.example"},
    {"value: address without dot in domain is quoted", "user@localhost",
	"\"user@localhost\""},
    {"value: two @ is quoted", "a@b@example.org", "\"a@b@example.org\""},
    {"value: quoted local-part is quoted", "\"a b\"@example.org",
	"\"\\\"a b\\\"@example.org\""},
    {"value: slash is a tspecial", "ab/cd", "\"ab/cd\""},
    {"value: plus is a token char", "ab+cd", "ab+cd"},
    {"value: equals is a tspecial", "abc=", "\"abc=\""},
    {"value: space", "a b", "\"a b\""},
    {"value: semicolon", "a;b", "\"a;b\""},
    {"value: quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\""},
    {"value: empty", "", "\"\""},
    {"value: CR LF and 8-bit become ?", "a\r\nb\xc3\xa9", "\"a?\?b?\?\""},
};

static void
test_quoting(void)
{
	struct authres     *ar;
	struct authres_prop p = {"smtp", "mailfrom", NULL};
	struct buf          want;
	char               *v, big[400];
	size_t              i;

	buf_init(&want, 0);
	for (i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
		t_case(quote_cases[i].name);
		ar = authres_new(ID);
		p.value = quote_cases[i].value;
		t_assert_int_eq(authres_add(ar, "spf", "pass", NULL, &p, 1), 0);
		v = authres_value(ar);
		buf_reset(&want);
		buf_printf(&want, " " ID ";\n\tspf=pass smtp.mailfrom=%s",
		    quote_cases[i].want);
		t_assert_str_eq(v, buf_cstr(&want));
		free(v);
		authres_free(ar);
	}
	buf_free(&want);

	t_case("comment: parentheses and backslash escaped, bytes replaced");
	ar = authres_new(ID);
	t_assert_int_eq(
	    authres_add(ar, "spf", "fail", "a (b) \\ c\x01\xc3\xa9", NULL, 0),
	    0);
	v = authres_value(ar);
	t_assert_str_eq(v, " " ID ";\n\tspf=fail (a \\(b\\) \\\\ c?\?\?)");
	free(v);
	authres_free(ar);

	t_case("comment: cut at AUTHRES_MAX_COMMENT bytes");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ar = authres_new(ID);
	t_assert_int_eq(authres_add(ar, "spf", "fail", big, NULL, 0), 0);
	v = authres_value(ar);
	t_assert_int_eq(strlen(v),
	    strlen(" " ID ";\n\tspf=fail (...)") + AUTHRES_MAX_COMMENT - 3);
	t_assert(strstr(v, "xxx...)") != NULL);
	free(v);
	authres_free(ar);
}

static void
test_add_errors(void)
{
	struct authres     *ar = authres_new(ID);
	struct authres_prop p = {"smtp", "mailfrom", "a.example"};
	struct authres_prop many[AUTHRES_MAX_PROPS + 1];
	char               *v;
	size_t              i;

	t_case("add: bad method and result keywords");
	t_assert_int_eq(authres_add(ar, "", "pass", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_add(ar, "spf ", "pass", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_add(ar, "-spf", "pass", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_add(ar, "spf-", "pass", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_add(ar, "sp;f", "pass", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_add(ar, "spf", "pa=ss", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_add(ar, NULL, "pass", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_add(ar, "spf", NULL, NULL, NULL, 0), -1);

	t_case("add: bad ptype, property, value");
	p.ptype = "smtp.x";
	t_assert_int_eq(authres_add(ar, "spf", "pass", NULL, &p, 1), -1);
	p.ptype = "smtp";
	p.property = "mail from";
	t_assert_int_eq(authres_add(ar, "spf", "pass", NULL, &p, 1), -1);
	p.property = "mailfrom";
	p.value = NULL;
	t_assert_int_eq(authres_add(ar, "spf", "pass", NULL, &p, 1), -1);
	t_assert_int_eq(authres_add(ar, "spf", "pass", NULL, NULL, 1), -1);

	t_case("add: too many properties");
	for (i = 0; i <= AUTHRES_MAX_PROPS; i++)
		many[i] = (struct authres_prop){"header", "d", "a.example"};
	t_assert_int_eq(
	    authres_add(ar, "dkim", "pass", NULL, many, AUTHRES_MAX_PROPS + 1),
	    -1);
	t_assert_int_eq(
	    authres_add(ar, "dkim", "pass", NULL, many, AUTHRES_MAX_PROPS), 0);

	t_case("add: failures leave the field unchanged");
	t_assert_int_eq(authres_count(ar), 1);

	t_case("add: too many results");
	for (i = 1; i < AUTHRES_MAX_RESULTS; i++)
		t_assert_int_eq(
		    authres_add(ar, "x-test", "none", NULL, NULL, 0), 0);
	t_assert_int_eq(authres_add(ar, "x-test", "none", NULL, NULL, 0), -1);
	t_assert_int_eq(authres_count(ar), AUTHRES_MAX_RESULTS);
	v = authres_value(ar);
	t_assert(v != NULL && lines_fit(v));
	free(v);
	authres_free(ar);

	t_case("keyword syntax");
	t_assert(authres_keyword_valid("dkim-atps"));
	t_assert(authres_keyword_valid("x1"));
	t_assert(!authres_keyword_valid("x_1"));
	t_assert(!authres_keyword_valid(NULL));
}

struct ours_case {
	const char *name, *value;
	bool        ours;
};

static const struct ours_case ours_cases[] = {
    {"ours: plain", " mx.example.net; spf=pass smtp.mailfrom=a.example", true},
    {"ours: no leading space", "mx.example.net; none", true},
    {"ours: comment before the id", " (forged) mx.example.net; none", true},
    {"ours: nested comment before the id",
	" (a (b \\) (c)) d) mx.example.net; none", true},
    {"ours: folded", "\r\n\tmx.example.net;\r\n\tnone", true},
    {"ours: different case", " MX.Example.NET; none", true},
    {"ours: version number", " mx.example.net 1; spf=pass", true},
    {"ours: version in a comment", " mx.example.net (v) 1 ; none", true},
    {"ours: quoted id", " \"mx.example.net\"; none", true},
    {"ours: quoted id with quoted-pair", " \"mx.example\\.net\"; none", true},
    {"ours: id followed by garbage", " mx.example.net; ;;= ((( \"", true},
    {"ours: id alone", "mx.example.net", true},
    {"ours: id then comment garbage", "mx.example.net(x", true},
    {"not ours: other id", " mx.other.net; spf=pass", false},
    {"not ours: our id as prefix", " mx.example.net.evil; none", false},
    {"not ours: prefix of our id", " mx.example; none", false},
    {"not ours: our id later", " other; x=y mx.example.net", false},
    {"not ours: comment, then another id", " (mx.example.net) other; none",
	false},
    /* Fails closed: no authserv-id can be read, so it may be ours. */
    {"unreadable: garbage", " ;;; mx.example.net", true},
    {"unreadable: unterminated comment", " (mx.example.net; none", true},
    {"unreadable: unbalanced, foreign id", " ((x) other.example; none", true},
    {"unreadable: a close too many", " (x)) other.example; none", true},
    {"unreadable: quoted-pair at the end", " (x \\", true},
    {"unreadable: unterminated quote", " \"mx.example.net; none", true},
    {"unreadable: empty", "", true},
    {"unreadable: whitespace only", " \r\n\t", true},
};

/* depth "(" then depth ")" (one fewer when !closed) then tail, into b. */
static void
nested(struct buf *b, size_t depth, bool closed, const char *tail)
{
	size_t i;

	buf_init(b, 0);
	for (i = 0; i < depth; i++)
		buf_append_char(b, '(');
	for (i = closed ? 0 : 1; i < depth; i++)
		buf_append_char(b, ')');
	buf_append_str(b, tail);
}

static void
test_is_ours(void)
{
	struct buf b;
	size_t     i;

	for (i = 0; i < sizeof(ours_cases) / sizeof(ours_cases[0]); i++) {
		t_case(ours_cases[i].name);
		t_assert_int_eq(authres_is_ours(ours_cases[i].value,
				    strlen(ours_cases[i].value), ID),
		    ours_cases[i].ours);
	}

	t_case("ours: length is respected");
	t_assert(!authres_is_ours("mx.example.net", 13, ID));
	t_assert(authres_is_ours("mx.example.net\0garbage", 22, ID));
	t_case("unreadable: a NUL inside the leading comment");
	t_assert(authres_is_ours(" (x\0) other.example; none", 26, ID));
	t_assert(!authres_is_ours(" (x) other.example; none", 24, ID));

	/* Comments nested to depth levels before an id: up to
	 * AUTHRES_MAX_COMMENT_DEPTH the id is read; deeper, nothing is, and
	 * the field counts as ours whatever id follows (a reader with a
	 * deeper limit would read it). */
	{
		static const struct {
			size_t depth;
			bool   ours_other; /* with another's id after it */
		} deep[] = {{AUTHRES_MAX_COMMENT_DEPTH, false},
		    {AUTHRES_MAX_COMMENT_DEPTH + 1, true}, {100, true},
		    {1000, true}, {10000, true}};
		size_t k;

		for (k = 0; k < sizeof(deep) / sizeof(deep[0]); k++) {
			t_casef(
			    "%zu nested comments before the id", deep[k].depth);
			nested(&b, deep[k].depth, true, " other.example; none");
			t_assert_int_eq(authres_is_ours(b.data, b.len, ID),
			    deep[k].ours_other);
			buf_free(&b);
			nested(
			    &b, deep[k].depth, true, " mx.example.net; none");
			t_assert(authres_is_ours(b.data, b.len, ID));
			buf_free(&b);
			t_casef("%zu nested comments, one left open",
			    deep[k].depth);
			nested(
			    &b, deep[k].depth, false, " other.example; none");
			t_assert(authres_is_ours(b.data, b.len, ID));
			buf_free(&b);
		}
	}
}

static void
test_parse(void)
{
	struct authres_parsed           *ap;
	struct authres                  *ar;
	struct buf                       b;
	const char                      *s;
	char                            *v;
	size_t                           i;
	static const struct authres_prop props[] = {
	    {"header", "d", "example.org"},
	    {"header", "b", "a/b"},
	    {"smtp", "mailfrom", "\"x y\"@example.org"},
	};

	t_case("parse: results, props, reason, comments and quoted ;");
	s = " mx.example.net 1; spf=pass (ok; really) "
	    "smtp.mailfrom=\"a;b\"@example.org;\r\n\tdkim=fail "
	    "reason=\"bad; sig\" header.d=example.org header.i=@example.org ";
	ap = authres_parse(s, strlen(s));
	t_assert_int_eq(ap->status, AUTHRES_OK);
	t_assert_str_eq(ap->authserv_id, ID);
	t_assert_int_eq(ap->version, 1);
	t_assert(!ap->none);
	t_assert_int_eq(ap->nresults, 2);
	if (ap->nresults == 2) {
		t_assert_str_eq(ap->results[0].method, "spf");
		t_assert_str_eq(ap->results[0].result, "pass");
		t_assert_int_eq(ap->results[0].nprops, 1);
		t_assert_str_eq(ap->results[0].props[0].ptype, "smtp");
		t_assert_str_eq(ap->results[0].props[0].property, "mailfrom");
		t_assert_str_eq(
		    ap->results[0].props[0].value, "a;b@example.org");
		t_assert_str_eq(ap->results[1].method, "dkim");
		t_assert_str_eq(ap->results[1].result, "fail");
		t_assert_str_eq(ap->results[1].reason, "bad; sig");
		t_assert_int_eq(ap->results[1].nprops, 2);
		t_assert_str_eq(ap->results[1].props[1].value, "@example.org");
	}
	authres_parsed_free(ap);

	t_case("parse: none");
	s = " (c) \"Mx.Example.Net\" ; none ";
	ap = authres_parse(s, strlen(s));
	t_assert_int_eq(ap->status, AUTHRES_OK);
	t_assert_str_eq(ap->authserv_id, "Mx.Example.Net");
	t_assert(ap->none);
	t_assert_int_eq(ap->nresults, 0);
	authres_parsed_free(ap);

	t_case("parse: what we compose parses back");
	ar = authres_new(ID);
	authres_add(ar, "dkim", "pass", "x (y) z", props, 3);
	authres_add(ar, "dmarc", "fail", NULL, NULL, 0);
	v = authres_value(ar);
	ap = authres_parse(v, strlen(v));
	t_assert_int_eq(ap->status, AUTHRES_OK);
	t_assert_int_eq(ap->nresults, 2);
	if (ap->nresults == 2) {
		t_assert_str_eq(ap->results[0].props[1].value, "a/b");
		t_assert_str_eq(
		    ap->results[0].props[2].value, "\"x y\"@example.org");
		t_assert_str_eq(ap->results[1].result, "fail");
	}
	authres_parsed_free(ap);
	free(v);
	authres_free(ar);

	t_case("parse: method version and final semicolon");
	s = "mx; dkim/1=pass header.d=a.example;";
	ap = authres_parse(s, strlen(s));
	t_assert_int_eq(ap->status, AUTHRES_OK);
	t_assert_int_eq(ap->nresults, 1);
	t_assert_str_eq(ap->nresults ? ap->results[0].method : "", "dkim");
	authres_parsed_free(ap);

	t_case("parse: our id then garbage");
	s = " mx.example.net; ;;";
	ap = authres_parse(s, strlen(s));
	t_assert_int_eq(ap->status, AUTHRES_ESYNTAX);
	t_assert_int_eq(ap->error_pos, 17);
	t_assert_str_eq(ap->authserv_id, ID);
	authres_parsed_free(ap);

	t_case("parse: missing semicolon");
	s = " mx.example.net spf=pass";
	ap = authres_parse(s, strlen(s));
	t_assert_int_eq(ap->status, AUTHRES_ESYNTAX);
	t_assert_int_eq(ap->error_pos, 16);
	authres_parsed_free(ap);

	t_case("parse: none followed by a result");
	s = "mx; none; spf=pass";
	ap = authres_parse(s, strlen(s));
	t_assert_int_eq(ap->status, AUTHRES_ESYNTAX);
	authres_parsed_free(ap);

	t_case("parse: complete results kept up to the error");
	s = "mx; spf=pass; dkim=";
	ap = authres_parse(s, strlen(s));
	t_assert_int_eq(ap->status, AUTHRES_ESYNTAX);
	t_assert_int_eq(ap->error_pos, strlen(s));
	t_assert_int_eq(ap->nresults, 1);
	authres_parsed_free(ap);

	t_case("parse: empty");
	ap = authres_parse("", 0);
	t_assert_int_eq(ap->status, AUTHRES_ESYNTAX);
	t_assert(ap->authserv_id == NULL);
	authres_parsed_free(ap);

	t_case("parse: too many results are read and dropped");
	buf_init(&b, 0);
	buf_append_str(&b, "mx");
	for (i = 0; i < 40; i++)
		buf_printf(&b, "; x%zu=pass a.b=c", i);
	ap = authres_parse(b.data, b.len);
	t_assert_int_eq(ap->status, AUTHRES_OK);
	t_assert(ap->truncated);
	t_assert_int_eq(ap->nresults, AUTHRES_MAX_RESULTS);
	authres_parsed_free(ap);

	t_case("parse: 10000 nested comments are an error, not a crash");
	buf_reset(&b);
	buf_append_str(&b, "mx; spf=pass ");
	for (i = 0; i < 10000; i++)
		buf_append_char(&b, '(');
	for (i = 0; i < 10000; i++)
		buf_append_char(&b, ')');
	ap = authres_parse(b.data, b.len);
	t_assert_int_eq(ap->status, AUTHRES_ESYNTAX);
	t_assert_int_eq(ap->nresults, 1);
	authres_parsed_free(ap);
	buf_free(&b);
}

int
main(void)
{
	test_compose();
	test_quoting();
	test_add_errors();
	test_is_ours();
	test_parse();
	return t_done();
}

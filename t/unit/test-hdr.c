/* Unit tests for hdr (the header block) and tagval (RFC 6376 3.2). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "tagval.h"
#include "test.h"

static void
test_hdr(void)
{
	struct hdr_list        *l = hdr_list_new();
	const struct hdr_field *f;
	char                   *big;
	size_t                  i;
	int                     r = 0;

	t_case("hdr: a field keeps its exact bytes, folds become CRLF");
	t_assert_int_eq(hdr_list_add(l, "Subject", 7, " a\n\tb", 5), 0);
	f = hdr_list_get(l, 0);
	t_assert_str_eq(f->raw, "Subject: a\r\n\tb");
	t_assert_int_eq(f->rawlen, 14);
	t_assert_int_eq(f->vallen, 6);
	t_assert(hdr_name_is(f, "SUBJECT"));

	t_case("hdr: CRLF stays, a lone CR becomes CRLF");
	t_assert_int_eq(hdr_list_add(l, "X", 1, "a\r\n b\r c", 8), 0);
	t_assert_str_eq(hdr_list_get(l, 1)->raw, "X:a\r\n b\r\n c");

	t_case("hdr: raw split at the first colon, obsolete WSP kept");
	t_assert_int_eq(hdr_list_add_raw(l, "From : a@b:c", 12), 0);
	f = hdr_list_get(l, 2);
	t_assert_str_eq(f->raw, "From : a@b:c");
	t_assert_int_eq(f->namelen, 4);
	t_assert(hdr_name_is(f, "from"));
	t_assert_int_eq(f->vallen, 6); /* " a@b:c" */
	t_assert_int_eq(hdr_list_count_name(l, "FROM"), 1);

	t_case("hdr: bad names are refused");
	t_assert_int_eq(hdr_list_add_raw(l, "no colon", 8), -1);
	t_assert_int_eq(hdr_list_add_raw(l, ": empty", 7), -1);
	t_assert_int_eq(hdr_list_add(l, "a b", 3, "x", 1), -1);
	t_assert_int_eq(hdr_list_add(l, "a\x80", 2, "x", 1), -1);
	t_assert_int_eq(hdr_list_count(l), 3);

	t_case("hdr: the field limit holds");
	hdr_list_reset(l);
	for (i = 0; i < HDR_MAX_FIELDS; i++)
		r |= hdr_list_add(l, "X", 1, "y", 1);
	t_assert_int_eq(r, 0);
	t_assert_int_eq(hdr_list_add(l, "X", 1, "y", 1), -1);
	t_assert_int_eq(hdr_list_count(l), HDR_MAX_FIELDS);

	t_case("hdr: the byte limit holds, including CR growth");
	hdr_list_reset(l);
	big = malloc(HDR_MAX_BYTES);
	memset(big, '\n', HDR_MAX_BYTES);
	t_assert_int_eq(hdr_list_add(l, "X", 1, big, HDR_MAX_BYTES / 2), -1);
	memset(big, 'a', HDR_MAX_BYTES);
	t_assert_int_eq(hdr_list_add(l, "X", 1, big, HDR_MAX_BYTES - 2), 0);
	t_assert_int_eq(hdr_list_add(l, "X", 1, "", 0), -1);
	free(big);
	hdr_list_free(l);
}

static void
test_tagval(void)
{
	struct tagval        tv[TAGVAL_MAX];
	const struct tagval *t;
	size_t               where = 0;
	char                *s;
	int                  n;
	static const char    sig[] = " v=1; a=rsa-sha256;\r\n\td=example.net;"
				     " b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb\r\n"
				     "  av+yuU4zGeeruD00lszZVoG4ZHRNiYzR;";

	t_case("tagval: a DKIM-Signature value with folds");
	n = tagval_parse(sig, strlen(sig), tv, TAGVAL_MAX, NULL);
	t_assert_int_eq(n, 4);
	t = tagval_get(tv, (size_t)n, "d");
	t_assert(t != NULL && t->vallen == 11 &&
		 memcmp(t->val, "example.net", 11) == 0);
	t = tagval_get(tv, (size_t)n, "b");
	s = t ? tagval_dup_nows(t) : NULL;
	t_assert_str_eq(s,
	    "dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZ"
	    "VoG4ZHRNiYzR");
	free(s);
	t_assert(tagval_get(tv, (size_t)n, "D") == NULL);

	t_case("tagval: empty values, trailing semicolon, empty list");
	t_assert_int_eq(
	    tagval_parse("p=; t = y ;", 11, tv, TAGVAL_MAX, NULL), 2);
	t_assert_int_eq(tv[0].vallen, 0);
	t_assert_int_eq(tv[1].vallen, 1);
	t_assert_int_eq(tagval_parse("  ", 2, tv, TAGVAL_MAX, NULL), 0);
	t_assert_int_eq(tagval_parse("", 0, tv, TAGVAL_MAX, NULL), 0);

	t_case("tagval: inner whitespace belongs to the value");
	t_assert_int_eq(
	    tagval_parse("n=a b\r\n c ", 10, tv, TAGVAL_MAX, NULL), 1);
	t_assert_int_eq(tv[0].vallen, 7); /* "a b\r\n c" */

	t_case("tagval: syntax errors");
	t_assert_int_eq(
	    tagval_parse("=x", 2, tv, TAGVAL_MAX, &where), TAGVAL_ESYNTAX);
	t_assert_int_eq(
	    tagval_parse("a", 1, tv, TAGVAL_MAX, NULL), TAGVAL_ESYNTAX);
	t_assert_int_eq(
	    tagval_parse("1a=x", 4, tv, TAGVAL_MAX, NULL), TAGVAL_ESYNTAX);
	t_assert_int_eq(tagval_parse("a=x;;b=y", 8, tv, TAGVAL_MAX, &where),
	    TAGVAL_ESYNTAX);
	t_assert_int_eq(where, 4);
	t_assert_int_eq(
	    tagval_parse("a=\x01", 3, tv, TAGVAL_MAX, NULL), TAGVAL_ESYNTAX);
	t_assert_int_eq(tagval_parse("a=\xc3\xa9", 4, tv, TAGVAL_MAX, NULL),
	    TAGVAL_ESYNTAX);

	t_case("tagval: duplicates and too many tags");
	t_assert_int_eq(
	    tagval_parse("a=1;b=2;a=3", 11, tv, TAGVAL_MAX, NULL), TAGVAL_EDUP);
	t_assert_int_eq(
	    tagval_parse("a=1;b=2;c=3", 11, tv, 2, NULL), TAGVAL_ETOOMANY);
}

int
main(void)
{
	test_hdr();
	test_tagval();
	return t_done();
}

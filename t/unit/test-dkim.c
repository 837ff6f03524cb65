/*
 * Unit tests for the DKIM modules: canonicalization (RFC 6376 3.4, incl.
 * the 3.4.6 example and every chunk boundary), key records (3.6.1),
 * signature fields (each MUST of 6.1.1), sign-then-verify round trips
 * (rsa-sha256 1024/2048, ed25519-sha256; simple and relaxed), tampering,
 * and the RFC 8463 Appendix A example.
 *
 *	test-dkim                  keys handed in through the lookup hook
 *	test-dkim DNS_CONF         also through libunbound and the loopback
 *	                           server serving t/data/dkim/zone.json
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"
#include "dkim_canon.h"
#include "dkim_key.h"
#include "dkim_sign.h"
#include "dkim_verify.h"
#include "dns.h"
#include "hdr.h"
#include "test.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

/* The RFC 8463 A.3 signatures carry t=1528637909. */
#define RFC8463_NOW 1528640000

/* ------------------------------------------------------------------ */
/* Key records handed to the verifier without DNS.                     */

struct tkey {
	char           *name;
	enum dns_status status;
	char           *rec[3];
	size_t          nrec;
};

static struct tkey       tkeys[32];
static size_t            ntkeys;
static struct dns_answer tans;
static struct dns_rr     trr[3];

static void
tkey_clear(void)
{
	size_t i, j;

	for (i = 0; i < ntkeys; i++) {
		free(tkeys[i].name);
		for (j = 0; j < tkeys[i].nrec; j++)
			free(tkeys[i].rec[j]);
	}
	ntkeys = 0;
}

static void
tkey_add(const char *name, enum dns_status st, const char *r0, const char *r1)
{
	struct tkey *k = &tkeys[ntkeys++];

	memset(k, 0, sizeof(*k));
	k->name = strdup(name);
	k->status = st;
	if (r0 != NULL)
		k->rec[k->nrec++] = strdup(r0);
	if (r1 != NULL)
		k->rec[k->nrec++] = strdup(r1);
}

static const struct dns_answer *
tkey_lookup(void *arg, const char *name)
{
	size_t i, j;

	(void)arg;
	memset(&tans, 0, sizeof(tans));
	tans.why = "";
	tans.status = DNS_NXDOMAIN;
	for (i = 0; i < ntkeys; i++) {
		if (strcmp(tkeys[i].name, name) != 0)
			continue;
		tans.status = tkeys[i].status;
		if (tans.status == DNS_TEMPFAIL)
			tans.why = "SERVFAIL";
		for (j = 0; j < tkeys[i].nrec && tans.status == DNS_OK; j++) {
			trr[j].data = tkeys[i].rec[j];
			trr[j].len = strlen(tkeys[i].rec[j]);
		}
		tans.n = tans.status == DNS_OK ? tkeys[i].nrec : 0;
		tans.rr = trr;
		break;
	}
	return &tans;
}

/* ------------------------------------------------------------------ */
/* Messages.                                                           */

struct msg {
	struct hdr_list *h;
	struct buf       body;
};

static void
msg_init(struct msg *m)
{
	m->h = hdr_list_new();
	buf_init(&m->body, 4 * 1024 * 1024);
}

static void
msg_free(struct msg *m)
{
	hdr_list_free(m->h);
	buf_free(&m->body);
}

/* Parses a message with LF or CRLF line ends: fields (folds kept), an
 * empty line, the body (made CRLF). */
static void
msg_parse(struct msg *m, const char *text, size_t n)
{
	size_t i = 0, start, end;

	msg_init(m);
	while (i < n) {
		start = i;
		/* One field: up to a line break not followed by WSP. */
		for (;;) {
			const char *nl = memchr(text + i, '\n', n - i);

			end = nl ? (size_t)(nl - text) : n;
			i = nl ? end + 1 : n;
			if (i >= n || (text[i] != ' ' && text[i] != '\t'))
				break;
		}
		if (end > start && text[end - 1] == '\r')
			end--;
		if (end == start)
			break; /* the empty line */
		t_assert(
		    hdr_list_add_raw(m->h, text + start, end - start) == 0);
	}
	for (; i < n; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			buf_append(&m->body, "\r\n", 2);
		else
			buf_append_char(&m->body, text[i]);
	}
}

static void
msg_text(struct msg *m, const char *text)
{
	msg_parse(m, text, strlen(text));
}

static bool
msg_file(struct msg *m, const char *rel)
{
	char       path[1024];
	FILE      *fp;
	struct buf b;
	char       chunk[4096];
	size_t     n;

	snprintf(path, sizeof(path), "%s/%s", TOP_SRCDIR, rel);
	if ((fp = fopen(path, "rb")) == NULL) {
		printf("cannot open %s\n", path);
		msg_init(m);
		return false;
	}
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	msg_parse(m, b.data, b.len);
	buf_free(&b);
	return true;
}

/* A copy of m with fields (raw, CRLF folds) put on top. */
static void
msg_prepend(
    struct msg *out, const struct msg *m, const char *const *fields, size_t n)
{
	size_t i;

	msg_init(out);
	for (i = 0; i < n; i++)
		t_assert(hdr_list_add_raw(
			     out->h, fields[i], strlen(fields[i])) == 0);
	for (i = 0; i < hdr_list_count(m->h); i++) {
		const struct hdr_field *f = hdr_list_get(m->h, i);
		t_assert(hdr_list_add_raw(out->h, f->raw, f->rawlen) == 0);
	}
	buf_append(&out->body, m->body.data, m->body.len);
}

/* Runs the verifier over m, body in chunks of chunk bytes (0: whole). */
static struct dkim_verify *
verify(const struct msg *m, const struct dkim_verify_params *p, size_t chunk,
    struct dns *dns)
{
	struct dkim_verify *v = dkim_verify_new(dns, p);
	size_t              i, n;

	if (dns == NULL)
		dkim_verify_set_key_lookup(v, tkey_lookup, NULL);
	for (i = 0; i < hdr_list_count(m->h); i++)
		dkim_verify_header(v, hdr_list_get(m->h, i));
	dkim_verify_eoh(v, m->h);
	if (chunk == 0)
		chunk = m->body.len ? m->body.len : 1;
	for (i = 0; i < m->body.len; i += n) {
		n = m->body.len - i < chunk ? m->body.len - i : chunk;
		dkim_verify_body(v, m->body.data + i, n);
	}
	dkim_verify_eom(v, m->h);
	return v;
}

static const struct dkim_result *
verify1(const struct msg *m, const struct dkim_verify_params *p,
    struct dkim_verify **v_r)
{
	*v_r = verify(m, p, 0, NULL);
	t_assert_int_eq(dkim_verify_count(*v_r), 1);
	return dkim_verify_result(*v_r, 0);
}

/* ------------------------------------------------------------------ */
/* Canonicalization.                                                   */

static char *
body_canon(enum dkim_canon c, const char *in, size_t n, size_t chunk)
{
	struct dkim_body *b = dkim_body_new(c, NULL, DKIM_BODY_NOLIMIT);
	size_t            i, k;
	char             *out;

	for (i = 0; i < n; i += k) {
		k = chunk == 0 || n - i < chunk ? n - i : chunk;
		dkim_body_update(b, in + i, k);
	}
	dkim_body_final(b, NULL, NULL);
	out = strdup(buf_cstr(dkim_body_output(b)));
	t_assert_int_eq(dkim_body_length(b), strlen(out));
	dkim_body_free(b);
	return out;
}

static void
test_canon_body(void)
{
	static const struct {
		const char     *name;
		enum dkim_canon c;
		const char     *in, *want;
	} rows[] = {
	    {"body simple: RFC 6376 3.4.6 example", DKIM_CANON_SIMPLE,
		" C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n"},
	    {"body relaxed: RFC 6376 3.4.6 example", DKIM_CANON_RELAXED,
		" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
	    {"body simple: empty is CRLF", DKIM_CANON_SIMPLE, "", "\r\n"},
	    {"body relaxed: empty stays empty", DKIM_CANON_RELAXED, "", ""},
	    {"body simple: only empty lines", DKIM_CANON_SIMPLE, "\r\n\r\n\r\n",
		"\r\n"},
	    {"body relaxed: only blank lines", DKIM_CANON_RELAXED,
		"\r\n \t\r\n  \r\n", ""},
	    {"body simple: no final CRLF", DKIM_CANON_SIMPLE, "abc", "abc\r\n"},
	    {"body relaxed: no final CRLF, trailing WSP", DKIM_CANON_RELAXED,
		"abc \t", "abc\r\n"},
	    {"body simple: WSP-only line is not empty", DKIM_CANON_SIMPLE,
		"a\r\n \r\n\r\n", "a\r\n \r\n"},
	    {"body relaxed: WSP-only trailing lines go", DKIM_CANON_RELAXED,
		"a\r\n \r\n\t\r\n", "a\r\n"},
	    {"body simple: inner empty lines kept", DKIM_CANON_SIMPLE,
		"a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n"},
	    {"body relaxed: inner blank lines kept, emptied",
		DKIM_CANON_RELAXED, "a\r\n  \r\n\r\n b\r\n",
		"a\r\n\r\n\r\n b\r\n"},
	    {"body simple: lone CR and LF are data", DKIM_CANON_SIMPLE,
		"a\rb\nc\r", "a\rb\nc\r\r\n"},
	    {"body relaxed: lone CR is data, not WSP", DKIM_CANON_RELAXED,
		"a \r b  \r\r\n", "a \r b \r\r\n"},
	    {"body simple: CR CR LF", DKIM_CANON_SIMPLE, "x\r\r\n\r\n",
		"x\r\r\n"},
	    {"body relaxed: 8-bit bytes untouched", DKIM_CANON_RELAXED,
		"\xc3\xa9t\xc3\xa9  \xff\r\n", "\xc3\xa9t\xc3\xa9 \xff\r\n"},
	};
	size_t i, k;
	char  *whole, *got;
	bool   same;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].in);

		t_case(rows[i].name);
		whole = body_canon(rows[i].c, rows[i].in, n, 0);
		t_assert_str_eq(whole, rows[i].want);
		/* Every split point, and one byte at a time. */
		same = true;
		for (k = 1; k <= n; k++) {
			got = body_canon(rows[i].c, rows[i].in, n, k);
			same = same && strcmp(got, whole) == 0;
			free(got);
		}
		t_assert(same);
		free(whole);
	}
}

static void
b64_digest(const unsigned char *md, unsigned int n, char *out, size_t size)
{
	struct buf b;

	buf_init(&b, 0);
	dkim_base64_encode(md, n, &b);
	snprintf(out, size, "%s", buf_cstr(&b));
	buf_free(&b);
}

static void
body_hash(enum dkim_canon c, const char *in, size_t n, size_t chunk,
    uint64_t limit, char *out, size_t size)
{
	struct dkim_body *b = dkim_body_new(c, EVP_sha256(), limit);
	unsigned char     md[EVP_MAX_MD_SIZE];
	unsigned int      mdlen = 0;
	size_t            i, k;

	for (i = 0; i < n; i += k) {
		k = chunk == 0 || n - i < chunk ? n - i : chunk;
		dkim_body_update(b, in + i, k);
	}
	t_assert_int_eq(dkim_body_final(b, md, &mdlen), 0);
	b64_digest(md, mdlen, out, size);
	dkim_body_free(b);
}

static void
test_canon_hash(void)
{
	char                a[64], b[64];
	struct buf          big;
	size_t              i, k;
	bool                same;
	static const size_t chunks[] = {1, 2, 3, 7, 64, 1000, 8191, 8193};

	t_case("body hash: empty simple / relaxed (known values)");
	body_hash(DKIM_CANON_SIMPLE, "", 0, 0, DKIM_BODY_NOLIMIT, a, sizeof(a));
	t_assert_str_eq(a, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	body_hash(
	    DKIM_CANON_RELAXED, "", 0, 0, DKIM_BODY_NOLIMIT, a, sizeof(a));
	t_assert_str_eq(a, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");

	t_case("body hash: 200 KB, any chunking gives the same digest");
	buf_init(&big, 0);
	for (i = 0; big.len < 200 * 1024; i++) {
		buf_printf(&big, "line %zu  with\t tabs and  spaces %s\r\n", i,
		    i % 7 == 0 ? "   " : "x");
		if (i % 13 == 0)
			buf_append(&big, "\r\n \r\n", 5);
	}
	buf_append(&big, "\r\n\r\n  \r\n", 8);
	for (k = 0; k < 2; k++) {
		enum dkim_canon c = k ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;

		body_hash(
		    c, big.data, big.len, 0, DKIM_BODY_NOLIMIT, a, sizeof(a));
		same = true;
		for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
			body_hash(c, big.data, big.len, chunks[i],
			    DKIM_BODY_NOLIMIT, b, sizeof(b));
			same = same && strcmp(a, b) == 0;
		}
		t_assert(same);
	}
	buf_free(&big);

	t_case("body hash: l= limit hashes a prefix, length counts all");
	{
		struct dkim_body *s = dkim_body_new(DKIM_CANON_SIMPLE, NULL, 3);
		dkim_body_update(s, "abcdef\r\n\r\n", 10);
		dkim_body_final(s, NULL, NULL);
		t_assert_str_eq(buf_cstr(dkim_body_output(s)), "abc");
		t_assert_int_eq(dkim_body_length(s), 8);
		dkim_body_free(s);
		body_hash(DKIM_CANON_SIMPLE, "abcdef", 6, 1, 3, a, sizeof(a));
		body_hash(DKIM_CANON_SIMPLE, "abc", 3, 0, DKIM_BODY_NOLIMIT, b,
		    sizeof(b));
		/* "abc" alone gets a CRLF; the limited one does not. */
		t_assert(strcmp(a, b) != 0);
		body_hash(DKIM_CANON_RELAXED, "abc\r\n", 5, 0,
		    DKIM_BODY_NOLIMIT, b, sizeof(b));
		body_hash(DKIM_CANON_RELAXED, "abc  \r\nmore", 11, 2, 5, a,
		    sizeof(a));
		t_assert_str_eq(a, b);
	}
}

static void
test_canon_header(void)
{
	static const struct {
		const char     *name;
		enum dkim_canon c;
		const char     *in, *want;
	} rows[] = {
	    {"header relaxed: RFC 6376 3.4.6 A", DKIM_CANON_RELAXED, "A: X",
		"a:X\r\n"},
	    {"header relaxed: RFC 6376 3.4.6 B", DKIM_CANON_RELAXED,
		"B : Y\t\r\n\tZ  ", "b:Y Z\r\n"},
	    {"header simple: RFC 6376 3.4.6 B unchanged", DKIM_CANON_SIMPLE,
		"B : Y\t\r\n\tZ  ", "B : Y\t\r\n\tZ  \r\n"},
	    {"header relaxed: empty value", DKIM_CANON_RELAXED,
		"Subject:  \r\n ", "subject:\r\n"},
	    {"header relaxed: inner runs, 8-bit kept", DKIM_CANON_RELAXED,
		"X-Y:\ta  \t b\xc3\xa9 ", "x-y:a b\xc3\xa9\r\n"},
	};
	struct buf b;
	size_t     i;

	buf_init(&b, 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t_case(rows[i].name);
		buf_reset(&b);
		t_assert_int_eq(dkim_canon_header(rows[i].c, rows[i].in,
				    strlen(rows[i].in), true, &b),
		    0);
		t_assert_str_eq(buf_cstr(&b), rows[i].want);
	}

	t_case("headers: h= picks bottom-up, an extra name adds nothing");
	{
		struct msg m;
		const char h[] = "from : subject:subject:Subject:to";

		msg_text(&m, "Subject: one\nFrom: a@b\nSubject: two\n\n");
		buf_reset(&b);
		t_assert_int_eq(dkim_canon_headers(
				    DKIM_CANON_RELAXED, m.h, h, strlen(h), &b),
		    0);
		t_assert_str_eq(
		    buf_cstr(&b), "from:a@b\r\nsubject:two\r\nsubject:one\r\n");
		msg_free(&m);
	}
	buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* Keys.                                                               */

#define RFC8463_ED                                                             \
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC8463_RSA_P                                                          \
	"MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08" \
	"a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsC"  \
	"R+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT"  \
	"+l/K4w3QIDAQAB"
#define RFC8463_RSA "v=DKIM1; k=rsa; p=" RFC8463_RSA_P

static char *
pub_record(EVP_PKEY *pk, const char *prefix)
{
	struct buf     b;
	unsigned char *der = NULL, raw[64];
	size_t         rawlen = sizeof(raw);
	int            n;

	buf_init(&b, 0);
	buf_append_str(&b, prefix);
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		EVP_PKEY_get_raw_public_key(pk, raw, &rawlen);
		dkim_base64_encode(raw, rawlen, &b);
	} else {
		n = i2d_PUBKEY(pk, &der);
		dkim_base64_encode(der, (size_t)n, &b);
		OPENSSL_free(der);
	}
	return buf_take(&b);
}

/* A bare PKCS#1 RSAPublicKey, as some publishers put in p=. */
static char *
pub_record_pkcs1(EVP_PKEY *pk)
{
	struct buf     b;
	unsigned char *der = NULL;
	int            n = i2d_PublicKey(pk, &der);

	buf_init(&b, 0);
	buf_append_str(&b, "k=rsa; p=");
	dkim_base64_encode(der, (size_t)n, &b);
	OPENSSL_free(der);
	return buf_take(&b);
}

static void
test_keys(EVP_PKEY *rsa1024)
{
	static const struct {
		const char *name, *rec;
		int         rc;
		const char *reason; /* rc -1 */
		int         type, bits, testing, strict, sha1, sha256;
	} rows[] = {
	    {"key: RFC 8463 ed25519", RFC8463_ED, 0, NULL, DKIM_KEY_ED25519,
		256, 0, 0, 1, 1},
	    {"key: RFC 8463 rsa", RFC8463_RSA, 0, NULL, DKIM_KEY_RSA, 1024, 0,
		0, 1, 1},
	    {"key: no v=, k= defaults to rsa", "p=" RFC8463_RSA_P, 0, NULL,
		DKIM_KEY_RSA, 1024, 0, 0, 1, 1},
	    {"key: FWS inside p=",
		"p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6"
		"\r\n\tNpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3"
		"W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5Qjv"
		"HO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
		0, NULL, DKIM_KEY_RSA, 1024, 0, 0, 1, 1},
	    {"key: t=y:s flags, h=sha256, s=email",
		"v=DKIM1; t=y:s; h=sha256; s=email; p=" RFC8463_RSA_P, 0, NULL,
		DKIM_KEY_RSA, 1024, 1, 1, 0, 1},
	    {"key: unknown tags, flags and services ignored",
		"v=DKIM1; zz=top; t=q; s=other:*; n=notes; p=" RFC8463_RSA_P, 0,
		NULL, DKIM_KEY_RSA, 1024, 0, 0, 1, 1},
	    {"key: h=sha1 only", "h=sha1; p=" RFC8463_RSA_P, 0, NULL,
		DKIM_KEY_RSA, 1024, 0, 0, 1, 0},
	    {"key: empty p= is revoked", "v=DKIM1; k=rsa; p=", -1,
		"key revoked", 0, 0, 0, 0, 0, 0},
	    {"key: no p=", "v=DKIM1; k=rsa", -1, "no p= in key", 0, 0, 0, 0, 0,
		0},
	    {"key: v=DKIM2", "v=DKIM2; p=" RFC8463_RSA_P, -1,
		"key version not DKIM1", 0, 0, 0, 0, 0, 0},
	    {"key: v= not first", "k=rsa; v=DKIM1; p=" RFC8463_RSA_P, -1,
		"key version not DKIM1", 0, 0, 0, 0, 0, 0},
	    {"key: v=dkim1 is not exact", "v=dkim1; p=" RFC8463_RSA_P, -1,
		"key version not DKIM1", 0, 0, 0, 0, 0, 0},
	    {"key: unknown k=", "k=dsa; p=" RFC8463_RSA_P, -1,
		"unknown key type", 0, 0, 0, 0, 0, 0},
	    {"key: s= without email", "s=tlsrpt; p=" RFC8463_RSA_P, -1,
		"key not for email", 0, 0, 0, 0, 0, 0},
	    {"key: syntax error", "v=DKIM1; p", -1, "key syntax error", 0, 0, 0,
		0, 0, 0},
	    {"key: duplicate tag", "p=a; p=b", -1, "key syntax error", 0, 0, 0,
		0, 0, 0},
	    {"key: NUL byte", "v=DKIM1; p=\0AAAA", -1, "key syntax error", 0, 0,
		0, 0, 0, 0},
	    {"key: bad base64", "p=MIGf*MA0", -1, "bad key data", 0, 0, 0, 0, 0,
		0},
	    {"key: ed25519 of 31 bytes",
		"k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR==", -1,
		"bad key data", 0, 0, 0, 0, 0, 0},
	    {"key: ed25519 record holding an RSA key",
		"k=ed25519; p=" RFC8463_RSA_P, -1, "bad key data", 0, 0, 0, 0,
		0, 0},
	    {"key: rsa record holding an ed25519 key",
		"k=rsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", -1,
		"bad key data", 0, 0, 0, 0, 0, 0},
	    {"key: DER with trailing bytes", "p=" RFC8463_RSA_P "AAAA", -1,
		"bad key data", 0, 0, 0, 0, 0, 0},
	};
	struct dkim_key k;
	const char     *why;
	size_t          i;
	char           *rec;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].rec);

		if (strstr(rows[i].name, "NUL") != NULL)
			n = 16; /* "v=DKIM1; p=\0AAAA" */
		t_case(rows[i].name);
		why = NULL;
		t_assert_int_eq(
		    dkim_key_parse(rows[i].rec, n, &k, &why), rows[i].rc);
		if (rows[i].rc < 0) {
			t_assert_str_eq(why, rows[i].reason);
			t_assert(k.pkey == NULL);
			continue;
		}
		t_assert(k.pkey != NULL);
		t_assert_int_eq(k.type, rows[i].type);
		t_assert_int_eq(k.bits, rows[i].bits);
		t_assert_int_eq(k.testing, rows[i].testing);
		t_assert_int_eq(k.strict, rows[i].strict);
		t_assert_int_eq(k.sha1, rows[i].sha1);
		t_assert_int_eq(k.sha256, rows[i].sha256);
		dkim_key_clear(&k);
	}

	t_case("key: bare PKCS#1 RSAPublicKey accepted");
	rec = pub_record_pkcs1(rsa1024);
	t_assert_int_eq(dkim_key_parse(rec, strlen(rec), &k, &why), 0);
	t_assert_int_eq(k.bits, 1024);
	t_assert(EVP_PKEY_eq(k.pkey, rsa1024) == 1);
	dkim_key_clear(&k);
	free(rec);

	t_case("key: the same p= again is decoded once; tags read anew");
	{
		struct dkim_key k2;
		char           *rec2 = pub_record(rsa1024, "v=DKIM1; t=y; p=");
		unsigned long   hits;

		rec = pub_record(rsa1024, "v=DKIM1; p=");
		t_assert_int_eq(dkim_key_parse(rec, strlen(rec), &k, &why), 0);
		hits = dkim_key_cache_hits();
		t_assert_int_eq(
		    dkim_key_parse(rec2, strlen(rec2), &k2, &why), 0);
		t_assert_int_eq(dkim_key_cache_hits(), hits + 1);
		t_assert(k2.pkey == k.pkey);
		t_assert(k2.testing && !k.testing);
		t_assert_int_eq(k2.bits, 1024);
		/* Each holds its own reference. */
		dkim_key_clear(&k);
		t_assert(EVP_PKEY_eq(k2.pkey, rsa1024) == 1);
		dkim_key_clear(&k2);
		free(rec);
		free(rec2);
	}

	t_case("base64: padding, FWS, errors");
	{
		unsigned char out[16];
		size_t        n = 0;

		t_assert_int_eq(
		    dkim_base64_decode("Zm9v YmE=", 9, out, 16, &n), 0);
		t_assert_int_eq(n, 5);
		t_assert(memcmp(out, "fooba", 5) == 0);
		t_assert_int_eq(
		    dkim_base64_decode("Zm9vYg", 6, out, 16, &n), 0);
		t_assert_int_eq(n, 4);
		t_assert_int_eq(
		    dkim_base64_decode("Zm9vY", 5, out, 16, &n), -1);
		t_assert_int_eq(
		    dkim_base64_decode("Zm=9v", 5, out, 16, &n), -1);
		t_assert_int_eq(
		    dkim_base64_decode("Zm9v=", 5, out, 16, &n), -1);
		t_assert_int_eq(
		    dkim_base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
		t_assert_int_eq(dkim_base64_decode("", 0, out, 16, &n), 0);
		t_assert_int_eq(n, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Signature fields: each MUST of RFC 6376 6.1.1. The key lookup gives  */
/* NXDOMAIN, so a field that passes every check ends "no key".         */

static void
test_sig_fields(void)
{
	static const struct {
		const char      *name, *sig;
		enum dkim_status st;
		const char      *reason;
	} rows[] = {
	    {"sig: well-formed (then no key)",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; "
		"bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "no key"},
	    {"sig: missing v=",
		"a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "missing v="},
	    {"sig: v=2",
		"v=2; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; "
		"b=AAAA",
		DKIM_PERMERROR, "unsupported version"},
	    {"sig: v=1.0 is not v=1",
		"v=1.0; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "unsupported version"},
	    {"sig: missing a=",
		"v=1; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "missing a="},
	    {"sig: missing b=",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA",
		DKIM_PERMERROR, "missing b="},
	    {"sig: empty b=",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; "
		"b=",
		DKIM_PERMERROR, "bad b="},
	    {"sig: missing bh=",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; b=AAAA",
		DKIM_PERMERROR, "missing bh="},
	    {"sig: missing d=",
		"v=1; a=rsa-sha256; s=sel; h=from; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "missing d="},
	    {"sig: missing h=",
		"v=1; a=rsa-sha256; d=example.com; s=sel; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "missing h="},
	    {"sig: missing s=",
		"v=1; a=rsa-sha256; d=example.com; h=from; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "missing s="},
	    {"sig: unknown algorithm",
		"v=1; a=rsa-sha512; d=example.com; s=sel; h=from; bh=AAAA; "
		"b=AAAA",
		DKIM_PERMERROR, "unknown algorithm"},
	    {"sig: h= without From",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=to:subject; "
		"bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "From not signed"},
	    {"sig: h= with an empty name",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from::to; "
		"bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "bad h="},
	    {"sig: i= outside d=",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"i=u@example.org; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "i= not within d="},
	    {"sig: i= a suffix but not a subdomain",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"i=@badexample.com; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "i= not within d="},
	    {"sig: i= in a subdomain (then no key)",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"i=u@Mail.Example.COM; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "no key"},
	    {"sig: i= without @",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"i=example.com; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "i= not within d="},
	    {"sig: x= not after t=",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"t=1700000000; x=1700000000; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "x= not after t="},
	    {"sig: x= in the past",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"t=1500000000; x=1600000000; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "signature expired"},
	    {"sig: t= in the future",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"t=1700001000; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "signature in the future"},
	    {"sig: t= within the clock skew (then no key)",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"t=1700000200; x=1700000001; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "x= not after t="},
	    {"sig: t= slightly ahead is fine (then no key)",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"t=1700000200; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "no key"},
	    {"sig: q=dns/txt (then no key)",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"q=dns/txt; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "no key"},
	    {"sig: q= other",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; q=dns; "
		"bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "unsupported q="},
	    {"sig: z= ignored (then no key)",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"z=From:foo|To:bar; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "no key"},
	    {"sig: c= unknown",
		"v=1; a=rsa-sha256; c=relaxed/fancy; d=example.com; s=sel; "
		"h=from; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "unknown canonicalization"},
	    {"sig: l= not a number",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; l=12a; "
		"bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "bad l="},
	    {"sig: l= overflow",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
		"l=99999999999999999999999; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "bad l="},
	    {"sig: duplicate tag",
		"v=1; a=rsa-sha256; d=example.com; d=example.com; s=sel; "
		"h=from; bh=AAAA; b=AAAA",
		DKIM_PERMERROR, "duplicate tag"},
	    {"sig: tag syntax",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh; b=AAAA",
		DKIM_PERMERROR, "signature syntax error"},
	    {"sig: bad b= base64",
		"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; "
		"b=AA*A",
		DKIM_PERMERROR, "bad b="},
	    {"sig: bad d=",
		"v=1; a=rsa-sha256; d=exa..mple.com; s=sel; h=from; bh=AAAA; "
		"b=AAAA",
		DKIM_PERMERROR, "bad d="},
	    {"sig: rsa-sha1 is policy (RFC 8301)",
		"v=1; a=rsa-sha1; d=example.com; s=sel; h=from; bh=AAAA; "
		"b=AAAA",
		DKIM_POLICY, "rsa-sha1 not accepted (RFC 8301)"},
	};
	struct dkim_verify_params p = {.now = 1700000000};
	struct dkim_verify       *v;
	const struct dkim_result *r;
	struct msg                m;
	struct buf                t;
	size_t                    i;

	tkey_clear();
	buf_init(&t, 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t_case(rows[i].name);
		buf_reset(&t);
		buf_printf(&t,
		    "DKIM-Signature: %s\nFrom: a@example.com\n\nhi\n",
		    rows[i].sig);
		msg_text(&m, buf_cstr(&t));
		r = verify1(&m, &p, &v);
		if (r != NULL) {
			t_assert_str_eq(dkim_status_str(r->status),
			    dkim_status_str(rows[i].st));
			t_assert_str_eq(r->reason, rows[i].reason);
		}
		dkim_verify_free(v);
		msg_free(&m);
	}

	t_case("sig: result fields from a broken signature");
	msg_text(&m, "DKIM-Signature: v=1; a=RSA-SHA256; d=Example.COM; "
		     "s=sel; i=@example.com; h=to; bh=AAAA; b=abc def\n ghijk\n"
		     "\nbody\n");
	r = verify1(&m, &p, &v);
	t_assert_str_eq(r->domain, "example.com");
	t_assert_str_eq(r->selector, "sel");
	t_assert_str_eq(r->identity, "@example.com");
	t_assert_str_eq(r->algorithm, "rsa-sha256");
	t_assert_str_eq(r->b8, "abcdefgh");
	t_assert_str_eq(r->reason, "From not signed");
	dkim_verify_free(v);
	msg_free(&m);

	t_case("sig: past max_signatures, fields are ignored and counted");
	msg_text(&m, "DKIM-Signature: v=1\nDKIM-Signature: v=2\n"
		     "DKIM-Signature: v=3\nFrom: a@b\n\n");
	p.max_signatures = 2;
	v = verify(&m, &p, 0, NULL);
	t_assert_int_eq(dkim_verify_count(v), 2);
	t_assert_int_eq(dkim_verify_ignored(v), 1);
	t_assert(dkim_verify_result(v, 2) == NULL);
	dkim_verify_free(v);
	msg_free(&m);
	buf_free(&t);
}

/* ------------------------------------------------------------------ */
/* Sign, then verify.                                                   */

static const char *const sign_headers[] = {
    "From", "To", "Subject", "Date", "Message-ID", "Cc"};
static const char *const sign_oversign[] = {"From", "Subject"};

static const char test_msg[] =
    "From: Alice <alice@example.com>\n"
    "To: bob@example.net\n"
    "Subject: a long subject that goes on and on, folded over\n"
    "\tseveral lines  with   odd\t spacing\n"
    "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
    "Message-ID: <1@example.com>\n"
    "X-Unsigned: x\n"
    "\n"
    "Hello Bob,  \n"
    "\n"
    "caf\xc3\xa9 \t time.\n"
    "\n"
    "\n";

/* Signs m with keys; returns a new message with the fields on top. */
static bool
sign_msg(struct msg *out, const struct msg *m, const struct dkim_sign_key *keys,
    size_t nkeys, enum dkim_canon hc, enum dkim_canon bc, size_t chunk)
{
	struct dkim_sign_params sp = {
	    .header_canon = hc,
	    .body_canon = bc,
	    .headers = sign_headers,
	    .nheaders = sizeof(sign_headers) / sizeof(sign_headers[0]),
	    .oversign = sign_oversign,
	    .noversign = sizeof(sign_oversign) / sizeof(sign_oversign[0]),
	    .now = 1700000000,
	};
	struct dkim_sign *s = dkim_sign_new(&sp, keys, nkeys);
	struct am_err     err = {""};
	const char       *fields[4];
	size_t            i, n;
	bool              ok;

	ok = dkim_sign_eoh(s, &err) == 0;
	if (chunk == 0)
		chunk = m->body.len ? m->body.len : 1;
	for (i = 0; ok && i < m->body.len; i += n) {
		n = m->body.len - i < chunk ? m->body.len - i : chunk;
		ok = dkim_sign_body(s, m->body.data + i, n, &err) == 0;
	}
	ok = ok && dkim_sign_eom(s, m->h, &err) == 0;
	if (!ok)
		printf("sign: %s\n", err.msg);
	t_assert(ok);
	n = ok ? dkim_sign_count(s) : 0;
	t_assert_int_eq(n, nkeys);
	for (i = 0; i < n && i < 4; i++)
		fields[i] = dkim_sign_field(s, i);
	msg_prepend(out, m, fields, n);
	dkim_sign_free(s);
	return ok;
}

static bool
lines_short(const char *field)
{
	const char *p = field, *nl;

	for (;;) {
		nl = strstr(p, "\r\n");
		/* A leading TAB counts as 8 columns. */
		if ((nl ? (size_t)(nl - p) : strlen(p)) + (*p == '\t' ? 7 : 0) >
		    78)
			return false;
		if (nl == NULL)
			return true;
		p = nl + 2;
	}
}

static void
test_roundtrip(EVP_PKEY *rsa1024, EVP_PKEY *rsa2048, EVP_PKEY *ed)
{
	static const struct {
		const char     *name;
		int             key; /* 0 rsa1024, 1 rsa2048, 2 ed25519 */
		enum dkim_canon hc, bc;
		size_t          chunk;
	} rows[] = {
	    {"roundtrip: rsa-sha256 1024 simple/simple", 0, DKIM_CANON_SIMPLE,
		DKIM_CANON_SIMPLE, 0},
	    {"roundtrip: rsa-sha256 1024 relaxed/relaxed", 0,
		DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, 0},
	    {"roundtrip: rsa-sha256 2048 simple/relaxed", 1, DKIM_CANON_SIMPLE,
		DKIM_CANON_RELAXED, 1},
	    {"roundtrip: rsa-sha256 2048 relaxed/simple", 1, DKIM_CANON_RELAXED,
		DKIM_CANON_SIMPLE, 3},
	    {"roundtrip: ed25519-sha256 simple/simple", 2, DKIM_CANON_SIMPLE,
		DKIM_CANON_SIMPLE, 5},
	    {"roundtrip: ed25519-sha256 relaxed/relaxed", 2, DKIM_CANON_RELAXED,
		DKIM_CANON_RELAXED, 0},
	};
	EVP_PKEY            *pk[3] = {rsa1024, rsa2048, ed};
	struct dkim_sign_key keys[3] = {
	    {"example.com", "r1024", DKIM_ALG_RSA_SHA256, rsa1024},
	    {"example.com", "r2048", DKIM_ALG_RSA_SHA256, rsa2048},
	    {"example.com", "ed", DKIM_ALG_ED25519_SHA256, ed},
	};
	struct dkim_verify_params p = {.now = 1700000100};
	struct dkim_verify       *v;
	const struct dkim_result *r;
	struct msg                m, sm, tm;
	size_t                    i;
	char                     *rec;
	const char               *names[3] = {"r1024._domainkey.example.com",
			  "r2048._domainkey.example.com", "ed._domainkey.example.com"};

	tkey_clear();
	for (i = 0; i < 3; i++) {
		rec = pub_record(pk[i],
		    i == 2 ? "v=DKIM1; k=ed25519; p=" : "v=DKIM1; k=rsa; p=");
		tkey_add(names[i], DNS_OK, rec, NULL);
		free(rec);
	}
	msg_text(&m, test_msg);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t_case(rows[i].name);
		if (!sign_msg(&sm, &m, &keys[rows[i].key], 1, rows[i].hc,
			rows[i].bc, rows[i].chunk))
			continue;
		t_assert(lines_short(hdr_list_get(sm.h, 0)->raw));
		v = verify(&sm, &p, rows[i].chunk, NULL);
		r = dkim_verify_result(v, 0);
		t_assert_str_eq(dkim_status_str(r->status), "pass");
		t_assert_str_eq(r->reason, "");
		t_assert_str_eq(r->domain, "example.com");
		t_assert_str_eq(
		    r->algorithm, dkim_alg_str(keys[rows[i].key].alg));
		t_assert(!r->testing && !r->l_partial);
		dkim_verify_free(v);
		msg_free(&sm);
	}

	t_case("roundtrip: h= lists present names, oversigns From/Subject");
	sign_msg(
	    &sm, &m, &keys[2], 1, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, 0);
	{
		struct buf b;
		buf_init(&b, 0);
		dkim_canon_header(DKIM_CANON_RELAXED,
		    hdr_list_get(sm.h, 0)->raw, hdr_list_get(sm.h, 0)->rawlen,
		    false, &b);
		t_assert(
		    strstr(buf_cstr(&b),
			"; h=From:From:To:Subject:Subject:Date:Message-ID; "
			"bh=") != NULL);
		t_assert(strncmp(buf_cstr(&b),
			     "dkim-signature:v=1; a=ed25519-sha256; "
			     "c=relaxed/relaxed; d=example.com; s=ed; "
			     "t=1700000000; h=",
			     83) == 0);
		buf_free(&b);
	}
	msg_free(&sm);

	t_case("roundtrip: rsa + ed25519 on one message share a body stream");
	sign_msg(&sm, &m, keys, 3, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, 7);
	v = verify(&sm, &p, 0, NULL);
	t_assert_int_eq(dkim_verify_count(v), 3);
	t_assert_int_eq(dkim_verify_body_streams(v), 1);
	for (i = 0; i < 3; i++)
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, i)->status), "pass");
	dkim_verify_free(v);

	t_case("tamper: a body byte");
	msg_prepend(&tm, &sm, NULL, 0);
	tm.body.data[3] ^= 1;
	v = verify(&tm, &p, 0, NULL);
	for (i = 0; i < 3; i++) {
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, i)->status), "fail");
		t_assert_str_eq(
		    dkim_verify_result(v, i)->reason, "body hash mismatch");
	}
	dkim_verify_free(v);
	msg_free(&tm);

	t_case("tamper: relaxed ignores added trailing blank lines and WSP");
	msg_prepend(&tm, &sm, NULL, 0);
	buf_append(&tm.body, " \r\n\r\n", 5);
	v = verify(&tm, &p, 0, NULL);
	t_assert_str_eq(
	    dkim_status_str(dkim_verify_result(v, 2)->status), "pass");
	dkim_verify_free(v);
	msg_free(&tm);

	t_case("tamper: a signed header changed");
	{
		const char *extra[] = {"Date: Tue, 2 Jan 2024 00:00:00 +0000"};
		struct msg  t2;
		size_t      k;

		/* Rebuild sm with its Date replaced. */
		msg_init(&tm);
		for (k = 0; k < hdr_list_count(sm.h); k++) {
			const struct hdr_field *f = hdr_list_get(sm.h, k);
			if (hdr_name_is(f, "Date"))
				hdr_list_add_raw(
				    tm.h, extra[0], strlen(extra[0]));
			else
				hdr_list_add_raw(tm.h, f->raw, f->rawlen);
		}
		buf_append(&tm.body, sm.body.data, sm.body.len);
		v = verify(&tm, &p, 0, NULL);
		for (k = 0; k < 3; k++) {
			t_assert_str_eq(
			    dkim_status_str(dkim_verify_result(v, k)->status),
			    "fail");
			t_assert_str_eq(dkim_verify_result(v, k)->reason,
			    "signature verification failed");
		}
		dkim_verify_free(v);
		msg_free(&tm);

		t_case("tamper: a second From (From oversigned)");
		msg_prepend(&tm, &sm, NULL, 0);
		hdr_list_add_raw(tm.h, "From: mallory@evil.example", 26);
		v = verify(&tm, &p, 0, NULL);
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, 0)->status), "fail");
		dkim_verify_free(v);
		msg_free(&tm);

		t_case(
		    "tamper: a second From at the top (oversigned) fails too");
		msg_init(&tm);
		hdr_list_add_raw(tm.h, "From: mallory@evil.example", 26);
		msg_prepend(&t2, &sm, NULL, 0);
		for (k = 0; k < hdr_list_count(t2.h); k++) {
			const struct hdr_field *f = hdr_list_get(t2.h, k);
			hdr_list_add_raw(tm.h, f->raw, f->rawlen);
		}
		buf_append(&tm.body, sm.body.data, sm.body.len);
		v = verify(&tm, &p, 0, NULL);
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, 0)->status), "fail");
		dkim_verify_free(v);
		msg_free(&tm);
		msg_free(&t2);

		t_case("tamper: an unsigned, absent field added still passes");
		msg_prepend(&tm, &sm, NULL, 0);
		hdr_list_add_raw(tm.h, "Received: by mx.example.net", 27);
		v = verify(&tm, &p, 0, NULL);
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, 0)->status), "pass");
		dkim_verify_free(v);
		msg_free(&tm);

		t_case("tamper: a To added (signed, not oversigned) on top "
		       "passes");
		msg_init(&tm);
		hdr_list_add_raw(tm.h, "To: eve@example.org", 19);
		for (k = 0; k < hdr_list_count(sm.h); k++) {
			const struct hdr_field *f = hdr_list_get(sm.h, k);
			hdr_list_add_raw(tm.h, f->raw, f->rawlen);
		}
		buf_append(&tm.body, sm.body.data, sm.body.len);
		v = verify(&tm, &p, 0, NULL);
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, 0)->status), "pass");
		dkim_verify_free(v);
		msg_free(&tm);
	}
	msg_free(&sm);

	t_case("roundtrip: empty body, simple and relaxed");
	{
		struct msg e;
		size_t     k;

		msg_text(&e, "From: a@example.com\nSubject: empty\n\n");
		for (k = 0; k < 2; k++) {
			enum dkim_canon c =
			    k ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
			sign_msg(&sm, &e, &keys[0], 1, c, c, 0);
			v = verify(&sm, &p, 0, NULL);
			t_assert_str_eq(
			    dkim_status_str(dkim_verify_result(v, 0)->status),
			    "pass");
			dkim_verify_free(v);
			msg_free(&sm);
		}
		msg_free(&e);
	}

	t_case("roundtrip: body without final CRLF");
	{
		struct msg e;

		msg_text(&e, "From: a@example.com\n\nno newline");
		t_assert_int_eq(e.body.len, 10);
		sign_msg(&sm, &e, &keys[2], 1, DKIM_CANON_SIMPLE,
		    DKIM_CANON_SIMPLE, 1);
		v = verify(&sm, &p, 4, NULL);
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, 0)->status), "pass");
		dkim_verify_free(v);
		msg_free(&sm);
		msg_free(&e);
	}

	t_case("sign: a key that does not match its algorithm is an error");
	{
		struct dkim_sign_key bad = {
		    "example.com", "x", DKIM_ALG_ED25519_SHA256, rsa1024};
		struct dkim_sign_params sp = {.now = 1};
		struct dkim_sign       *s = dkim_sign_new(&sp, &bad, 1);
		struct am_err           err = {""};

		t_assert_int_eq(dkim_sign_eom(s, m.h, &err), -1);
		t_assert(strstr(err.msg, "does not match") != NULL);
		t_assert_int_eq(dkim_sign_count(s), 0);
		dkim_sign_free(s);
	}
	msg_free(&m);
}

/* A signature made by hand, so that tests can set any tag: tags (with
 * h=) go before bh= and b=; bh covers l bytes of the body. */
static char *
hand_sign(const struct msg *m, const char *tags, const char *h,
    enum dkim_canon hc, enum dkim_canon bc, uint64_t l, EVP_PKEY *pk, bool ed)
{
	struct dkim_body *body = dkim_body_new(bc, EVP_sha256(), l);
	unsigned char     md[EVP_MAX_MD_SIZE], sig[1024], hh[32];
	unsigned int      mdlen = 0, hl = 0;
	size_t            siglen = sizeof(sig);
	struct buf        f, data;
	EVP_MD_CTX       *ctx = EVP_MD_CTX_new();

	dkim_body_update(body, m->body.data, m->body.len);
	dkim_body_final(body, md, &mdlen);
	dkim_body_free(body);
	buf_init(&f, 0);
	buf_init(&data, 0);
	buf_printf(&f, "DKIM-Signature: %s h=%s; bh=", tags, h);
	dkim_base64_encode(md, mdlen, &f);
	buf_append_str(&f, ";\r\n b=");
	dkim_canon_headers(hc, m->h, h, strlen(h), &data);
	dkim_canon_header(hc, f.data, f.len, false, &data);
	if (ed) {
		EVP_Digest(data.data, data.len, hh, &hl, EVP_sha256(), NULL);
		EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk);
		t_assert(EVP_DigestSign(ctx, sig, &siglen, hh, hl) == 1);
	} else {
		EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk);
		t_assert(EVP_DigestSign(ctx, sig, &siglen,
			     (unsigned char *)data.data, data.len) == 1);
	}
	EVP_MD_CTX_free(ctx);
	dkim_base64_encode(sig, siglen, &f);
	buf_free(&data);
	return buf_take(&f);
}

static void
test_verify_cases(EVP_PKEY *rsa1024, EVP_PKEY *ed, EVP_PKEY *rsa512)
{
	static const struct {
		const char      *name;
		const char      *tags;
		int              key; /* 0 rsa1024, 1 ed25519, 2 rsa512 */
		uint64_t         l;
		bool             ignore_l;
		enum dkim_status st;
		const char      *reason;
		bool             l_partial, testing;
	} rows[] = {
	    {"verify: hand-made signature passes",
		"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=r;", 0,
		DKIM_BODY_NOLIMIT, false, DKIM_PASS, "", false, false},
	    {"verify: x= in the future, i= subdomain, z=, q= pass",
		"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=r; "
		"i=joe@sub.example.com; t=1700000000; x=1800000000; "
		"q=dns/txt; z=From:x;",
		0, DKIM_BODY_NOLIMIT, false, DKIM_PASS, "", false, false},
	    {"verify: l= shorter than the body passes, flagged",
		"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=r; "
		"l=10;",
		0, 10, false, DKIM_PASS, "", true, false},
	    {"verify: l= shorter, ignore_l: policy",
		"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=r; "
		"l=10;",
		0, 10, true, DKIM_POLICY, "l= leaves 25 body bytes unsigned",
		true, false},
	    {"verify: l= equal to the body is a plain pass with ignore_l",
		"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=r; "
		"l=35;",
		0, 35, true, DKIM_PASS, "", false, false},
	    {"verify: l= larger than the body",
		"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=r; "
		"l=36;",
		0, 36, false, DKIM_PERMERROR, "l= exceeds body length", false,
		false},
	    {"verify: key t=y reported as testing",
		"v=1; a=ed25519-sha256; c=simple/simple; d=example.com; "
		"s=testing;",
		1, DKIM_BODY_NOLIMIT, false, DKIM_PASS, "", false, true},
	    {"verify: key t=s with i= in a subdomain",
		"v=1; a=ed25519-sha256; d=example.com; s=strict; "
		"i=@sub.example.com;",
		1, DKIM_BODY_NOLIMIT, false, DKIM_PERMERROR,
		"i= not d= (key t=s)", false, false},
	    {"verify: key t=s with i= equal to d= passes",
		"v=1; a=ed25519-sha256; d=example.com; s=strict; "
		"i=joe@example.com;",
		1, DKIM_BODY_NOLIMIT, false, DKIM_PASS, "", false, false},
	    {"verify: key h=sha1 refuses sha256",
		"v=1; a=rsa-sha256; d=example.com; s=sha1only;", 0,
		DKIM_BODY_NOLIMIT, false, DKIM_PERMERROR,
		"hash not allowed by key h=", false, false},
	    {"verify: rsa key for an ed25519 signature",
		"v=1; a=ed25519-sha256; d=example.com; s=r;", 1,
		DKIM_BODY_NOLIMIT, false, DKIM_PERMERROR,
		"key type does not match a=", false, false},
	    {"verify: RSA 512-bit key is policy (RFC 8301)",
		"v=1; a=rsa-sha256; d=example.com; s=small;", 2,
		DKIM_BODY_NOLIMIT, false, DKIM_POLICY,
		"key too small: 512 bits", false, false},
	    {"verify: revoked key",
		"v=1; a=rsa-sha256; d=example.com; s=revoked;", 0,
		DKIM_BODY_NOLIMIT, false, DKIM_PERMERROR, "key revoked", false,
		false},
	    {"verify: DNS failure is temperror",
		"v=1; a=rsa-sha256; d=example.com; s=servfail;", 0,
		DKIM_BODY_NOLIMIT, false, DKIM_TEMPERROR,
		"key lookup: SERVFAIL", false, false},
	    {"verify: NODATA is no key",
		"v=1; a=rsa-sha256; d=example.com; s=nodata;", 0,
		DKIM_BODY_NOLIMIT, false, DKIM_PERMERROR, "no key", false,
		false},
	    {"verify: two TXT records, the first not a key",
		"v=1; a=rsa-sha256; d=example.com; s=two;", 0,
		DKIM_BODY_NOLIMIT, false, DKIM_PASS, "", false, false},
	    {"verify: a non-key TXT record",
		"v=1; a=rsa-sha256; d=example.com; s=junk;", 0,
		DKIM_BODY_NOLIMIT, false, DKIM_PERMERROR, "key syntax error",
		false, false},
	};
	EVP_PKEY                 *pk[3] = {rsa1024, ed, rsa512};
	struct dkim_verify_params p = {.now = 1700000100};
	struct dkim_verify       *v;
	const struct dkim_result *r;
	struct msg                m, sm;
	char                     *rec, *field;
	size_t                    i;

	tkey_clear();
	rec = pub_record(rsa1024, "v=DKIM1; k=rsa; p=");
	tkey_add("r._domainkey.example.com", DNS_OK, rec, NULL);
	tkey_add("two._domainkey.example.com", DNS_OK, "v=spf1 -all", rec);
	tkey_add("junk._domainkey.example.com", DNS_OK, "hello world", NULL);
	free(rec);
	rec = pub_record(rsa1024, "v=DKIM1; h=sha1; p=");
	tkey_add("sha1only._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);
	rec = pub_record(ed, "v=DKIM1; k=ed25519; t=y; p=");
	tkey_add("testing._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);
	rec = pub_record(ed, "v=DKIM1; k=ed25519; t=s; p=");
	tkey_add("strict._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);
	rec = pub_record(rsa512, "v=DKIM1; p=");
	tkey_add("small._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);
	tkey_add("revoked._domainkey.example.com", DNS_OK, "v=DKIM1; p=", NULL);
	tkey_add("servfail._domainkey.example.com", DNS_TEMPFAIL, NULL, NULL);
	tkey_add("nodata._domainkey.example.com", DNS_NODATA, NULL, NULL);

	/* 35 canonical body bytes, relaxed and simple alike. */
	msg_text(&m, "From: joe@example.com\nSubject: hi\n\n"
		     "0123456789\nabcdefghij\nABCDEFGHI\n\n");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bool            ed25519 = rows[i].key == 1;
		enum dkim_canon c = strstr(rows[i].tags, "relaxed")
					? DKIM_CANON_RELAXED
					: DKIM_CANON_SIMPLE;

		t_case(rows[i].name);
		field = hand_sign(&m, rows[i].tags, "from:subject:from", c, c,
		    rows[i].l, pk[rows[i].key], ed25519);
		msg_prepend(&sm, &m, (const char *const *)&field, 1);
		p.ignore_l = rows[i].ignore_l;
		r = verify1(&sm, &p, &v);
		t_assert_str_eq(
		    dkim_status_str(r->status), dkim_status_str(rows[i].st));
		t_assert_str_eq(r->reason, rows[i].reason);
		t_assert_int_eq(r->l_partial, rows[i].l_partial);
		t_assert_int_eq(r->testing, rows[i].testing);
		dkim_verify_free(v);
		msg_free(&sm);
		free(field);
	}

	t_case("verify: rsa-sha1 passes only with accept_sha1");
	{
		/* Built by hand like hand_sign, with SHA-1. */
		struct dkim_body *body = dkim_body_new(
		    DKIM_CANON_SIMPLE, EVP_sha1(), DKIM_BODY_NOLIMIT);
		unsigned char md[EVP_MAX_MD_SIZE], sig[512];
		unsigned int  mdlen = 0;
		size_t        siglen = sizeof(sig);
		struct buf    f, data;
		EVP_MD_CTX   *ctx = EVP_MD_CTX_new();

		dkim_body_update(body, m.body.data, m.body.len);
		dkim_body_final(body, md, &mdlen);
		dkim_body_free(body);
		buf_init(&f, 0);
		buf_init(&data, 0);
		buf_append_str(&f, "DKIM-Signature: v=1; a=rsa-sha1; "
				   "d=example.com; s=r; h=from; bh=");
		dkim_base64_encode(md, mdlen, &f);
		buf_append_str(&f, "; b=");
		dkim_canon_headers(DKIM_CANON_SIMPLE, m.h, "from", 4, &data);
		dkim_canon_header(
		    DKIM_CANON_SIMPLE, f.data, f.len, false, &data);
		EVP_DigestSignInit(ctx, NULL, EVP_sha1(), NULL, rsa1024);
		EVP_DigestSign(
		    ctx, sig, &siglen, (unsigned char *)data.data, data.len);
		EVP_MD_CTX_free(ctx);
		dkim_base64_encode(sig, siglen, &f);
		field = buf_take(&f);
		msg_prepend(&sm, &m, (const char *const *)&field, 1);
		p.ignore_l = false;
		r = verify1(&sm, &p, &v);
		t_assert_str_eq(dkim_status_str(r->status), "policy");
		t_assert_str_eq(r->reason, "rsa-sha1 not accepted (RFC 8301)");
		dkim_verify_free(v);
		p.accept_sha1 = true;
		r = verify1(&sm, &p, &v);
		t_assert_str_eq(dkim_status_str(r->status), "pass");
		t_assert_str_eq(r->algorithm, "rsa-sha1");
		dkim_verify_free(v);
		p.accept_sha1 = false;
		msg_free(&sm);
		free(field);
		buf_free(&data);
	}
	msg_free(&m);
}

/* ------------------------------------------------------------------ */
/* Key bounds: the RSA exponent, the verification budget.              */

/* A BIGNUM from decimal text, or 2^bits + 1 when text is NULL. */
static BIGNUM *
bn(const char *text, int bits)
{
	BIGNUM *b = NULL;

	if (text != NULL)
		BN_dec2bn(&b, text);
	else if ((b = BN_new()) != NULL) {
		BN_set_bit(b, bits);
		BN_add_word(b, 1);
	}
	return b;
}

/* The key record of base's modulus with the public exponent e. */
static char *
record_with_e(EVP_PKEY *base, BIGNUM *e)
{
	BIGNUM         *n = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM     *prm = NULL;
	EVP_PKEY_CTX   *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY       *pk = NULL;
	char           *rec = NULL;

	if (bld != NULL && ctx != NULL &&
	    EVP_PKEY_get_bn_param(base, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
	    (prm = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, prm) == 1)
		rec = pub_record(pk, "v=DKIM1; k=rsa; p=");
	EVP_PKEY_free(pk);
	OSSL_PARAM_free(prm);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	return rec;
}

/* An RSA key pair of bits bits with the public exponent e. */
static EVP_PKEY *
rsa_keygen_e(unsigned int bits, BIGNUM *e)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY     *pk = NULL;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) != 1 ||
	    EVP_PKEY_generate(ctx, &pk) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static void
test_exponent(EVP_PKEY *rsa2048)
{
	static const struct {
		const char  *name;
		const char  *e;    /* decimal; NULL: 2^bits + 1 */
		int          bits; /* e NULL */
		const char  *reason;
		unsigned int cost; /* reason NULL */
	} rows[] = {
	    {"exponent: 65537", "65537", 0, NULL, 4},
	    {"exponent: 3", "3", 0, NULL, 1},
	    {"exponent: 2^64 + 1, the largest taken", NULL, 64, NULL, 16},
	    {"exponent: 2^64 + 3 is too large", "18446744073709551619", 0,
		"key exponent too large", 0},
	    {"exponent: 2^2000 + 1 is too large", NULL, 2000,
		"key exponent too large", 0},
	    {"exponent: 1", "1", 0, "bad key exponent", 0},
	    {"exponent: even", "65538", 0, "bad key exponent", 0},
	};
	struct dkim_key key;
	const char     *why;
	size_t          i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		BIGNUM *e = bn(rows[i].e, rows[i].bits);
		char   *rec = e != NULL ? record_with_e(rsa2048, e) : NULL;

		t_case(rows[i].name);
		if (!t_assert(rec != NULL)) {
			BN_free(e);
			continue;
		}
		why = NULL;
		if (rows[i].reason == NULL) {
			t_assert_int_eq(
			    dkim_key_parse(rec, strlen(rec), &key, &why), 0);
			t_assert_int_eq(key.cost, rows[i].cost);
			dkim_key_clear(&key);
		} else {
			t_assert_int_eq(
			    dkim_key_parse(rec, strlen(rec), &key, &why), -1);
			t_assert_str_eq(why, rows[i].reason);
		}
		free(rec);
		BN_free(e);
	}

	t_case("exponent: the key costs of RSA-1024, RSA-4096 and Ed25519");
	{
		static const unsigned int bits[] = {1024, 4096};
		EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		char     *rec;

		for (i = 0; i < 2; i++) {
			EVP_PKEY *pk = EVP_PKEY_Q_keygen(
			    NULL, NULL, "RSA", (size_t)bits[i]);

			rec = pub_record(pk, "p=");
			t_assert_int_eq(
			    dkim_key_parse(rec, strlen(rec), &key, &why), 0);
			t_assert_int_eq(key.cost, i == 0 ? 1 : 16);
			dkim_key_clear(&key);
			free(rec);
			EVP_PKEY_free(pk);
		}
		rec = pub_record(ed, "k=ed25519; p=");
		t_assert_int_eq(
		    dkim_key_parse(rec, strlen(rec), &key, &why), 0);
		t_assert_int_eq(key.cost, DKIM_KEY_COST_ED25519);
		dkim_key_clear(&key);
		free(rec);
		EVP_PKEY_free(ed);
	}
}

/* n signatures by key (selector sel) on test_msg, the last made on top. */
static void
sign_n(struct msg *out, const struct dkim_sign_key *key, size_t n)
{
	struct msg cur, next;
	size_t     i;

	msg_text(&cur, test_msg);
	for (i = 0; i < n; i++) {
		sign_msg(&next, &cur, key, 1, DKIM_CANON_RELAXED,
		    DKIM_CANON_RELAXED, 0);
		msg_free(&cur);
		cur = next;
	}
	*out = cur;
}

static void
test_budget(EVP_PKEY *rsa2048)
{
	BIGNUM              *e = bn(NULL, 64);
	EVP_PKEY            *big = e ? rsa_keygen_e(3072, e) : NULL;
	struct dkim_sign_key k2048 = {
	    "example.com", "r2048", DKIM_ALG_RSA_SHA256, rsa2048};
	struct dkim_sign_key kbig = {
	    "example.com", "big", DKIM_ALG_RSA_SHA256, big};
	struct dkim_verify_params p = {.now = 1700000100, .max_signatures = 10};
	struct dkim_verify       *v;
	struct msg                m;
	char                     *rec;
	size_t                    i, pass, policy;

	t_case("budget: RSA-3072 with e = 2^64 + 1 generated");
	if (!t_assert(big != NULL)) {
		BN_free(e);
		return;
	}
	tkey_clear();
	rec = pub_record(rsa2048, "v=DKIM1; p=");
	tkey_add("r2048._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);
	rec = pub_record(big, "v=DKIM1; p=");
	tkey_add("big._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);

	/* 10 x 4 units of the 160 that max_signatures = 10 allows. */
	t_case("budget: 10 RSA-2048 signatures all verified");
	sign_n(&m, &k2048, 10);
	v = verify(&m, &p, 0, NULL);
	t_assert_int_eq(dkim_verify_count(v), 10);
	for (i = pass = 0; i < dkim_verify_count(v); i++)
		pass += dkim_verify_result(v, i)->status == DKIM_PASS;
	t_assert_int_eq(pass, 10);
	t_assert_int_eq(dkim_verify_over_budget(v), 0);
	dkim_verify_free(v);
	msg_free(&m);

	/* ceil(9 * 65 / 17) = 35 units each: 4 fit in 160, 6 do not. */
	t_case("budget: 10 signatures by an expensive key: 4 verified, 6 "
	       "policy");
	sign_n(&m, &kbig, 10);
	v = verify(&m, &p, 0, NULL);
	t_assert_int_eq(dkim_verify_count(v), 10);
	for (i = pass = policy = 0; i < dkim_verify_count(v); i++) {
		const struct dkim_result *r = dkim_verify_result(v, i);

		if (r->status == DKIM_PASS && i < 4)
			pass++;
		if (r->status == DKIM_POLICY && i >= 4 &&
		    strcmp(r->reason, "verification budget exceeded") == 0)
			policy++;
	}
	t_assert_int_eq(pass, 4);
	t_assert_int_eq(policy, 6);
	t_assert_int_eq(dkim_verify_over_budget(v), 6);
	dkim_verify_free(v);

	t_case("budget: with max_signatures = 1, one expensive key still "
	       "verified");
	{
		struct dkim_verify_params p1 = {
		    .now = 1700000100, .max_signatures = 1};

		v = verify(&m, &p1, 0, NULL);
		t_assert_int_eq(dkim_verify_result(v, 0)->status, DKIM_PASS);
		t_assert_int_eq(dkim_verify_over_budget(v), 0);
		t_assert_int_eq(dkim_verify_ignored(v), 9);
		dkim_verify_free(v);
	}

	t_case("budget: params.max_cost raises it");
	p.max_cost = 350;
	v = verify(&m, &p, 0, NULL);
	for (i = pass = 0; i < dkim_verify_count(v); i++)
		pass += dkim_verify_result(v, i)->status == DKIM_PASS;
	t_assert_int_eq(pass, 10);
	t_assert_int_eq(dkim_verify_over_budget(v), 0);
	dkim_verify_free(v);
	msg_free(&m);

	/* The key record of the signer's modulus with a 2001-bit exponent:
	 * a key error before any verification, not a failed one. */
	t_case("budget: a 2001-bit exponent is permerror, not fail");
	BN_free(e);
	e = bn(NULL, 2000);
	rec = record_with_e(rsa2048, e);
	tkey_clear();
	tkey_add("r2048._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);
	sign_n(&m, &k2048, 1);
	{
		const struct dkim_result *r = verify1(&m, &p, &v);

		t_assert_str_eq(dkim_status_str(r->status), "permerror");
		t_assert_str_eq(r->reason, "key exponent too large");
	}
	dkim_verify_free(v);
	msg_free(&m);
	tkey_clear();
	EVP_PKEY_free(big);
	BN_free(e);
}

static void
test_rfc8463(struct dns *dns)
{
	struct dkim_verify_params p = {.now = RFC8463_NOW};
	struct dkim_verify       *v;
	struct msg                m, tm;
	size_t                    i;
	static const size_t       chunks[] = {0, 1, 2, 17};

	tkey_clear();
	tkey_add("brisbane._domainkey.football.example.com", DNS_OK, RFC8463_ED,
	    NULL);
	tkey_add(
	    "test._domainkey.football.example.com", DNS_OK, RFC8463_RSA, NULL);
	t_case(dns ? "rfc8463 A.3 verifies (DNS)"
		   : "rfc8463 A.3 verifies, ed25519 and rsa, any chunking");
	t_assert(msg_file(&m, "t/data/dkim/rfc8463.eml"));
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		v = verify(&m, &p, chunks[i], dns);
		t_assert_int_eq(dkim_verify_count(v), 2);
		if (dkim_verify_count(v) == 2) {
			const struct dkim_result *r0 = dkim_verify_result(v, 0);
			const struct dkim_result *r1 = dkim_verify_result(v, 1);

			t_assert_str_eq(dkim_status_str(r0->status), "pass");
			t_assert_str_eq(r0->reason, "");
			t_assert_str_eq(r0->algorithm, "ed25519-sha256");
			t_assert_str_eq(r0->domain, "football.example.com");
			t_assert_str_eq(r0->selector, "brisbane");
			t_assert_str_eq(r0->identity, "@football.example.com");
			t_assert_str_eq(r0->b8, "/gCrinpc");
			t_assert_str_eq(dkim_status_str(r1->status), "pass");
			t_assert_str_eq(r1->reason, "");
			t_assert_str_eq(r1->algorithm, "rsa-sha256");
			t_assert_str_eq(r1->b8, "F45dVWDf");
		}
		t_assert_int_eq(dkim_verify_body_streams(v), 1);
		dkim_verify_free(v);
		if (dns != NULL)
			break;
	}

	t_case(dns ? "rfc8463 A.3 tampered body fails (DNS)"
		   : "rfc8463 A.3 tampered body fails");
	msg_prepend(&tm, &m, NULL, 0);
	tm.body.data[0] = 'h';
	v = verify(&tm, &p, 0, dns);
	for (i = 0; i < dkim_verify_count(v); i++) {
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, i)->status), "fail");
		t_assert_str_eq(
		    dkim_verify_result(v, i)->reason, "body hash mismatch");
	}
	dkim_verify_free(v);
	msg_free(&tm);
	msg_free(&m);
}

/* Through libunbound and the loopback server (t/data/dkim/zone.json). */
static void
test_dns(const char *conf)
{
	struct dns_params         dp = {.unbound_conf = conf, .timeout = 2.0};
	struct am_err             err = {""};
	struct dns               *dns = dns_new(&dp, &err);
	struct dkim_verify_params p = {.now = RFC8463_NOW};
	struct dkim_verify       *v;
	struct msg                m;
	static const struct {
		const char *name, *sel, *st, *reason;
	} rows[] = {
	    {"dns: SERVFAIL is temperror", "servfail", "temperror",
		"key lookup: SERVFAIL"},
	    {"dns: timeout is temperror", "timeout", "temperror",
		"key lookup: timeout"},
	    {"dns: NXDOMAIN is permerror no key", "missing", "permerror",
		"no key"},
	    {"dns: revoked key", "revoked", "permerror", "key revoked"},
	};
	size_t     i;
	struct buf t;

	t_case("dns: resolver set up");
	if (!t_assert(dns != NULL)) {
		printf("dns_new: %s\n", err.msg);
		return;
	}
	test_rfc8463(dns);
	buf_init(&t, 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t_case(rows[i].name);
		buf_reset(&t);
		buf_printf(&t,
		    "DKIM-Signature: v=1; a=rsa-sha256; "
		    "d=football.example.com; "
		    "s=%s; h=from; bh=AAAA; b=AAAA\nFrom: a@b\n\nx\n",
		    rows[i].sel);
		msg_text(&m, buf_cstr(&t));
		v = verify(&m, &p, 0, dns);
		t_assert_str_eq(
		    dkim_status_str(dkim_verify_result(v, 0)->status),
		    rows[i].st);
		t_assert_str_eq(
		    dkim_verify_result(v, 0)->reason, rows[i].reason);
		dkim_verify_free(v);
		msg_free(&m);
	}
	buf_free(&t);

	/* Streaming: the key is asked for when its field arrives, so the
	 * answer comes while the body streams in, not at end of message. */
	t_case("dns: the key lookup starts at the DKIM-Signature field");
	msg_text(&m, "DKIM-Signature: v=1; a=rsa-sha256; "
		     "d=football.example.com; s=revoked; h=from; bh=AAAA; "
		     "b=AAAA\nFrom: a@b\n\nx\n");
	v = dkim_verify_new(dns, &p);
	if (t_assert(v != NULL)) {
		unsigned long before =
		    dns_queries_started(dns) + dns_cache_hits(dns);

		dkim_verify_header(v, hdr_list_get(m.h, 0));
		t_assert_int_eq(
		    dns_queries_started(dns) + dns_cache_hits(dns) - before, 1);
		dkim_verify_header(v, hdr_list_get(m.h, 1));
		dkim_verify_eoh(v, m.h);
		dkim_verify_body(v, m.body.data, m.body.len);
		dkim_verify_eom(v, m.h);
		t_assert_int_eq(
		    dns_queries_started(dns) + dns_cache_hits(dns) - before, 1);
		t_assert_str_eq(
		    dkim_verify_result(v, 0)->reason, "key revoked");
	}
	dkim_verify_free(v);
	msg_free(&m);
	dns_free(dns);
}

/* Once-only fields (RFC 5322 3.6) with more instances than h= covers
 * (RFC 6376 5.4.2: h= takes them from the bottom up). */
static void
test_verify_instances(EVP_PKEY *rsa1024)
{
	static const struct {
		const char *name;
		const char *msg;   /* the signed message */
		const char *h;     /* its h= */
		const char *added; /* put above after signing, or NULL */
		const char *extra; /* expected extra_field, NULL: none */
		size_t      count, nsigned;
	} rows[] = {
	    {"instances: one of each, all signed",
		"From: joe@example.com\nSubject: hi\n\nbody\n", "from:subject",
		NULL, NULL, 0, 0},
	    {"instances: a Subject added above the signed one",
		"From: joe@example.com\nSubject: hi\n\nbody\n", "from:subject",
		"Subject: urgent: new bank details\r\n", "Subject", 2, 1},
	    {"instances: a From added above, h=from",
		"From: joe@example.com\nSubject: hi\n\nbody\n", "from:subject",
		"From: ceo@example.com\r\n", "From", 2, 1},
	    {"instances: oversigned Subject: the added one breaks it",
		"From: joe@example.com\nSubject: hi\n\nbody\n",
		"from:subject:subject", "Subject: x\r\n", NULL, 0, 0},
	    {"instances: two From fields, both in h=from:from",
		"From: joe@example.com\nFrom: ann@example.com\nSubject: hi\n\n"
		"body\n",
		"from:from:subject", NULL, NULL, 0, 0},
	    {"instances: two From fields, h=from covers one",
		"From: joe@example.com\nFrom: ann@example.com\nSubject: hi\n\n"
		"body\n",
		"from:subject", NULL, "From", 2, 1},
	    {"instances: names compared without case",
		"From: joe@example.com\nReply-To: joe@example.com\n\nbody\n",
		"From:REPLY-TO", "reply-to: evil@evil.test\r\n", "Reply-To", 2,
		1},
	    {"instances: a field h= does not name is not counted",
		"From: joe@example.com\nCc: a@example.com\n\nbody\n", "from",
		"Cc: b@example.com\r\n", NULL, 0, 0},
	    {"instances: fields allowed more than once are not counted",
		"From: joe@example.com\nComments: one\n\nbody\n",
		"from:comments", "Comments: two\r\n", NULL, 0, 0},
	    {"instances: Message-ID, In-Reply-To, References, Date, To",
		"From: joe@example.com\nTo: b@example.com\nDate: x\n"
		"Message-ID: <1@x>\nIn-Reply-To: <0@x>\nReferences: <0@x>\n\n"
		"body\n",
		"from:to:date:message-id:in-reply-to:references",
		"References: <9@x>\r\n", "References", 2, 1},
	    {"instances: Sender",
		"From: joe@example.com\nSender: joe@example.com\n\nbody\n",
		"from:sender", "Sender: x@evil.test\r\n", "Sender", 2, 1},
	};
	struct dkim_verify_params p = {.now = 1700000100};
	struct dkim_verify       *v;
	const struct dkim_result *r;
	struct msg                m, sm;
	char                     *rec, *sig;
	const char               *fields[2];
	size_t                    i;

	tkey_clear();
	rec = pub_record(rsa1024, "v=DKIM1; k=rsa; p=");
	tkey_add("r._domainkey.example.com", DNS_OK, rec, NULL);
	free(rec);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t_case(rows[i].name);
		msg_text(&m, rows[i].msg);
		fields[0] = sig = hand_sign(&m,
		    "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=r;",
		    rows[i].h, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
		    DKIM_BODY_NOLIMIT, rsa1024, false);
		fields[1] = rows[i].added;
		msg_prepend(&sm, &m, fields, rows[i].added != NULL ? 2 : 1);
		r = verify1(&sm, &p, &v);
		/* Bottom-up selection: the added field is not signed, so the
		 * signature passes unless h= names it once more. */
		t_assert_str_eq(dkim_status_str(r->status),
		    rows[i].added != NULL &&
			    strstr(rows[i].name, "oversigned") != NULL
			? "fail"
			: "pass");
		t_assert_str_eq(r->extra_field ? r->extra_field : "(none)",
		    rows[i].extra ? rows[i].extra : "(none)");
		t_assert_int_eq(r->extra_count, rows[i].count);
		t_assert_int_eq(r->extra_signed, rows[i].nsigned);
		dkim_verify_free(v);
		msg_free(&sm);
		msg_free(&m);
		free(sig);
	}
}

int
main(int argc, char **argv)
{
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *rsa512 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	t_case("openssl: test keys generated");
	t_assert(rsa1024 && rsa2048 && rsa512 && ed);
	if (!(rsa1024 && rsa2048 && rsa512 && ed))
		return t_done();
	test_canon_body();
	test_canon_hash();
	test_canon_header();
	test_keys(rsa1024);
	test_sig_fields();
	test_roundtrip(rsa1024, rsa2048, ed);
	test_verify_cases(rsa1024, ed, rsa512);
	test_verify_instances(rsa1024);
	test_exponent(rsa2048);
	test_budget(rsa2048);
	test_rfc8463(NULL);
	if (argc > 1)
		test_dns(argv[1]);
	tkey_clear();
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa512);
	EVP_PKEY_free(ed);
	return t_done();
}

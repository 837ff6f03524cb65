#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "dkim_canon.h"
#include "dkim_key.h"
#include "dkim_sign.h"
#include "str.h"

/* A signature field is a few hundred bytes; 16 KiB leaves room for a
 * long h= list and an 8192-bit b=. */
#define DKIM_SIGN_MAX_FIELD (16 * 1024)
#define DKIM_SIGN_MAX_DATA  (2 * HDR_MAX_BYTES)

struct dkim_sign {
	struct dkim_sign_params     p;
	const struct dkim_sign_key *keys;
	size_t                      nkeys;
	struct dkim_body           *body;
	char                      **fields;
	size_t                      nfields;
	bool                        broken;
};

struct dkim_sign *
dkim_sign_new(const struct dkim_sign_params *params,
    const struct dkim_sign_key *keys, size_t nkeys)
{
	struct dkim_sign *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->p = *params;
	if (s->p.now == 0)
		s->p.now = time(NULL);
	s->keys = keys;
	s->nkeys = nkeys;
	if ((s->fields = calloc(nkeys + 1, sizeof(char *))) == NULL ||
	    (s->body = dkim_body_new(
		 s->p.body_canon, EVP_sha256(), DKIM_BODY_NOLIMIT)) == NULL) {
		dkim_sign_free(s);
		return NULL;
	}
	return s;
}

void
dkim_sign_free(struct dkim_sign *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nfields; i++)
		free(s->fields[i]);
	free(s->fields);
	dkim_body_free(s->body);
	free(s);
}

int
dkim_sign_eoh(struct dkim_sign *s, struct am_err *err)
{
	(void)s;
	(void)err;
	return 0;
}

int
dkim_sign_body(struct dkim_sign *s, const void *p, size_t n, struct am_err *err)
{
	if (dkim_body_update(s->body, p, n) < 0) {
		s->broken = true;
		return am_err_set(err, "dkim sign: body hash failed");
	}
	return 0;
}

/* The folding writer: tokens go on the current line while they fit in
 * DKIM_SIGN_FOLD columns, else on a new line after CRLF TAB (a TAB is
 * counted as 8 columns). */
struct fold {
	struct buf *b;
	size_t      col;
	int         r;
};

static void
fold_add(struct fold *f, const char *tok, size_t n, bool space)
{
	if (f->r < 0)
		return;
	if (f->col + (space ? 1 : 0) + n > DKIM_SIGN_FOLD && f->col > 8) {
		f->r = buf_append(f->b, "\r\n\t", 3);
		f->col = 8;
	} else if (space) {
		f->r = buf_append_char(f->b, ' ');
		f->col++;
	}
	if (f->r == 0)
		f->r = buf_append(f->b, tok, n);
	f->col += n;
}

static void
fold_str(struct fold *f, const char *tok, bool space)
{
	fold_add(f, tok, strlen(tok), space);
}

/* Base64 text split into pieces that fill the lines (RFC 6376 3.5
 * allows FWS anywhere in b=). */
static void
fold_b64(struct fold *f, const char *p, size_t n)
{
	size_t k;

	while (n > 0 && f->r == 0) {
		if (f->col >= DKIM_SIGN_FOLD) {
			f->r = buf_append(f->b, "\r\n\t", 3);
			f->col = 8;
			continue;
		}
		k = DKIM_SIGN_FOLD - f->col;
		if (k > n)
			k = n;
		f->r = buf_append(f->b, p, k);
		f->col += k;
		p += k;
		n -= k;
	}
}

/* The i-th candidate name: params.headers, then params.oversign, then
 * From (RFC 6376 5.4: From MUST be signed). */
static const char *
sign_name(const struct dkim_sign *s, size_t i)
{
	if (i < s->p.nheaders)
		return s->p.headers[i];
	if (i - s->p.nheaders < s->p.noversign)
		return s->p.oversign[i - s->p.nheaders];
	return "From";
}

static bool
sign_oversigned(const struct dkim_sign *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->p.noversign; i++)
		if (str_casecmp_eq(s->p.oversign[i], name))
			return true;
	return false;
}

/* h=: each candidate name (once, case-insensitively) as many times as the
 * message has it, plus once for an oversigned name (RFC 6376 8.15) and
 * for From. */
static int
sign_h(const struct dkim_sign *s, const struct hdr_list *hdrs, struct buf *h)
{
	size_t i, j, k, c, n = s->p.nheaders + s->p.noversign + 1;
	int    r = 0;

	for (i = 0; i < n && r == 0; i++) {
		const char *name = sign_name(s, i);

		for (j = 0; j < i; j++)
			if (str_casecmp_eq(sign_name(s, j), name))
				break;
		if (j < i)
			continue;
		c = hdrs != NULL ? hdr_list_count_name(hdrs, name) : 0;
		if (sign_oversigned(s, name) || (i == n - 1 && c == 0))
			c++;
		for (k = 0; k < c && r == 0; k++)
			r = buf_printf(h, "%s%s", h->len ? ":" : "", name);
	}
	return r;
}

/* b= over the header data: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376
 * 3.3.1), or PureEdDSA over the SHA-256 of the data (RFC 8463 3). */
static int
sign_data(const struct dkim_sign_key *k, const struct buf *data,
    struct buf *b64, struct am_err *err)
{
	EVP_MD_CTX   *ctx = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int  hlen = 0;
	size_t        siglen = 0;
	int           r = -1;

	if (ctx == NULL)
		return am_err_set(err, "dkim sign: out of memory");
	if (k->alg == DKIM_ALG_ED25519_SHA256) {
		if (EVP_Digest(data->data, data->len, h, &hlen, EVP_sha256(),
			NULL) != 1 ||
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
		    EVP_DigestSign(ctx, NULL, &siglen, h, hlen) != 1 ||
		    (sig = malloc(siglen)) == NULL ||
		    EVP_DigestSign(ctx, sig, &siglen, h, hlen) != 1)
			goto out;
	} else {
		if (EVP_DigestSignInit(
			ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
		    EVP_DigestSign(ctx, NULL, &siglen,
			(const unsigned char *)data->data, data->len) != 1 ||
		    (sig = malloc(siglen)) == NULL ||
		    EVP_DigestSign(ctx, sig, &siglen,
			(const unsigned char *)data->data, data->len) != 1)
			goto out;
	}
	r = dkim_base64_encode(sig, siglen, b64);
out:
	if (r < 0)
		am_err_set(err, "dkim sign: %s/%s: signing failed", k->domain,
		    k->selector);
	EVP_MD_CTX_free(ctx);
	free(sig);
	return r;
}

static int
sign_one(struct dkim_sign *s, const struct dkim_sign_key *k,
    const struct hdr_list *hdrs, const char *bh, const char *h,
    struct am_err *err)
{
	struct buf  field, data, b64;
	struct fold f;
	char        tmp[64];
	const char *p, *colon;
	int         r = -1;
	int         want =
            k->alg == DKIM_ALG_ED25519_SHA256 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA;

	if (k->alg == DKIM_ALG_RSA_SHA1)
		return am_err_set(err,
		    "dkim sign: %s/%s: rsa-sha1 not supported", k->domain,
		    k->selector);
	if (k->pkey == NULL || EVP_PKEY_get_base_id(k->pkey) != want)
		return am_err_set(err,
		    "dkim sign: %s/%s: key does not match %s", k->domain,
		    k->selector, dkim_alg_str(k->alg));
	buf_init(&field, DKIM_SIGN_MAX_FIELD);
	buf_init(&data, DKIM_SIGN_MAX_DATA);
	buf_init(&b64, DKIM_SIGN_MAX_FIELD);
	f.b = &field;
	f.col = 0;
	f.r = 0;
	fold_str(&f, "DKIM-Signature:", false);
	fold_str(&f, "v=1;", true);
	snprintf(tmp, sizeof(tmp), "a=%s;", dkim_alg_str(k->alg));
	fold_str(&f, tmp, true);
	snprintf(tmp, sizeof(tmp), "c=%s/%s;",
	    dkim_canon_str(s->p.header_canon), dkim_canon_str(s->p.body_canon));
	fold_str(&f, tmp, true);
	if (f.r == 0 && (f.r = buf_printf(&b64, "d=%s;", k->domain)) == 0)
		fold_add(&f, b64.data, b64.len, true);
	buf_reset(&b64);
	if (f.r == 0 && (f.r = buf_printf(&b64, "s=%s;", k->selector)) == 0)
		fold_add(&f, b64.data, b64.len, true);
	buf_reset(&b64);
	snprintf(tmp, sizeof(tmp), "t=%" PRIdMAX ";", (intmax_t)s->p.now);
	fold_str(&f, tmp, true);
	/* h= folds after a colon (RFC 6376 3.5 allows FWS there). */
	for (p = h; f.r == 0; p = colon + 1) {
		colon = strchr(p, ':');
		buf_reset(&b64);
		f.r = buf_printf(&b64, "%s%.*s%s", p == h ? "h=" : "",
		    (int)(colon ? (size_t)(colon - p) : strlen(p)), p,
		    colon ? ":" : ";");
		if (f.r == 0)
			fold_add(&f, b64.data, b64.len, p == h);
		if (colon == NULL)
			break;
	}
	buf_reset(&b64);
	if (f.r == 0 && (f.r = buf_printf(&b64, "bh=%s;", bh)) == 0)
		fold_add(&f, b64.data, b64.len, true);
	buf_reset(&b64);
	fold_str(&f, "b=", true);
	if (f.r < 0) {
		am_err_set(err, "dkim sign: field too long");
		goto out;
	}
	/* RFC 6376 3.7 and 5.4.2: the signed fields, then this field with
	 * b= empty and no final CRLF. */
	if (dkim_canon_headers(s->p.header_canon, hdrs, h, strlen(h), &data) <
		0 ||
	    dkim_canon_header(
		s->p.header_canon, field.data, field.len, false, &data) < 0) {
		am_err_set(err, "dkim sign: header too large");
		goto out;
	}
	if (sign_data(k, &data, &b64, err) < 0)
		goto out;
	fold_b64(&f, b64.data, b64.len);
	if (f.r < 0 || (s->fields[s->nfields] = buf_take(&field)) == NULL) {
		am_err_set(err, "dkim sign: out of memory");
		goto out;
	}
	s->nfields++;
	r = 0;
out:
	buf_free(&field);
	buf_free(&data);
	buf_free(&b64);
	return r;
}

int
dkim_sign_eom(
    struct dkim_sign *s, const struct hdr_list *hdrs, struct am_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int  mdlen = 0;
	struct buf    bh, h;
	size_t        i;
	int           r = -1;

	if (s->broken || s->nfields > 0)
		return am_err_set(err, "dkim sign: already finished or broken");
	if (dkim_body_final(s->body, md, &mdlen) < 0) {
		s->broken = true;
		return am_err_set(err, "dkim sign: body hash failed");
	}
	buf_init(&bh, 0);
	buf_init(&h, DKIM_SIGN_MAX_FIELD);
	if (dkim_base64_encode(md, mdlen, &bh) < 0 || sign_h(s, hdrs, &h) < 0) {
		am_err_set(err, "dkim sign: h= too long");
		goto out;
	}
	for (i = 0; i < s->nkeys; i++)
		if (sign_one(s, &s->keys[i], hdrs, buf_cstr(&bh), buf_cstr(&h),
			err) < 0)
			goto out;
	r = 0;
out:
	if (r < 0) {
		for (i = 0; i < s->nfields; i++)
			free(s->fields[i]);
		s->nfields = 0;
		s->broken = true;
	}
	buf_free(&bh);
	buf_free(&h);
	return r;
}

size_t
dkim_sign_count(const struct dkim_sign *s)
{
	return s->nfields;
}

const char *
dkim_sign_field(const struct dkim_sign *s, size_t i)
{
	return i < s->nfields ? s->fields[i] : NULL;
}

#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "dkim_canon.h"
#include "dkim_key.h"
#include "dkim_verify.h"
#include "dns.h"
#include "str.h"
#include "tagval.h"

/* A signature field holds about 12 tags; TAGVAL_MAX bounds the rest. */
#define DKIM_SIG_MAX_TAGS TAGVAL_MAX
/* RSA 8192 gives 1024 bytes of signature; anything longer is bogus. */
#define DKIM_SIG_MAX_B 1024
/* The canonical header data can be a little longer than the header block
 * (relaxed adds nothing, CRLFs are added per field). */
#define DKIM_HDATA_MAX (2 * HDR_MAX_BYTES)

struct dkim_sig {
	struct dkim_result res;
	bool               pending; /* parsed; to be verified at eom */
	char              *raw;     /* the field, copied */
	size_t             rawlen;
	size_t             bstart, bend; /* b= value within raw */
	enum dkim_alg      alg;
	enum dkim_canon    hc, bc;
	const EVP_MD      *md;
	const char        *h; /* h= value, within raw */
	size_t             hlen;
	uint64_t           l; /* DKIM_BODY_NOLIMIT: none */
	unsigned char      bh[EVP_MAX_MD_SIZE];
	size_t             bhlen;
	unsigned char      b[DKIM_SIG_MAX_B];
	size_t             blen;
	struct dns_query  *q;
	size_t             body; /* index into dkim_verify.bodies */
	char              *domain, *selector, *identity, *algorithm;
	char               b8[9];
	char               reason[64];
};

struct dkim_bodyhash {
	struct dkim_body *b;
	unsigned char     md[EVP_MAX_MD_SIZE];
	unsigned int      mdlen;
	bool              ok;
};

struct dkim_verify {
	struct dkim_verify_params p;
	struct dns               *dns;
	dkim_key_lookup_fn       *lookup;
	void                     *lookup_arg;
	struct dkim_sig         **sig; /* each allocated: results point in */
	size_t                    nsig, capsig;
	size_t                    ignored;
	unsigned long             cost; /* spent of p.max_cost */
	size_t                    over_budget;
	struct dkim_bodyhash     *bodies;
	size_t                    nbodies;
	bool                      eoh, eom;
};

const char *
dkim_status_str(enum dkim_status s)
{
	switch (s) {
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_POLICY:
		return "policy";
	case DKIM_TEMPERROR:
		return "temperror";
	case DKIM_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

struct dkim_verify *
dkim_verify_new(struct dns *dns, const struct dkim_verify_params *params)
{
	struct dkim_verify *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	if (params != NULL)
		v->p = *params;
	if (v->p.max_signatures == 0)
		v->p.max_signatures = DKIM_VERIFY_MAX_SIGS;
	if (v->p.min_rsa_bits == 0)
		v->p.min_rsa_bits = DKIM_VERIFY_MIN_RSA_BITS;
	/* At least DKIM_VERIFY_MIN_COST_SIGS signatures' worth: one of the
	 * costliest keys taken (RSA-8192, 64) is always verified. */
	if (v->p.max_cost == 0)
		v->p.max_cost = (v->p.max_signatures > DKIM_VERIFY_MIN_COST_SIGS
					? v->p.max_signatures
					: DKIM_VERIFY_MIN_COST_SIGS) *
				DKIM_VERIFY_COST_SIG;
	if (v->p.now == 0)
		v->p.now = time(NULL);
	v->dns = dns;
	return v;
}

void
dkim_verify_free(struct dkim_verify *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsig; i++) {
		struct dkim_sig *s = v->sig[i];

		dns_query_free(s->q);
		free(s->raw);
		free(s->domain);
		free(s->selector);
		free(s->identity);
		free(s->algorithm);
		free(s);
	}
	free(v->sig);
	for (i = 0; i < v->nbodies; i++)
		dkim_body_free(v->bodies[i].b);
	free(v->bodies);
	free(v);
}

void
dkim_verify_set_key_lookup(
    struct dkim_verify *v, dkim_key_lookup_fn *fn, void *arg)
{
	v->lookup = fn;
	v->lookup_arg = arg;
}

/* Ends a signature's evaluation with status and reason. */
static void sig_done(struct dkim_sig *s, enum dkim_status st, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
sig_done(struct dkim_sig *s, enum dkim_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	s->res.status = st;
	s->res.reason = s->reason;
	s->pending = false;
}

/* d= and s= (RFC 6376 3.5): dot-separated labels of letters, digits,
 * '-' and '_' (selectors and some domains use '_'). */
static bool
sig_valid_name(const char *p, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > DNS_MAX_NAME)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (str_isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return label > 0;
}

/* Decimal digits into *out; false on anything else or overflow. */
static bool
sig_number(const struct tagval *t, uint64_t *out)
{
	uint64_t n = 0;
	size_t   i;

	if (t->vallen == 0)
		return false;
	for (i = 0; i < t->vallen; i++) {
		unsigned d;

		if (!str_isdigit((unsigned char)t->val[i]))
			return false;
		d = (unsigned)(t->val[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

/* c= (RFC 6376 3.5): "header[/body]", each simple or relaxed. */
static bool
sig_canon(const struct tagval *t, enum dkim_canon *hc, enum dkim_canon *bc)
{
	const char *slash = memchr(t->val, '/', t->vallen);
	size_t      hn = slash ? (size_t)(slash - t->val) : t->vallen;

	if (str_ieq(t->val, hn, "simple"))
		*hc = DKIM_CANON_SIMPLE;
	else if (str_ieq(t->val, hn, "relaxed"))
		*hc = DKIM_CANON_RELAXED;
	else
		return false;
	*bc = DKIM_CANON_SIMPLE;
	if (slash == NULL)
		return true;
	hn = t->vallen - hn - 1;
	if (str_ieq(slash + 1, hn, "simple"))
		*bc = DKIM_CANON_SIMPLE;
	else if (str_ieq(slash + 1, hn, "relaxed"))
		*bc = DKIM_CANON_RELAXED;
	else
		return false;
	return true;
}

/* True when the i= domain is d= or a subdomain of it (RFC 6376 3.5);
 * with strict (key t=s), only d= itself. */
static bool
sig_identity_ok(const char *i, const char *d, bool strict)
{
	const char *at = strrchr(i, '@');
	size_t      il, dl = strlen(d);

	if (at == NULL)
		return false;
	at++;
	il = strlen(at);
	if (il == dl)
		return str_ieq(at, il, d);
	if (strict || il < dl + 1 || at[il - dl - 1] != '.')
		return false;
	return str_ieq(at + il - dl, dl, d);
}

static char *
sig_dup_lower(const struct tagval *t)
{
	char *s = tagval_dup_nows(t);

	return s != NULL ? str_lower(s) : NULL;
}

/* RFC 6376 3.5 and 6.1.1: checks the tags of s->raw. Returns NULL when
 * the signature is to be verified, or the reason for permerror. */
static const char *
sig_parse(struct dkim_verify *v, struct dkim_sig *s, size_t valoff)
{
	struct tagval        tv[DKIM_SIG_MAX_TAGS];
	const struct tagval *t, *tb;
	const char          *val = s->raw + valoff, *pos, *item;
	size_t               len, nh = 0, i;
	int                  n;
	uint64_t             ts = 0, xs = 0;
	bool                 has_t = false, has_from = false;

	n = tagval_parse(val, s->rawlen - valoff, tv, DKIM_SIG_MAX_TAGS, NULL);
	if (n == TAGVAL_EDUP)
		return "duplicate tag";
	if (n < 0)
		return "signature syntax error";
	/* The result fields are filled first, so that even a broken signature
	 * can be reported with what it claims. */
	if ((t = tagval_get(tv, (size_t)n, "d")) != NULL &&
	    (s->domain = sig_dup_lower(t)) == NULL)
		return "out of memory";
	s->res.domain = s->domain;
	if ((t = tagval_get(tv, (size_t)n, "s")) != NULL &&
	    (s->selector = tagval_dup_nows(t)) == NULL)
		return "out of memory";
	s->res.selector = s->selector;
	if ((t = tagval_get(tv, (size_t)n, "a")) != NULL &&
	    (s->algorithm = sig_dup_lower(t)) == NULL)
		return "out of memory";
	s->res.algorithm = s->algorithm;
	if ((t = tagval_get(tv, (size_t)n, "i")) != NULL &&
	    (s->identity = tagval_dup_nows(t)) == NULL)
		return "out of memory";
	s->res.identity = s->identity;
	if ((tb = tagval_get(tv, (size_t)n, "b")) != NULL) {
		for (i = 0, len = 0; i < tb->vallen && len < 8; i++)
			if (!str_isspace((unsigned char)tb->val[i]))
				s->b8[len++] = tb->val[i];
		s->b8[len] = '\0';
		/* RFC 6376 3.7: the value of b= is hashed as empty; the FWS
		 * after "b=" goes with it, the FWS after the value stays
		 * (as other verifiers do). */
		pos = tb->tag + tb->taglen;
		while (*pos != '=')
			pos++;
		s->bstart = (size_t)(pos + 1 - s->raw);
		s->bend = (size_t)(tb->val + tb->vallen - s->raw);
	}
	s->res.b8 = s->b8;

	/* RFC 6376 6.1.1, in its order. */
	if ((t = tagval_get(tv, (size_t)n, "v")) == NULL)
		return "missing v=";
	if (t->vallen != 1 || t->val[0] != '1')
		return "unsupported version";
	if (s->domain == NULL)
		return "missing d=";
	if (s->selector == NULL)
		return "missing s=";
	if (tb == NULL)
		return "missing b=";
	if (s->algorithm == NULL)
		return "missing a=";
	if ((t = tagval_get(tv, (size_t)n, "bh")) == NULL)
		return "missing bh=";
	if (dkim_base64_decode(
		t->val, t->vallen, s->bh, sizeof(s->bh), &s->bhlen) < 0)
		return "bad bh=";
	if (dkim_base64_decode(
		tb->val, tb->vallen, s->b, sizeof(s->b), &s->blen) < 0 ||
	    s->blen == 0)
		return "bad b=";
	if ((t = tagval_get(tv, (size_t)n, "h")) == NULL)
		return "missing h=";
	s->h = t->val;
	s->hlen = t->vallen;
	if (!dkim_alg_parse(s->algorithm, strlen(s->algorithm), &s->alg))
		return "unknown algorithm";
	s->md = s->alg == DKIM_ALG_RSA_SHA1 ? EVP_sha1() : EVP_sha256();
	s->hc = s->bc = DKIM_CANON_SIMPLE;
	if ((t = tagval_get(tv, (size_t)n, "c")) != NULL &&
	    !sig_canon(t, &s->hc, &s->bc))
		return "unknown canonicalization";
	if (!sig_valid_name(s->domain, strlen(s->domain)))
		return "bad d=";
	if (!sig_valid_name(s->selector, strlen(s->selector)))
		return "bad s=";
	/* h= MUST include From (6.1.1); names are RFC 5322 field names. */
	pos = s->h;
	while (dkim_list_next(&pos, s->h + s->hlen, &item, &len)) {
		if (len == 0 || ++nh > DKIM_VERIFY_MAX_H)
			return len == 0 ? "bad h=" : "too many h= entries";
		for (i = 0; i < len; i++)
			if ((unsigned char)item[i] < 33 ||
			    (unsigned char)item[i] > 126)
				return "bad h=";
		if (str_ieq(item, len, "from"))
			has_from = true;
	}
	if (!has_from)
		return "From not signed";
	if (s->identity != NULL &&
	    !sig_identity_ok(s->identity, s->domain, false))
		return "i= not within d=";
	s->l = DKIM_BODY_NOLIMIT;
	if ((t = tagval_get(tv, (size_t)n, "l")) != NULL &&
	    (!sig_number(t, &s->l) || s->l == DKIM_BODY_NOLIMIT))
		return "bad l=";
	if ((t = tagval_get(tv, (size_t)n, "q")) != NULL) {
		bool dnstxt = false;

		pos = t->val;
		while (dkim_list_next(&pos, t->val + t->vallen, &item, &len))
			if (str_ieq(item, len, "dns/txt"))
				dnstxt = true;
		if (!dnstxt)
			return "unsupported q=";
	}
	if ((t = tagval_get(tv, (size_t)n, "t")) != NULL) {
		if (!sig_number(t, &ts))
			return "bad t=";
		has_t = true;
	}
	if ((t = tagval_get(tv, (size_t)n, "x")) != NULL) {
		if (!sig_number(t, &xs))
			return "bad x=";
		if (has_t && xs <= ts)
			return "x= not after t=";
		if (v->p.now > 0 && xs < (uint64_t)v->p.now)
			return "signature expired";
	}
	if (has_t && v->p.now > 0 &&
	    ts > (uint64_t)v->p.now + DKIM_VERIFY_CLOCK_SKEW)
		return "signature in the future";
	return NULL;
}

void
dkim_verify_header(struct dkim_verify *v, const struct hdr_field *f)
{
	struct dkim_sig *s;
	const char      *why;
	struct buf       name;

	if (!hdr_name_is(f, "DKIM-Signature") || v->eoh)
		return;
	if (v->nsig == v->p.max_signatures) {
		v->ignored++;
		return;
	}
	if (v->nsig == v->capsig) {
		size_t            cap = v->capsig ? v->capsig * 2 : 2;
		struct dkim_sig **ns = realloc(v->sig, cap * sizeof(*ns));

		if (ns == NULL) {
			v->ignored++;
			return;
		}
		v->sig = ns;
		v->capsig = cap;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		v->ignored++;
		return;
	}
	v->sig[v->nsig++] = s;
	/* Until end of message decides. */
	s->res.status = DKIM_TEMPERROR;
	s->res.reason = "not verified";
	s->res.b8 = s->b8;
	if ((s->raw = str_ndup(f->raw, f->rawlen)) == NULL) {
		sig_done(s, DKIM_TEMPERROR, "out of memory");
		return;
	}
	s->rawlen = f->rawlen;
	if ((why = sig_parse(v, s, (size_t)(f->value - f->raw))) != NULL) {
		sig_done(s, DKIM_PERMERROR, "%s", why);
		return;
	}
	s->res.algorithm = dkim_alg_str(s->alg);
	if (s->alg == DKIM_ALG_RSA_SHA1 && !v->p.accept_sha1) {
		/* RFC 8301 3.1: rsa-sha1 MUST NOT be considered valid. */
		sig_done(s, DKIM_POLICY, "rsa-sha1 not accepted (RFC 8301)");
		return;
	}
	s->pending = true;
	/* RFC 6376 3.6.2.1: the key lives at selector._domainkey.domain. The
	 * query goes out now and is collected at end of message. */
	if (v->lookup != NULL || v->dns == NULL)
		return;
	buf_init(&name, DNS_MAX_NAME + 2);
	if (buf_printf(&name, "%s._domainkey.%s", s->selector, s->domain) < 0)
		sig_done(s, DKIM_PERMERROR, "key name too long");
	else if ((s->q = dns_start(v->dns, buf_cstr(&name), DNS_T_TXT)) == NULL)
		sig_done(s, DKIM_TEMPERROR, "out of memory");
	else if (v->p.waiter != NULL)
		dns_query_notify(s->q, v->p.waiter);
	buf_free(&name);
}

void
dkim_verify_eoh(struct dkim_verify *v, const struct hdr_list *hdrs)
{
	size_t i, j;

	(void)hdrs;
	if (v->eoh)
		return;
	v->eoh = true;
	for (i = 0; i < v->nsig; i++) {
		struct dkim_sig *s = v->sig[i];

		if (!s->pending)
			continue;
		/* One stream per (body canonicalization, hash, l=). */
		for (j = 0; j < v->nbodies; j++)
			if (dkim_body_matches(
				v->bodies[j].b, s->bc, s->md, s->l))
				break;
		if (j == v->nbodies) {
			struct dkim_bodyhash *nb;

			nb = realloc(v->bodies, (j + 1) * sizeof(*nb));
			if (nb == NULL) {
				sig_done(s, DKIM_TEMPERROR, "out of memory");
				continue;
			}
			v->bodies = nb;
			memset(&nb[j], 0, sizeof(nb[j]));
			if ((nb[j].b = dkim_body_new(s->bc, s->md, s->l)) ==
			    NULL) {
				sig_done(s, DKIM_TEMPERROR, "out of memory");
				continue;
			}
			v->nbodies++;
		}
		s->body = j;
	}
}

void
dkim_verify_body(struct dkim_verify *v, const void *p, size_t n)
{
	size_t i;

	if (!v->eoh)
		dkim_verify_eoh(v, NULL);
	for (i = 0; i < v->nbodies; i++)
		(void)dkim_body_update(v->bodies[i].b, p, n);
}

/* RFC 6376 3.7: the fields named in h= (dkim_canon_headers), then this
 * signature field with the value of b= removed, without a final CRLF. */
static int
sig_header_data(
    const struct dkim_sig *s, const struct hdr_list *hdrs, struct buf *out)
{
	struct buf self;
	int        r;

	if (dkim_canon_headers(s->hc, hdrs, s->h, s->hlen, out) < 0)
		return -1;
	buf_init(&self, s->rawlen + 1);
	r = buf_append(&self, s->raw, s->bstart);
	if (r == 0)
		r = buf_append(&self, s->raw + s->bend, s->rawlen - s->bend);
	if (r == 0)
		r = dkim_canon_header(s->hc, self.data, self.len, false, out);
	buf_free(&self);
	return r;
}

/* Checks b= over the header data with the key (RFC 6376 3.3.1 for RSA;
 * RFC 8463 3 for Ed25519, which signs the SHA-256 of the data with
 * PureEdDSA). Returns 1 valid, 0 invalid, -1 on our own failure. */
static int
sig_check(const struct dkim_sig *s, EVP_PKEY *pkey, const struct buf *data)
{
	EVP_MD_CTX   *ctx = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int  hlen = 0;
	int           r = -1;

	if (ctx == NULL)
		return -1;
	if (s->alg == DKIM_ALG_ED25519_SHA256) {
		if (EVP_Digest(data->data, data->len, h, &hlen, EVP_sha256(),
			NULL) == 1 &&
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1)
			r = EVP_DigestVerify(ctx, s->b, s->blen, h, hlen) == 1;
	} else if (EVP_DigestVerifyInit(ctx, NULL, s->md, NULL, pkey) == 1) {
		r = EVP_DigestVerify(ctx, s->b, s->blen,
			(const unsigned char *)data->data, data->len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	return r;
}

/* RFC 6376 6.1.2: the key record, checked against the signature. Returns
 * true with key filled, or false after sig_done(). */
static bool
sig_key(struct dkim_verify *v, struct dkim_sig *s, struct dkim_key *key)
{
	const struct dns_answer *a;
	const char              *why = NULL, *w;
	struct buf               name;
	size_t                   i;

	if (v->lookup != NULL) {
		buf_init(&name, DNS_MAX_NAME + 2);
		if (buf_printf(&name, "%s._domainkey.%s", s->selector,
			s->domain) < 0) {
			buf_free(&name);
			sig_done(s, DKIM_PERMERROR, "key name too long");
			return false;
		}
		a = v->lookup(v->lookup_arg, buf_cstr(&name));
		buf_free(&name);
	} else if (s->q != NULL) {
		/* With a waiter the caller has waited as long as it may. */
		if (v->p.waiter != NULL && !dns_done(s->q)) {
			sig_done(s, DKIM_TEMPERROR, "key lookup: timeout");
			return false;
		}
		a = dns_wait(s->q);
	} else {
		sig_done(s, DKIM_TEMPERROR, "no resolver");
		return false;
	}
	if (a == NULL) {
		sig_done(s, DKIM_TEMPERROR, "key lookup failed");
		return false;
	}
	switch (a->status) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		sig_done(s, DKIM_PERMERROR, "no key");
		return false;
	case DNS_BADNAME:
		sig_done(s, DKIM_PERMERROR, "bad key name");
		return false;
	case DNS_TEMPFAIL:
	default:
		sig_done(s, DKIM_TEMPERROR, "key lookup: %s",
		    a->why != NULL && a->why[0] ? a->why : "temporary failure");
		return false;
	}
	/* Several records: the first that parses (3.6.2.2 lets the verifier
	 * choose); the order DNS gives is the order tried. */
	for (i = 0; i < a->n; i++) {
		if (dkim_key_parse(a->rr[i].data, a->rr[i].len, key, &w) == 0)
			break;
		if (why == NULL)
			why = w;
	}
	if (i == a->n) {
		sig_done(s, DKIM_PERMERROR, "%s", why != NULL ? why : "no key");
		return false;
	}
	s->res.testing = key->testing;
	if ((key->type == DKIM_KEY_ED25519) !=
	    (s->alg == DKIM_ALG_ED25519_SHA256))
		why = "key type does not match a=";
	else if (s->alg == DKIM_ALG_RSA_SHA1 ? !key->sha1 : !key->sha256)
		why = "hash not allowed by key h=";
	else if (key->strict && s->identity != NULL &&
		 !sig_identity_ok(s->identity, s->domain, true))
		why = "i= not d= (key t=s)";
	else if (key->type == DKIM_KEY_RSA && key->bits < v->p.min_rsa_bits) {
		sig_done(s, DKIM_POLICY, "key too small: %u bits", key->bits);
		dkim_key_clear(key);
		return false;
	} else
		return true;
	sig_done(s, DKIM_PERMERROR, "%s", why);
	dkim_key_clear(key);
	return false;
}

/* RFC 5322 3.6: the fields a message has at most once that h= can name
 * (Bcc, also once, is removed before transport). */
static const char *const once_fields[] = {"From", "Sender", "Reply-To", "To",
    "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References"};

/* Sets s->res.extra_* when a once-only field has more instances than h=
 * entries (RFC 6376 5.4.2: each entry takes the next instance from the
 * bottom, so the rest, above, are unsigned). At most DKIM_VERIFY_MAX_H
 * entries times HDR_MAX_FIELDS fields per name. */
static void
sig_extra_fields(struct dkim_sig *s, const struct hdr_list *hdrs)
{
	const char *pos, *item;
	size_t      i, j, len, nh, nmsg, n = hdr_list_count(hdrs);

	for (i = 0; i < sizeof(once_fields) / sizeof(once_fields[0]); i++) {
		nh = nmsg = 0;
		pos = s->h;
		while (dkim_list_next(&pos, s->h + s->hlen, &item, &len))
			if (str_ieq(item, len, once_fields[i]))
				nh++;
		if (nh == 0)
			continue;
		for (j = 0; j < n; j++)
			if (hdr_name_is(hdr_list_get(hdrs, j), once_fields[i]))
				nmsg++;
		if (nmsg > nh) {
			s->res.extra_field = once_fields[i];
			s->res.extra_count = nmsg;
			s->res.extra_signed = nh;
			return;
		}
	}
}

/* RFC 6376 6.1.3: body hash, then the signature over the header data. */
static void
sig_verify(
    struct dkim_verify *v, struct dkim_sig *s, const struct hdr_list *hdrs)
{
	struct dkim_key             key;
	const struct dkim_bodyhash *bh = &v->bodies[s->body];
	uint64_t                    blen = dkim_body_length(bh->b);
	struct buf                  data;
	int                         r;

	if (!sig_key(v, s, &key))
		return;
	if (!bh->ok) {
		sig_done(s, DKIM_TEMPERROR, "body hash failed");
		goto out;
	}
	if (s->l != DKIM_BODY_NOLIMIT && s->l > blen) {
		sig_done(s, DKIM_PERMERROR, "l= exceeds body length");
		goto out;
	}
	if (s->bhlen != bh->mdlen || CRYPTO_memcmp(s->bh, bh->md, s->bhlen)) {
		sig_done(s, DKIM_FAIL, "body hash mismatch");
		goto out;
	}
	/* The public-key operation is the expensive step: it is paid for
	 * from the message's budget, in header order. */
	if (key.cost > v->p.max_cost - v->cost) {
		sig_done(s, DKIM_POLICY, "verification budget exceeded");
		v->over_budget++;
		goto out;
	}
	v->cost += key.cost;
	buf_init(&data, DKIM_HDATA_MAX);
	if (sig_header_data(s, hdrs, &data) < 0)
		r = -1;
	else
		r = sig_check(s, key.pkey, &data);
	buf_free(&data);
	if (r < 0)
		sig_done(s, DKIM_TEMPERROR, "internal error");
	else if (r == 0)
		sig_done(s, DKIM_FAIL, "signature verification failed");
	else if (s->l != DKIM_BODY_NOLIMIT && s->l < blen) {
		s->res.l_partial = true;
		if (v->p.ignore_l)
			sig_done(s, DKIM_POLICY,
			    "l= leaves %llu body bytes unsigned",
			    (unsigned long long)(blen - s->l));
		else
			sig_done(s, DKIM_PASS, "%s", "");
	} else
		sig_done(s, DKIM_PASS, "%s", "");
	if (s->res.status == DKIM_PASS)
		sig_extra_fields(s, hdrs);
out:
	dkim_key_clear(&key);
}

bool
dkim_verify_pending(const struct dkim_verify *v)
{
	size_t i;

	for (i = 0; i < v->nsig; i++)
		if (v->sig[i]->pending && v->sig[i]->q != NULL &&
		    !dns_done(v->sig[i]->q))
			return true;
	return false;
}

void
dkim_verify_eom(struct dkim_verify *v, const struct hdr_list *hdrs)
{
	size_t i;

	if (v->eom)
		return;
	if (!v->eoh)
		dkim_verify_eoh(v, hdrs);
	v->eom = true;
	for (i = 0; i < v->nbodies; i++)
		v->bodies[i].ok =
		    dkim_body_final(v->bodies[i].b, v->bodies[i].md,
			&v->bodies[i].mdlen) == 0;
	for (i = 0; i < v->nsig; i++)
		if (v->sig[i]->pending)
			sig_verify(v, v->sig[i], hdrs);
}

size_t
dkim_verify_count(const struct dkim_verify *v)
{
	return v->nsig;
}

const struct dkim_result *
dkim_verify_result(const struct dkim_verify *v, size_t i)
{
	return i < v->nsig ? &v->sig[i]->res : NULL;
}

size_t
dkim_verify_ignored(const struct dkim_verify *v)
{
	return v->ignored;
}

size_t
dkim_verify_over_budget(const struct dkim_verify *v)
{
	return v->over_budget;
}

size_t
dkim_verify_body_streams(const struct dkim_verify *v)
{
	return v->nbodies;
}

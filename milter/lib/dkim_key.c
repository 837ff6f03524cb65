#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "dkim.h"
#include "dkim_key.h"
#include "str.h"
#include "tagval.h"

/* A key record holds a few tags; TAGVAL_MAX bounds the work. */
#define DKIM_KEY_MAX_TAGS TAGVAL_MAX

int
dkim_base64_decode(const char *p, size_t n, unsigned char *out, size_t outsize,
    size_t *outlen_r)
{
	size_t        i, o = 0, npad = 0, nsext = 0;
	unsigned long acc = 0;
	int           v;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (str_isspace(c))
			continue;
		if (c == '=') {
			npad++;
			continue;
		}
		/* Nothing but FWS and '=' may follow padding. */
		if (npad > 0 || (v = str_b64val(c)) < 0)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		nsext++;
		if (nsext % 4 == 0) {
			if (outsize - o < 3)
				return -1;
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* 2 or 3 sextets left make 1 or 2 bytes; 1 is impossible. Padding,
	 * when present, must complete the last quantum. */
	switch (nsext % 4) {
	case 0:
		if (npad != 0)
			return -1;
		break;
	case 1:
		return -1;
	case 2:
		if ((npad != 0 && npad != 2) || outsize - o < 1)
			return -1;
		out[o++] = (unsigned char)(acc >> 4);
		break;
	default:
		if ((npad != 0 && npad != 1) || outsize - o < 2)
			return -1;
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
		break;
	}
	*outlen_r = o;
	return 0;
}

int
dkim_base64_encode(const unsigned char *p, size_t n, struct buf *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char              q[4];
	size_t            i;
	unsigned long     acc;

	for (i = 0; i + 3 <= n; i += 3) {
		acc = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		      p[i + 2];
		q[0] = abc[(acc >> 18) & 63];
		q[1] = abc[(acc >> 12) & 63];
		q[2] = abc[(acc >> 6) & 63];
		q[3] = abc[acc & 63];
		if (buf_append(out, q, 4) < 0)
			return -1;
	}
	if (n - i == 1) {
		acc = (unsigned long)p[i] << 16;
		q[0] = abc[(acc >> 18) & 63];
		q[1] = abc[(acc >> 12) & 63];
		q[2] = q[3] = '=';
		return buf_append(out, q, 4);
	}
	if (n - i == 2) {
		acc = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8;
		q[0] = abc[(acc >> 18) & 63];
		q[1] = abc[(acc >> 12) & 63];
		q[2] = abc[(acc >> 6) & 63];
		q[3] = '=';
		return buf_append(out, q, 4);
	}
	return 0;
}

/* True when the colon-separated list tv holds word (case-insensitive). */
static bool
key_list_has(const struct tagval *tv, const char *word)
{
	const char *pos = tv->val, *item;
	size_t      len;

	while (dkim_list_next(&pos, tv->val + tv->vallen, &item, &len))
		if (str_ieq(item, len, word))
			return true;
	return false;
}

/*
 * Decoded keys. Decoding a key costs more than verifying with it: each
 * d2i_PUBKEY() sets up OpenSSL 3's decoder machinery, which takes its
 * locks dozens of times (in the benchmark, a tenth of the daemon's CPU).
 * A few keys sign most mail, so decoded keys are kept in a direct-mapped
 * table keyed by the key type and the p= bytes, shared by all threads: an
 * EVP_PKEY may be used to verify from several threads, and each user
 * holds a reference of its own. A colliding key replaces the slot's.
 */
#define KEY_CACHE_SLOTS   256
#define KEY_CACHE_MAX_DER 1200 /* an RSA-8192 SPKI is about 1,060 bytes */

static struct key_slot {
	enum dkim_key_type type;
	unsigned char     *der; /* NULL: empty */
	size_t             len;
	EVP_PKEY          *pkey;
} key_cache[KEY_CACHE_SLOTS];
static pthread_mutex_t key_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong    key_cache_hits;

static struct key_slot *
key_slot(enum dkim_key_type type, const unsigned char *der, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)type; /* FNV-1a */
	size_t   i;

	for (i = 0; i < len; i++)
		h = (h ^ der[i]) * 16777619u;
	return &key_cache[h % KEY_CACHE_SLOTS];
}

/* A new reference to the decoded key, or NULL. */
static EVP_PKEY *
key_cache_get(enum dkim_key_type type, const unsigned char *der, size_t len)
{
	struct key_slot *k = key_slot(type, der, len);
	EVP_PKEY        *pk = NULL;

	pthread_mutex_lock(&key_cache_mu);
	if (k->der != NULL && k->type == type && k->len == len &&
	    memcmp(k->der, der, len) == 0 && EVP_PKEY_up_ref(k->pkey) == 1)
		pk = k->pkey;
	pthread_mutex_unlock(&key_cache_mu);
	if (pk != NULL)
		atomic_fetch_add(&key_cache_hits, 1);
	return pk;
}

static void
key_cache_put(
    enum dkim_key_type type, const unsigned char *der, size_t len, EVP_PKEY *pk)
{
	struct key_slot *k = key_slot(type, der, len), old;
	unsigned char   *copy;

	if (len > KEY_CACHE_MAX_DER || (copy = malloc(len)) == NULL)
		return;
	if (EVP_PKEY_up_ref(pk) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&key_cache_mu);
	old = *k;
	*k = (struct key_slot){type, copy, len, pk};
	pthread_mutex_unlock(&key_cache_mu);
	free(old.der);
	EVP_PKEY_free(old.pkey);
}

unsigned long
dkim_key_cache_hits(void)
{
	return atomic_load(&key_cache_hits);
}

/* RSA: SubjectPublicKeyInfo (RFC 6376 3.6.1), or a bare RSAPublicKey
 * (RFC 8017 A.1.1), which some publishers put in p= and most verifiers
 * accept. The DER must be used up exactly. */
static EVP_PKEY *
key_rsa(const unsigned char *der, size_t len)
{
	const unsigned char *q = der;
	EVP_PKEY            *pk;

	if (len > 0x7fffffff)
		return NULL;
	pk = d2i_PUBKEY(NULL, &q, (long)len);
	if (pk != NULL && q == der + len &&
	    EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA)
		return pk;
	EVP_PKEY_free(pk);
	q = der;
	pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)len);
	if (pk != NULL && q == der + len)
		return pk;
	EVP_PKEY_free(pk);
	return NULL;
}

/* RSA: the public exponent bounded (DKIM_KEY_MAX_RSA_E), odd and at
 * least 3 (RFC 8017 3.1), and the cost of a verification (dkim_key.h):
 * the modulus squared times the square-and-multiply steps of e (bits - 1
 * squarings, one multiplication per further set bit), over RSA-1024's
 * with 65537 (17 steps). Returns NULL with key->cost set, or the reason
 * for the key error. */
static const char *
key_rsa_e(struct dkim_key *key)
{
	BIGNUM     *e = NULL, *max = NULL;
	const char *why = NULL;
	uint64_t    steps, cost;
	int         i, nbits;

	if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		return "bad key data";
	if (BN_dec2bn(&max, DKIM_KEY_MAX_RSA_E) == 0)
		why = "out of memory";
	else if (BN_cmp(e, max) > 0)
		why = "key exponent too large";
	else if (!BN_is_odd(e) || BN_num_bits(e) < 2)
		why = "bad key exponent";
	if (why == NULL) {
		nbits = BN_num_bits(e);
		steps = (uint64_t)nbits - 1;
		for (i = 0; i < nbits - 1; i++)
			if (BN_is_bit_set(e, i))
				steps++;
		cost = ((uint64_t)key->bits * key->bits * steps +
			   1024u * 1024u * 17u - 1) /
		       (1024u * 1024u * 17u);
		key->cost = cost > 0 ? (unsigned int)cost : 1;
	}
	BN_free(max);
	BN_free(e);
	return why;
}

int
dkim_key_parse(
    const char *p, size_t n, struct dkim_key *key, const char **reason_r)
{
	struct tagval        tv[DKIM_KEY_MAX_TAGS];
	const struct tagval *t;
	unsigned char       *der = NULL;
	size_t               derlen;
	int                  ntv;
	const char          *reason;
	bool                 cached = false;

	memset(key, 0, sizeof(*key));
	key->sha1 = key->sha256 = true;
	ntv = tagval_parse(p, n, tv, DKIM_KEY_MAX_TAGS, NULL);
	if (ntv < 0) {
		reason = "key syntax error";
		goto bad;
	}
	/* v= is optional, but when present it is the first tag and exactly
	 * "DKIM1" (3.6.1: other records are discarded). */
	if ((t = tagval_get(tv, (size_t)ntv, "v")) != NULL &&
	    (t != &tv[0] || t->vallen != 5 ||
		memcmp(t->val, "DKIM1", 5) != 0)) {
		reason = "key version not DKIM1";
		goto bad;
	}
	if ((t = tagval_get(tv, (size_t)ntv, "k")) == NULL ||
	    str_ieq(t->val, t->vallen, "rsa"))
		key->type = DKIM_KEY_RSA;
	else if (str_ieq(t->val, t->vallen, "ed25519"))
		key->type = DKIM_KEY_ED25519;
	else {
		reason = "unknown key type";
		goto bad;
	}
	if ((t = tagval_get(tv, (size_t)ntv, "h")) != NULL) {
		key->sha1 = key_list_has(t, "sha1");
		key->sha256 = key_list_has(t, "sha256");
	}
	if ((t = tagval_get(tv, (size_t)ntv, "s")) != NULL &&
	    !key_list_has(t, "*") && !key_list_has(t, "email")) {
		reason = "key not for email";
		goto bad;
	}
	if ((t = tagval_get(tv, (size_t)ntv, "t")) != NULL) {
		key->testing = key_list_has(t, "y");
		key->strict = key_list_has(t, "s");
	}
	if ((t = tagval_get(tv, (size_t)ntv, "p")) == NULL) {
		reason = "no p= in key";
		goto bad;
	}
	if (t->vallen == 0) {
		reason = "key revoked";
		goto bad;
	}
	/* Base64 is 4 characters for 3 bytes; FWS only makes it shorter. */
	if ((der = malloc(t->vallen / 4 * 3 + 3)) == NULL) {
		reason = "out of memory";
		goto bad;
	}
	if (dkim_base64_decode(
		t->val, t->vallen, der, t->vallen / 4 * 3 + 3, &derlen) < 0) {
		reason = "bad key data";
		goto bad;
	}
	if ((key->pkey = key_cache_get(key->type, der, derlen)) != NULL)
		cached = true;
	else if (key->type == DKIM_KEY_ED25519) {
		/* RFC 8463 4: the raw public key, not an SPKI. */
		if (derlen == DKIM_KEY_ED25519_LEN)
			key->pkey = EVP_PKEY_new_raw_public_key(
			    EVP_PKEY_ED25519, NULL, der, derlen);
	} else
		key->pkey = key_rsa(der, derlen);
	if (key->pkey != NULL && key->type == DKIM_KEY_ED25519)
		key->bits = 256;
	else if (key->pkey != NULL && EVP_PKEY_get_bits(key->pkey) > 0)
		key->bits = (unsigned int)EVP_PKEY_get_bits(key->pkey);
	if (key->pkey == NULL || key->bits == 0) {
		reason = "bad key data";
		goto bad;
	}
	if (key->type == DKIM_KEY_RSA && key->bits > DKIM_KEY_MAX_RSA_BITS) {
		reason = "key too large";
		goto bad;
	}
	if (key->type == DKIM_KEY_ED25519)
		key->cost = DKIM_KEY_COST_ED25519;
	else if ((reason = key_rsa_e(key)) != NULL)
		goto bad;
	if (!cached)
		key_cache_put(key->type, der, derlen, key->pkey);
	free(der);
	return 0;
bad:
	free(der);
	dkim_key_clear(key);
	if (reason_r != NULL)
		*reason_r = reason;
	return -1;
}

void
dkim_key_clear(struct dkim_key *key)
{
	EVP_PKEY_free(key->pkey);
	memset(key, 0, sizeof(*key));
}

/*
 * dkim_key: DKIM key records (RFC 6376 3.6.1, RFC 8463 4), as published
 * in TXT at SELECTOR._domainkey.DOMAIN, and the base64 codec DKIM uses.
 *
 * A record is a tag-list (tagval.h) of the TXT strings joined. Tags:
 * v= (if present, first and exactly "DKIM1"), h= (acceptable hashes),
 * k= (rsa, the default, or ed25519), n= (ignored), p= (the key: base64
 * SubjectPublicKeyInfo for RSA, or a bare PKCS#1 RSAPublicKey as some
 * publishers have it; the raw 32 bytes for Ed25519; empty: revoked), s=
 * (service types: must allow "*" or "email"), t= (flags y and s). Unknown
 * tags and list items are ignored, as 3.6.1 says.
 *
 * Limits: RSA keys of at most DKIM_KEY_MAX_RSA_BITS bits (verification
 * cost grows with the cube of the size; RFC 8301 3.2 asks verifiers to
 * handle 1024 to 4096) and a public exponent of at most
 * DKIM_KEY_MAX_RSA_E (the cost grows with its length too: an RSA-3072 key
 * with a 2,000-bit exponent costs about 80 normal verifications). The
 * lower bound on the modulus is the verifier's policy. Each key carries
 * an estimate of what one verification with it costs (cost), for the
 * verifier's per-message budget.
 * A parsed key owns a reference to its EVP_PKEY; release it with
 * dkim_key_clear(). Thread-safe.
 */
#ifndef AM_DKIM_KEY_H
#define AM_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "buf.h"

#define DKIM_KEY_MAX_RSA_BITS 8192
/* 2^64 + 1, as a decimal string: the largest public exponent taken. RFC
 * 8017 3.1 allows any odd e from 3 up; keys use 65537 (RFC 8301 leaves it
 * open), and OpenSSL itself refuses more than 64 bits above RSA-3072. */
#define DKIM_KEY_MAX_RSA_E "18446744073709551617"
/* The unit of cost: one verification with RSA-1024, e = 65537 (4 us
 * here). RSA costs (bits / 1024)^2 times its exponent's square-and-
 * multiply steps over 65537's 17; Ed25519 is fixed at 16 (68 us here,
 * about RSA-4096's 53 us). */
#define DKIM_KEY_COST_ED25519 16
#define DKIM_KEY_ED25519_LEN  32 /* RFC 8032 5.1.5 */

enum dkim_key_type { DKIM_KEY_RSA, DKIM_KEY_ED25519 };

struct dkim_key {
	enum dkim_key_type type;
	EVP_PKEY          *pkey;
	unsigned int       bits;    /* RSA modulus bits; 256 for Ed25519 */
	unsigned int       cost;    /* of one verification, >= 1 (above) */
	bool               testing; /* t=y: the domain is testing DKIM */
	bool               strict;  /* t=s: i= must be in d= exactly */
	bool               sha1;    /* h= allows sha1 (default: yes) */
	bool               sha256;  /* h= allows sha256 (default: yes) */
};

/* Parses one key record [p, p + n). Returns 0 with *key_r filled, or -1
 * with *reason_r set to a short static text: "key syntax error", "key
 * version not DKIM1", "no p= in key", "key revoked" (empty p=), "unknown
 * key type", "key not for email", "bad key data", "key too large", "key
 * exponent too large" (over DKIM_KEY_MAX_RSA_E), "bad key exponent" (even,
 * or under 3), or "out of memory". */
int dkim_key_parse(
    const char *p, size_t n, struct dkim_key *key_r, const char **reason_r);
/* Frees the key's EVP_PKEY and zeroes the record. */
void dkim_key_clear(struct dkim_key *);
/* Keys decoded are kept, process-wide, in a bounded table: parsing the
 * same p= again only takes a reference. How many parses were served so,
 * for tests. */
unsigned long dkim_key_cache_hits(void);

/* Decodes base64 (RFC 4648 4), skipping FWS (RFC 6376 2.8 allows it in
 * b=, bh= and p=); padding is optional. Writes at most outsize bytes.
 * Returns 0 with *outlen_r set, or -1 on a bad character, bad padding or
 * too little room. */
int dkim_base64_decode(const char *p, size_t n, unsigned char *out,
    size_t outsize, size_t *outlen_r);
/* Appends the base64 of [p, p + n) to out (no line breaks). 0 or -1. */
int dkim_base64_encode(const unsigned char *p, size_t n, struct buf *out);

#endif /* AM_DKIM_KEY_H */

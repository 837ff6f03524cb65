/*
 * dkim_sign: RFC 6376 section 5 signing of one message with one or more
 * keys (rsa-sha256, ed25519-sha256 per RFC 8463), e.g. RSA and Ed25519
 * side by side, or an old and a new selector during a rotation.
 *
 * Flow, as for verification:
 *
 *	s = dkim_sign_new(&params, keys, nkeys);
 *	dkim_sign_eoh(s, err); dkim_sign_body(s, p, n, err) ...;
 *	dkim_sign_eom(s, hdrs, err);
 *	for i < dkim_sign_count(s): insert dkim_sign_field(s, i) at the top
 *	dkim_sign_free(s);
 *
 * The body is hashed as it streams; keys share one body stream (both
 * algorithms hash with SHA-256). Tags: v=1, a=, c=, d=, s=, t=now, h=,
 * bh=, b= (no l=, no i=). h= lists each name of params.headers as many
 * times as the message has it, and each name of params.oversign once
 * more (RFC 6376 8.15: a field added later breaks the signature); From is
 * always signed (5.4). The field is folded with CRLF TAB before 78
 * columns.
 *
 * Keys and params are the caller's and must outlive the signer (the
 * private keys are only used, never copied). Not thread-safe.
 */
#ifndef AM_DKIM_SIGN_H
#define AM_DKIM_SIGN_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "dkim.h"
#include "err.h"
#include "hdr.h"

/* RFC 5322 2.1.1: lines SHOULD be at most 78 characters. */
#define DKIM_SIGN_FOLD 78

struct dkim_sign_key {
	const char   *domain;   /* d= */
	const char   *selector; /* s= */
	enum dkim_alg alg;      /* DKIM_ALG_RSA_SHA256 or _ED25519_SHA256 */
	EVP_PKEY     *pkey;     /* the private key, of that algorithm */
};

struct dkim_sign_params {
	enum dkim_canon    header_canon;
	enum dkim_canon    body_canon;
	const char *const *headers; /* names to sign when present */
	size_t             nheaders;
	const char *const *oversign; /* names signed once more than present */
	size_t             noversign;
	time_t             now; /* t=; 0: time() */
};

struct dkim_sign;

/* NULL only on OOM (or when OpenSSL cannot set up SHA-256). */
struct dkim_sign *dkim_sign_new(const struct dkim_sign_params *,
    const struct dkim_sign_key *keys, size_t nkeys);
void              dkim_sign_free(struct dkim_sign *); /* NULL ok */
/* Each returns 0, or -1 with err set (OpenSSL failure, OOM, a key that
 * does not match its algorithm or an unsupported algorithm). */
int dkim_sign_eoh(struct dkim_sign *, struct am_err *err);
int dkim_sign_body(
    struct dkim_sign *, const void *, size_t, struct am_err *err);
int dkim_sign_eom(
    struct dkim_sign *, const struct hdr_list *, struct am_err *err);
/* After a successful eom: one field per key, in key order, each the
 * complete "DKIM-Signature: v=1; ..." with CRLF TAB folds and no final
 * CRLF, owned by the signer. */
size_t      dkim_sign_count(const struct dkim_sign *);
const char *dkim_sign_field(const struct dkim_sign *, size_t i);

#endif /* AM_DKIM_SIGN_H */

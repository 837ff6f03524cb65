/*
 * dkim: types shared by the DKIM modules (dkim_canon, dkim_key,
 * dkim_verify, dkim_sign): signing algorithms (RFC 6376 3.3, RFC 8463,
 * RFC 8301), canonicalization names (RFC 6376 3.4) and result words
 * (RFC 8601 2.7.1). No code of its own but static inline name lookups.
 */
#ifndef AM_DKIM_H
#define AM_DKIM_H

#include <stdbool.h>
#include <stddef.h>

#include "str.h"

enum dkim_alg {
	DKIM_ALG_RSA_SHA1,      /* RFC 6376; never passes unless allowed */
	DKIM_ALG_RSA_SHA256,    /* RFC 6376 3.3.1 */
	DKIM_ALG_ED25519_SHA256 /* RFC 8463 */
};

enum dkim_canon {
	DKIM_CANON_SIMPLE, /* RFC 6376 3.4.1, 3.4.3 */
	DKIM_CANON_RELAXED /* RFC 6376 3.4.2, 3.4.4 */
};

enum dkim_status {
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR
};

static inline const char *
dkim_alg_str(enum dkim_alg a)
{
	switch (a) {
	case DKIM_ALG_RSA_SHA1:
		return "rsa-sha1";
	case DKIM_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	}
	return "?";
}

/* Parses an a= value (case-insensitive, RFC 6376 3.5). */
static inline bool
dkim_alg_parse(const char *p, size_t n, enum dkim_alg *alg_r)
{
	if (str_ieq(p, n, "rsa-sha256"))
		*alg_r = DKIM_ALG_RSA_SHA256;
	else if (str_ieq(p, n, "ed25519-sha256"))
		*alg_r = DKIM_ALG_ED25519_SHA256;
	else if (str_ieq(p, n, "rsa-sha1"))
		*alg_r = DKIM_ALG_RSA_SHA1;
	else
		return false;
	return true;
}

/* Iterates over a colon-separated list ("from : to:subject", the h= and
 * q= tags of a signature, the h=, s= and t= tags of a key record), FWS
 * around items removed: on each call *item_r and *len_r get the next item
 * (possibly empty). Start with *pos = p; returns false past the end
 * (*pos is then NULL). */
static inline bool
dkim_list_next(
    const char **pos, const char *end, const char **item_r, size_t *len_r)
{
	const char *p = *pos, *q;

	if (p == NULL)
		return false;
	q = p;
	while (q < end && *q != ':')
		q++;
	*item_r = p;
	*len_r = (size_t)(q - p);
	str_trim(item_r, len_r);
	*pos = q < end ? q + 1 : NULL;
	return true;
}

static inline const char *
dkim_canon_str(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

#endif /* AM_DKIM_H */

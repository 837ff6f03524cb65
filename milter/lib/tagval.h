/*
 * tagval: RFC 6376 section 3.2 tag-lists ("a=rsa-sha256; d=example.com"),
 * as used by DKIM-Signature fields, DKIM key records and DMARC records.
 * Pure: points into the caller's bytes, allocates nothing.
 *
 * Syntax: tag-list = tag-spec *( ";" tag-spec ) [ ";" ], tag-spec =
 * [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS], tag-name = ALPHA
 * *(ALPHA / DIGIT / "_"), tag-value = tval *( 1*(WSP / FWS) tval ) where
 * tval = 1*(%x21-3A / %x3C-7E). A duplicate tag name makes the whole list
 * invalid (RFC 6376 3.2). At most TAGVAL_MAX pairs are accepted.
 */
#ifndef AM_TAGVAL_H
#define AM_TAGVAL_H

#include <stddef.h>

/* No record we parse defines more than ~20 tags; 64 leaves room for
 * unknown ones while bounding the work per field. */
#define TAGVAL_MAX 64

struct tagval {
	const char *tag; /* into the input; not NUL-terminated */
	size_t      taglen;
	const char *val; /* surrounding FWS removed; may be empty */
	size_t      vallen;
};

enum tagval_err {
	TAGVAL_OK = 0,
	TAGVAL_ESYNTAX = -1, /* bad tag name, missing '=', bad value char */
	TAGVAL_EDUP = -2,    /* a tag appears twice */
	TAGVAL_ETOOMANY = -3 /* more than max pairs */
};

/* Parses [p, p + n) into out[0..max). Returns the number of pairs, or a
 * negative enum tagval_err; *where_r (may be NULL) gets the offset of the
 * first bad byte. An empty or all-whitespace list has 0 pairs. */
int tagval_parse(
    const char *p, size_t n, struct tagval *out, size_t max, size_t *where_r);
/* The pair whose tag equals tag (case-sensitive, as RFC 6376 3.2 says),
 * or NULL. */
const struct tagval *tagval_get(
    const struct tagval *, size_t n, const char *tag);
/* Copies the value with all whitespace (FWS, CR, LF) removed into a new
 * NUL-terminated string (for base64 b=, bh=, p=). NULL only on OOM. */
char *tagval_dup_nows(const struct tagval *);
/* Copies the value as is into a new NUL-terminated string. */
char *tagval_dup(const struct tagval *);

#endif /* AM_TAGVAL_H */

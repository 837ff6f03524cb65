/*
 * dkim_canon: RFC 6376 section 3.4 canonicalization. Header fields are
 * canonicalized one at a time into a buffer; the body is canonicalized and
 * hashed as a stream, chunk by chunk, keeping only a count of pending empty
 * lines, whether whitespace is pending and a held CR (never the body
 * itself).
 *
 * A body stream (struct dkim_body) hashes its canonical output with one
 * digest, up to an optional length limit (the l= tag, RFC 6376 3.5), and
 * counts the whole canonical length, so a verifier can tell l= bytes from
 * the rest. With md NULL it keeps the canonical output instead (tests, the
 * fuzzer), up to DKIM_BODY_MAX_KEEP bytes.
 *
 * The body is expected with CRLF line ends (as SMTP carries it); a CR or
 * LF that is not part of a CRLF pair is an ordinary byte. A CRLF split
 * between chunks is recognized. Not thread-safe; one stream per owner.
 */
#ifndef AM_DKIM_CANON_H
#define AM_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"

#define DKIM_BODY_NOLIMIT  UINT64_MAX
#define DKIM_BODY_MAX_KEEP (1024 * 1024) /* md NULL: output kept */

/* Appends the canonical form of one header field (raw: "Name:value" with
 * CRLF folds, no final line break) to out, followed by CRLF when crlf is
 * true (RFC 6376 3.7: the signature field itself is hashed without it).
 * Returns 0, or -1 when out's ceiling or memory is exceeded. */
int dkim_canon_header(
    enum dkim_canon, const char *raw, size_t len, bool crlf, struct buf *out);

struct hdr_list;

/* Appends the fields named in the colon-separated list [h, h + hlen) (an
 * h= tag value), each canonicalized with its CRLF: for each name the next
 * instance from the bottom up (RFC 6376 5.4.2); a name listed more times
 * than present adds nothing (so an added field breaks an oversigned
 * signature). hdrs may be NULL (no fields). Returns 0 or -1 (OOM, out's
 * ceiling). */
int dkim_canon_headers(enum dkim_canon, const struct hdr_list *hdrs,
    const char *h, size_t hlen, struct buf *out);

struct dkim_body;

/* A body stream hashing with md (NULL: keep the output) at most limit
 * canonical bytes (DKIM_BODY_NOLIMIT: all). NULL only on OOM or when
 * OpenSSL cannot set up the digest. */
struct dkim_body *dkim_body_new(
    enum dkim_canon, const EVP_MD *md, uint64_t limit);
void dkim_body_free(struct dkim_body *); /* NULL ok */
/* Feeds body bytes. Returns 0, or -1 when the digest fails (the stream is
 * then broken and dkim_body_final fails too). */
int dkim_body_update(struct dkim_body *, const void *, size_t);
/* Ends the body (RFC 6376 3.4.3/3.4.4: trailing empty lines dropped, a
 * final CRLF supplied) and writes the digest to md_r (EVP_MAX_MD_SIZE
 * bytes of room) and its length to *mdlen_r (both may be NULL with md
 * NULL). Returns 0 or -1. Call once. */
int dkim_body_final(
    struct dkim_body *, unsigned char *md_r, unsigned int *mdlen_r);
/* The canonical length of the whole body so far (not limited by limit);
 * after dkim_body_final, the final length. */
uint64_t dkim_body_length(const struct dkim_body *);
/* The stream's settings, for sharing one stream between signatures. */
bool dkim_body_matches(const struct dkim_body *, enum dkim_canon,
    const EVP_MD *md, uint64_t limit);
/* With md NULL: the canonical output kept so far (NUL-terminated). */
const struct buf *dkim_body_output(const struct dkim_body *);

#endif /* AM_DKIM_CANON_H */

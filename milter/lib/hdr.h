/*
 * hdr: the header block of one message as the MTA hands it over, field by
 * field, in order. Each field is kept as its exact bytes "Name:value" with
 * every line break inside the value normalized to CRLF (MTAs pass folds as
 * bare LF; DKIM's simple canonicalization needs the wire form, RFC 6376
 * 3.4.1). The value is everything after the colon, leading space included.
 *
 * Limits: HDR_MAX_FIELDS fields and HDR_MAX_BYTES bytes in all; a field past
 * them is refused (the caller decides what that means for the message).
 * Fields are owned by the list and live until hdr_list_reset()/free().
 * Not thread-safe.
 */
#ifndef AM_HDR_H
#define AM_HDR_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5322 sets no limit. Postfix's header_size_limit is 100 KiB and
 * Sendmail's MaxHeadersLength 32 KiB, so 1 MiB and 1000 fields only turn
 * away what no MTA would pass. */
#define HDR_MAX_FIELDS 1000
#define HDR_MAX_BYTES  (1024 * 1024)

struct hdr_field {
	const char *raw; /* "Name:value", NUL after rawlen */
	size_t      rawlen;
	const char *name;    /* == raw */
	size_t      namelen; /* without WSP before the colon (obsolete form) */
	const char *value;   /* raw + namelen + 1 */
	size_t      vallen;
};

struct hdr_list;

/* NULL only on OOM. */
struct hdr_list *hdr_list_new(void);
void             hdr_list_free(struct hdr_list *); /* NULL ok */
void             hdr_list_reset(struct hdr_list *);
/* Appends a field. Returns 0; -1 when the name is not an RFC 5322 field
 * name (printable ASCII but ':' and space, 1..HDR_MAX_NAME; trailing WSP
 * is allowed, RFC 5322 4.5.8) or past the limits; -2 on OOM (the field is
 * not stored either way). */
int hdr_list_add(struct hdr_list *, const char *name, size_t namelen,
    const char *value, size_t vallen);
/* Splits one raw field (no final line break) at its first colon and
 * appends it; -1 as hdr_list_add, and when there is no colon. */
int    hdr_list_add_raw(struct hdr_list *, const char *raw, size_t len);
size_t hdr_list_count(const struct hdr_list *);
const struct hdr_field *hdr_list_get(const struct hdr_list *, size_t i);
/* True when the field's name equals name, case-insensitively. */
bool hdr_name_is(const struct hdr_field *, const char *name);
/* How many fields are named name. */
size_t hdr_list_count_name(const struct hdr_list *, const char *name);

#define HDR_MAX_NAME 998 /* RFC 5322 2.1.1: a line is at most 998 chars */

#endif /* AM_HDR_H */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dkim_canon.h"
#include "hdr.h"
#include "str.h"

/* Canonical output is staged here and handed to the digest in blocks:
 * relaxed canonicalization turns text into short runs between spaces, and
 * one EVP_DigestUpdate per run would cost more than the hashing. */
#define DKIM_BODY_STAGE 8192

struct dkim_body {
	enum dkim_canon canon;
	const EVP_MD   *md;
	EVP_MD_CTX     *ctx;
	uint64_t        limit;  /* canonical bytes to hash at most */
	uint64_t        taken;  /* bytes staged or hashed (<= limit) */
	uint64_t        length; /* canonical bytes produced, all of them */
	uint64_t        ncrlf;  /* line ends held back: maybe trailing */
	bool            cr;     /* the last byte was a CR, its LF unknown */
	bool            wsp;    /* relaxed: WSP seen, not yet output */
	bool            any;    /* relaxed: something but CRLF was output */
	bool            broken; /* the digest failed */
	bool            done;
	struct buf      keep; /* md NULL: the output */
	size_t          nstage;
	unsigned char   stage[DKIM_BODY_STAGE];
};

int
dkim_canon_header(
    enum dkim_canon c, const char *raw, size_t len, bool crlf, struct buf *out)
{
	const char *colon;
	size_t      namelen, i, start;
	bool        wsp = false, any = false;

	if (c == DKIM_CANON_SIMPLE) {
		/* RFC 6376 3.4.1: no change at all. */
		if (buf_append(out, raw, len) < 0)
			return -1;
		return crlf ? buf_append(out, "\r\n", 2) : 0;
	}
	/* RFC 6376 3.4.2: lower-case name, no WSP around the colon, folds
	 * removed, WSP runs made one SP, no WSP at the end of the value. */
	colon = memchr(raw, ':', len);
	namelen = colon != NULL ? (size_t)(colon - raw) : len;
	while (namelen > 0 && str_iswsp((unsigned char)raw[namelen - 1]))
		namelen--;
	for (i = 0; i < namelen; i++)
		if (buf_append_char(
			out, (char)str_tolower((unsigned char)raw[i])) < 0)
			return -1;
	if (buf_append_char(out, ':') < 0)
		return -1;
	i = colon != NULL ? (size_t)(colon - raw) + 1 : len;
	while (i < len) {
		if (str_isspace((unsigned char)raw[i])) {
			wsp = true;
			i++;
			continue;
		}
		start = i;
		while (i < len && !str_isspace((unsigned char)raw[i]))
			i++;
		if (wsp && any && buf_append_char(out, ' ') < 0)
			return -1;
		if (buf_append(out, raw + start, i - start) < 0)
			return -1;
		wsp = false;
		any = true;
	}
	return crlf ? buf_append(out, "\r\n", 2) : 0;
}

static bool
name_eq(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return false;
	for (i = 0; i < an; i++)
		if (str_tolower((unsigned char)a[i]) !=
		    str_tolower((unsigned char)b[i]))
			return false;
	return true;
}

int
dkim_canon_headers(enum dkim_canon c, const struct hdr_list *hdrs,
    const char *h, size_t hlen, struct buf *out)
{
	size_t      nf = hdrs != NULL ? hdr_list_count(hdrs) : 0, j, len;
	bool       *used = calloc(nf + 1, sizeof(bool));
	const char *pos = h, *item;
	int         r = 0;

	if (used == NULL)
		return -1;
	/* RFC 6376 5.4.2: each name takes the next instance from the bottom
	 * up; a name listed more often than present adds nothing. */
	while (r == 0 && dkim_list_next(&pos, h + hlen, &item, &len)) {
		for (j = nf; j > 0; j--) {
			const struct hdr_field *f = hdr_list_get(hdrs, j - 1);

			if (!used[j - 1] &&
			    name_eq(f->name, f->namelen, item, len)) {
				used[j - 1] = true;
				r = dkim_canon_header(
				    c, f->raw, f->rawlen, true, out);
				break;
			}
		}
	}
	free(used);
	return r;
}

struct dkim_body *
dkim_body_new(enum dkim_canon canon, const EVP_MD *md, uint64_t limit)
{
	struct dkim_body *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->canon = canon;
	b->md = md;
	b->limit = limit;
	buf_init(&b->keep, DKIM_BODY_MAX_KEEP);
	if (md != NULL) {
		if ((b->ctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(b->ctx, md, NULL) != 1) {
			dkim_body_free(b);
			return NULL;
		}
	}
	return b;
}

void
dkim_body_free(struct dkim_body *b)
{
	if (b == NULL)
		return;
	EVP_MD_CTX_free(b->ctx);
	buf_free(&b->keep);
	free(b);
}

static void
body_flush(struct dkim_body *b)
{
	if (b->nstage == 0)
		return;
	if (b->ctx != NULL) {
		if (!b->broken &&
		    EVP_DigestUpdate(b->ctx, b->stage, b->nstage) != 1)
			b->broken = true;
	} else {
		/* Past the ceiling the kept copy simply stops growing. */
		(void)buf_append(&b->keep, b->stage, b->nstage);
	}
	b->nstage = 0;
}

/* Hands canonical bytes to the digest, up to the limit. */
static void
body_emit(struct dkim_body *b, const void *p, size_t n)
{
	uint64_t room = b->limit - b->taken;

	b->length += n;
	if ((uint64_t)n > room)
		n = (size_t)room;
	if (n == 0)
		return;
	b->taken += n;
	if (n > sizeof(b->stage) / 2) {
		body_flush(b);
		if (b->ctx != NULL) {
			if (!b->broken && EVP_DigestUpdate(b->ctx, p, n) != 1)
				b->broken = true;
		} else
			(void)buf_append(&b->keep, p, n);
		return;
	}
	if (n > sizeof(b->stage) - b->nstage)
		body_flush(b);
	memcpy(b->stage + b->nstage, p, n);
	b->nstage += n;
}

static void
body_emit_crlfs(struct dkim_body *b, uint64_t k)
{
	static const char crlfs[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
				    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
	size_t            m;

	while (k > 0) {
		m = k < (sizeof(crlfs) - 1) / 2 ? (size_t)k
						: (sizeof(crlfs) - 1) / 2;
		body_emit(b, crlfs, 2 * m);
		k -= m;
	}
}

/* Content follows: the line ends held back were not trailing after all. */
static void
body_content(struct dkim_body *b, const char *p, size_t n)
{
	if (b->ncrlf > 0) {
		body_emit_crlfs(b, b->ncrlf);
		b->ncrlf = 0;
	}
	if (b->wsp) {
		body_emit(b, " ", 1);
		b->wsp = false;
	}
	body_emit(b, p, n);
	b->any = true;
}

/* RFC 6376 3.4.3: the body unchanged but for trailing empty lines. All
 * of a chunk up to its final run of CRLFs goes out in one piece. */
static void
body_simple(struct dkim_body *b, const char *p, size_t n)
{
	size_t i;

	if (n > 0 && p[n - 1] == '\r') {
		b->cr = true;
		n--;
	}
	i = n;
	while (i >= 2 && p[i - 2] == '\r' && p[i - 1] == '\n')
		i -= 2;
	if (i > 0)
		body_content(b, p, i);
	b->ncrlf += (n - i) / 2;
}

static bool
relaxed_plain(int c)
{
	return c != ' ' && c != '\t' && c != '\r';
}

/* RFC 6376 3.4.4: WSP runs become one SP, WSP at the end of a line goes,
 * and so do trailing empty lines. */
static void
body_relaxed(struct dkim_body *b, const char *p, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];

		if (relaxed_plain(c)) {
			/* A single SP between two other bytes is already
			 * canonical: ordinary text goes out a line at a time.
			 */
			j = i + 1;
			for (;;) {
				while (
				    j < n && relaxed_plain((unsigned char)p[j]))
					j++;
				if (j + 1 < n && p[j] == ' ' &&
				    relaxed_plain((unsigned char)p[j + 1]))
					j += 2;
				else
					break;
			}
			body_content(b, p + i, j - i);
			i = j;
		} else if (c != '\r') {
			b->wsp = true;
			i++;
		} else if (i + 1 == n) {
			b->cr = true;
			i++;
		} else if (p[i + 1] == '\n') {
			b->wsp = false;
			b->ncrlf++;
			i += 2;
		} else {
			body_content(b, "\r", 1);
			i++;
		}
	}
}

int
dkim_body_update(struct dkim_body *b, const void *data, size_t n)
{
	const char *p = data;

	if (b->done || n == 0)
		return b->broken ? -1 : 0;
	if (b->cr) {
		/* A CR ended the last chunk: is this the LF of a CRLF? */
		b->cr = false;
		if (p[0] == '\n') {
			if (b->canon == DKIM_CANON_RELAXED)
				b->wsp = false;
			b->ncrlf++;
			p++;
			n--;
		} else
			body_content(b, "\r", 1);
	}
	if (b->canon == DKIM_CANON_SIMPLE)
		body_simple(b, p, n);
	else
		body_relaxed(b, p, n);
	return b->broken ? -1 : 0;
}

int
dkim_body_final(struct dkim_body *b, unsigned char *md_r, unsigned int *mdlen_r)
{
	if (b->done)
		return -1;
	b->done = true;
	if (b->cr) /* a lone CR at the very end is content */
		body_content(b, "\r", 1);
	b->cr = false;
	/* Simple: one CRLF ends the body, also an empty one (3.4.3).
	 * Relaxed: a non-empty body ends with one CRLF, and an empty one
	 * stays empty: 3.4.4 adds the CRLF only "if the body is non-empty". */
	if (b->canon == DKIM_CANON_SIMPLE || b->any)
		body_emit(b, "\r\n", 2);
	b->ncrlf = 0;
	body_flush(b);
	if (b->broken)
		return -1;
	if (b->ctx != NULL && md_r != NULL &&
	    EVP_DigestFinal_ex(b->ctx, md_r, mdlen_r) != 1)
		return -1;
	return 0;
}

uint64_t
dkim_body_length(const struct dkim_body *b)
{
	return b->length;
}

bool
dkim_body_matches(const struct dkim_body *b, enum dkim_canon canon,
    const EVP_MD *md, uint64_t limit)
{
	return b->canon == canon && b->md == md && b->limit == limit;
}

const struct buf *
dkim_body_output(const struct dkim_body *b)
{
	return &b->keep;
}

/*
 * libFuzzer target for dkim_canon: the streaming body canonicalizers and
 * the header canonicalizer (RFC 6376 3.4). The first byte picks simple or
 * relaxed and a chunk size; the rest is the body. Checks that any
 * chunking gives the same output as the whole body at once, that the
 * length count matches the output, and the shape of the output: it ends
 * with one CRLF (relaxed: or is empty), relaxed has no TAB and no two
 * spaces in a row, and no WSP before a line end.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dkim_canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
canon(enum dkim_canon c, const char *p, size_t n, size_t chunk, size_t *len)
{
	struct dkim_body *b = dkim_body_new(c, NULL, DKIM_BODY_NOLIMIT);
	const struct buf *o;
	size_t            i, k;
	char             *s;

	if (b == NULL)
		abort();
	for (i = 0; i < n; i += k) {
		k = chunk == 0 || n - i < chunk ? n - i : chunk;
		dkim_body_update(b, p + i, k);
	}
	if (dkim_body_final(b, NULL, NULL) < 0)
		abort();
	o = dkim_body_output(b);
	if (dkim_body_length(b) != o->len)
		abort();
	*len = o->len;
	s = malloc(o->len + 1);
	if (s == NULL)
		abort();
	memcpy(s, buf_cstr(o), o->len + 1);
	dkim_body_free(b);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dkim_canon c;
	const char     *p = (const char *)data + 1;
	size_t          n, chunk, l1, l2, i;
	char           *a, *b;
	struct buf      h;

	if (size < 1 || size > 65536)
		return 0;
	c = data[0] & 1 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	chunk = (data[0] >> 1) + 1;
	n = size - 1;
	a = canon(c, p, n, 0, &l1);
	b = canon(c, p, n, chunk, &l2);
	if (l1 != l2 || memcmp(a, b, l1) != 0)
		abort();
	free(b);
	b = canon(c, p, n, 1, &l2);
	if (l1 != l2 || memcmp(a, b, l1) != 0)
		abort();
	if (c == DKIM_CANON_SIMPLE || l1 > 0) {
		if (l1 < 2 || a[l1 - 2] != '\r' || a[l1 - 1] != '\n')
			abort();
		if (l1 >= 4 && memcmp(a + l1 - 4, "\r\n\r\n", 4) == 0)
			abort();
	}
	if (c == DKIM_CANON_RELAXED)
		for (i = 0; i < l1; i++)
			if (a[i] == '\t' ||
			    (a[i] == ' ' && i + 1 < l1 &&
				(a[i + 1] == ' ' ||
				    (a[i + 1] == '\r' && i + 2 < l1 &&
					a[i + 2] == '\n'))))
				abort();
	free(a);
	free(b);

	/* The same bytes as a header field. */
	buf_init(&h, 0);
	if (dkim_canon_header(c, p, n, true, &h) == 0 &&
	    (h.len < 2 || h.data[h.len - 1] != '\n'))
		abort();
	buf_free(&h);
	return 0;
}

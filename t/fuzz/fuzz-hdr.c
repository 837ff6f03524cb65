/*
 * libFuzzer target for the header block: the input is cut into raw fields
 * at each LF and added with hdr_list_add_raw(). Invariants: no read past
 * the input, the stored bytes are "Name:value" with every line break a
 * CRLF pair, and the limits hold.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_field(const struct hdr_field *f)
{
	size_t i;

	if (f->name != f->raw || f->namelen == 0 || f->namelen >= f->rawlen ||
	    f->value + f->vallen != f->raw + f->rawlen || f->raw[f->rawlen])
		abort();
	for (i = 0; i < f->rawlen; i++) {
		if (f->raw[i] == '\r' &&
		    (i + 1 == f->rawlen || f->raw[i + 1] != '\n'))
			abort();
		if (f->raw[i] == '\n' && (i == 0 || f->raw[i - 1] != '\r'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_list *l = hdr_list_new();
	const char      *p = (const char *)data, *end = p + size, *nl;
	size_t           i, total = 0;

	if (l == NULL)
		return 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		hdr_list_add_raw(l, p, (size_t)(nl - p));
		p = nl + 1;
	}
	if (hdr_list_count(l) > HDR_MAX_FIELDS)
		abort();
	for (i = 0; i < hdr_list_count(l); i++) {
		check_field(hdr_list_get(l, i));
		total += hdr_list_get(l, i)->rawlen;
	}
	if (total > HDR_MAX_BYTES)
		abort();
	hdr_list_free(l);
	return 0;
}

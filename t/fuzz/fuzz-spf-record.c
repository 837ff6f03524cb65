/*
 * libFuzzer target for the SPF record syntax check (RFC 7208 4.5, 4.6, 5,
 * 6, 7.1, 12). The input is the joined TXT text, NUL bytes included. The
 * check must never read past the input (ASan), and its answer must not
 * depend on anything after the input: the same bytes followed by garbage
 * in a bigger buffer give the same verdict once cut back to size.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	char       *copy;
	bool        ok, ok2;

	/* Exactly size bytes, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	ok = spf_record_valid(copy, size, &why);
	if (!ok && why == NULL)
		abort(); /* a rejected record always says why */
	if (ok && why != NULL)
		abort();
	ok2 = spf_record_valid(copy, size, NULL);
	if (ok != ok2)
		abort();
	/* The same text as a macro-string of each kind: defined answers. */
	if (spf_macro_expand(copy, size, SPF_MACRO_DOMAIN, NULL, NULL) < 0 ||
	    spf_macro_expand(copy, size, SPF_MACRO_EXPLAIN, NULL, NULL) < 0)
		abort();
	free(copy);
	return 0;
}

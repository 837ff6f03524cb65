/*
 * libFuzzer target for the RFC 6376 3.2 tag-list parser. Invariants: no
 * read past the input (ASan), every pair points inside it, no pair count
 * above the limit, and no tag twice.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tagval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tagval tv[TAGVAL_MAX];
	const char   *p = (const char *)data;
	size_t        where = 0, i, j;
	int           n = tagval_parse(p, size, tv, TAGVAL_MAX, &where);

	if (n < 0) {
		if (where > size)
			abort();
		return 0;
	}
	if ((size_t)n > TAGVAL_MAX)
		abort();
	for (i = 0; i < (size_t)n; i++) {
		if (tv[i].tag < p || tv[i].tag + tv[i].taglen > p + size ||
		    tv[i].val < p || tv[i].val + tv[i].vallen > p + size ||
		    tv[i].taglen == 0)
			abort();
		for (j = 0; j < i; j++)
			if (tv[i].taglen == tv[j].taglen &&
			    memcmp(tv[i].tag, tv[j].tag, tv[i].taglen) == 0)
				abort();
		free(tagval_dup_nows(&tv[i]));
	}
	return 0;
}

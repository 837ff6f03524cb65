/*
 * libFuzzer target for the DMARC policy record parser (RFC 9989 4.7,
 * 4.8) and the tree-walk name generator. Checks the invariants evaluation
 * relies on: the parser never reads past the input (ASan), gives only
 * defined enum values and a rua the report row can hold, and a walk never has
 * more than DMARC_MAX_WALK names, each a proper suffix of the one before.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* rua as the report row takes it: printable ASCII without spaces, URIs
 * joined by single commas (none first, last or doubled), and only when
 * the record has a valid one. */
static void
check_rua(const struct dmarc_record *r)
{
	size_t n = strnlen(r->rua, sizeof(r->rua)), i;

	if (n == sizeof(r->rua) || (n > 0 && !r->rua_valid))
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)r->rua[i] <= ' ' ||
		    (unsigned char)r->rua[i] > '~' ||
		    (r->rua[i] == ',' &&
			(i == 0 || i + 1 == n || r->rua[i + 1] == ',')))
			abort();
}

static void
check_record(const struct dmarc_record *r)
{
	if (r->p > DMARC_POLICY_REJECT || r->sp > DMARC_POLICY_REJECT ||
	    r->np > DMARC_POLICY_REJECT || r->psd > DMARC_PSD_N)
		abort();
	check_rua(r);
}

static void
check_walk(const uint8_t *data, size_t size)
{
	char        name[DMARC_MAX_NAME + 2];
	const char *out[DMARC_MAX_WALK];
	size_t      n, i, len;
	bool        valid;

	if (size > DMARC_MAX_NAME + 1)
		size = DMARC_MAX_NAME + 1;
	memcpy(name, data, size);
	name[size] = '\0';
	len = strlen(name);
	valid = dmarc_domain_valid(name) && name[len - 1] != '.';
	n = dmarc_walk(name, out);
	if (n > DMARC_MAX_WALK || (n > 0) != valid || (n > 0 && out[0] != name))
		abort();
	for (i = 1; i < n; i++)
		if (out[i] <= out[i - 1] || out[i][-1] != '.' ||
		    strcmp(out[i - 1] + strlen(out[i - 1]) - strlen(out[i]),
			out[i]) != 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r;
	char               *copy;

	/* An exact-size heap copy, so that ASan sees any over-read. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (dmarc_record_parse(copy, size, &r) == 0)
		check_record(&r);
	free(copy);
	check_walk(data, size);
	return 0;
}

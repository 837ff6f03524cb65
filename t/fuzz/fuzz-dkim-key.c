/*
 * libFuzzer target for dkim_key: the key-record parser (RFC 6376 3.6.1)
 * and the base64 decoder. Checks that a parsed key always holds an
 * EVP_PKEY of the type it claims, and a refused one a reason and no key.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char     *p = (const char *)data;
	struct dkim_key k;
	const char     *why = NULL;
	unsigned char  *out;
	size_t          n = 0;

	if (dkim_key_parse(p, size, &k, &why) == 0) {
		if (k.pkey == NULL || k.bits == 0 ||
		    (k.type == DKIM_KEY_ED25519) !=
			(EVP_PKEY_get_base_id(k.pkey) == EVP_PKEY_ED25519))
			abort();
		dkim_key_clear(&k);
	} else if (why == NULL || k.pkey != NULL)
		abort();
	/* Base64: the output never exceeds 3 bytes per 4 characters. */
	if ((out = malloc(size / 4 * 3 + 3)) == NULL)
		return 0;
	if (dkim_base64_decode(p, size, out, size / 4 * 3 + 3, &n) == 0 &&
	    n > size / 4 * 3 + 2)
		abort();
	free(out);
	return 0;
}

/*
 * libFuzzer target for authres: the parser and authres_is_ours() on any
 * bytes, and a round trip through the composer: whatever value and comment
 * we are given, the field we write parses back, claims our authserv-id,
 * and yields the value (with bytes outside printable ASCII as '?').
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char            *p = (const char *)data;
	struct authres_parsed *ap;
	struct authres        *ar;
	struct authres_prop    prop = {"header", "b", NULL};
	char                  *s, *want, *v;
	size_t                 i, n;

	(void)authres_is_ours(p, size, "mx.example.net");
	if ((ap = authres_parse(p, size)) != NULL) {
		if (ap->nresults > AUTHRES_MAX_RESULTS)
			abort();
		if (ap->status != AUTHRES_OK && ap->error_pos > size)
			abort();
		authres_parsed_free(ap);
	}

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);
	if (n > AUTHRES_MAX_VALUE) { /* the parser refuses longer values */
		free(s);
		return 0;
	}
	if ((want = strdup(s)) == NULL) {
		free(s);
		return 0;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)want[i] < 0x20 ||
		    (unsigned char)want[i] > 0x7e)
			want[i] = '?';
	prop.value = s;
	ar = authres_new("mx.example.net");
	if (ar != NULL && authres_add(ar, "dkim", "pass", s, &prop, 1) == 0 &&
	    (v = authres_value(ar)) != NULL) {
		if (!authres_is_ours(v, strlen(v), "MX.example.NET"))
			abort();
		ap = authres_parse(v, strlen(v));
		if (ap != NULL) {
			if (ap->status != AUTHRES_OK || ap->nresults != 1 ||
			    ap->results[0].nprops != 1 ||
			    strcmp(ap->results[0].props[0].value, want) != 0)
				abort();
			authres_parsed_free(ap);
		}
		free(v);
	}
	authres_free(ar);
	free(want);
	free(s);
	return 0;
}

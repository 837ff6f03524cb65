/*
 * libFuzzer target for authres_is_ours(), the check that decides which
 * Authentication-Results fields are removed as forged (RFC 8601 5). Two
 * properties, on any bytes:
 *
 * - It fails closed: a lax reader with no comment depth limit that
 *   reads our authserv-id from the field must never see the field kept.
 * - It agrees with authres_parse(): a field kept (not ours) has an
 *   authserv-id that the parser reads too, and it is another's.
 *
 * Seeds in t/fuzz/corpus/authres-ours: comments 32, 33, 100 and 1000
 * deep, unbalanced, cut by a NUL, and quoted ids.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"

#define ID "mx.example.net"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
tokenchar(uint8_t c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* The lax reader: CFWS with comments of any depth (a counter; a stray
 * ")" or a NUL is just a byte), then a token or a quoted-string. True
 * when what it reads is ID, case-insensitively. */
static bool
lax_reads_ours(const uint8_t *p, size_t n)
{
	char   id[sizeof(ID)];
	size_t i = 0, depth = 0, len = 0;

	while (i < n) {
		uint8_t c = p[i];

		if (depth == 0 &&
		    (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			i++;
		} else if (c == '(') {
			depth++;
			i++;
		} else if (depth > 0) {
			if (c == ')')
				depth--;
			else if (c == '\\')
				i++;
			i++;
		} else
			break;
	}
	if (i >= n)
		return false;
	if (p[i] == '"') {
		for (i++; i < n && p[i] != '"'; i++) {
			if (p[i] == '\r' || p[i] == '\n')
				continue;
			if (p[i] == '\\' && ++i == n)
				return false;
			if (len == sizeof(ID) - 1)
				return false;
			id[len++] = (char)p[i];
		}
	} else {
		for (; i < n && tokenchar(p[i]); i++) {
			if (len == sizeof(ID) - 1)
				return false;
			id[len++] = (char)p[i];
		}
	}
	id[len] = '\0';
	return len == sizeof(ID) - 1 && strcasecmp(id, ID) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char            *p = (const char *)data;
	bool                   ours = authres_is_ours(p, size, ID);
	struct authres_parsed *ap;

	if (!ours && lax_reads_ours(data, size))
		abort();
	if (!ours && (ap = authres_parse(p, size)) != NULL) {
		if (ap->authserv_id == NULL ||
		    strcasecmp(ap->authserv_id, ID) == 0)
			abort();
		authres_parsed_free(ap);
	}
	return 0;
}

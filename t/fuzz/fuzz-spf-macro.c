/*
 * libFuzzer target for the SPF macro expander (RFC 7208 7) and the 7.3
 * truncation. Input: one control byte (kind, address family, ceiling),
 * then the macro-string, a NUL, and the local-part (any bytes). Checks:
 * syntax-only and full expansion agree; the output never passes the
 * buffer's ceiling; truncation leaves at most 253 octets unless a single
 * label is longer, and always a suffix of what it was given; a domain-spec
 * expanded in a small buffer (labels dropped from the left as it fills)
 * names, after the truncation, what the whole expansion names.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ipaddr.h"
#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
ptr_cb(void *arg)
{
	return arg;
}

/* The name spf.c's target_name() takes from an expansion: truncated, and
 * a single label longer than a name cut to SPF_MAX_DOMAIN + 1 octets. */
static size_t
name_of(char *p, size_t n)
{
	n = spf_domain_truncate(p, n, SPF_MAX_DOMAIN);
	return n > SPF_MAX_DOMAIN + 1 ? SPF_MAX_DOMAIN + 1 : n;
}

/* Expands spec again in a buffer just large enough to hold a name and
 * compares the names with the whole expansion's in whole. */
static void
check_window(const char *spec, size_t slen, const struct spf_macro_vars *v,
    const struct buf *whole)
{
	struct buf w;
	char      *copy;
	size_t     nw, nf;

	buf_init(&w, SPF_MAX_DOMAIN + 2 + 16);
	if (spf_macro_expand(spec, slen, SPF_MACRO_DOMAIN, v, &w) != 0)
		abort();
	if (w.len > w.max)
		abort();
	copy = malloc(whole->len + 1);
	if (copy != NULL && w.len > 0) {
		memcpy(copy, whole->data, whole->len + 1);
		nf = name_of(copy, whole->len);
		nw = name_of(w.data, w.len);
		if (nf != nw || memcmp(copy, w.data, nw) != 0)
			abort();
	} else if (copy != NULL && whole->len > 0) {
		abort();
	}
	free(copy);
	buf_free(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_macro_vars v;
	struct ipaddr         ip;
	struct buf            b;
	enum spf_macro_kind   kind;
	const uint8_t        *nul;
	char                 *spec, *local, *copy;
	size_t                slen, llen, max, n, m, before;
	int                   rc, rc0;

	if (size < 1)
		return 0;
	kind = data[0] & 1 ? SPF_MACRO_EXPLAIN : SPF_MACRO_DOMAIN;
	ipaddr_parse(&ip, data[0] & 2 ? "2001:db8::cb01" : "192.0.2.3");
	max = data[0] & 4 ? 64 : 0;
	data++;
	size--;
	nul = memchr(data, '\0', size);
	slen = nul ? (size_t)(nul - data) : size;
	llen = nul ? size - slen - 1 : 0;
	spec = malloc(slen ? slen : 1);
	local = malloc(llen + 1);
	if (spec == NULL || local == NULL) {
		free(spec);
		free(local);
		return 0;
	}
	memcpy(spec, data, slen);
	if (llen)
		memcpy(local, nul + 1, llen);
	local[llen] = '\0';

	memset(&v, 0, sizeof(v));
	v.sender = "strong-bad@email.example.com";
	v.local = local;
	v.sender_domain = "email.example.com";
	v.domain = "email.example.com";
	v.ip = &ip;
	v.helo = local;
	v.receiver = "mx.example.org";
	v.now = 1700000000;
	v.ptr_name = ptr_cb;
	v.ptr_arg = (void *)(uintptr_t) "mail.example.com";

	buf_init(&b, max);
	rc0 = spf_macro_expand(spec, slen, kind, NULL, NULL);
	rc = spf_macro_expand(spec, slen, kind, &v, &b);
	if (rc0 < 0 || (rc >= 0 && rc != rc0))
		abort();
	if (b.len > (max ? max : BUF_DEFAULT_MAX))
		abort();
	if (rc == 0 && b.len > 0) {
		copy = malloc(b.len + 1);
		if (copy != NULL) {
			memcpy(copy, b.data, b.len + 1);
			before = b.len;
			n = spf_domain_truncate(copy, before, SPF_MAX_DOMAIN);
			if (n > before || memcmp(copy, b.data + before - n, n))
				abort();
			m = copy[n - 1] == '.' ? n - 1 : n;
			if (m > SPF_MAX_DOMAIN && memchr(copy, '.', m) != NULL)
				abort(); /* it could have cut more */
			free(copy);
		}
	}
	if (rc == 0 && kind == SPF_MACRO_DOMAIN && max == 0)
		check_window(spec, slen, &v, &b);
	buf_free(&b);
	free(spec);
	free(local);
	return 0;
}

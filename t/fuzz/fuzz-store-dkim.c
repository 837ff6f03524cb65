/*
 * libFuzzer target for the store's DKIM column decoder. Invariants: no
 * read past the input (ASan), at most REPORT_MAX_DKIM results, every name
 * NUL-terminated inside its array whatever the outcome, only defined
 * result values, and a decoded list encodes to text that decodes to the
 * same list (the encoder's form is canonical: that text encodes to
 * itself).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_terminated(const struct report_dkim *d)
{
	size_t i;

	for (i = 0; i < REPORT_MAX_DKIM; i++)
		if (memchr(d[i].domain, '\0', sizeof(d[i].domain)) == NULL ||
		    memchr(d[i].selector, '\0', sizeof(d[i].selector)) == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_dkim a[REPORT_MAX_DKIM], b[REPORT_MAX_DKIM];
	static char        t1[STORE_DKIM_TEXT_MAX + 1];
	static char        t2[STORE_DKIM_TEXT_MAX + 1];
	struct am_err      err;
	size_t             n = 99, m = 99, i;
	int                l1, l2;

	memset(a, 0x55, sizeof(a));
	if (store_dkim_decode((const char *)data, size, a, &n, &err) < 0) {
		check_terminated(a);
		if (n != 0)
			abort();
		return 0;
	}
	check_terminated(a);
	if (n > REPORT_MAX_DKIM)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned)a[i].result > REPORT_AUTH_PERMERROR)
			abort();
	l1 = store_dkim_encode(a, n, t1, sizeof(t1));
	if (l1 < 0 || (size_t)l1 > STORE_DKIM_TEXT_MAX)
		abort();
	if (store_dkim_decode(t1, (size_t)l1, b, &m, &err) < 0 || m != n)
		abort();
	for (i = 0; i < n; i++)
		if (strcmp(a[i].domain, b[i].domain) != 0 ||
		    strcmp(a[i].selector, b[i].selector) != 0 ||
		    a[i].result != b[i].result)
			abort();
	l2 = store_dkim_encode(b, m, t2, sizeof(t2));
	if (l2 != l1 || memcmp(t1, t2, (size_t)l1) != 0)
		abort();
	return 0;
}

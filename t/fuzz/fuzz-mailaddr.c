/*
 * libFuzzer target for mailaddr: the From address-list parser, the RFC
 * 5321 path parser and the domain normal form. Checks the invariants the
 * DMARC code relies on: a field that did not parse has no addresses, and
 * every usable domain is a valid LDH name in lower case.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_norm(const char *d)
{
	size_t i;

	if (!mailaddr_domain_valid(d, strlen(d)) || d[strlen(d) - 1] == '.')
		abort();
	for (i = 0; d[i] != '\0'; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char           *p = (const char *)data;
	struct mailaddr_list *l;
	struct mailaddr_path  path;
	char                  norm[MAILADDR_DOMAIN_MAX + 1];
	size_t                i, where;

	l = mailaddr_parse_list(p, size);
	if (l != NULL) {
		if (l->status != MAILADDR_OK && l->count != 0)
			abort();
		if (l->count > MAILADDR_MAX)
			abort();
		if (l->status == MAILADDR_ESYNTAX && l->error_pos > size)
			abort();
		for (i = 0; i < l->count; i++) {
			if (l->addr[i].local == NULL ||
			    l->addr[i].domain == NULL)
				abort();
			if (l->addr[i].domain_norm != NULL)
				check_norm(l->addr[i].domain_norm);
		}
		mailaddr_list_free(l);
	}
	if (mailaddr_parse_path(p, size, &path, &where) == MAILADDR_OK &&
	    path.domain_ok)
		check_norm(path.domain_norm);
	if (mailaddr_domain_normalize(p, size, norm))
		check_norm(norm);
	return 0;
}

/*
 * libFuzzer target for dns_rdata_parse() (the rdata of A, AAAA, TXT, MX and
 * PTR records as libunbound hands them) and dns_name_valid(). The first
 * input byte picks the type; the rest is the rdata. Besides the sanitizers'
 * checks, it traps when a result breaks dns.h's promises (dns_txt_string()'s
 * strings included).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum dns_type types[] = {
    DNS_T_A, DNS_T_AAAA, DNS_T_TXT, DNS_T_MX, DNS_T_PTR};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_rr rr = {.data = NULL};
	enum dns_type type;
	char         *copy;
	size_t        i;
	int           r;

	if (size == 0)
		return 0;
	type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	/* A copy of exactly the rdata, so ASan catches a read past it. */
	if ((copy = malloc(size - 1 > 0 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	r = dns_rdata_parse(type, (const unsigned char *)copy, size - 1, &rr);
	if (r == 0) {
		if (rr.data == NULL || rr.data[rr.len] != '\0')
			__builtin_trap();
		switch (type) {
		case DNS_T_A:
		case DNS_T_AAAA:
			if (rr.len != size - 1)
				__builtin_trap();
			break;
		case DNS_T_TXT: {
			/* The strings, one by one, add up to the joined text. */
			const char *s;
			size_t      len, sum = 0;

			if (rr.len >= size - 1)
				__builtin_trap();
			for (i = 0; dns_txt_string(&rr, i, &s, &len); i++) {
				if (len > 255 || sum + len > rr.len ||
				    memcmp(s, rr.data + sum, len) != 0)
					__builtin_trap();
				sum += len;
			}
			if (sum != rr.len || i == 0)
				__builtin_trap();
			break;
		}
		case DNS_T_MX:
		case DNS_T_PTR:
			/* Dotted text of printable ASCII, no empty label,
			 * within 253 octets: what dns_start() accepts. */
			if (rr.len > DNS_MAX_NAME || strlen(rr.data) != rr.len)
				__builtin_trap();
			for (i = 0; i < rr.len; i++)
				if (rr.data[i] <= ' ' || rr.data[i] >= 0x7f)
					__builtin_trap();
			if (rr.len > 0 && !dns_name_valid(rr.data))
				__builtin_trap();
			break;
		}
	} else if (r != -1 || rr.data != NULL)
		__builtin_trap();
	free(rr.data);

	/* The same bytes as a name. */
	copy[size > 1 ? size - 2 : 0] = '\0';
	(void)dns_name_valid(copy);
	free(copy);
	return 0;
}

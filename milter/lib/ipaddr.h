/*
 * ipaddr: IPv4/IPv6 addresses and CIDR blocks, for trusted_networks and
 * SPF's ip4/ip6/a/mx mechanisms. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 * are treated as the IPv4 address they carry (RFC 7208 5: a connecting
 * IPv4 client may be presented that way).
 */
#ifndef AM_IPADDR_H
#define AM_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipaddr {
	int     family; /* AF_INET or AF_INET6 */
	uint8_t a[16];  /* network order; IPv4 uses the first 4 bytes */
};

struct cidr {
	struct ipaddr addr;
	unsigned int  prefix; /* 0..32 or 0..128 */
};

#define IPADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Parses a text address (no brackets, no zone); mapped IPv6 becomes IPv4.
 * Returns false if it is not an address. */
bool ipaddr_parse(struct ipaddr *, const char *);
/* Makes an address from 4 or 16 raw bytes (a DNS A/AAAA rdata). */
bool ipaddr_from_bytes(struct ipaddr *, const void *, size_t);
/* Parses "addr" or "addr/prefix"; a missing prefix is the full length. */
bool cidr_parse(struct cidr *, const char *);
/* True when addr lies in the first prefix bits of net (same family). */
bool ipaddr_match(
    const struct ipaddr *addr, const struct ipaddr *net, unsigned int prefix);
bool cidr_match(const struct cidr *, const struct ipaddr *);
/* Writes the canonical text form into dst (at least IPADDR_STRLEN). */
char *ipaddr_str(const struct ipaddr *, char *dst, size_t dstsize);
/* The reverse-lookup name of ip, "4.3.2.1.in-addr.arpa" or the 32 nibbles
 * under "ip6.arpa" (RFC 1035 3.5, RFC 3596 2.5), into out (73 octets,
 * NUL included, hold either). */
void ipaddr_reverse_name(const struct ipaddr *, char *out, size_t size);

#endif /* AM_IPADDR_H */

#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipaddr.h"
#include "str.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool
ipaddr_from_bytes(struct ipaddr *ip, const void *p, size_t n)
{
	memset(ip, 0, sizeof(*ip));
	if (n == 4) {
		ip->family = AF_INET;
		memcpy(ip->a, p, 4);
		return true;
	}
	if (n != 16)
		return false;
	if (memcmp(p, v4mapped, sizeof(v4mapped)) == 0) {
		ip->family = AF_INET;
		memcpy(ip->a, (const uint8_t *)p + 12, 4);
		return true;
	}
	ip->family = AF_INET6;
	memcpy(ip->a, p, 16);
	return true;
}

bool
ipaddr_parse(struct ipaddr *ip, const char *s)
{
	uint8_t b[16];

	if (strchr(s, ':') == NULL) {
		/* inet_pton accepts only dotted quads of 4 decimal parts. */
		if (inet_pton(AF_INET, s, b) != 1)
			return false;
		return ipaddr_from_bytes(ip, b, 4);
	}
	if (inet_pton(AF_INET6, s, b) != 1)
		return false;
	return ipaddr_from_bytes(ip, b, 16);
}

bool
cidr_parse(struct cidr *c, const char *s)
{
	char          addr[IPADDR_STRLEN + 1];
	const char   *slash = strchr(s, '/');
	size_t        n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long v;
	char         *end;
	unsigned int  max;

	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (!ipaddr_parse(&c->addr, addr))
		return false;
	/* A mapped IPv6 net written in IPv6 form keeps IPv6 prefix numbers. */
	max = c->addr.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		c->prefix = max;
		return true;
	}
	if (!str_isdigit((unsigned char)slash[1]) ||
	    (slash[1] == '0' && slash[2] != '\0'))
		return false;
	v = strtoul(slash + 1, &end, 10);
	if (*end != '\0')
		return false;
	if (c->addr.family == AF_INET && strchr(addr, ':') != NULL) {
		if (v < 96 || v > 128)
			return false;
		v -= 96;
	}
	if (v > max)
		return false;
	c->prefix = (unsigned int)v;
	return true;
}

bool
ipaddr_match(
    const struct ipaddr *addr, const struct ipaddr *net, unsigned int prefix)
{
	unsigned int full = prefix / 8, rest = prefix % 8;
	uint8_t      mask;

	if (addr->family != net->family)
		return false;
	if (prefix > (addr->family == AF_INET ? 32u : 128u))
		return false;
	if (memcmp(addr->a, net->a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (addr->a[full] & mask) == (net->a[full] & mask);
}

bool
cidr_match(const struct cidr *c, const struct ipaddr *ip)
{
	return ipaddr_match(ip, &c->addr, c->prefix);
}

char *
ipaddr_str(const struct ipaddr *ip, char *dst, size_t dstsize)
{
	if (inet_ntop(ip->family, ip->a, dst, (socklen_t)dstsize) == NULL &&
	    dstsize > 0)
		dst[0] = '\0';
	return dst;
}

void
ipaddr_reverse_name(const struct ipaddr *ip, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t            n = 0;
	int               i;

	if (ip->family == AF_INET) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", ip->a[3],
		    ip->a[2], ip->a[1], ip->a[0]);
		return;
	}
	for (i = 15; i >= 0 && n + 4 < size; i--) {
		out[n++] = hex[ip->a[i] & 15];
		out[n++] = '.';
		out[n++] = hex[ip->a[i] >> 4];
		out[n++] = '.';
	}
	out[n] = '\0';
	str_lcpy(out + n, "ip6.arpa", size - n);
}

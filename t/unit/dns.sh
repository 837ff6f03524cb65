#!/bin/sh
# Runs t/unit/test-dns against the loopback DNS server serving
# t/data/dns/zone.json; the test program prints the closing line.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

cp "$top_srcdir/t/data/dns/zone.json" "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
# libunbound turns an upstream REFUSED into SERVFAIL; its own "refuse"
# local zone is what answers REFUSED.
{
	cat "$DNS_CONF"
	printf 'server:\n\tlocal-zone: "refuse.test." refuse\n'
} > "$T_TMP/dns-refuse.conf"
"$top_builddir/t/unit/test-dns" "$DNS_CONF" "$T_TMP/dns.log" \
    "$T_TMP/dns-refuse.conf"
exit $?

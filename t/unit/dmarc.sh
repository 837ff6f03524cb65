#!/bin/sh
# Runs t/unit/test-dmarc against the loopback DNS server serving
# t/data/dmarc/zone.json; the test program reads the server's query log to
# check the tree-walk queries and prints the closing line.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

cp "$top_srcdir/t/data/dmarc/zone.json" "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
"$top_builddir/t/unit/test-dmarc" "$DNS_CONF" "$T_TMP/dns.log"

#!/bin/sh
# Runs t/unit/test-dkim, whose DNS cases (the RFC 8463 example through
# libunbound, SERVFAIL, timeout, NXDOMAIN, a record of two strings) need
# the loopback DNS server serving t/data/dkim/zone.json; the test program
# prints the closing line.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

cp "$top_srcdir/t/data/dkim/zone.json" "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
"$top_builddir/t/unit/test-dkim" "$DNS_CONF"
exit $?
